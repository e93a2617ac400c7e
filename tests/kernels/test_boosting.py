"""Kernels of the batched booster against plain NumPy loops, scikit-learn's binning, and
hand-computed gains; the torch twins against the Numba kernels."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from fastdci.kernels import binning
from fastdci.kernels import boosting as kb
from fastdci.kernels import boosting_trees as kt
from fastdci.kernels import torch_boosting as tb


# ----------------------------------------------------------------------------- binning


@pytest.mark.parametrize("n_distinct", [7, 5000])
def test_bin_thresholds_match_sklearn_hist_gradient_boosting(rng, n_distinct):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = rng.integers(0, n_distinct, size=3000).astype(np.float64)
    if n_distinct > 1000:
        x = rng.normal(size=3000)
    X = np.stack([x, rng.normal(size=3000) * 5], axis=1)
    y = (X[:, 1] > 0).astype(int)
    hgb = HistGradientBoostingClassifier(max_iter=1, max_bins=255).fit(X, y)
    for l in range(2):
        ours = binning.bin_thresholds(X[:, l], 255)
        np.testing.assert_array_equal(ours, hgb._bin_mapper.bin_thresholds_[l])


def test_bin_thresholds_midpoints_and_quantiles():
    np.testing.assert_array_equal(binning.bin_thresholds(np.array([3.0, 1.0, 1.0, 2.0]), 4), [1.5, 2.5])
    x = np.arange(100, dtype=np.float64)
    # 4 bins over 0..99: N p = 25, 50, 75 are whole ranks: mean of the 25th and 26th values
    np.testing.assert_array_equal(binning.bin_thresholds(x, 4), [24.5, 49.5, 74.5])
    # 3 bins over 0..99: N p = 33.3, 66.7: the values at ranks 34 and 67
    np.testing.assert_array_equal(binning.bin_thresholds(x, 3), [33.0, 66.0])
    for n in (300, 1001, 4096):
        y = np.random.default_rng(n).normal(size=n)
        np.testing.assert_array_equal(
            binning.bin_thresholds(y, 255),
            np.percentile(y, np.linspace(0, 100, 256)[1:-1], method="averaged_inverted_cdf"),
        )


def test_torch_bin_thresholds_equal_numpy(rng):
    for x in (rng.normal(size=2001), rng.integers(0, 9, size=500).astype(np.float64)):
        np.testing.assert_array_equal(
            tb.bin_thresholds(torch.from_numpy(x), 64).numpy(), binning.bin_thresholds(x, 64)
        )


def test_apply_bins_is_searchsorted_left(rng):
    X = rng.normal(size=(500, 3))
    X[:10, 0] = 0.0  # values equal to a threshold go left
    edges = [np.array([-1.0, 0.0, 1.0]), np.sort(rng.normal(size=40)), np.array([0.5])]
    flat = np.concatenate(edges)
    offs = np.concatenate([[0], np.cumsum([e.size for e in edges])]).astype(np.int64)
    out = np.empty(X.shape, dtype=np.uint8)
    kb.apply_bins(X, flat, offs, out)
    for l, e in enumerate(edges):
        np.testing.assert_array_equal(out[:, l], np.searchsorted(e, X[:, l], side="left"))
    assert (out[:10, 0] == 1).all()


# ----------------------------------------------------------------------------- histograms


def _level_case(rng, N=300, L=3, C=4, level=2, n_ch=2):
    bins = rng.integers(0, 6, size=(N, L)).astype(np.uint8)
    G = rng.normal(size=(N, C)).astype(np.float32)
    Wt = (rng.random(size=(N, C)) if n_ch == 3 else np.ones((N, C))).astype(np.float32)
    node = rng.integers(0, 2**level, size=(N, C)).astype(np.int32)
    S = 2 ** max(level - 1, 0)
    side = rng.integers(0, 2, size=(S, C)).astype(np.uint8)
    return bins, G, Wt, node, side


@pytest.mark.parametrize("level,n_ch", [(0, 2), (1, 3), (2, 2), (2, 3), (3, 2)])
def test_level_weights_and_histogram_match_loops(rng, level, n_ch):
    bins, G, Wt, node, side = _level_case(rng, level=level, n_ch=n_ch)
    N, L = bins.shape
    C = G.shape[1]
    S = side.shape[0]
    W = np.full((N, S, n_ch, C), np.nan, dtype=np.float32)
    kb.build_level_weights(G, Wt, node, side, level, W)
    B = 6
    hist = np.full((L, B, S * C * n_ch), np.nan, dtype=np.float32)
    kb.histogram(np.ascontiguousarray(bins.T), W.reshape(N, -1), hist)
    hist = hist.reshape(L, B, S, n_ch, C)
    ref = np.zeros((L, B, S, n_ch, C))
    for n in range(N):
        for c in range(C):
            j = node[n, c]
            p = 0 if level == 0 else j >> 1
            if level > 0 and (j & 1) != side[p, c]:
                continue
            vals = [G[n, c], Wt[n, c]] + ([1.0] if n_ch == 3 else [])
            for l in range(L):
                ref[l, bins[n, l], p, :, c] += vals
    np.testing.assert_allclose(hist, ref, rtol=1e-5, atol=1e-5)
    # the torch twins give the same histogram
    oh = tb.TorchOneHot(torch.from_numpy(bins), B, chunk_bytes=4096)
    side_t = torch.from_numpy(side.astype(np.int64))
    Wt_t = tb.level_weights(
        torch.from_numpy(G), torch.from_numpy(Wt), torch.from_numpy(node.astype(np.int64)), side_t, level, n_ch
    )
    np.testing.assert_array_equal(Wt_t.numpy(), W)
    np.testing.assert_allclose(oh.histogram(Wt_t).numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("C", [7, 40])  # the weights path and (levels 0-2) the slot-code path
@pytest.mark.parametrize("level,newton", [(0, False), (0, True), (1, False), (1, True), (2, False), (2, True),
                                          (3, False)])
def test_level_histogram_is_weights_then_histogram_bit_for_bit(rng, level, newton, C):
    """The fused kernel adds the same floats in the same row order, over several row blocks,
    whatever the number of latent groups."""
    n_ch = 3 if newton else 2
    bins, G, Wt, node, side = _level_case(rng, N=30_001 if C < 32 else 9_001, L=5, C=C, level=level, n_ch=n_ch)
    N, L = bins.shape
    S, C = side.shape
    binsT = np.ascontiguousarray(bins.T)
    W = np.empty((N, S, n_ch, C), dtype=np.float32)
    kb.build_level_weights(G, Wt, node, side, level, W)
    ref = np.empty((L, 6, S * n_ch * C), dtype=np.float32)
    kb.histogram(binsT, W.reshape(N, -1), ref)
    for groups in (1, 2, 3, 8):
        out = np.full_like(ref, np.nan)
        kb.level_histogram(binsT, G, Wt if newton else G, node, side, level, newton, groups, out)
        np.testing.assert_array_equal(out, ref)


def test_sibling_subtract_gives_the_other_child(rng):
    bins, G, Wt, node, side = _level_case(rng, level=2)
    N, L = bins.shape
    C = G.shape[1]
    B = 6

    def direct(level_nodes, J):
        h = np.zeros((L, B, J, C, 2), dtype=np.float32)
        for n in range(N):
            for c in range(C):
                for l in range(L):
                    h[l, bins[n, l], level_nodes[n, c], c] += [G[n, c], 1.0]
        return h

    parent = direct(node >> 1, 2)
    full = direct(node, 4)
    built = np.zeros((L, B, 2, C, 2), dtype=np.float32)
    for p in range(2):
        for c in range(C):
            built[:, :, p, c] = full[:, :, 2 * p + side[p, c], c]
    built, parent, full = _channel_major(built), _channel_major(parent), _channel_major(full)
    out = np.empty_like(full)
    kb.sibling_subtract(built, parent, side, out)
    np.testing.assert_allclose(out, full, atol=1e-5)
    t = tb.sibling_subtract(
        torch.from_numpy(built), torch.from_numpy(parent), torch.from_numpy(side.astype(np.int64))
    )
    np.testing.assert_allclose(t.numpy(), out, atol=1e-6)


# ----------------------------------------------------------------------------- splits


def _channel_major(hist):
    """(L, B, J, C, ch) as built by the loops in these tests -> the kernels' (L, B, J, ch, C)."""
    return np.ascontiguousarray(np.moveaxis(hist, -1, -2))


