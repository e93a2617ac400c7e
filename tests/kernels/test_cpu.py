"""Kernels of fastdci.kernels.cpu (and the torch mirror) against NumPy and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from fastdci.kernels import cpu
from fastdci.metrics.information import _entropy as ent

from .._helpers import assert_close

DTYPES = [np.float32, np.float64]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def awkward_latents(request, rng):
    """Columns chosen to stress binning: gaussian, constant, values sitting exactly on the
    histogram edges, a huge offset with a tiny range (edges collapse in float32), heavy ties."""
    dt = request.param
    n = 3000
    cols = [rng.normal(size=n)]
    cols.append(np.full(n, 1.25))
    grid = np.histogram_bin_edges(np.array([-2.0, 3.0], dtype=dt), 20)
    cols.append(rng.choice(grid, size=n))  # every value on an edge, min and max included
    cols.append(1000.0 + 3e-3 * rng.random(n))  # a few float32 ulps per bin
    cols.append(rng.integers(0, 5, n) * 0.1)
    return np.ascontiguousarray(np.column_stack(cols).astype(dt))


def _numpy_codes(x, n_bins):
    """disentanglement_lib's histogram discretizer, minus one: the reference codes."""
    out = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        out[:, j] = np.digitize(x[:, j], np.histogram(x[:, j], n_bins)[1][:-1]) - 1
    return out


# ----------------------------------------------------------------------------- min / max, edges


def test_minmax_matches_numpy(awkward_latents):
    mn, mx, bad = cpu.minmax_columns(awkward_latents)
    assert_close(mn, awkward_latents.min(axis=0), rtol=0)
    assert_close(mx, awkward_latents.max(axis=0), rtol=0)
    assert bad == 0


def test_minmax_counts_non_finite_across_blocks(rng):
    x = rng.normal(size=(3 * cpu._MIN_BLOCK, 3))
    x[5, 1] = np.nan
    x[-1, 2] = np.inf
    x[cpu._MIN_BLOCK * 2, 0] = -np.inf
    assert cpu.minmax_columns(x)[2] == 3
    finite = np.where(np.isfinite(x), x, 0.0)
    mn, mx, bad = cpu.minmax_columns(finite)
    assert bad == 0
    assert_close(mn, finite.min(axis=0), rtol=0)
    assert_close(mx, finite.max(axis=0), rtol=0)


@pytest.mark.parametrize("n_bins", [2, 7, 20])
def test_uniform_edges_are_numpys_histogram_edges(awkward_latents, n_bins):
    x = awkward_latents
    edges = cpu.uniform_edges(x.min(axis=0), x.max(axis=0), n_bins, x.dtype)
    for j in range(x.shape[1]):
        ref = np.histogram(x[:, j], n_bins)[1]
        assert ref.dtype == edges.dtype
        np.testing.assert_array_equal(edges[j], ref)


def test_uniform_edges_refuse_a_range_too_small_for_the_bins():
    from fastdci.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"latent 1 .*float64.*fewer bins"):
        cpu.uniform_edges(np.array([0.0, 1000.0]), np.array([1.0, 1000.0001]), 20, np.float32)


# ----------------------------------------------------------------------------- discretisation


@pytest.mark.parametrize("n_bins", [2, 20, 33])
def test_discretize_reproduces_np_digitize_on_edges_and_ties(awkward_latents, n_bins):
    x = awkward_latents
    edges = cpu.uniform_edges(x.min(axis=0), x.max(axis=0), n_bins, x.dtype)
    ref = _numpy_codes(x, n_bins)
    np.testing.assert_array_equal(cpu.discretize(x, edges), ref)
    # the binary-search path (used for quantile edges) agrees with the arithmetic one
    np.testing.assert_array_equal(cpu.discretize(x, edges, uniform=False), ref)


def test_discretize_constant_column_gets_one_code(rng):
    x = np.full((100, 2), 3.0, dtype=np.float32)
    edges = cpu.uniform_edges(x.min(axis=0), x.max(axis=0), 20, x.dtype)
    codes = cpu.discretize(x, edges)
    assert np.unique(codes[:, 0]).size == 1
    np.testing.assert_array_equal(codes, _numpy_codes(x, 20))


def test_discretize_clips_values_outside_given_edges():
    edges = np.array([[0.0, 1.0, 2.0, 3.0]])
    x = np.array([[-5.0], [0.0], [0.999], [1.0], [2.5], [3.0], [7.0]])
    np.testing.assert_array_equal(cpu.discretize(x, edges).ravel(), [0, 0, 0, 1, 2, 2, 2])


