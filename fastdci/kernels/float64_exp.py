"""A float64 ``exp`` for Numba kernels that vectorises (:func:`exp_nonpositive64`), used by the
logistic fit's softmax (:mod:`fastdci.kernels.softmax_residual`)."""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

__all__ = ["exp_nonpositive64"]


@intrinsic
def _int64_bits_as_float64(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits`` (a register bitcast)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@numba.njit(inline="always", error_model="numpy")
def exp_nonpositive64(x):  # pragma: no cover - compiled
    """``exp(x)`` in float64 for ``x <= 0``, within 2 ulp; inputs below -708 give ``exp(-708)``.

    Cephes' ``exp`` (Moshier): ``x = n ln2 + r`` with ``|r| <= ln2 / 2`` (ln2 split in two
    parts), the Pade form ``1 + 2 r P(r^2) / (Q(r^2) - r P(r^2))``, and ``2**n`` built from its
    exponent bits (``n`` clamped to -1022 .. 0, so always a normal float64). Written out
    because it vectorises (in a kernel compiled with ``error_model="numpy"``, so that its
    division carries no zero check), where the libm call does not; values below ``exp(-708)``
    (3.3e-308) only ever enter softmax sums whose largest term is 1. A NaN stays NaN.
    """
    x = max(x, -708.0)
    n = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - n * 6.93145751953125e-1
    r = r - n * 1.42860682030941723212e-6
    rr = r * r
    px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 9.99999999999999999910e-1)
    qx = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
          + 2.27265548208155028766e-1) * rr + 2.00000000000000000009e0
    e = 1.0 + 2.0 * (px / (qx - px))
    biased = min(max(numba.int64(n) + 1023, 1), 1023)  # 2**n's exponent field, n in -1022 .. 0
    return e * _int64_bits_as_float64(biased << 52)
