"""The logistic fit's objective and gradient on the CPU (:mod:`fastdci.regressors._logistic_solvers`):
for one factor, the scores, their softmax, the summed cross-entropy and the gradient of every
row in one pass over the rows (:func:`logistic_objective`), where torch makes two matrix
products and eight elementwise passes over a block of scores."""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from .fast_exp import exp_nonpositive64
from .row_softmax import LN2, log_product_step, row_max, row_sum

__all__ = ["logistic_objective"]

_BLOCK = 1024  # rows per partial sum (fixed: the result does not depend on the thread count)


@numba.njit(
    numba.float64(numba.float64[:, ::1], numba.int64[:, ::1], numba.int64, numba.float64[:, ::1],
                  numba.float64[:, ::1]),
    parallel=True,
    cache=True,
    error_model="numpy",  # divisions without a zero check, so that they vectorise
)
def logistic_objective(X, codes, k, theta, grad):  # pragma: no cover - compiled
    """Summed cross-entropy of factor ``k`` and its gradient: returns
    ``sum_i log(sum_c exp(z_ic - m_i)) + m_i - z_iy`` and writes ``grad = X^T (softmax(Z) -
    onehot)`` (P, C), for ``Z = X theta`` (``X`` (N, P), ``theta`` (P, C), ``y = codes[:, k]``,
    ``m_i`` the row's maximum score).

    Per row: the scores (a sum over the inputs in order), the maximum, ``e = exp(z - m)``
    (:func:`fastdci.kernels.fast_exp.exp_nonpositive64`, within 2 ulp), its sum ``s`` over
    four interleaved partial sums (``c % 4``, added pairwise), the residual
    ``r = e * (1 / s) - onehot`` and the row's gradient ``x r^T``. Within fixed blocks of rows
    the ``m - z_y`` and the gradients are summed in row order, the ``log(s)`` taken as one
    logarithm of the rows' product (kept in range by moving its binary exponent aside every
    sixteen rows, which is exact); the blocks are summed in order.
    """
    N, P = X.shape
    C = theta.shape[1]
    n_blocks = (N + _BLOCK - 1) // _BLOCK
    gpart = np.zeros((n_blocks, P * C))
    cpart = np.zeros(n_blocks)
    thf = theta.reshape(P * C)
    for blk in prange(n_blocks):
        z = np.empty(C)
        g = gpart[blk]
        acc = 0.0  # sum of m - z_y
        prod = 1.0  # product of the sums, times 2**-exps
        exps = 0
        for i in range(blk * _BLOCK, min(N, (blk + 1) * _BLOCK)):
            for c in range(C):
                z[c] = 0.0
            for p in range(P):
                xp = X[i, p]
                base = numba.uint64(p * C)
                for c in range(C):
                    z[c] += xp * thf[base + numba.uint64(c)]
            y = codes[i, k]
            m = row_max(z)
            acc += m - z[y]
            for c in range(C):
                z[c] = exp_nonpositive64(z[c] - m)
            s = row_sum(z)
            prod, exps = log_product_step(prod, exps, s, i)
            inv = 1.0 / s
            for c in range(C):
                z[c] *= inv
            z[y] -= 1.0
            for p in range(P):
                xp = X[i, p]
                base = numba.uint64(p * C)
                for c in range(C):
                    g[base + numba.uint64(c)] += xp * z[c]
        mant, e = math.frexp(prod)
        cpart[blk] = acc + (np.log(mant) + (exps + e) * LN2)
    total = 0.0
    grad[:] = 0.0
    for blk in range(n_blocks):
        total += cpart[blk]
        for p in range(P):
            for c in range(C):
                grad[p, c] += gpart[blk, p * C + c]
    return total