def _identity_rank(J, C, L):
    return np.broadcast_to(np.arange(L, dtype=np.int32), (J, C, L)).copy()


def _splits(hist, wch, cch, n_bins, rank=None):
    """find_splits on a histogram written (L, B, J, C, ch) by the test (ties: lowest rank)."""
    L, J, C = hist.shape[0], hist.shape[2], hist.shape[3]
    rank = _identity_rank(J, C, L) if rank is None else rank
    hist = _channel_major(hist)
    out = (
        np.empty((J, C), np.int32),
        np.empty((J, C), np.int32),
        np.empty((J, C)),
        np.empty((J, C)),
        np.empty((J, C)),
    )
    kt.find_splits(hist, wch, cch, np.asarray(n_bins, dtype=np.int64), rank, *out)
    return out


def test_gain_on_a_20_row_example_by_hand():
    # one latent, 20 rows in 4 bins of 5; gradients +1 on bins 0-1, -1 on bins 2-3.
    # Splitting after bin 1: G_L = 10, n_L = 10, G_R = -10, n_R = 10, G = 0:
    # gain = 100/10 + 100/10 - 0 = 20. After bin 0: 25/5 + 25/15 = 6.667; after bin 2: same.
    g = np.array([1.0] * 10 + [-1.0] * 10)
    b = np.repeat(np.arange(4), 5)
    hist = np.zeros((1, 4, 1, 1, 2), dtype=np.float32)
    for gi, bi in zip(g, b):
        hist[0, bi, 0, 0] += [gi, 1.0]
    feat, thr, gain, nl, nr = _splits(hist, 1, 1, [4])
    assert (feat[0, 0], thr[0, 0]) == (0, 1)
    assert gain[0, 0] == pytest.approx(20.0)
    assert (nl[0, 0], nr[0, 0]) == (10, 10)
    # a second latent that separates worse (bins: rows 0-7 | 8-19) loses: gain 6.667+...
    # G_L = 8, n_L = 8, G_R = -8, n_R = 12: 64/8 + 64/12 = 13.33 < 20.
    hist2 = np.zeros((2, 4, 1, 1, 2), dtype=np.float32)
    hist2[0] = hist[0]
    b2 = np.array([0] * 8 + [3] * 12)
    for gi, bi in zip(g, b2):
        hist2[1, bi, 0, 0] += [gi, 1.0]
    feat, thr, gain, _, _ = _splits(hist2[::-1].copy(), 1, 1, [4, 4])
    assert (feat[0, 0], thr[0, 0]) == (1, 1)  # latent order reversed: the good one is now 1
    assert gain[0, 0] == pytest.approx(20.0)


