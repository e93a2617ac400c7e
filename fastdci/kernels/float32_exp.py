"""A float32 ``exp`` for Numba kernels that vectorises (:func:`exp_nonpositive`), used by the
booster's softmax (:mod:`fastdci.kernels.boosting_softmax`)."""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

__all__ = ["exp_nonpositive"]


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    """The float32 whose IEEE-754 bit pattern is the int32 ``bits`` (a register bitcast)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

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
    return p * _int32_bits_as_float32(numba.int32(biased << 23))
