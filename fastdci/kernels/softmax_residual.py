"""The logistic fit's softmax on the CPU (:mod:`fastdci.regressors._logistic_solvers`): the
cross-entropy and the softmax residual of a block of rows in one kernel, where torch's
elementwise operations make eight passes over the scores."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from .fast_exp import exp_nonpositive64
from .row_softmax import LN2, log_product_step, row_max, row_sum

__all__ = ["softmax_residual"]

_BLOCK = 1024  # rows per partial sum (fixed: the result does not depend on the thread count)
_GROUP = 64  # rows per group (within a block)
_FEW = 8  # below this many classes the per-row loops are too short to vectorise


@numba.njit(
    numba.float64(numba.float64[:, ::1], numba.int64[:, ::1], numba.int64),
    parallel=True,
    cache=True,
    error_model="numpy",  # divisions without a zero check, so that they vectorise
)
def softmax_residual(Z, codes, k):  # pragma: no cover - compiled
    """Overwrite the scores ``Z`` (n, C) with ``softmax(Z) - onehot(codes[:, k])`` and return
    the summed cross-entropy ``sum_i log(sum_c exp(z_ic - m_i)) + m_i - z_iy`` (``m_i`` the
    row's maximum).

    Per row: the maximum ``m``, ``e = exp(z - m)``
    (:func:`fastdci.kernels.fast_exp.exp_nonpositive64`, within 2 ulp), its sum ``s`` over
    four interleaved partial sums (``c % 4``, added pairwise at the end), then
    ``e * (1 / s)``. With fewer than ``_FEW`` classes the exponentials and the scaling run
    over a group of rows as one flat loop (each entry beside its row's ``m`` or ``1 / s``),
    so that they vectorise however few the classes: the same operations, so the same floats.
    Within fixed blocks of rows the ``m - z_y`` are summed in row order and the ``log(s)``
    taken as one logarithm of the rows' product (kept in range by moving its binary exponent
    aside every sixteen rows, which is exact); the blocks are summed in order.
    """
    n, C = Z.shape
    few = C < _FEW  # few classes: the exponentials and the scaling as flat loops over the group
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    part = np.zeros(n_blocks)
    for blk in prange(n_blocks):
        acc = 0.0  # sum of m - z_y
        prod = 1.0  # product of the sums, times 2**-exps
        exps = 0
        spread = np.empty(_GROUP * C if few else 1)  # each entry's row maximum, then its 1 / s
        r_end = min(n, (blk + 1) * _BLOCK)
        for r0 in range(blk * _BLOCK, r_end, _GROUP):
            r1 = min(r_end, r0 + _GROUP)
            flat = Z[r0:r1].reshape((r1 - r0) * C)
            for i in range(r0, r1):
                m = row_max(Z[i])
                acc += m - Z[i, codes[i, k]]
                if few:
                    for c in range(C):
                        spread[(i - r0) * C + c] = m
                else:
                    z = Z[i]
                    for c in range(C):
                        z[c] = exp_nonpositive64(z[c] - m)
            if few:
                for q in range((r1 - r0) * C):
                    flat[q] = exp_nonpositive64(flat[q] - spread[q])
            for i in range(r0, r1):
                s = row_sum(Z[i])
                prod, exps = log_product_step(prod, exps, s, i)
                inv = 1.0 / s
                if few:
                    for c in range(C):
                        spread[(i - r0) * C + c] = inv
                else:
                    z = Z[i]
                    for c in range(C):
                        z[c] = z[c] * inv
            if few:
                for q in range((r1 - r0) * C):
                    flat[q] *= spread[q]
            for i in range(r0, r1):
                Z[i, codes[i, k]] -= 1.0
        mant, e = math.frexp(prod)
        part[blk] = acc + (np.log(mant) + (exps + e) * LN2)
    total = 0.0
    for blk in range(n_blocks):
        total += part[blk]
    return total
