"""The logistic fit's Numba kernels: the fused softmax and the whole per-factor objective and
gradient against torch's formulation and a float64 NumPy loop, and their exp against NumPy's."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import torch

from fastdci.kernels.fast_exp import exp_nonpositive64
from fastdci.kernels.logistic_objective import logistic_objective
from fastdci.kernels.softmax_residual import softmax_residual


@numba.njit(error_model="numpy")
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive64(x[i])


def test_exp_nonpositive64_within_two_ulp_of_numpy():
    rng = np.random.default_rng(0)
    x = np.concatenate([-np.abs(rng.normal(scale=30, size=200_000)), -rng.random(10_000),
                        [0.0, -0.0, -1e-300, -700.0, -708.0, -745.0, -np.inf, np.nan]])
    out = np.empty_like(x)
    _exp_all(x, out)
    ok = x >= -708
    ref = np.exp(x[ok])
    assert np.all(np.abs(out[ok] - ref) <= 2 * np.spacing(ref))
    low = ~ok & ~np.isnan(x)
    np.testing.assert_array_equal(out[low], out[x == -708.0][0])  # clamped: still a normal float64
    assert out[x == -708.0][0] >= np.finfo(np.float64).tiny
    assert np.isnan(out[-1])


@pytest.mark.parametrize("C", [2, 3, 7, 40])
def test_softmax_residual_equals_the_torch_formulation(rng, C):
    n, K = 5003, 3  # several blocks of rows, the last one partial
    Z = rng.normal(scale=5, size=(n, C))
    Z[7] = 0.0  # a row of ties
    Z[8, 0] = 800.0  # a saturated row: every other class underflows
    codes = np.stack([rng.integers(0, C, n) for _ in range(K)], axis=1).astype(np.int64)
    k = 1
    zt = torch.from_numpy(Z.copy())
    yk = torch.from_numpy(codes[:, k : k + 1])
    m = zt.amax(dim=1, keepdim=True)
    ce_ref = float((torch.logsumexp(zt - m, dim=1, keepdim=True) + m - zt.gather(1, yk)).sum())
    res_ref = torch.softmax(zt, dim=1).scatter_add_(1, yk, torch.full((n, 1), -1.0, dtype=torch.float64))
    # an independent float64 loop for the objective
    ce_loop = sum(np.log(np.exp(Z[i] - Z[i].max()).sum()) + Z[i].max() - Z[i, codes[i, k]] for i in range(n))
    out = Z.copy()
    ce = softmax_residual(out, codes, k)
    assert ce == pytest.approx(ce_ref, rel=1e-13)
    assert ce == pytest.approx(ce_loop, rel=1e-13)
    np.testing.assert_allclose(out, res_ref.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(out.sum(axis=1), 0.0, atol=1e-14)  # every row's residual sums to 0


def test_softmax_residual_does_not_depend_on_the_thread_count(rng):
    Z = rng.normal(scale=3, size=(20_000, 9))
    codes = rng.integers(0, 9, (20_000, 1)).astype(np.int64)
    before = numba.get_num_threads()
    outs = []
    try:
        for t in (1, before):
            numba.set_num_threads(t)
            z = Z.copy()
            outs.append((softmax_residual(z, codes, 0), z))
    finally:
        numba.set_num_threads(before)
    assert outs[0][0] == outs[1][0]
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_a_nan_score_gives_a_nan_objective(rng):
    Z = rng.normal(size=(100, 4))
    Z[50, 2] = np.nan
    assert np.isnan(softmax_residual(Z, np.zeros((100, 1), np.int64), 0))


@pytest.mark.parametrize("C", [2, 5, 16, 41])
def test_logistic_objective_equals_torch_and_a_loop(rng, C):
    """Cross-entropy sum and gradient X^T (softmax(X theta) - onehot) of one factor."""
    N, P = 3001, 6  # several blocks of rows, the last one partial
    X = np.ascontiguousarray(np.c_[rng.normal(size=(N, P - 1)), np.ones(N)])
    codes = np.stack([rng.integers(0, 3, N), rng.integers(0, C, N)], axis=1).astype(np.int64)
    theta = rng.normal(scale=2, size=(P, C))
    Z = torch.from_numpy(X) @ torch.from_numpy(theta)
    y = torch.from_numpy(codes[:, 1])
    ce_ref = float(torch.nn.functional.cross_entropy(Z, y, reduction="sum"))
    R = torch.softmax(Z, dim=1) - torch.nn.functional.one_hot(y, C).to(torch.float64)
    grad_ref = (torch.from_numpy(X).T @ R).numpy()
    i = 17  # one row by hand
    z = X[i] @ theta
    ce_i = np.log(np.exp(z - z.max()).sum()) + z.max() - z[codes[i, 1]]
    grad = np.full((P, C), np.nan)
    ce = logistic_objective(X, codes, 1, theta, grad)
    assert ce == pytest.approx(ce_ref, rel=1e-12)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-10, atol=1e-9)
    one = np.full((P, C), np.nan)
    ce_one = logistic_objective(X[i : i + 1].copy(), codes[i : i + 1].copy(), 1, theta, one)
    assert ce_one == pytest.approx(ce_i)
    np.testing.assert_allclose(one, np.outer(X[i], R[i].numpy()), rtol=1e-12, atol=1e-14)


def test_logistic_objective_does_not_depend_on_the_thread_count(rng):
    X = np.ascontiguousarray(rng.normal(size=(9000, 4)))
    codes = rng.integers(0, 20, (9000, 1)).astype(np.int64)
    theta = rng.normal(size=(4, 20))
    before = numba.get_num_threads()
    outs = []
    try:
        for t in (1, before):
            numba.set_num_threads(t)
            g = np.empty((4, 20))
            outs.append((logistic_objective(X, codes, 0, theta, g), g))
    finally:
        numba.set_num_threads(before)
    assert outs[0][0] == outs[1][0]
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("C", [1, 3, 4, 7, 40])
def test_row_reductions_are_the_max_and_the_four_chain_sum(C):
    import numba

    from fastdci.kernels.row_softmax import row_max, row_sum

    @numba.njit
    def both(z):
        return row_max(z), row_sum(z)

    z = np.random.default_rng(C).normal(size=C)
    m, s = both(z)
    assert m == z.max()
    C4 = C - C % 4  # chains c % 4 over the first C4 classes, the rest added to chain 0
    chains = [sum(z[c:C4:4].tolist()) for c in range(4)]
    chains[0] = sum(z[C4:].tolist(), chains[0])
    assert s == (chains[0] + chains[1]) + (chains[2] + chains[3])
