"""The two engines of :class:`fastdci.regressors.GradientBoostedStumps`: the boosting loop that
grows every round's trees level by level from binned latents, once with the Numba kernels of
:mod:`fastdci.kernels.boosting` and :mod:`fastdci.kernels.boosting_trees` (CPU, numpy arrays)
and once with their torch twins in :mod:`fastdci.kernels.torch_boosting` (any torch device),
both returning the same
engine-independent :class:`Trees` in numpy; the estimator bins, picks the engine and turns the
trees into importances and predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._threads import threads_for_load
from ..backend import to_numpy
from ..kernels import boosting as kb
from ..kernels import boosting_trees as kt
from ..kernels import torch_boosting as tb
from ._base import ClassEncoding

__all__ = ["Trees", "boost_numba", "boost_torch", "split_ranks"]


@dataclass
class Trees:
    """The fitted ensemble, numpy, engine-independent.

    ``feat``/``thr`` (R, 2**depth - 1, C) int32 in heap order (level d node j at
    ``2**d - 1 + j``; feat -1 = no split, rows go left); ``gain`` (R, 2**depth - 1, C);
    ``values`` (R, 2**depth, C) leaf values; ``init`` (C,) initial raw scores.
    """

    feat: np.ndarray
    thr: np.ndarray
    gain: np.ndarray
    values: np.ndarray
    init: np.ndarray


_RANKS_PER_DRAW = 1 << 20  # ranks drawn at once by boost_numba (int32: 4 MB)


def split_ranks(rng: np.random.Generator, n_nodes: int, n_trees: int, n_latents: int) -> np.ndarray:
    """(J, C, L) int32: a random permutation of the latents for every node of every tree.

    A split gain tied exactly between latents (a duplicated latent, two latents binned alike)
    goes to the latent of lowest rank, so tied latents share the splits, and the importance,
    at random as scikit-learn's trees, which visit the features in a random order, do.
    """
    base = np.broadcast_to(np.arange(n_latents, dtype=np.int32), (n_nodes, n_trees, n_latents))
    return np.ascontiguousarray(rng.permuted(base, axis=2))


def _init_scores(codes: np.ndarray, enc: ClassEncoding) -> np.ndarray:
    """Log class priors (clipped as scikit-learn's prior init), stacked (C,)."""
    eps = np.finfo(np.float32).eps
    out = np.empty(enc.total, dtype=np.float64)
    for k, s in enumerate(enc.slices()):
        counts = np.bincount(codes[:, k], minlength=enc.n_classes[k]).astype(np.float64)
        out[s] = np.log(np.clip(counts / counts.sum(), eps, 1 - eps))
    return out


def _leaf_scale(enc: ClassEncoding) -> np.ndarray:
    return np.concatenate([np.full(n, (n - 1) / n) for n in enc.n_classes]).astype(np.float64)


def boost_numba(bins, codes, enc: ClassEncoding, n_bins, s) -> tuple[Trees, np.ndarray]:
    """Grow the ensemble with the Numba kernels: ``bins`` (N, L) uint8 numpy, ``codes`` (N, K)
    class positions, ``n_bins`` (L,) bins in use per latent, ``s`` the settings. Returns the
    trees and the final raw scores (N, C) of the rows fitted."""
    N, L = bins.shape
    binsT = np.ascontiguousarray(bins.T)
    C = enc.total
    R, D = s["n_rounds"], s["max_depth"]
    newton = s["criterion"] == "newton"
    n_ch = 3 if newton else 2
    wch, cch = 1, n_ch - 1
    B = int(n_bins.max())
    offsets = enc.offsets
    codes = np.ascontiguousarray(codes, dtype=np.int64)
    init = _init_scores(codes, enc)
    scale = _leaf_scale(enc)
    F = np.empty((N, C), dtype=np.float64)
    F[:] = init
    G = np.empty((N, C), dtype=np.float32)
    H = np.empty((N, C), dtype=np.float32)
    node = np.zeros((N if D > 1 else 1, C), dtype=np.int32)  # stumps never read it
    I = 2**D - 1
    feat = np.full((R, I, C), -1, dtype=np.int32)
    thr = np.zeros((R, I, C), dtype=np.int32)
    gain = np.zeros((R, I, C))
    values = np.zeros((R, 2**D, C))
    # per-level buffers, reused every round
    built_buf = [np.empty((L, B, 2 ** max(d - 1, 0) * C * n_ch), dtype=np.float32) for d in range(D)]
    full_buf = [None] + [np.empty((L, B, 2**d, n_ch, C), dtype=np.float32) for d in range(1, D)]
    v = np.empty((2**D, C))
    # the latents' ranks of every node of a chunk of rounds in one draw: the same stream as one
    # draw per level (the permutations come out in round, then heap, order either way)
    chunk = max(1, min(R, _RANKS_PER_DRAW // (I * C * L)))
    ranks = None
    with threads_for_load() as pool:  # as many threads as cores free now
        rng = np.random.default_rng(s["random_state"])
        kb.softmax_gradients(F, codes, offsets, G, H)
        for r in range(R):  # each round starts with G, H of F and every node at the root
            groups = pool.refresh()  # latent groups of the histogram: one per thread
            if r % chunk == 0:
                ranks = split_ranks(rng, min(chunk, R - r) * I, C, L)
            at = (r % chunk) * I
            side = np.zeros((1, C), dtype=np.uint8)
            parent = None
            for d in range(D):
                S = 2 ** max(d - 1, 0)
                built = built_buf[d]
                kb.level_histogram(binsT, G, H, node, side, d, newton, groups, built)
                built = built.reshape(L, B, S, n_ch, C)
                if d == 0:
                    hist = built
                else:
                    hist = full_buf[d]
                    kb.sibling_subtract(built, parent, side, hist)
                J = 2**d
                f = np.empty((J, C), dtype=np.int32)
                t = np.empty((J, C), dtype=np.int32)
                g = np.empty((J, C))
                nl = np.empty((J, C))
                nr = np.empty((J, C))
                kt.find_splits(hist, wch, cch, n_bins, ranks[at + J - 1 : at + 2 * J - 1], f, t, g, nl, nr)
                feat[r, J - 1 : 2 * J - 1] = f
                thr[r, J - 1 : 2 * J - 1] = t
                gain[r, J - 1 : 2 * J - 1] = g
                if D > 1:  # a stump's descent is fused into the leaf update
                    kt.update_nodes(bins, f, t, node)
                side = (nr < nl).astype(np.uint8)  # build the smaller child
                parent = hist
            kt.leaf_update_gradients(
                G, H, node, bins, f, t, D == 1, scale, s["learning_rate"], codes, offsets, r + 1 < R, v, F
            )
            values[r] = v
    return Trees(feat, thr, gain, values, init), F


def boost_torch(bins, codes, enc: ClassEncoding, n_bins, s) -> tuple[Trees, torch.Tensor]:
    """:func:`boost_numba` with the torch twins, on the device of ``bins`` (a uint8 tensor);
    the raw scores returned are a tensor there."""
    dev = bins.device
    N, L = bins.shape
    C = enc.total
    R, D = s["n_rounds"], s["max_depth"]
    newton = s["criterion"] == "newton"
    init = torch.as_tensor(_init_scores(codes, enc), device=dev)
    scale = torch.as_tensor(_leaf_scale(enc), device=dev)
    codes_t = torch.as_tensor(codes, device=dev)
    offsets = enc.offsets
    Y = torch.zeros((N, C), dtype=torch.float32, device=dev)
    for k in range(len(offsets) - 1):
        Y.scatter_(1, (codes_t[:, k : k + 1] + int(offsets[k])), 1.0)
    n_bins_t = torch.as_tensor(n_bins, device=dev)
    B = int(n_bins.max())
    F = init.expand(N, C).clone()
    onehot = tb.TorchOneHot(bins, B)
    I = 2**D - 1
    rng = np.random.default_rng(s["random_state"])
    feat = torch.full((R, I, C), -1, dtype=torch.int32, device=dev)
    thr = torch.zeros((R, I, C), dtype=torch.int32, device=dev)
    gain = torch.zeros((R, I, C), dtype=torch.float64, device=dev)
    values = torch.zeros((R, 2**D, C), dtype=torch.float64, device=dev)
    for r in range(R):
        G, H = tb.softmax_gradients(F, Y, offsets)
        Wt = H if newton else torch.ones_like(G)
        node = torch.zeros((N, C), dtype=torch.int64, device=dev)
        side = torch.zeros((1, C), dtype=torch.int64, device=dev)
        parent = None
        for d in range(D):
            W = tb.level_weights(G, Wt, node, side, d, 3 if newton else 2)
            built = onehot.histogram(W)  # (L, B, S, ch, C)
            hist = built if d == 0 else tb.sibling_subtract(built, parent, side)
            J = 2**d
            rank = torch.as_tensor(split_ranks(rng, J, C, L), device=dev)
            f, t, g, nl, nr = tb.find_splits(hist, 1, hist.shape[3] - 1, n_bins_t, rank)
            feat[r, J - 1 : 2 * J - 1] = f.to(torch.int32)
            thr[r, J - 1 : 2 * J - 1] = t.to(torch.int32)
            gain[r, J - 1 : 2 * J - 1] = g
            node = tb.update_nodes(bins, f, t, node)
            side = (nr < nl).to(torch.int64)
            parent = hist
        v, F = tb.leaf_update(G, H, node, scale, s["learning_rate"], 2**D, F)
        values[r] = v
    return Trees(
        to_numpy(feat), to_numpy(thr), to_numpy(gain), to_numpy(values), to_numpy(init)
    ), F