def test_quantile_edges_are_numpy_quantiles(rng):
    x = rng.normal(size=(1001, 3))
    e = cpu.quantile_edges(x, 10)
    np.testing.assert_array_equal(e, np.quantile(x, np.linspace(0, 1, 11), axis=0).T)
    codes = cpu.discretize(x, e, uniform=False)
    ref = np.column_stack([np.searchsorted(e[j, 1:-1], x[:, j], side="right") for j in range(3)])
    np.testing.assert_array_equal(codes, ref)
    # equal-frequency: every bin holds about N / n_bins rows
    assert np.all(np.abs(np.bincount(codes[:, 0], minlength=10) - 100) <= 1)


# ----------------------------------------------------------------------------- joint counts


def _loop_counts(codes, y, n_classes, n_bins):
    L, K = codes.shape[1], y.shape[1]
    out = np.zeros((L, K, n_classes, n_bins), dtype=np.int64)
    for l in range(L):
        for k in range(K):
            np.add.at(out[l, k], (y[:, k], codes[:, l]), 1)
    return out


@pytest.mark.parametrize("n_rows", [5, 1000, 2 * (1 << 16) + 17])  # the last spans several thread blocks
def test_joint_counts_match_a_numpy_loop(rng, n_rows):
    x = rng.normal(size=(n_rows, 3)).astype(np.float32)
    y = rng.integers(0, [3, 7], size=(n_rows, 2))
    y[:, 1] = np.where(y[:, 1] == 4, 0, y[:, 1])  # an unused class
    edges = cpu.uniform_edges(x.min(axis=0), x.max(axis=0), 20, x.dtype)
    counts = cpu.joint_counts(x, y, edges, 7)
    assert counts.dtype == np.int64 and counts.shape == (3, 2, 7, 20)
    np.testing.assert_array_equal(counts, _loop_counts(_numpy_codes(x, 20), y, 7, 20))
    assert counts[0, 1, 4].sum() == 0
    assert int(counts[2, 0].sum()) == n_rows


def test_joint_counts_empty_input():
    x = np.empty((0, 2))
    y = np.empty((0, 1), dtype=np.int64)
    edges = np.tile(np.linspace(0, 1, 5), (2, 1))
    assert cpu.joint_counts(x, y, edges, 3).shape == (2, 1, 3, 4)


def test_backend_kernel_table_resolves_every_entry():
    from fastdci.backend import KERNELS, kernel

    assert kernel("joint_counts", "cpu") is cpu.joint_counts
    assert kernel("minmax", "cpu") is cpu.minmax_columns
    for op, device in KERNELS:
        if device == "cpu":
            assert callable(kernel(op, device))
    assert {op for op, d in KERNELS if d == "cpu"} == {op for op, d in KERNELS if d == "cuda"}


# ----------------------------------------------------------------------------- entropy and MI


def _table(a, b):
    t = np.zeros((a.max() + 1, b.max() + 1), dtype=np.int64)
    np.add.at(t, (a, b), 1)
    return t


@pytest.mark.parametrize("n,ka,kb", [(50, 2, 3), (4000, 40, 20), (4000, 3, 2), (300, 5, 50)])
def test_mutual_info_equals_sklearn(rng, n, ka, kb):
    a = rng.integers(0, ka, n)
    b = (a * 7 + rng.integers(0, 3, n)) % kb  # dependent
    got = ent.mutual_info_from_counts(_table(a, b))
    assert abs(got - mutual_info_score(a, b)) < 1e-10
    c = rng.integers(0, kb, n)
    assert abs(ent.mutual_info_from_counts(_table(a, c)) - mutual_info_score(a, c)) < 1e-10


def test_mutual_info_edge_cases(rng):
    a = rng.integers(0, 4, 500)
    # a single class on either side: 0 (scikit-learn returns 0 too)
    assert ent.mutual_info_from_counts(_table(a, np.zeros(500, dtype=int))) == 0.0
    assert mutual_info_score(a, np.zeros(500, dtype=int)) == 0.0
    # unused classes (empty rows / columns) change nothing
    t = _table(a, a % 3)
    padded = np.zeros((9, 6), dtype=np.int64)
    padded[:4, :3] = t
    assert ent.mutual_info_from_counts(padded) == ent.mutual_info_from_counts(t)
    # a variable with itself: its entropy
    p = np.bincount(a) / a.size
    assert abs(ent.mutual_info_from_counts(np.diag(np.bincount(a))) + np.sum(p * np.log(p))) < 1e-12


