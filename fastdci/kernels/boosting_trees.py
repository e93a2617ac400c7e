"""Numba tree-growth kernels of the batched histogram gradient booster
(:mod:`fastdci.regressors.stumps`): from a level's histograms built by
:mod:`fastdci.kernels.boosting` (same layout: ``hist[l, b, j, ch, c]`` float32, channel 0 the
gradient sum, then the row count or the hessian sum and the row count), the best split of every
(node, class) (:func:`find_splits`), one level's descent of the rows (:func:`update_nodes`), the
Newton leaf values with the round's raw-score update (:func:`leaf_update`); the fitted
ensemble's predictions are in :mod:`fastdci.kernels.boosting_predict`. All ``C`` class trees
of a round grow together, level by level, ``node[n, c]`` being row ``n``'s node in class
``c``'s tree. Candidate splits are
scanned bin ascending within a latent (the first strict maximum winning), and a gain tied
exactly between latents goes to the latent with the lowest ``rank`` (a random permutation per
node and tree, drawn by the caller, as scikit-learn visits features in a random order), as in
the torch twins of :mod:`fastdci.kernels.torch_boosting`, so both paths give the same splits on
the same bins and ranks; no result depends on the thread count. Every kernel writes into
arrays the caller allocates.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from .boosting_softmax import ROWS, softmax_rows

__all__ = [
    "find_splits",
    "leaf_update",
    "leaf_update_gradients",
    "leaf_values",
    "update_nodes",
]

_f8_2d = numba.float64[:, ::1]
_i4_2d = numba.int32[:, ::1]
_u8_2d = numba.uint8[:, ::1]
_f4_2d = numba.float32[:, ::1]
_LEAF_BLOCK = 2048  # rows per partial sum in leaf_update (fixed: results independent of threads)


# ----------------------------------------------------------------------------- splits


@numba.njit(
    numba.void(
        numba.float32[:, :, :, :, ::1],
        numba.int64,
        numba.int64,
        numba.int64[::1],
        numba.int32[:, :, ::1],
        _i4_2d,
        _i4_2d,
        _f8_2d,
        _f8_2d,
        _f8_2d,
    ),
    parallel=True,
    cache=True,
)
def find_splits(hist, wch, cch, n_bins, rank, feat, thr, gain, n_left, n_right):  # pragma: no cover
    """Best split of every (node, class) tree node by the gain on binned thresholds.

    ``hist`` (L, B, J, ch, C) float32 (sums run in float64); ``wch`` the channel of the
    gain's denominator (count or hessian), ``cch`` the count channel; ``n_bins`` (L,) bins
    in use per latent. A split "bin <= t goes left" (t = 0 .. n_bins[l] - 2) is valid when
    both sides hold at least one row and a positive denominator; its gain is
    ``G_L^2 / W_L + G_R^2 / W_R - G^2 / W``. Within a latent the first strict maximum over
    the bins wins; between latents the highest gain wins, and of latents with exactly equal
    gains the one with the lowest ``rank[j, c, l]`` ((J, C, L) int32, a permutation of the
    latents per node and class); a node splits only if its best gain exceeds
    ``1e-12 * W``. Outputs (J, C): ``feat`` (-1: no split; all rows go left), ``thr`` (bin),
    ``gain`` (0 without split), ``n_left`` / ``n_right`` row counts.
    """
    L, B, J, NCH, C = hist.shape
    bl_gain = np.full((L, J, C), -np.inf)
    bl_thr = np.zeros((L, J, C), dtype=np.int32)
    bl_nl = np.zeros((L, J, C))
    tot_n = np.zeros((L, J, C))
    tot_w = np.zeros((L, J, C))
    same_w_n = wch == cch
    for lj in prange(L * J):
        l = lj // J
        j = lj % J
        nb = n_bins[l]
        Gt = np.zeros(C)
        Wt = np.zeros(C)
        Nt = np.zeros(C)
        GL = np.zeros(C)
        WL = np.zeros(C)
        NL = WL if same_w_n else np.zeros(C)  # friedman_mse: the denominator is the count
        base = np.zeros(C)
        best = np.full(C, -np.inf)
        cand = np.empty(C)
        bthr = np.zeros(C, dtype=np.int32)
        bnl = np.zeros(C)
        for b in range(nb):
            hg = hist[l, b, j, 0]
            hw = hist[l, b, j, wch]
            for c in range(C):
                Gt[c] += hg[c]
                Wt[c] += hw[c]
        if same_w_n:
            Nt[:] = Wt
        else:
            for b in range(nb):
                hn = hist[l, b, j, cch]
                for c in range(C):
                    Nt[c] += hn[c]
        for c in range(C):
            if Wt[c] > 0.0:
                base[c] = Gt[c] * Gt[c] / Wt[c]
        for b in range(nb - 1):
            hg = hist[l, b, j, 0]
            hw = hist[l, b, j, wch]
            for c in range(C):
                GL[c] += hg[c]
                WL[c] += hw[c]
            if not same_w_n:
                hn = hist[l, b, j, cch]
                for c in range(C):
                    NL[c] += hn[c]
            # gains of all classes first (branch-free, so it vectorises), then the argmax
            for c in range(C):
                nr = Nt[c] - NL[c]
                wl = WL[c]
                wr = Wt[c] - wl
                ok = (NL[c] >= 0.5) & (nr >= 0.5) & (wl > 0.0) & (wr > 0.0)
                gl = GL[c]
                gr = Gt[c] - gl
                wl_safe = wl if ok else 1.0
                wr_safe = wr if ok else 1.0
                g = gl * gl / wl_safe + gr * gr / wr_safe - base[c]
                cand[c] = g if ok else -np.inf
            for c in range(C):
                if cand[c] > best[c]:
                    best[c] = cand[c]
                    bthr[c] = b
                    bnl[c] = NL[c]
        for c in range(C):
            bl_gain[l, j, c] = best[c]
            bl_thr[l, j, c] = bthr[c]
            bl_nl[l, j, c] = bnl[c]
            tot_n[l, j, c] = Nt[c]
            tot_w[l, j, c] = Wt[c]
    for j in range(J):
        for c in range(C):
            best_g = -np.inf
            bf = -1
            for l in range(L):
                g_l = bl_gain[l, j, c]
                if g_l > best_g or (g_l == best_g and bf >= 0 and rank[j, c, l] < rank[j, c, bf]):
                    best_g = g_l
                    bf = l
            if bf >= 0 and best_g > 1e-12 * tot_w[bf, j, c]:
                feat[j, c] = bf
                thr[j, c] = bl_thr[bf, j, c]
                gain[j, c] = best_g
                n_left[j, c] = bl_nl[bf, j, c]
                n_right[j, c] = tot_n[bf, j, c] - bl_nl[bf, j, c]
            else:
                feat[j, c] = -1
                thr[j, c] = 0
                gain[j, c] = 0.0
                n_left[j, c] = tot_n[0, j, c]
                n_right[j, c] = 0.0


# ----------------------------------------------------------------------------- tree growth


@numba.njit(numba.void(_u8_2d, _i4_2d, _i4_2d, _i4_2d), parallel=True, cache=True)
def update_nodes(bins, feat, thr, node):  # pragma: no cover - compiled
    """Descend one level: ``node[n, c] = 2 j + (bins[n, feat[j, c]] > thr[j, c])``.

    ``feat``/``thr`` (J, C) int32 of the current level (feat -1: go left); ``node`` (N, C),
    every entry ``j < J`` (all 0 at the root, ``J == 1``).
    """
    N, C = node.shape
    if feat.shape[0] == 1:  # the root (every node 0): the split per class, not per row
        fe = np.empty(C, dtype=np.int64)
        te = np.empty(C, dtype=np.int64)
        for c in range(C):
            fe[c] = max(feat[0, c], 0)
            te[c] = thr[0, c] if feat[0, c] >= 0 else 255  # no uint8 bin exceeds 255: left
        for n in prange(N):
            nd = node[n]
            bn = bins[n]
            for c in range(C):
                nd[c] = numba.int32(bn[fe[c]] > te[c])
        return
    J = feat.shape[0]
    fe = np.empty(J * C, dtype=np.uint32)  # flat (j, c) tables; no split: bin 0 > 255, left
    te = np.empty(J * C, dtype=np.int32)
    for j in range(J):
        for c in range(C):
            fe[j * C + c] = max(feat[j, c], 0)
            te[j * C + c] = thr[j, c] if feat[j, c] >= 0 else 255
    for n in prange(N):
        nd = node[n]
        bn = bins[n]
        for c in range(C):  # unsigned indices: no negative-index fix-up on the gathers
            j = nd[c]
            k = numba.uint64(j * C + c)
            nd[c] = 2 * j + numba.int32(bn[fe[k]] > te[k])


@numba.njit(inline="always")
def _newton_values(sg, sh, scale, values):  # pragma: no cover - compiled
    """``values[j, c] = -scale[c] * sg[j, c] / sh[j, c]``, 0 where ``|sh| < 1e-150``."""
    for j in range(values.shape[0]):
        for c in range(values.shape[1]):
            if abs(sh[j, c]) < 1e-150:
                values[j, c] = 0.0
            else:
                values[j, c] = -scale[c] * sg[j, c] / sh[j, c]


@numba.njit(parallel=True, cache=True)
def _stump_leaf_values(G, H, bins, fe, te, scale, values):  # pragma: no cover - compiled
    """:func:`leaf_values` of stumps, each row's side computed from its bins: right when
    ``bins[n, fe[c]] > te[c]`` (``fe``, ``te`` (C,) int64). Both sides' sums are kept for
    every row (a row adds 0.0 to the other side, which leaves every sum as it is), so the
    class loop has no data-dependent store; the same floats as :func:`leaf_values`."""
    N, C = G.shape
    n_blocks = (N + _LEAF_BLOCK - 1) // _LEAF_BLOCK
    part = np.zeros((n_blocks, 4, C))  # per block: g left, g right, h left, h right
    for blk in prange(n_blocks):
        g0 = part[blk, 0]
        g1 = part[blk, 1]
        h0 = part[blk, 2]
        h1 = part[blk, 3]
        for n in range(blk * _LEAF_BLOCK, min(N, (blk + 1) * _LEAF_BLOCK)):
            for c in range(C):
                right = bins[n, fe[c]] > te[c]
                g = numba.float64(G[n, c])
                h = numba.float64(H[n, c])
                g0[c] += 0.0 if right else g
                g1[c] += g if right else 0.0
                h0[c] += 0.0 if right else h
                h1[c] += h if right else 0.0
    s = np.zeros((4, C))
    for blk in range(n_blocks):
        s += part[blk]
    _newton_values(s[0:2], s[2:4], scale, values)


@numba.njit(
    numba.void(_f4_2d, _f4_2d, _i4_2d, numba.float64[::1], _f8_2d), parallel=True, cache=True
)
def leaf_values(G, H, node, scale, values):  # pragma: no cover - compiled
    """Newton leaf values of one round: ``values[j, c] = -scale[c] * sum(g) / sum(h)`` over
    the rows in leaf ``j`` of class ``c``'s tree (0 for an empty leaf or a zero hessian sum
    below 1e-150, as scikit-learn's ``_safe_divide``); ``scale[c] = (K_c - 1) / K_c``
    (Friedman 2001, Algorithm 6). ``values`` (2**depth, C) is overwritten. The sums run over
    fixed blocks of rows in parallel, each in row order, and then over the blocks in order,
    so the result does not depend on the thread count.
    """
    N, C = G.shape
    J = values.shape[0]
    n_blocks = (N + _LEAF_BLOCK - 1) // _LEAF_BLOCK
    part_g = np.zeros((n_blocks, J * C))  # flat (j, c), indexed unsigned: no negative-index fix-up
    part_h = np.zeros((n_blocks, J * C))
    for blk in prange(n_blocks):
        pg = part_g[blk]
        ph = part_h[blk]
        for n in range(blk * _LEAF_BLOCK, min(N, (blk + 1) * _LEAF_BLOCK)):
            nd = node[n]
            g = G[n]
            h = H[n]
            for c in range(C):
                k = numba.uint64(nd[c] * C + c)
                pg[k] += g[c]
                ph[k] += h[c]
    sg = np.zeros(J * C)
    sh = np.zeros(J * C)
    for blk in range(n_blocks):
        sg += part_g[blk]
        sh += part_h[blk]
    _newton_values(sg.reshape(J, C), sh.reshape(J, C), scale, values)


@numba.njit(
    numba.void(_f4_2d, _f4_2d, _i4_2d, numba.float64[::1], numba.float64, _f8_2d, _f8_2d),
    parallel=True,
    cache=True,
)
def leaf_update(G, H, node, scale, learning_rate, values, F):  # pragma: no cover - compiled
    """Newton leaf values (:func:`leaf_values`) and the raw-score update of one round:
    ``F[n, c] += learning_rate * values[node[n, c], c]``.
    """
    leaf_values(G, H, node, scale, values)
    N, C = G.shape
    vf = values.reshape(values.shape[0] * values.shape[1])  # a view
    for n in prange(N):
        f = F[n]
        nd = node[n]
        for c in range(C):
            f[c] += learning_rate * vf[numba.uint64(nd[c] * C + c)]


_ROW_BLOCK = 256  # rows per parallel task of the fused update (scratch allocated per task)


@numba.njit(
    numba.void(_f4_2d, _f4_2d, _i4_2d, _u8_2d, _i4_2d, _i4_2d, numba.boolean, numba.float64[::1],
               numba.float64, numba.int64[:, ::1], numba.int64[::1], numba.boolean, _f8_2d, _f8_2d),
    parallel=True,
    cache=True,
)
def leaf_update_gradients(G, H, node, bins, feat, thr, stump, scale, learning_rate, codes, offsets,
                          gradients, values, F):  # pragma: no cover - compiled
    """The round's end in two passes over the rows: :func:`leaf_update`, then (when
    ``gradients``) the next round's ``G``, ``H`` by
    :func:`fastdci.kernels.boosting_softmax.softmax_gradients` from the updated ``F``, a block of
    rows at a time while the block is in cache, and ``node`` reset to 0 (the next round's root).

    The same floats as ``leaf_update`` and ``softmax_gradients`` in turn. ``node`` holds every
    row's leaf, except for a ``stump`` (depth 1): then the rows' leaves are the sides of the
    split ``feat``/``thr`` (1, C), computed where they are used (as :func:`update_nodes`
    would), and ``node`` is neither read nor written. ``codes`` (N, K) int64 and ``offsets``
    (K + 1,) as in ``softmax_gradients``.
    """
    N, C = G.shape
    fe = np.zeros(C, dtype=np.int64)
    te = np.zeros(C, dtype=np.int64)
    if stump:
        for c in range(C):
            fe[c] = max(feat[0, c], 0)
            te[c] = thr[0, c] if feat[0, c] >= 0 else 255  # no uint8 bin exceeds 255: left
        _stump_leaf_values(G, H, bins, fe, te, scale, values)
    else:
        leaf_values(G, H, node, scale, values)
    n_rows = (N + _ROW_BLOCK - 1) // _ROW_BLOCK
    for blk in prange(n_rows):
        mcol = np.empty((ROWS, C))
        icol = np.empty((ROWS, C), dtype=np.float32)
        lo = blk * _ROW_BLOCK
        hi = min(N, lo + _ROW_BLOCK)
        for n in range(lo, hi):
            if stump:
                for c in range(C):
                    v = values[1, c] if bins[n, fe[c]] > te[c] else values[0, c]
                    F[n, c] += learning_rate * v
            else:
                for c in range(C):
                    F[n, c] += learning_rate * values[node[n, c], c]
                    node[n, c] = 0
        if gradients:
            for n0 in range(lo, hi, ROWS):
                softmax_rows(F, codes, offsets, n0, min(ROWS, hi - n0), mcol, icol, G, H)
