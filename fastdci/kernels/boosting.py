"""Numba kernels of the batched histogram gradient booster (:mod:`fastdci.regressors.stumps`).

Every factor's classes sit side by side on one *stacked class axis* of width ``C`` (factor
``k`` owns columns ``offsets[k]:offsets[k + 1]``); every class has its own regression tree per
boosting round, and all ``C`` trees of a round are grown together, level by level. The row
state is a node index per (row, class): ``node[n, c]`` is where row ``n`` sits in class ``c``'s
tree at the current level (``0 .. 2**level - 1``).

Two implementations of the same arithmetic:

- Numba (CPU): the module-level ``@numba.njit`` kernels of this module, float64 throughout.
- torch (CUDA, and CPU for the parity tests): their twins in
  :mod:`fastdci.kernels.torch_boosting`, where the histogram is a one-hot matrix product.

Both paths bin by the edges of :func:`fastdci.kernels.binning.bin_thresholds`, build the same
histograms, scan the same candidate splits in the same order (latent ascending, then bin
ascending, the first strict maximum wins) and so give the same splits on the same bins, up to
floating-point ties.

Histogram layout: ``hist[l, b, j, ch, c]`` float32 with latent ``l``, bin ``b``, node ``j``
(or parent slot while building a level), channel ``ch`` and class ``c`` (channel-major, so
that every per-class loop runs over contiguous memory): channel 0 the gradient sum; then
either (criterion ``"friedman_mse"``) the row count, or (criterion ``"newton"``) the hessian
sum followed by the row count. The per-row weights use the same order, ``(N, S, ch, C)``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

__all__ = [
    "KERNELS",
    "apply_bins",
    "build_level_weights",
    "find_splits",
    "histogram",
    "leaf_update",
    "predict_raw",
    "sibling_subtract",
    "softmax_gradients",
    "update_nodes",
]

_f8_2d = numba.float64[:, ::1]
_i8_2d = numba.int64[:, ::1]
_u8_2d = numba.uint8[:, ::1]
_i4_2d = numba.int32[:, ::1]
_f4_2d = numba.float32[:, ::1]
_LEAF_BLOCK = 2048  # rows per partial sum in leaf_update (fixed: results independent of threads)


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

_POW2 = (2.0 ** np.arange(-126, 1)).astype(np.float32)  # 2**n for n = -126 .. 0


@numba.njit(inline="always")
def _exp_nonpositive(x):  # pragma: no cover - compiled
    """``exp(x)`` in float32 for ``x <= 0``, within 1 ulp; inputs below -87 give ``exp(-87)``.

    Cephes' ``expf`` (Moshier): ``x = n ln2 + r`` with ``|r| <= ln2 / 2`` (ln2 split in
    two parts), a degree-7 polynomial for ``exp(r)``, and ``2**n`` from a table. Written
    out because it vectorises, where the libm call does not; values below ``exp(-87)``
    (1.6e-38) only ever enter softmax sums whose largest term is 1. (torch's float32 exp,
    used by the CUDA path, goes on down to 0 below about -104: the two differ only for a
    leaf whose every row is that saturated.) A NaN stays NaN: the table index is clamped.
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
    return p * _POW2[min(max(numba.int32(n) + 126, 0), 126)]



@numba.njit(
    numba.void(_f8_2d, _i8_2d, numba.int64[::1], _f4_2d, _f4_2d),
    parallel=True,
    cache=True,
)
def softmax_gradients(F, codes, offsets, G, H):  # pragma: no cover - compiled
    """Softmax per factor and the multinomial deviance's gradient and hessian.

    ``F`` (N, C) float64 raw scores; ``codes`` (N, K) class positions within each factor;
    ``offsets`` (K + 1,). Writes float32 ``G[n, c] = p - y`` and ``H[n, c] = p (1 - p)``
    where ``p`` is the softmax of ``F[n, offsets[k]:offsets[k + 1]]`` (exponentials in
    float32 after subtracting the row maximum, by :func:`_exp_nonpositive`) and ``y`` the
    one-hot target.
    """
    N, C = F.shape
    K = codes.shape[1]
    for n in prange(N):
        for k in range(K):
            a = offsets[k]
            b = offsets[k + 1]
            m = F[n, a]
            for c in range(a + 1, b):
                if F[n, c] > m:
                    m = F[n, c]
            for c in range(a, b):
                G[n, c] = _exp_nonpositive(numba.float32(F[n, c] - m))
            s = numba.float32(0.0)
            for c in range(a, b):
                s += G[n, c]
            inv = numba.float32(1.0) / s
            y = a + codes[n, k]
            for c in range(a, b):
                p = G[n, c] * inv
                H[n, c] = p * (numba.float32(1.0) - p)
                G[n, c] = p - numba.float32(1.0) if c == y else p


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


