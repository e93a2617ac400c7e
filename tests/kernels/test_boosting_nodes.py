"""The booster's node descent and leaf update against the formula in NumPy, a hand-checked
case, and the torch twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastdci.kernels import boosting_trees as kt
from fastdci.kernels import torch_boosting as tb


def test_update_nodes_and_leaf_update(rng):
    N, L, C = 50, 3, 2
    bins = rng.integers(0, 5, size=(N, L)).astype(np.uint8)
    feat = np.array([[2, -1]], dtype=np.int32)
    thr = np.array([[1, 0]], dtype=np.int32)
    node = np.zeros((N, C), dtype=np.int32)
    kt.update_nodes(bins, feat, thr, node)
    np.testing.assert_array_equal(node[:, 0], (bins[:, 2] > 1).astype(np.int32))
    np.testing.assert_array_equal(node[:, 1], 0)
    G = rng.normal(size=(N, C)).astype(np.float32)
    H = rng.random(size=(N, C)).astype(np.float32)
    F = np.zeros((N, C))
    values = np.empty((2, C))
    scale = np.array([0.5, 2 / 3])
    kt.leaf_update(G, H, node, scale, 0.1, values, F)
    for j in range(2):
        m = node[:, 0] == j
        assert values[j, 0] == pytest.approx(-0.5 * G[m, 0].astype(float).sum() / H[m, 0].astype(float).sum())
    assert values[1, 1] == 0.0  # empty leaf
    np.testing.assert_allclose(F[:, 0], 0.1 * values[node[:, 0], 0])
    v_t, F_t = tb.leaf_update(
        torch.from_numpy(G), torch.from_numpy(H), torch.from_numpy(node.astype(np.int64)),
        torch.from_numpy(scale), 0.1, 2, torch.zeros((N, C), dtype=torch.float64),
    )
    np.testing.assert_allclose(v_t.numpy(), values, rtol=1e-12)
    np.testing.assert_allclose(F_t.numpy(), F, rtol=1e-12)
    node_t = tb.update_nodes(
        torch.from_numpy(bins), torch.from_numpy(feat).long(), torch.from_numpy(thr).long(),
        torch.zeros((N, C), dtype=torch.long),
    )
    np.testing.assert_array_equal(node_t.numpy(), node)


@pytest.mark.parametrize("J", [1, 2, 4])
def test_update_nodes_equals_numpy_at_every_level(rng, J):
    """The root's per-class path and the general per-row path both descend as the formula."""
    N, L, C = 3001, 7, 19
    bins = rng.integers(0, 256, size=(N, L)).astype(np.uint8)
    feat = rng.integers(-1, L, size=(J, C)).astype(np.int32)
    thr = rng.integers(0, 256, size=(J, C)).astype(np.int32)
    node = rng.integers(0, J, size=(N, C)).astype(np.int32)
    cols = np.arange(C)
    f = feat[node, cols]
    right = (f >= 0) & (bins[np.arange(N)[:, None], np.maximum(f, 0)] > thr[node, cols])
    expected = 2 * node + right
    kt.update_nodes(bins, feat, thr, node)
    np.testing.assert_array_equal(node, expected)
