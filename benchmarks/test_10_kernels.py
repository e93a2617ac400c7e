"""The Numba kernels behind the information metrics, each beside the NumPy code a user would write.

Groups (``N_ROWS`` x ``N_LATENTS`` float32 latents, dSprites factor sizes):

- ``minmax``: :func:`fastdci.kernels.cpu.minmax_columns` (one pass, also counts NaN/inf) vs
  ``x.min(axis=0)`` and ``x.max(axis=0)``.
- ``discretize``: :func:`~fastdci.kernels.cpu.discretize` vs disentanglement_lib's per-latent
  ``np.digitize(x, np.histogram(x, 20)[1][:-1])``.
- ``joint-counts``: :func:`~fastdci.kernels.cpu.joint_counts` (all L x K histograms in one pass)
  vs ``np.bincount`` of ``class * n_bins + code`` for each (latent, factor) pair, given the codes.

Run: ``python -m pytest benchmarks/test_10_kernels.py --benchmark-only``.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastdci.kernels import cpu

from .conftest import scaled

N_ROWS = scaled("KERNEL_ROWS", 1_000_000)
N_LATENTS = 10
FACTOR_SIZES = (3, 6, 40, 32, 32)
N_BINS = 20


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, FACTOR_SIZES, size=(N_ROWS, len(FACTOR_SIZES)))
    x = rng.normal(size=(N_ROWS, N_LATENTS)).astype(np.float32)
    x[:, : len(FACTOR_SIZES)] += y / np.array(FACTOR_SIZES)
    edges = cpu.uniform_edges(x.min(axis=0), x.max(axis=0), N_BINS, x.dtype)
    codes = cpu.discretize(x, edges)
    cpu.joint_counts(x[:10], y[:10], edges, max(FACTOR_SIZES))  # compiled / loaded from cache
    return x, y, edges, codes


@pytest.mark.benchmark(group="minmax")
def test_minmax_fastdci(benchmark, data):
    x = data[0]
    benchmark(cpu.minmax_columns, x)


@pytest.mark.benchmark(group="minmax")
def test_minmax_numpy(benchmark, data):
    x = data[0]
    benchmark(lambda: (x.min(axis=0), x.max(axis=0)))


@pytest.mark.benchmark(group="discretize")
def test_discretize_fastdci(benchmark, data):
    x, _, edges, codes = data
    out = benchmark(cpu.discretize, x, edges)
    np.testing.assert_array_equal(out, codes)


@pytest.mark.benchmark(group="discretize")
def test_discretize_dlib(benchmark, data):
    x, _, _, codes = data
    xt = x.T  # disentanglement_lib's layout (codes x points)

    def run():
        d = np.zeros_like(xt)
        for i in range(xt.shape[0]):
            d[i, :] = np.digitize(xt[i, :], np.histogram(xt[i, :], N_BINS)[1][:-1])
        return d

    out = benchmark.pedantic(run, rounds=2, iterations=1)
    np.testing.assert_array_equal(out.T.astype(np.int64) - 1, codes)


@pytest.mark.benchmark(group="joint-counts")
def test_joint_counts_fastdci(benchmark, data):
    x, y, edges, _ = data
    benchmark(cpu.joint_counts, x, y, edges, max(FACTOR_SIZES))


@pytest.mark.benchmark(group="joint-counts")
def test_joint_counts_numpy_bincount(benchmark, data):
    x, y, edges, codes = data
    C = max(FACTOR_SIZES)

    def run():
        out = np.zeros((N_LATENTS, y.shape[1], C, N_BINS), dtype=np.int64)
        for l in range(N_LATENTS):
            for k in range(y.shape[1]):
                out[l, k] = np.bincount(y[:, k] * N_BINS + codes[:, l], minlength=C * N_BINS).reshape(C, N_BINS)
        return out

    out = benchmark.pedantic(run, rounds=3, iterations=1)
    np.testing.assert_array_equal(out, cpu.joint_counts(x, y, edges, C))
