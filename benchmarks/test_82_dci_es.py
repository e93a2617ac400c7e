"""DCI-ES: fastdci vs the authors' forest ladder restated, on the same split in one run.

Inputs: ``ROWS`` rows, ``N_LATENTS`` = 6 float32 latents (three tied to a factor plus noise, one
rotated pair, one pure noise) and three factors of sizes (3, 6, 10). The group pairs

- ``fastdci``: :func:`fastdci.dci_es` (one depth-3 booster of 100 rounds; the ladder is its
  rounds 1..100 read off the fitted trees);
- ``authors-rf``: the authors' random-forest ladder (``benchmarks/_dcies_restated.py``): 12
  depths x 3 factors forests of 100 trees, E by their formula, D and C of the best depth.

The two use different probes, so their E differ by construction; the benchmark records both.

Run: ``python -m pytest benchmarks/test_82_dci_es.py --benchmark-only``
(``FASTDCI_BENCH_DCIES_ROWS`` overrides the size).
"""

from __future__ import annotations

import numpy as np
import pytest

import fastdci

from ._dcies_restated import authors_dci_es
from .conftest import scaled

ROWS = scaled("DCIES_ROWS", 10_000)
FACTOR_SIZES = (3, 6, 10)
SCORES: dict = {}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.column_stack([rng.integers(0, s, ROWS) for s in FACTOR_SIZES])
    z = y / (np.array(FACTOR_SIZES) - 1) + 0.05 * rng.normal(size=y.shape)
    c, s = np.cos(0.6), np.sin(0.6)
    pair = z[:, 1:3] @ np.array([[c, -s], [s, c]])
    x = np.column_stack([z[:, 0], pair, z[:, 2], rng.normal(size=(ROWS, 2))]).astype(np.float32)
    half = ROWS // 2
    return x[:half], y[:half], x[half:], y[half:]


@pytest.mark.benchmark(group="dci_es")
def test_fastdci(benchmark, data):
    res = benchmark.pedantic(lambda: fastdci.dci_es(*data, backend="cpu"), rounds=3, warmup_rounds=1)
    SCORES["fastdci"] = (res.explicitness, res.disentanglement, res.completeness, res.informativeness_test)
    print("\nfastdci E, D, C, I:", np.round(SCORES["fastdci"], 4))
    assert res.loss_curves.shape == (3, 100)


@pytest.mark.benchmark(group="dci_es")
def test_authors_rf(benchmark, data):
    out = benchmark.pedantic(lambda: authors_dci_es(*data, n_jobs=1), rounds=1, iterations=1)
    SCORES["authors-rf"] = out[:4]
    print("\nauthors-rf E, D, C, I:", np.round(out[:4], 4))
    assert out[4].shape == (3, 12)