def test_entropy_from_counts(rng):
    y = rng.integers(0, 6, 1000)
    counts = np.bincount(y, minlength=9)  # three unused classes: 0 log 0 = 0
    p = counts[counts > 0] / y.size
    assert abs(ent.entropy_from_counts(counts) - mutual_info_score(y, y)) < 1e-10
    assert abs(ent.entropy_from_counts(counts) + np.sum(p * np.log(p))) < 1e-12
    assert ent.entropy_from_counts(np.array([0, 17, 0])) == 0.0


def test_joint_entropy_from_counts(rng):
    a = rng.integers(0, 4, 800)
    b = rng.integers(0, 5, 800)
    t = _table(a, b)
    p = t[t > 0] / 800
    assert abs(ent.joint_entropy_from_counts(t) + np.sum(p * np.log(p))) < 1e-12
    # H(a, b) = H(a) + H(b) - I(a; b)
    ha = mutual_info_score(a, a)
    hb = mutual_info_score(b, b)
    assert abs(ent.joint_entropy_from_counts(t) - (ha + hb - mutual_info_score(a, b))) < 1e-10


# ----------------------------------------------------------------------------- torch mirror


def test_torch_kernels_match_numba_on_cpu(awkward_latents, rng):
    torch = pytest.importorskip("torch")
    from fastdci.kernels import torch_hist

    x = awkward_latents
    y = rng.integers(0, [3, 11], size=(x.shape[0], 2))
    edges = cpu.uniform_edges(x.min(axis=0), x.max(axis=0), 20, x.dtype)
    xt = torch.from_numpy(x)
    np.testing.assert_array_equal(torch_hist.discretize(xt, edges).numpy(), cpu.discretize(x, edges))
    np.testing.assert_array_equal(
        torch_hist.joint_counts(xt, torch.from_numpy(y), edges, 11), cpu.joint_counts(x, y, edges, 11)
    )
    mn, mx, bad = torch_hist.minmax_columns(xt)
    np.testing.assert_array_equal(mn, x.min(axis=0))
    np.testing.assert_array_equal(mx, x.max(axis=0))
    assert bad == 0


@pytest.mark.cuda
def test_torch_kernels_match_numba_on_cuda(awkward_latents, rng):
    import torch

    from fastdci.kernels import torch_hist

    x = awkward_latents
    y = rng.integers(0, [3, 11], size=(x.shape[0], 2))
    edges = cpu.uniform_edges(x.min(axis=0), x.max(axis=0), 20, x.dtype)
    xt = torch.from_numpy(x).cuda()
    counts = torch_hist.joint_counts(xt, torch.from_numpy(y).cuda(), edges, 11)
    np.testing.assert_array_equal(counts, cpu.joint_counts(x, y, edges, 11))


def test_mutual_info_matrix_equals_sklearn_per_table(rng):
    n = 2000
    codes = rng.integers(0, 20, size=(n, 3))
    codes[:, 2] = 4  # a one-bin latent: MI 0
    y = rng.integers(0, [3, 12], size=(n, 2))
    y[:, 1] = np.where(y[:, 1] == 5, 0, y[:, 1])  # an unused class
    codes[:, 0] = (codes[:, 0] + y[:, 1]) % 20  # dependent pair
    counts = _loop_counts(codes, y, 12, 20)
    got = ent.mutual_info_matrix(counts)
    assert got.shape == (3, 2)
    for l in range(3):
        for k in range(2):
            assert abs(got[l, k] - mutual_info_score(y[:, k], codes[:, l])) < 1e-10
    assert np.all(got[2] == 0.0)


def test_joint_counts_refuses_a_table_too_large():
    from fastdci.errors import InvalidInputError

    x = np.zeros((4, 2), dtype=np.float32)
    y = np.zeros((4, 1), dtype=np.int64)
    edges = np.tile(np.linspace(0, 1, 21, dtype=np.float32), (2, 1))
    with pytest.raises(InvalidInputError, match="probably continuous: bin it"):
        cpu.joint_counts(x, y, edges, 1 << 23)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_kernels_work_in_a_forked_child(rng):
    import multiprocessing as mp

    x = rng.normal(size=(3 * cpu._MIN_BLOCK, 2))
    expected = cpu.minmax_columns(x)[0]  # the parent's thread pool now exists
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(cpu.minmax_columns, (x,)).get(timeout=60)
    np.testing.assert_array_equal(got[0], expected)