def test_newton_gain_by_hand():
    # 4 rows, two bins: (g, h) = (0.5, 0.25), (0.5, 0.25) | (-0.5, 0.25), (-0.25, 0.1875)
    # G_L = 1, H_L = 0.5, G_R = -0.75, H_R = 0.4375, G = 0.25, H = 0.9375
    hist = np.zeros((1, 2, 1, 1, 3), dtype=np.float32)
    hist[0, 0, 0, 0] = [1.0, 0.5, 2]
    hist[0, 1, 0, 0] = [-0.75, 0.4375, 2]
    _, thr, gain, _, _ = _splits(hist, 1, 2, [2])
    assert thr[0, 0] == 0
    assert gain[0, 0] == pytest.approx(1 / 0.5 + 0.75**2 / 0.4375 - 0.25**2 / 0.9375, rel=1e-6)


def test_find_splits_matches_a_numpy_scan_and_torch(rng):
    L, B, J, C = 4, 9, 2, 5
    hist = np.zeros((L, B, J, C, 2), dtype=np.float32)
    # build from rows so the per-latent totals agree
    N = 400
    bins = rng.integers(0, B, size=(N, L))
    bins[:, 3] = np.minimum(bins[:, 3], 4)  # latent 3 uses only 5 bins
    node = rng.integers(0, J, size=(N, C))
    g = rng.normal(size=(N, C)) + (bins[:, [1]] > 4) * 1.5
    for n in range(N):
        for l in range(L):
            for c in range(C):
                hist[l, bins[n, l], node[n, c], c] += [g[n, c], 1.0]
    n_bins = [B, B, B, 5]
    feat, thr, gain, nl, nr = _splits(hist, 1, 1, n_bins)
    h = hist.astype(np.float64)
    for j in range(J):
        for c in range(C):
            best, arg = -np.inf, None
            for l in range(L):
                G, W = h[l, :, j, c, 0].sum(), h[l, :, j, c, 1].sum()
                for t in range(n_bins[l] - 1):
                    gl, wl = h[l, : t + 1, j, c, 0].sum(), h[l, : t + 1, j, c, 1].sum()
                    if wl < 0.5 or W - wl < 0.5:
                        continue
                    v = gl**2 / wl + (G - gl) ** 2 / (W - wl) - G**2 / W
                    if v > best + 1e-9:
                        best, arg = v, (l, t, wl, W - wl)
            assert (feat[j, c], thr[j, c]) == arg[:2]
            assert gain[j, c] == pytest.approx(best, rel=1e-9)
            assert (nl[j, c], nr[j, c]) == arg[2:]
    tf = tb.find_splits(torch.from_numpy(_channel_major(hist)), 1, 1, torch.tensor(n_bins),
                        torch.from_numpy(_identity_rank(J, C, L)))
    np.testing.assert_array_equal(tf[0].numpy(), feat)
    np.testing.assert_array_equal(tf[1].numpy(), thr)
    np.testing.assert_allclose(tf[2].numpy(), gain, rtol=1e-9)