# ----------------------------------------------------------------------------- splits


@numba.njit(
    numba.void(
        numba.float32[:, :, :, :, ::1],
        numba.int64,
        numba.int64,
        numba.int64[::1],
        _i4_2d,
        _i4_2d,
        _f8_2d,
        _f8_2d,
        _f8_2d,
    ),
    parallel=True,
    cache=True,
)
def find_splits(hist, wch, cch, n_bins, feat, thr, gain, n_left, n_right):  # pragma: no cover
    """Best split of every (node, class) tree node by the gain on binned thresholds.

    ``hist`` (L, B, J, ch, C) float32 (sums run in float64); ``wch`` the channel of the
    gain's denominator (count or hessian), ``cch`` the count channel; ``n_bins`` (L,) bins
    in use per latent. A split "bin <= t goes left" (t = 0 .. n_bins[l] - 2) is valid when
    both sides hold at least one row and a positive denominator; its gain is
    ``G_L^2 / W_L + G_R^2 / W_R - G^2 / W``. Candidates are scanned latent-major, bin-minor;
    the first strict maximum wins; a node splits only if its best gain exceeds
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
                if bl_gain[l, j, c] > best_g:
                    best_g = bl_gain[l, j, c]
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

    ``feat``/``thr`` (J, C) int32 of the current level (feat -1: go left); ``node`` (N, C).
    """
    N, C = node.shape
    for n in prange(N):
        for c in range(C):
            j = node[n, c]
            f = feat[j, c]
            right = 0
            if f >= 0 and bins[n, f] > thr[j, c]:
                right = 1
            node[n, c] = 2 * j + right


@numba.njit(
    numba.void(_f4_2d, _f4_2d, _i4_2d, numba.float64[::1], numba.float64, _f8_2d, _f8_2d),
    parallel=True,
    cache=True,
)
def leaf_update(G, H, node, scale, learning_rate, values, F):  # pragma: no cover - compiled
    """Newton leaf values and the raw-score update of one round.

    ``values[j, c] = -scale[c] * sum(g) / sum(h)`` over the rows in leaf ``j`` of class
    ``c``'s tree (0 for an empty leaf or a zero hessian sum below 1e-150, as scikit-learn's
    ``_safe_divide``); ``scale[c] = (K_c - 1) / K_c`` (Friedman 2001, Algorithm 6);
    then ``F[n, c] += learning_rate * values[node[n, c], c]``. ``values`` (2**depth, C)
    is overwritten. The sums run over fixed blocks of rows in parallel, each in row order,
    and then over the blocks in order, so the result does not depend on the thread count.
    """
    N, C = G.shape
    J = values.shape[0]
    n_blocks = (N + _LEAF_BLOCK - 1) // _LEAF_BLOCK
    part_g = np.zeros((n_blocks, J, C))
    part_h = np.zeros((n_blocks, J, C))
    for blk in prange(n_blocks):
        pg = part_g[blk]
        ph = part_h[blk]
        for n in range(blk * _LEAF_BLOCK, min(N, (blk + 1) * _LEAF_BLOCK)):
            for c in range(C):
                j = node[n, c]
                pg[j, c] += G[n, c]
                ph[j, c] += H[n, c]
    sg = np.zeros((J, C))
    sh = np.zeros((J, C))
    for blk in range(n_blocks):
        sg += part_g[blk]
        sh += part_h[blk]
    for j in range(J):
        for c in range(C):
            if abs(sh[j, c]) < 1e-150:
                values[j, c] = 0.0
            else:
                values[j, c] = -scale[c] * sg[j, c] / sh[j, c]
    for n in prange(N):
        for c in range(C):
            F[n, c] += learning_rate * values[node[n, c], c]


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
    ``values`` (R, 2**depth, C).
    """
    N, C = F.shape
    R, I, _ = feat.shape
    depth = 0
    while (1 << depth) - 1 < I:
        depth += 1
    for n in prange(N):
        for r in range(R):
            for c in range(C):
                j = 0
                for d in range(depth):
                    h = (1 << d) - 1 + j
                    f = feat[r, h, c]
                    right = 0
                    if f >= 0 and bins[n, f] > thr[r, h, c]:
                        right = 1
                    j = 2 * j + right
                F[n, c] += learning_rate * values[r, j, c]


KERNELS = {
    "apply_bins": apply_bins,
    "softmax_gradients": softmax_gradients,
    "build_level_weights": build_level_weights,
    "histogram": histogram,
    "sibling_subtract": sibling_subtract,
    "find_splits": find_splits,
    "update_nodes": update_nodes,
    "leaf_update": leaf_update,
    "predict_raw": predict_raw,
}
"""Name -> Numba kernel of the CPU booster."""
