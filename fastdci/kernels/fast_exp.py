"""Exponentials for Numba kernels that vectorise, where the libm call does not: float32
(:func:`exp_nonpositive`, the booster's softmax in :mod:`fastdci.kernels.boosting_softmax`) and
float64 (:func:`exp_nonpositive64`, the logistic fit's in :mod:`fastdci.kernels.softmax_residual`
and :mod:`fastdci.kernels.logistic_objective`). Both build ``2**n`` from its exponent bits."""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

__all__ = ["exp_nonpositive", "exp_nonpositive64"]


@intrinsic
def _bits_as_float(typingctx, bits):
    """The float of the same width whose IEEE-754 bit pattern is ``bits``: int32 -> float32,
    int64 -> float64 (a register bitcast)."""
    widths = {types.int32: types.float32, types.int64: types.float64}
    if bits not in widths:
        return None
    out = widths[bits]
    sig = out(bits)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(out))

    return sig, codegen


@numba.njit(inline="always")
def exp_nonpositive(x):  # pragma: no cover - compiled
    """``exp(x)`` in float32 for ``x <= 0``, within 1 ulp; inputs below -87 give ``exp(-87)``.

    Cephes' ``expf`` (Moshier): ``x = n ln2 + r`` with ``|r| <= ln2 / 2`` (ln2 split in
    two parts), a degree-7 polynomial for ``exp(r)``, and ``2**n`` built from its exponent
    bits (``n`` clamped to -126 .. 0, so always a normal float32). Written out because it
    vectorises, where the libm call does not; values below ``exp(-87)`` (1.6e-38) only ever
    enter softmax sums whose largest term is 1. (torch's float32 exp, used by the CUDA path,
    goes on down to 0 below about -104: the two differ only for a leaf whose every row is
    that saturated.) A NaN stays NaN.
    """
    x = max(x, numba.float32(-87.0))
    n = np.floor(x * numba.float32(1.44269504088896341) + numba.float32(0.5))
    r = x - n * numba.float32(0.693359375) - n * numba.float32(-2.12194440e-4)
    p = numba.float32(1.9875691500e-4)
    p = p * r + numba.float32(1.3981999507e-3)
    p = p * r + numba.float32(8.3334519073e-3)
    p = p * r + numba.float32(4.1665795894e-2)
    p = p * r + numba.float32(1.6666665459e-1)
    p = p * r + numba.float32(5.0000001201e-1)
    p = p * (r * r) + r + numba.float32(1.0)
    biased = min(max(numba.int32(n) + 127, 1), 127)  # 2**n's exponent field, n in -126 .. 0
    return p * _bits_as_float(numba.int32(biased << 23))


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
    return e * _bits_as_float(biased << 52)
