"""Scale-out on Dask, each group measured beside the single-process path in the same run.

- ``sweep-files``: :func:`fastdci.evaluate_many` over ``N_FILES`` small latents files on a
  ``LocalCluster`` of ``N_WORKERS`` worker processes (one compute thread each; the cluster is
  started outside the timing) vs the loop a user would otherwise run, ``fastdci.evaluate`` on
  each file in one process (Numba and torch on every core). ``extra_info`` has files per minute.
- ``out-of-core-mig``: :func:`fastdci.information_out_of_core` on one ``OOC_ROWS``-row file in
  ``OOC_TASKS`` row ranges vs ``fastdci.evaluate(path, "mig")`` holding the file in memory.
  ``extra_info`` has rows per second.

Run: ``python -m pytest benchmarks/test_60_sweep.py --benchmark-only``.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastdci
from fastdci.io import LatentsWriter

from .conftest import scaled

distributed = pytest.importorskip("distributed")

N_FILES = scaled("SWEEP_FILES", 100)
FILE_ROWS = scaled("SWEEP_FILE_ROWS", 5_000)
N_WORKERS = scaled("SWEEP_WORKERS", 2)
METRICS = "mig,modularity,dci"
OPTIONS = {"dci": {"regressor": "logistic"}}
OOC_ROWS = scaled("OOC_ROWS", 2_000_000)
OOC_TASKS = 16
FACTOR_SIZES = (3, 6, 40, 32, 32)
N_LATENTS = 10


def _write(path, n, seed):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, n) for s in FACTOR_SIZES], axis=1)
    latents = rng.normal(scale=0.1, size=(n, N_LATENTS)).astype(np.float32)
    latents[:, :5] += factors / (np.array(FACTOR_SIZES) - 1)
    with LatentsWriter(path, latent_dim=N_LATENTS, factor_names=[f"f{k}" for k in range(5)],
                       factor_sizes=FACTOR_SIZES, with_logvar=False) as w:
        for s in range(0, n, 1 << 18):
            w.append(latents[s:s + (1 << 18)], classes=factors[s:s + (1 << 18)])
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    return [_write(d / f"m{i:03d}.h5", FILE_ROWS, i) for i in range(N_FILES)]


@pytest.fixture(scope="module")
def client():
    from fastdci.sweep import local_client

    c = local_client(N_WORKERS)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


@pytest.mark.benchmark(group="sweep-files")
def test_sweep_files_evaluate_many(benchmark, files, client, tmp_path):
    fastdci.evaluate_many(files[:2], METRICS, client=client, progress=False, **OPTIONS)  # warm the workers
    table = benchmark.pedantic(lambda: fastdci.evaluate_many(files, METRICS, client=client, progress=False,
                                                             **OPTIONS), rounds=1, iterations=1)
    assert set(table["status"]) == {"computed"}
    benchmark.extra_info["files_per_minute"] = 60 * len(files) / benchmark.stats.stats.mean


@pytest.mark.benchmark(group="sweep-files")
def test_sweep_files_one_process(benchmark, files):
    fastdci.evaluate(files[0], METRICS, **OPTIONS)  # warm: imports, Numba caches
    benchmark.pedantic(lambda: [fastdci.evaluate(f, METRICS, **OPTIONS) for f in files], rounds=1, iterations=1)
    benchmark.extra_info["files_per_minute"] = 60 * len(files) / benchmark.stats.stats.mean


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("ooc") / "big.h5", OOC_ROWS, 0)


@pytest.mark.benchmark(group="out-of-core-mig")
def test_out_of_core_mig(benchmark, big_file, client):
    rows = -(-OOC_ROWS // OOC_TASKS)
    fastdci.information_out_of_core(big_file, "mig", client=client, rows_per_task=rows)  # warm
    res = benchmark.pedantic(lambda: fastdci.information_out_of_core(big_file, "mig", client=client,
                                                                     rows_per_task=rows), rounds=3, iterations=1)
    assert res["mig"].score == fastdci.evaluate(big_file, "mig")["mig"].score
    benchmark.extra_info["rows_per_second"] = OOC_ROWS / benchmark.stats.stats.mean


@pytest.mark.benchmark(group="out-of-core-mig")
def test_in_memory_mig(benchmark, big_file):
    fastdci.evaluate(big_file, "mig")  # warm
    benchmark.pedantic(lambda: fastdci.evaluate(big_file, "mig"), rounds=3, iterations=1)
    benchmark.extra_info["rows_per_second"] = OOC_ROWS / benchmark.stats.stats.mean