def test_a_gain_tied_between_latents_goes_to_the_lowest_rank(rng):
    # latents 0 and 2 are the same column; latent 1 is noise: every node/class tie is between
    # 0 and 2, and the rank decides it, in the Numba kernel and its torch twin alike
    L, B, J, C, N = 3, 6, 2, 4, 300
    col = rng.integers(0, B, size=N)
    bins = np.stack([col, rng.integers(0, B, size=N), col], axis=1)
    node = rng.integers(0, J, size=(N, C))
    g = rng.normal(size=(N, C)) + (col[:, None] > 2) * 2.0
    hist = np.zeros((L, B, J, C, 2), dtype=np.float32)
    for n in range(N):
        for l in range(L):
            for c in range(C):
                hist[l, bins[n, l], node[n, c], c] += [g[n, c], 1.0]
    rank = np.ascontiguousarray(rng.permuted(np.broadcast_to(np.arange(L, dtype=np.int32), (J, C, L)), axis=2))
    feat, thr, gain, _, _ = _splits(hist, 1, 1, [B] * L, rank)
    expect = np.where(rank[:, :, 0] < rank[:, :, 2], 0, 2)
    np.testing.assert_array_equal(feat, expect)
    assert set(np.unique(feat)) == {0, 2}  # both copies win somewhere with these ranks
    f0, _, g0, _, _ = _splits(hist, 1, 1, [B] * L)  # identity ranks: the first copy always
    assert (f0 == 0).all() and np.array_equal(g0, gain)
    tf = tb.find_splits(torch.from_numpy(_channel_major(hist)), 1, 1, torch.tensor([B] * L),
                        torch.from_numpy(rank))
    np.testing.assert_array_equal(tf[0].numpy(), feat)
    np.testing.assert_array_equal(tf[1].numpy(), thr)


def test_no_split_when_every_candidate_is_empty_or_flat():
    hist = np.zeros((2, 3, 1, 2, 2), dtype=np.float32)
    hist[:, 1, 0, 0] = [0.0, 5.0]  # class 0: all rows in one bin -> no valid split
    hist[0, 0, 0, 1] = [1.0, 2.0]  # class 1: equal gradients (0.5 per row) -> zero gain
    hist[0, 2, 0, 1] = [1.5, 3.0]
    hist[1, 1, 0, 1] = [2.5, 5.0]
    feat, thr, gain, nl, nr = _splits(hist, 1, 1, [3, 3])
    np.testing.assert_array_equal(feat, [[-1, -1]])
    np.testing.assert_array_equal(gain, [[0.0, 0.0]])
    np.testing.assert_array_equal(nl, [[5, 5]])
    np.testing.assert_array_equal(nr, [[0, 0]])


