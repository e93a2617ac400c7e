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
_PREDICT_BLOCK = 64  # rows per parallel task of predict_raw


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

    ``feat``/``thr`` (R, 2**depth - 1, C) in heap order (level d node j at ``2**d - 1 + j``),
    depth 1, 2 or 3 (what the booster grows); ``values`` (R, 2**depth, C). A block of rows at
    a time, its bins latent-major and its scores class-major in scratch; per tree, every
    node's compare for every row of the block, the leaf picked by selects: no gather, so the
    row loop vectorises. Every score adds the rounds in order, whatever the thread count.
    """
    N, C = F.shape
    L = bins.shape[1]
    R, I, _ = feat.shape
    if I != 1 and I != 3 and I != 7:
        raise ValueError("predict_raw: trees of depth 1, 2 or 3 only (2**depth - 1 nodes on axis 1)")
    depth = 1 if I == 1 else (2 if I == 3 else 3)
    n_blocks = (N + _PREDICT_BLOCK - 1) // _PREDICT_BLOCK
    for blk in prange(n_blocks):
        lo = blk * _PREDICT_BLOCK
        nb = min(N, lo + _PREDICT_BLOCK) - lo
        bT = np.empty((L, _PREDICT_BLOCK), dtype=np.uint8)
        FT = np.empty((C, _PREDICT_BLOCK))
        for n in range(nb):
            for l in range(L):
                bT[l, n] = bins[lo + n, l]
            for c in range(C):
                FT[c, n] = F[lo + n, c]
        for r in range(R):
            for c in range(C):
                fc = FT[c]
                # node h: its latent's bins x_h and threshold t_h (no split: latent 0, 255: left)
                x0 = bT[max(feat[r, 0, c], 0)]
                t0 = thr[r, 0, c] if feat[r, 0, c] >= 0 else 255
                if depth == 1:
                    v0 = values[r, 0, c]
                    v1 = values[r, 1, c]
                    for n in range(nb):
                        fc[n] += learning_rate * (v1 if x0[n] > t0 else v0)
                    continue
                x1 = bT[max(feat[r, 1, c], 0)]
                t1 = thr[r, 1, c] if feat[r, 1, c] >= 0 else 255
                x2 = bT[max(feat[r, 2, c], 0)]
                t2 = thr[r, 2, c] if feat[r, 2, c] >= 0 else 255
                if depth == 2:
                    v0 = values[r, 0, c]
                    v1 = values[r, 1, c]
                    v2 = values[r, 2, c]
                    v3 = values[r, 3, c]
                    for n in range(nb):
                        left = v1 if x1[n] > t1 else v0
                        right = v3 if x2[n] > t2 else v2
                        fc[n] += learning_rate * (right if x0[n] > t0 else left)
                    continue
                x3 = bT[max(feat[r, 3, c], 0)]
                t3 = thr[r, 3, c] if feat[r, 3, c] >= 0 else 255
                x4 = bT[max(feat[r, 4, c], 0)]
                t4 = thr[r, 4, c] if feat[r, 4, c] >= 0 else 255
                x5 = bT[max(feat[r, 5, c], 0)]
                t5 = thr[r, 5, c] if feat[r, 5, c] >= 0 else 255
                x6 = bT[max(feat[r, 6, c], 0)]
                t6 = thr[r, 6, c] if feat[r, 6, c] >= 0 else 255
                v0 = values[r, 0, c]
                v1 = values[r, 1, c]
                v2 = values[r, 2, c]
                v3 = values[r, 3, c]
                v4 = values[r, 4, c]
                v5 = values[r, 5, c]
                v6 = values[r, 6, c]
                v7 = values[r, 7, c]
                for n in range(nb):
                    ll = v1 if x3[n] > t3 else v0  # the leaf under each level-2 node
                    lr = v3 if x4[n] > t4 else v2
                    rl = v5 if x5[n] > t5 else v4
                    rr = v7 if x6[n] > t6 else v6
                    left = lr if x1[n] > t1 else ll
                    right = rr if x2[n] > t2 else rl
                    fc[n] += learning_rate * (right if x0[n] > t0 else left)
        for n in range(nb):
            for c in range(C):
                F[lo + n, c] = FT[c, n]


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
