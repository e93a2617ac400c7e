"""Numba prediction kernels of the batched histogram gradient booster
(:mod:`fastdci.regressors.stumps`): the raw scores of a fitted ensemble on binned rows
(:func:`predict_raw`, trees as :mod:`fastdci.kernels.boosting_trees` grows them) and each
factor's highest-scoring class (:func:`argmax_classes`). Every kernel writes into arrays the
caller allocates.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = ["argmax_classes", "predict_raw"]

_f8_2d = numba.float64[:, ::1]
_u8_2d = numba.uint8[:, ::1]
_PREDICT_BLOCK = 64  # rows per parallel task of predict_raw's stump path


@numba.njit(
    numba.void(
        _u8_2d,
        numba.int32[:, :, ::1],
        numba.int32[:, :, ::1],
        numba.float64[:, :, ::1],
        numba.float64,
        _f8_2d,
    ),
    parallel=True,
    cache=True,
)
def predict_raw(bins, feat, thr, values, learning_rate, F):  # pragma: no cover - compiled
    """Add every round's tree outputs to the raw scores ``F`` (N, C) (initialised by caller).

    ``feat``/``thr`` (R, 2**depth - 1, C) in heap order (level d node j at ``2**d - 1 + j``);
    ``values`` (R, 2**depth, C). Every score adds the rounds in order, whatever the thread
    count.
    """
    N, C = F.shape
    R, I, _ = feat.shape
    depth = 0
    while (1 << depth) - 1 < I:
        depth += 1
    if depth == 1:  # stumps: rows in blocks, one stump at a time, its split and values in registers
        n_blocks = (N + _PREDICT_BLOCK - 1) // _PREDICT_BLOCK
        for blk in prange(n_blocks):
            lo = blk * _PREDICT_BLOCK
            hi = min(N, lo + _PREDICT_BLOCK)
            for r in range(R):
                for c in range(C):
                    f = feat[r, 0, c]
                    fc = max(f, 0)
                    t = thr[r, 0, c]
                    v0 = values[r, 0, c]
                    v1 = values[r, 1, c]
                    for n in range(lo, hi):
                        right = (f >= 0) & (bins[n, fc] > t)
                        F[n, c] += learning_rate * (v1 if right else v0)
        return
    # deeper trees: flat (round, node, class) tables indexed unsigned (no negative-index fix-up
    # on the gathers), no split as threshold 255; rows in blocks, one tree at a time, its
    # descent branch-free; every score still adds the rounds in order
    J = 1 << depth
    fe = np.empty(R * I * C, dtype=np.uint32)
    te = np.empty(R * I * C, dtype=np.int32)
    for r in range(R):
        for h in range(I):
            for c in range(C):
                k = (r * I + h) * C + c
                f = feat[r, h, c]
                fe[k] = max(f, 0)
                te[k] = thr[r, h, c] if f >= 0 else 255  # no uint8 bin exceeds 255: left
    vf = values.reshape(R * J * C)
    uC = numba.uint64(C)
    one = numba.uint64(1)
    n_blocks = (N + _PREDICT_BLOCK - 1) // _PREDICT_BLOCK
    for blk in prange(n_blocks):
        lo = blk * _PREDICT_BLOCK
        hi = min(N, lo + _PREDICT_BLOCK)
        for r in range(R):
            for c in range(C):
                base = numba.uint64(r * I * C + c)
                vbase = numba.uint64(r * J * C + c)
                for n in range(lo, hi):
                    j = numba.uint64(0)
                    for d in range(depth):
                        k = base + ((one << numba.uint64(d)) - one + j) * uC
                        j = numba.uint64(2) * j + numba.uint64(bins[n, fe[k]] > te[k])
                    F[n, c] += learning_rate * vf[vbase + j * uC]


@numba.njit(numba.void(_f8_2d, numba.int64[::1], numba.int64[:, ::1]), parallel=True, cache=True)
def argmax_classes(F, offsets, out):  # pragma: no cover - compiled
    """``out[n, k]``: the position of row ``n``'s highest raw score among factor ``k``'s
    columns ``F[n, offsets[k]:offsets[k + 1]]`` (the first of tied scores, as ``np.argmax``)."""
    N = F.shape[0]
    K = offsets.shape[0] - 1
    for n in prange(N):
        for k in range(K):
            a = offsets[k]
            best = a
            for c in range(a + 1, offsets[k + 1]):
                if F[n, c] > F[n, best]:
                    best = c
            out[n, k] = best - a