def test_leaf_update_over_many_row_blocks_equals_a_plain_loop(rng):
    N, C, J = 5000, 3, 4  # more rows than one partial-sum block
    G = rng.normal(size=(N, C)).astype(np.float32)
    H = rng.random(size=(N, C)).astype(np.float32)
    node = rng.integers(0, J, size=(N, C)).astype(np.int32)
    scale = np.array([0.5, 0.75, 0.9])
    values = np.empty((J, C))
    F = np.ones((N, C))
    kt.leaf_update(G, H, node, scale, 0.1, values, F)
    for j in range(J):
        for c in range(C):
            m = node[:, c] == j
            expected = -scale[c] * G[m, c].astype(float).sum() / H[m, c].astype(float).sum()
            assert values[j, c] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(F, 1.0 + 0.1 * values[node, np.arange(C)[None, :]], rtol=1e-15)


@pytest.mark.parametrize("stump", [False, True])
def test_leaf_update_gradients_is_leaf_update_then_softmax(rng, stump):
    """The fused round end: the same values, scores and next gradients, bit for bit, and every
    node back at the root; a stump's leaves from its split (its nodes untouched)."""
    offsets = np.array([0, 3, 4, 9, 11], dtype=np.int64)
    N, C, J, L = 5003, 11, 2 if stump else 4, 6  # the last row block ends in a group of 3 rows
    codes = np.stack([rng.integers(0, b - a, N) for a, b in zip(offsets[:-1], offsets[1:])], 1)
    F = rng.normal(scale=2, size=(N, C))
    G = np.empty((N, C), np.float32)
    H = np.empty_like(G)
    kb.softmax_gradients(F, codes, offsets, G, H)
    bins = rng.integers(0, 20, size=(N, L)).astype(np.uint8)
    feat = rng.integers(-1, L, size=(J // 2, C)).astype(np.int32)
    thr = rng.integers(0, 20, size=(J // 2, C)).astype(np.int32)
    node = np.zeros((N, C), np.int32) if stump else rng.integers(0, J // 2, size=(N, C)).astype(np.int32)
    scale = rng.random(C)
    v1, F1, G1, H1, node1 = np.empty((J, C)), F.copy(), np.empty_like(G), np.empty_like(H), node.copy()
    kt.update_nodes(bins, feat, thr, node1)
    if not stump:
        node = node1.copy()  # below a stump the nodes are descended before the leaf update
    kt.leaf_update(G, H, node1, scale, 0.1, v1, F1)
    kb.softmax_gradients(F1, codes, offsets, G1, H1)
    for gradients in (True, False):
        v2, F2, G2, H2 = np.empty((J, C)), F.copy(), G.copy(), H.copy()
        node2 = np.full((1, C), 7, np.int32) if stump else node.copy()
        kt.leaf_update_gradients(G2, H2, node2, bins, feat, thr, stump, scale, 0.1, codes, offsets, gradients,
                                 v2, F2)
        np.testing.assert_array_equal(v2, v1)
        np.testing.assert_array_equal(F2, F1)
        np.testing.assert_array_equal(G2, G1 if gradients else G)
        np.testing.assert_array_equal(H2, H1 if gradients else H)
        assert (node2 == 7).all() if stump else (node2 == 0).all()


@pytest.mark.parametrize("name", ["find_splits", "update_nodes", "leaf_update", "predict_raw"])
def test_tree_growth_kernels_live_in_boosting_trees(name):
    from fastdci.kernels import boosting_predict as kp

    mod = kp if name == "predict_raw" else kt
    assert isinstance(getattr(mod, name), numba.core.registry.CPUDispatcher)
    assert name in mod.__all__
    assert not hasattr(kb, name)
