"""Kernels of the batched histogram gradient booster (:mod:`fastdci.regressors.stumps`).

Every factor's classes sit side by side on one *stacked class axis* of width ``C`` (factor
``k`` owns columns ``offsets[k]:offsets[k + 1]``); every class has its own regression tree per
boosting round, and all ``C`` trees of a round are grown together, level by level. The row
state is a node index per (row, class): ``node[n, c]`` is where row ``n`` sits in class ``c``'s
tree at the current level (``0 .. 2**level - 1``).

Two implementations of the same arithmetic:

- Numba (CPU): module-level ``@numba.njit`` kernels below, float64 throughout.
- torch (CUDA, and CPU for the parity tests): the ``torch_*`` functions at the end. The
  histogram is a one-hot matrix product, ``onehot(bins)^T @ W``, which runs as a float64 GEMM
  (exact 0/1 entries, so only the summation order differs from the Numba loop).

Both paths build the same histograms, scan the same candidate splits in the same order
(latent ascending, then bin ascending, the first strict maximum wins) and so give the same
splits on the same bins, up to floating-point ties.

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
    "bin_thresholds",
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


def bin_thresholds(column: np.ndarray, max_bins: int) -> np.ndarray:
    """Quantile bin edges of one latent, by scikit-learn's HistGradientBoosting rule.

    Parameters
    ----------
    column : float array (N,)
        One latent's values (finite).
    max_bins : int
        At most this many bins (2..256), so at most ``max_bins - 1`` thresholds.

    Returns
    -------
    float64 array (T,), T <= max_bins - 1, increasing
        With at most ``max_bins`` distinct values, the midpoints between consecutive
        distinct values; else the ``i / max_bins`` quantiles (i = 1 .. max_bins - 1) of the
        column by NumPy's ``"averaged_inverted_cdf"`` percentile (the sorted value at rank
        ``ceil(N i / max_bins)``, or the mean of two neighbours where that rank is whole).
        This is ``sklearn.ensemble._hist_gradient_boosting.binning._find_binning_thresholds``
        (scikit-learn >= 1.6) without its 200,000-row subsample: every row is used. A value ``x`` falls in bin
        ``searchsorted(thresholds, x, side="left")``: ``x <= t`` goes left.
    """
    col = np.sort(np.asarray(column, dtype=np.float64))
    distinct = np.unique(col)
    if distinct.size <= max_bins:
        return (distinct[:-1] + distinct[1:]) * 0.5
    lo, hi, t = _quantile_positions(col.size, max_bins)
    a, b = col[lo], col[hi]
    return b - (b - a) * (1.0 - t)


def _quantile_positions(n: int, max_bins: int):
    """Indices and weights of NumPy's ``"averaged_inverted_cdf"`` percentiles (as NumPy
    computes them, so that the edges agree bit for bit)."""
    quantiles = np.linspace(0, 100, num=max_bins + 1)[1:-1] / 100
    v = n * quantiles - 1
    lo = np.floor(v)
    gamma = v - lo
    t = np.where(gamma == 0, 0.5, 1.0)
    lo = np.clip(lo.astype(np.int64), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    return lo, hi, t


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


# ----------------------------------------------------------------------------- torch path


def torch_bin_thresholds(column, max_bins: int):
    """:func:`bin_thresholds` on a torch tensor (same edges, computed on its device)."""
    import torch

    col = torch.sort(column.to(torch.float64)).values
    distinct = torch.unique_consecutive(col)
    if distinct.numel() <= max_bins:
        return (distinct[:-1] + distinct[1:]) * 0.5
    lo, hi, t = _quantile_positions(col.numel(), max_bins)
    a = col[torch.as_tensor(lo, device=col.device)]
    b = col[torch.as_tensor(hi, device=col.device)]
    return b - (b - a) * (1.0 - torch.as_tensor(t, device=col.device))


class TorchOneHot:
    """Histograms as one-hot matrix products: ``hist[l, b, :] = sum_n [bins[n, l] == b] W[n, :]``.

    ``bins`` (N, L) uint8 tensor; the one-hot matrix (rows, L * B), in the weights' dtype
    (float32, as the Numba histograms), is built chunk by chunk (at most ``chunk_bytes`` at a
    time) and multiplied with the weights: one GEMM per chunk instead of N * L scattered
    atomic adds. The products are exact (0/1 factors); only the summation order differs from
    the Numba loop. TF32 must stay off (torch's default for float32 matmul).
    """

    def __init__(self, bins, n_bins: int, chunk_bytes: int = 1 << 28):
        import torch

        self.bins = bins
        self.B = int(n_bins)
        N, L = bins.shape
        self.L = L
        self.chunk = max(1, int(chunk_bytes // (4 * L * self.B)))
        self.shift = (torch.arange(L, device=bins.device) * self.B)[None, :]

    def histogram(self, W):
        """``W`` (N, S, ch, C) float32 -> (L, B, S, ch, C) float32."""
        import torch

        N = W.shape[0]
        flat = W.reshape(N, -1)
        out = torch.zeros((self.L * self.B, flat.shape[1]), dtype=W.dtype, device=W.device)
        for a in range(0, N, self.chunk):
            b = min(N, a + self.chunk)
            idx = self.bins[a:b].long() + self.shift
            oh = torch.zeros((b - a, self.L * self.B), dtype=W.dtype, device=W.device)
            oh.scatter_(1, idx, 1.0)
            out.addmm_(oh.T, flat[a:b])
        return out.reshape((self.L, self.B) + tuple(W.shape[1:]))


def torch_softmax_gradients(F, Y, offsets):
    """Torch twin of :func:`softmax_gradients`: float32 ``(G, H)`` (N, C) from float64 raw
    scores ``F`` and stacked one-hot float32 targets ``Y``."""
    import torch

    P = torch.empty(F.shape, dtype=torch.float32, device=F.device)
    for k in range(len(offsets) - 1):
        a, b = int(offsets[k]), int(offsets[k + 1])
        seg = F[:, a:b]
        e = torch.exp((seg - seg.max(dim=1, keepdim=True).values).to(torch.float32))
        P[:, a:b] = e * (1.0 / e.sum(dim=1, keepdim=True))
    return P - Y, P * (1.0 - P)


def torch_level_weights(G, Wt, node, side, level: int, n_ch: int):
    """Torch twin of :func:`build_level_weights`: (N, S, n_ch, C) weights."""
    import torch

    N, C = G.shape
    S = side.shape[0] if level > 0 else 1
    chans = [G, Wt] + ([torch.ones_like(G)] if n_ch == 3 else [])
    vals = torch.stack(chans, dim=1)  # (N, ch, C)
    if level == 0:
        return vals[:, None]
    p = node >> 1
    mask = ((node & 1) == torch.gather(side, 0, p)).to(vals.dtype)
    out = torch.zeros((N, S, n_ch, C), dtype=vals.dtype, device=vals.device)
    out.scatter_(1, p[:, None, None, :].expand(N, 1, n_ch, C), (vals * mask[:, None, :])[:, None])
    return out


def torch_sibling_subtract(built, parent, side):
    """Torch twin of :func:`sibling_subtract`: (L, B, 2S, ch, C)."""
    import torch

    L, B, S, ch, C = built.shape
    sibling = parent - built
    sm = side.bool()[None, None, :, None, :]
    left = torch.where(sm, sibling, built)
    right = torch.where(sm, built, sibling)
    return torch.stack([left, right], dim=3).reshape(L, B, 2 * S, ch, C)


def torch_find_splits(hist, wch: int, cch: int, n_bins):
    """Torch twin of :func:`find_splits`; returns ``(feat, thr, gain, n_left, n_right)``,
    each (J, C) (feat/thr int64)."""
    import torch

    L, B, J, _, C = hist.shape
    cum = torch.cumsum(hist.to(torch.float64), dim=1)
    tot = cum[:, -1:]  # (L, 1, J, ch, C)
    GL, WL, NL = cum[:, :, :, 0], cum[:, :, :, wch], cum[:, :, :, cch]
    Gt, Wt, Nt = tot[:, :, :, 0], tot[:, :, :, wch], tot[:, :, :, cch]
    GR, WR, NR = Gt - GL, Wt - WL, Nt - NL
    tpos = torch.arange(B, device=hist.device)[None, :, None, None]
    valid = (NL >= 0.5) & (NR >= 0.5) & (WL > 0) & (WR > 0) & (tpos < (n_bins[:, None, None, None] - 1))
    one = torch.ones_like(WL)
    gain = (
        GL * GL / torch.where(valid, WL, one)
        + GR * GR / torch.where(valid, WR, one)
        - Gt * Gt / torch.where(valid, Wt.expand_as(WL), one)
    )
    gain = torch.where(valid, gain, torch.full_like(gain, -float("inf")))
    flat = gain.permute(2, 3, 0, 1).reshape(J, C, L * B)
    arg = torch.argmax(flat, dim=2)
    best = torch.gather(flat, 2, arg[..., None])[..., 0]
    bf = arg // B
    bt = arg % B
    jj = torch.arange(J, device=hist.device)[:, None].expand(J, C)
    cc = torch.arange(C, device=hist.device)[None, :].expand(J, C)
    wt_best = Wt[bf, 0, jj, cc]
    nt_best = Nt[bf, 0, jj, cc]
    nl_best = NL[bf, bt, jj, cc]
    ok = torch.isfinite(best) & (best > 1e-12 * wt_best)
    feat = torch.where(ok, bf, torch.full_like(bf, -1))
    thr = torch.where(ok, bt, torch.zeros_like(bt))
    gain_out = torch.where(ok, best, torch.zeros_like(best))
    n_left = torch.where(ok, nl_best, Nt[0, 0])
    n_right = torch.where(ok, nt_best - nl_best, torch.zeros_like(nl_best))
    return feat, thr, gain_out, n_left, n_right


def torch_update_nodes(bins, feat, thr, node):
    """Torch twin of :func:`update_nodes`; returns the new (N, C) int64 node tensor."""
    fj = torch_gather_rows(feat, node)
    tj = torch_gather_rows(thr, node)
    b = bins.long().gather(1, fj.clamp(min=0))
    right = (fj >= 0) & (b > tj)
    return 2 * node + right.long()


def torch_gather_rows(table, node):
    """``table[node[n, c], c]`` for a (J, C) table and (N, C) node indices."""
    import torch

    return torch.gather(table, 0, node)


def torch_leaf_update(G, H, node, scale, learning_rate: float, n_leaves: int, F):
    """Torch twin of :func:`leaf_update`; returns ``(values (J, C), F + lr * values[node])``."""
    import torch

    N, C = G.shape
    idx = (node * C + torch.arange(C, device=G.device)[None, :]).reshape(-1)
    zeros = torch.zeros(n_leaves * C, dtype=torch.float64, device=G.device)
    sg = zeros.index_add(0, idx, G.reshape(-1).to(torch.float64))
    sh = zeros.index_add(0, idx, H.reshape(-1).to(torch.float64))
    sg, sh = sg.reshape(n_leaves, C), sh.reshape(n_leaves, C)
    safe = torch.where(sh.abs() < 1e-150, torch.ones_like(sh), sh)
    values = torch.where(sh.abs() < 1e-150, torch.zeros_like(sh), -scale[None, :] * sg / safe)
    return values, F + learning_rate * values.reshape(-1)[idx].reshape(N, C)


def torch_predict_raw(bins, trees, learning_rate: float):
    """Torch twin of :func:`predict_raw` for a fitted ensemble (numpy arrays in ``trees``)."""
    import torch

    dev = bins.device
    feat = torch.as_tensor(trees.feat, device=dev).long()
    thr = torch.as_tensor(trees.thr, device=dev).long()
    values = torch.as_tensor(trees.values, device=dev)
    R, I, C = feat.shape
    depth = int(np.log2(I + 1))
    N = bins.shape[0]
    F = torch.as_tensor(trees.init, device=dev).expand(N, C).clone()
    for r in range(R):
        node = torch.zeros((N, C), dtype=torch.long, device=dev)
        for d in range(depth):
            a = 2**d - 1
            node = torch_update_nodes(bins, feat[r, a : a + 2**d], thr[r, a : a + 2**d], node)
        F += learning_rate * torch.gather(values[r], 0, node)
    return F
