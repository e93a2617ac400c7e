"""The booster's softmax kernel and its float32 exp against NumPy, a plain per-row loop (bit for
bit) and torch."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from fastdci.kernels import boosting as kb
from fastdci.kernels import torch_boosting as tb
from fastdci.kernels.boosting_softmax import softmax_gradients
from fastdci.kernels.fast_exp import exp_nonpositive


def _softmax_reference(F, codes, offsets):
    G = np.empty_like(F)
    H = np.empty_like(F)
    for k in range(codes.shape[1]):
        a, b = offsets[k], offsets[k + 1]
        z = F[:, a:b] - F[:, a:b].max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        y = np.eye(b - a)[codes[:, k]]
        G[:, a:b] = p - y
        H[:, a:b] = p * (1 - p)
    return G, H


def test_softmax_gradients_match_numpy(rng):
    offsets = np.array([0, 3, 4, 9], dtype=np.int64)
    N = 200
    F = rng.normal(scale=3, size=(N, 9))
    codes = np.stack([rng.integers(0, 3, N), np.zeros(N, int), rng.integers(0, 5, N)], axis=1)
    G = np.empty((N, 9), np.float32)
    H = np.empty((N, 9), np.float32)
    kb.softmax_gradients(F, codes.astype(np.int64), offsets, G, H)
    Gr, Hr = _softmax_reference(F, codes, offsets)
    np.testing.assert_allclose(G, Gr, atol=2e-7)
    np.testing.assert_allclose(H, Hr, atol=2e-7)
    # a single-class factor has p = 1, g = 0, h = 0
    assert (G[:, 3] == 0).all() and (H[:, 3] == 0).all()
    Gt, Ht = tb.softmax_gradients(
        torch.from_numpy(F), torch.from_numpy(np.concatenate([np.eye(3)[codes[:, 0]], np.ones((N, 1)), np.eye(5)[codes[:, 2]]], 1).astype(np.float32)), offsets
    )
    # float32 rounding of the sum may differ by an ulp
    np.testing.assert_allclose(Gt.numpy(), G, atol=3e-7)
    np.testing.assert_allclose(Ht.numpy(), H, atol=3e-7)


def test_exp_kernel_accuracy_saturation_and_nan():
    """The vectorisable float32 exp: within 1 ulp on [-87, 0], exp(-87) below, NaN stays NaN."""
    import numba

    @numba.njit
    def apply(x, out):
        for i in range(x.size):
            out[i] = exp_nonpositive(x[i])

    x = np.concatenate([-np.linspace(0, 87, 20001), [-1e-30, -100.0, -1e30, np.nan]])
    x = x.astype(np.float32)
    out = np.empty_like(x)
    apply(x, out)
    exact = np.exp(x[:20002].astype(np.float64))
    ulp = np.spacing(exact.astype(np.float32)).astype(np.float64)
    assert (np.abs(out[:20002] - exact) <= 1.0 * ulp).all()
    np.testing.assert_allclose(out[20002:24], np.float32(np.exp(-87.0)), rtol=1e-6)
    assert np.isnan(out[-1])
    # in the softmax, a NaN score gives NaN gradients (no out-of-range table read)
    F = np.array([[0.0, np.nan, 1.0]])
    G = np.empty((1, 3), np.float32)
    H = np.empty_like(G)
    kb.softmax_gradients(F, np.zeros((1, 1), np.int64), np.array([0, 3]), G, H)
    assert np.isnan(G[0, 1])



@numba.njit
def _per_row_loop(F, codes, offsets, G, H):
    """One row and one factor at a time: the maximum, the float32 exponentials and their sum
    in class order, then ``p - y`` and ``p (1 - p)``."""
    for n in range(F.shape[0]):
        for k in range(codes.shape[1]):
            a, b = offsets[k], offsets[k + 1]
            m = F[n, a]
            for c in range(a + 1, b):
                if F[n, c] > m:
                    m = F[n, c]
            s = numba.float32(0.0)
            for c in range(a, b):
                G[n, c] = exp_nonpositive(numba.float32(F[n, c] - m))
                s += G[n, c]
            inv = numba.float32(1.0) / s
            for c in range(a, b):
                p = G[n, c] * inv
                H[n, c] = p * (numba.float32(1.0) - p)
                G[n, c] = p - (numba.float32(1.0) if c - a == codes[n, k] else numba.float32(0.0))


@pytest.mark.parametrize("N", [1, 2, 3, 4, 5, 255, 257, 1030])
def test_softmax_gradients_equal_a_per_row_loop_bit_for_bit(rng, N):
    """Four rows at a time (and a last group of 1-3 rows) give each row's loop's floats."""
    offsets = np.array([0, 3, 4, 44, 50], dtype=np.int64)
    codes = np.stack([rng.integers(0, b - a, N) for a, b in zip(offsets[:-1], offsets[1:])], 1)
    F = rng.normal(scale=4, size=(N, 50))
    F[::7, 5:9] = 3.0  # ties for the maximum
    G, H = np.empty((N, 50), np.float32), np.empty((N, 50), np.float32)
    Gr, Hr = np.empty_like(G), np.empty_like(H)
    softmax_gradients(F, codes, offsets, G, H)
    _per_row_loop(F, codes, offsets, Gr, Hr)
    np.testing.assert_array_equal(G, Gr)
    np.testing.assert_array_equal(H, Hr)
    assert kb.softmax_gradients is softmax_gradients
