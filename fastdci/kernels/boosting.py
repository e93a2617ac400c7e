"""Numba kernels of the batched histogram gradient booster (:mod:`fastdci.regressors.stumps`) up
to a level's histograms: binning the latents (:func:`apply_bins`), the multinomial deviance's
gradients and hessians (:func:`softmax_gradients`, in :mod:`fastdci.kernels.boosting_softmax`) and the
per-level histograms (:func:`level_histogram`, which the booster runs: the per-row weights of
:func:`build_level_weights` summed by :func:`histogram` in one pass; :func:`sibling_subtract`);
the tree growth that reads those histograms is in :mod:`fastdci.kernels.boosting_trees`, the
torch twins of both in :mod:`fastdci.kernels.torch_boosting`. Every factor's classes sit side by side on one *stacked
class axis* of width ``C`` (factor ``k`` owns columns ``offsets[k]:offsets[k + 1]``), every class
has its own tree per round, and ``node[n, c]`` is where row ``n`` sits in class ``c``'s tree at
the current level (``0 .. 2**level - 1``). Histograms are ``hist[l, b, j, ch, c]`` float32 with
latent ``l``, bin ``b``, node ``j`` (or parent slot while building a level), channel ``ch`` and
class ``c`` (channel-major, so that every per-class loop runs over contiguous memory): channel 0
the gradient sum, then either the row count (criterion ``"friedman_mse"``) or the hessian sum
followed by the row count (criterion ``"newton"``); the per-row weights use the same order,
``(N, S, ch, C)``. Every kernel writes into arrays the caller allocates.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from .boosting_softmax import softmax_gradients

__all__ = [
    "apply_bins",
    "build_level_weights",
    "histogram",
    "level_histogram",
    "sibling_subtract",
    "softmax_gradients",
]

_f8_2d = numba.float64[:, ::1]
_i8_2d = numba.int64[:, ::1]
_u8_2d = numba.uint8[:, ::1]
_i4_2d = numba.int32[:, ::1]
_f4_2d = numba.float32[:, ::1]


# ----------------------------------------------------------------------------- binning


@numba.njit(
    numba.void(_f8_2d, numba.float64[::1], numba.int64[::1], _u8_2d), parallel=True, cache=True
)
def apply_bins(X, edges, edge_offsets, out):  # pragma: no cover - compiled
    """Bin every latent: ``out[n, l] = #{t in edges of l : t < X[n, l]}``.

    ``X`` (N, L) float64; ``edges`` the thresholds of every latent concatenated, latent
    ``l`` owning ``edges[edge_offsets[l]:edge_offsets[l + 1]]``; ``out`` (N, L) uint8.
    Same result as ``np.searchsorted(edges_l, X[:, l], side="left")``.
    """
    N, L = X.shape
    for n in prange(N):
        for l in range(L):
            lo = edge_offsets[l]
            hi = edge_offsets[l + 1]
            x = X[n, l]
            a = lo
            b = hi
            while a < b:
                mid = (a + b) >> 1
                if edges[mid] < x:
                    a = mid + 1
                else:
                    b = mid
            out[n, l] = a - lo


# ----------------------------------------------------------------------------- gradients

# softmax_gradients and the row-group kernel the booster's fused update shares with it:
# fastdci.kernels.boosting_softmax

# ----------------------------------------------------------------------------- histograms


@numba.njit(
    numba.void(_f4_2d, _f4_2d, _i4_2d, _u8_2d, numba.int64, numba.float32[:, :, :, ::1]),
    parallel=True,
    cache=True,
)
def build_level_weights(G, Wt, node, side, level, out):  # pragma: no cover - compiled
    """Per-row histogram weights of the children to build at ``level``.

    ``G`` (N, C) float32 gradients; ``Wt`` (N, C) the second channel (row count 1.0 for
    ``"friedman_mse"``, hessian for ``"newton"``); ``node`` (N, C) int32 node of each
    (row, class) at ``level``; ``side`` (S, C) uint8: which child of parent ``p`` is built
    (the smaller one). ``out`` (N, S, ch, C) float32 (overwritten) holds ``(g, w)``
    (2 channels) or ``(g, w, 1)`` (3 channels) at slot ``p = node >> 1`` when
    ``node & 1 == side[p, c]``, zeros elsewhere; at level 0 every row lands in slot 0.
    """
    N, C = G.shape
    S = out.shape[1]
    n_ch = out.shape[2]
    for n in prange(N):
        if level == 0:
            for c in range(C):
                out[n, 0, 0, c] = G[n, c]
                out[n, 0, 1, c] = Wt[n, c]
                if n_ch == 3:
                    out[n, 0, 2, c] = 1.0
            continue
        # branch-free and without data-dependent loads (which child a row is in is a coin
        # flip): side[p, c] for p in {0, 1} as s0 + (s1 - s0) * p, the slot as a 0/1 factor
        if S <= 2:
            for c in range(C):
                j = node[n, c]
                p = j >> 1
                s0 = numba.int32(side[0, c])
                s1 = numba.int32(side[S - 1, c])
                keep = numba.float32(1 - ((j ^ (s0 + (s1 - s0) * p)) & 1))
                pf = numba.float32(p)
                g = G[n, c] * keep
                w = Wt[n, c] * keep
                if S == 1:
                    out[n, 0, 0, c] = g
                    out[n, 0, 1, c] = w
                    if n_ch == 3:
                        out[n, 0, 2, c] = keep
                else:
                    q = numba.float32(1.0) - pf
                    out[n, 0, 0, c] = g * q
                    out[n, 0, 1, c] = w * q
                    out[n, 1, 0, c] = g * pf
                    out[n, 1, 1, c] = w * pf
                    if n_ch == 3:
                        out[n, 0, 2, c] = keep * q
                        out[n, 1, 2, c] = keep * pf
        else:
            for c in range(C):
                j = node[n, c]
                p = j >> 1
                keep = (j & 1) == side[p, c]
                for s in range(S):
                    on = keep and s == p
                    out[n, s, 0, c] = G[n, c] if on else 0.0
                    out[n, s, 1, c] = Wt[n, c] if on else 0.0
                    if n_ch == 3:
                        out[n, s, 2, c] = 1.0 if on else 0.0


@numba.njit(numba.void(_u8_2d, _f4_2d, numba.float32[:, :, ::1]), parallel=True, cache=True)
def histogram(binsT, W, out):  # pragma: no cover - compiled
    """``out[l, b, :] = sum over rows n with binsT[l, n] == b of W[n, :]``, a latent a thread.

    ``binsT`` (L, N) uint8 (latent-major bins); ``W`` (N, M) float32 (M = slots * classes
    * channels, flattened); ``out`` (L, B, M) float32, overwritten. Each thread keeps one
    latent's (B, M) histogram hot in cache while it streams the rows.
    """
    L, N = binsT.shape
    M = W.shape[1]
    for l in prange(L):
        o = out[l]
        o[:] = 0.0
        bl = binsT[l]
        for n in range(N):
            ob = o[bl[n]]
            w = W[n]
            for m in range(M):
                ob[m] += w[m]


@numba.njit(inline="always")
def _row_weights(G, H, node, side, newton, n, S, C, W, i):  # pragma: no cover - compiled
    """Row ``n``'s weights ``(S, ch, C)`` flattened into row ``i`` of ``W``, below the root: the
    values :func:`build_level_weights` writes (the same products, so the same floats). For
    more than two slots one loop per (slot, channel) over row views (they vectorise over the
    classes); for one or two (only with fewer than ``_CODE_MIN_CLASSES`` classes) a single
    loop over the classes, which costs less per row when the classes are few."""
    n_ch = 3 if newton else 2
    if S > 2:
        w = W[i]
        g = G[n]
        h = H[n]
        nd = node[n]
        for s in range(S):
            base = s * n_ch * C
            for ch in range(n_ch):
                for c in range(C):
                    j = nd[c]
                    p = j >> 1
                    hit = ((j & 1) == side[p, c]) and s == p
                    if ch == 0:
                        v = g[c]
                    elif ch == 1 and newton:
                        v = h[c]
                    else:
                        v = numba.float32(1.0)
                    w[base + ch * C + c] = v if hit else numba.float32(0.0)
        return
    for c in range(C):  # branch-free, as build_level_weights
        j = node[n, c]
        p = j >> 1
        s0 = numba.int32(side[0, c])
        s1 = numba.int32(side[S - 1, c])
        keep = numba.float32(1 - ((j ^ (s0 + (s1 - s0) * p)) & 1))
        g = G[n, c] * keep
        wt = (H[n, c] if newton else numba.float32(1.0)) * keep
        if S == 1:
            W[i, c] = g
            W[i, C + c] = wt
            if newton:
                W[i, 2 * C + c] = keep
        else:
            pf = numba.float32(p)
            q = numba.float32(1.0) - pf
            W[i, c] = g * q
            W[i, C + c] = wt * q
            W[i, n_ch * C + c] = g * pf
            W[i, n_ch * C + C + c] = wt * pf
            if newton:
                W[i, 2 * C + c] = keep * q
                W[i, n_ch * C + 2 * C + c] = keep * pf


_HIST_BLOCK_FLOATS = 1 << 18  # weights of one row block (1 MB): in a core's L2 for every latent
_CODE_BLOCK = 4096  # rows per block at levels 0-2: their gradients stay in cache for every latent
_CODE_MIN_CLASSES = 32  # fewer classes: the weights path (a row's class loops too short to vectorise)
_PAD = 8  # the weights path's rows padded to a multiple of this: its add loop runs no scalar tail


@numba.njit(
    numba.void(_u8_2d, _f4_2d, _f4_2d, _i4_2d, _u8_2d, numba.int64, numba.boolean,
               numba.int64, numba.float32[:, :, ::1]),
    parallel=True,
    cache=True,
)
def level_histogram(binsT, G, H, node, side, level, newton, n_groups, out):  # pragma: no cover - compiled
    """The level's histograms straight from the gradients: :func:`build_level_weights` and
    :func:`histogram` in one pass, with the same sums.

    ``binsT`` (L, N) uint8; ``G``, ``H`` (N, C) float32 (``H`` read only when ``newton``);
    ``node`` (N, C) int32; ``side`` (S, C) uint8; ``out`` (L, B, S * ch * C) float32,
    overwritten, equal to ``histogram(binsT, W)`` for ``W`` the weights that
    ``build_level_weights`` writes with ``Wt = H`` (``newton``, 3 channels) or ``Wt = 1``
    (2 channels). The rows are taken in blocks. At the root each row's ``G`` (and ``H``) are
    added as they are. At levels 1-2 (``S <= 2``) with ``_CODE_MIN_CLASSES`` classes or more
    the weights are never written out: all threads write a block's slot codes (a byte per row
    and class: 0 when the row's node is not the child built of its parent ``p``, else
    ``1 + p``), and each row's ``G`` (and ``H``, and the count 1) are added where the code
    selects them. Otherwise all threads write a block's weights (:func:`_row_weights`, each
    row padded with zeros to a multiple of ``_PAD`` floats, so the add loop has no scalar
    tail) into a buffer that stays in cache, and each latent is summed into a padded
    histogram copied into ``out`` after the last block. Then the latents are dealt to
    ``n_groups`` tasks (the thread count; any value >= 1 gives the same result), each adding
    the block's rows in order into
    its latents, so every bin's sum runs over the rows in order (as :func:`histogram`)
    whatever the thread count. At level 0 the row-count channel is each bin's integer row
    count (the float32 sum of ones, exactly, below 2**24 rows).
    """
    L, N = binsT.shape
    C = G.shape[1]
    M = out.shape[2]
    n_ch = 3 if newton else 2
    S = M // (n_ch * C)
    T = max(1, min(L, n_groups))
    B = out.shape[1]
    coded = S <= 2 and (level == 0 or C >= _CODE_MIN_CLASSES)
    Mp = M if coded else -(-M // _PAD) * _PAD  # the weights path's padded row
    if coded:
        blk = max(1, min(N, _CODE_BLOCK))
    else:
        blk = max(1, min(N, max(16, _HIST_BLOCK_FLOATS // Mp)))  # no bigger than the rows
    if coded:  # the weights path copies every latent's histogram in whole
        out[:] = 0.0
    codes = np.empty((blk if coded and level > 0 else 1, C), dtype=np.uint8)
    W = np.empty((1 if coded else blk, Mp), dtype=np.float32)  # every weight written before use
    W[:, M:] = 0.0
    acc = np.empty((1 if coded else L, B, Mp), dtype=np.float32)
    counts = np.zeros((L, B), dtype=np.int64)
    for start in range(0, N, blk):
        stop = min(N, start + blk)
        if level > 0:
            for i in prange(stop - start):
                if coded:  # 0: not the child built of its parent p = j >> 1, else 1 + p
                    nd = node[start + i]
                    cd = codes[i]
                    for c in range(C):  # branch-free: side[p, c] as s0 + (s1 - s0) * p
                        j = nd[c]
                        p = j >> 1
                        s0 = numba.int32(side[0, c])
                        s1 = numba.int32(side[S - 1, c])
                        keep = 1 - ((j ^ (s0 + (s1 - s0) * p)) & 1)
                        cd[c] = numba.uint8(keep * (1 + p))
                else:
                    _row_weights(G, H, node, side, newton, start + i, S, C, W, i)
        for t in prange(T):
            for l in range(t, L, T):
                o = out[l]
                bl = binsT[l]
                if level == 0:  # every row in slot 0: g (and h) added, the count apart
                    for n in range(start, stop):
                        b = bl[n]
                        ob = o[b]
                        g = G[n]
                        h = H[n]
                        for c in range(C):
                            ob[c] += g[c]
                            if newton:
                                ob[C + c] += h[c]
                        counts[l, b] += 1
                elif coded:
                    for i in range(stop - start):  # slot s takes the classes coded 1 + s
                        n = start + i
                        ob = o[bl[n]]
                        g = G[n]
                        h = H[n]
                        cd = codes[i]
                        # one loop per case, every offset a multiple of C: they vectorise
                        if S == 1 and not newton:
                            for c in range(C):
                                k = cd[c] == 1
                                ob[c] += g[c] if k else numba.float32(0.0)
                                ob[C + c] += numba.float32(1.0) if k else numba.float32(0.0)
                        elif S == 1:
                            for c in range(C):
                                k = cd[c] == 1
                                ob[c] += g[c] if k else numba.float32(0.0)
                                ob[C + c] += h[c] if k else numba.float32(0.0)
                                ob[2 * C + c] += numba.float32(1.0) if k else numba.float32(0.0)
                        elif not newton:
                            for c in range(C):
                                q = cd[c]
                                gc = g[c]
                                ob[c] += gc if q == 1 else numba.float32(0.0)
                                ob[C + c] += numba.float32(1.0) if q == 1 else numba.float32(0.0)
                                ob[2 * C + c] += gc if q == 2 else numba.float32(0.0)
                                ob[3 * C + c] += numba.float32(1.0) if q == 2 else numba.float32(0.0)
                        else:
                            for c in range(C):
                                q = cd[c]
                                gc = g[c]
                                hc = h[c]
                                ob[c] += gc if q == 1 else numba.float32(0.0)
                                ob[C + c] += hc if q == 1 else numba.float32(0.0)
                                ob[2 * C + c] += numba.float32(1.0) if q == 1 else numba.float32(0.0)
                                ob[3 * C + c] += gc if q == 2 else numba.float32(0.0)
                                ob[4 * C + c] += hc if q == 2 else numba.float32(0.0)
                                ob[5 * C + c] += numba.float32(1.0) if q == 2 else numba.float32(0.0)
                else:
                    oa = acc[l]
                    if start == 0:
                        oa[:] = 0.0
                    for i in range(stop - start):
                        ob = oa[bl[start + i]]
                        w = W[i]
                        for m in range(Mp):
                            ob[m] += w[m]
                    if stop == N:
                        for b in range(B):
                            for m in range(M):
                                o[b, m] = oa[b, m]
    if level == 0:  # every row counts 1 in every class: the count channel is the bin's row count
        Ma = (n_ch - 1) * C
        for l in prange(L):
            for b in range(B):
                for c in range(C):
                    out[l, b, Ma + c] = numba.float32(counts[l, b])


@numba.njit(
    numba.void(
        numba.float32[:, :, :, :, ::1],
        numba.float32[:, :, :, :, ::1],
        numba.uint8[:, ::1],
        numba.float32[:, :, :, :, ::1],
    ),
    parallel=True,
    cache=True,
)
def sibling_subtract(built, parent, side, out):  # pragma: no cover - compiled
    """Full level histogram from the built children and the parents' histograms.

    ``built`` (L, B, S, ch, C): histogram of child ``2p + side[p, c]`` in slot ``p``;
    ``parent`` (L, B, S, ch, C): the previous level's histograms; ``out`` (L, B, 2S, ch, C)
    gets the built child and its sibling ``parent - built``.
    """
    L, B, S, NCH, C = built.shape
    for lb in prange(L * B):
        l = lb // B
        b = lb % B
        for p in range(S):
            for ch in range(NCH):
                for c in range(C):  # selects, not branches: vectorises over classes
                    v = built[l, b, p, ch, c]
                    sib = parent[l, b, p, ch, c] - v
                    right_built = side[p, c] == 1
                    out[l, b, 2 * p, ch, c] = sib if right_built else v
                    out[l, b, 2 * p + 1, ch, c] = v if right_built else sib
