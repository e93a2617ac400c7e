"""Latents file throughput: write and read N_ROWS x N_LATENTS float32, MB/s.

Groups:
- ``io-write``: LatentsWriter with the default chunking/compression, and the sweep of
  chunk sizes and compressions on SWEEP_ROWS rows that the defaults were chosen from.
- ``io-read``: ``iter_chunks`` (what the metrics use) vs a plain h5py full read of the same
  dataset (``f["latents/mean"][:]``), the floor a user would otherwise get.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastdci.io import LatentsWriter, open_latents

from .conftest import scaled

N_ROWS = scaled("IO_ROWS", 10_000_000)
N_LATENTS = 10
BATCH = 65_536
SWEEP_ROWS = scaled("IO_SWEEP_ROWS", 2_000_000)
SIZES = (3, 6, 40, 32, 32)
NAMES = ("shape", "scale", "orientation", "posX", "posY")


def _batches(n, seed=0):
    rng = np.random.default_rng(seed)
    # VAE-like latents: a few informative dims, some collapsed near zero
    scale = np.array([1, 1, 1, 1, 1, 0.05, 0.05, 0.05, 0.05, 0.05], np.float32)
    for s in range(0, n, BATCH):
        e = min(s + BATCH, n)
        m = (rng.standard_normal((e - s, N_LATENTS), dtype=np.float32) * scale)
        c = np.stack([(np.arange(s, e) // d) % k for d, k in zip((245760, 40960, 1024, 32, 1), SIZES)], 1)
        yield m, c, np.arange(s, e)


def _write(path, n, **kw):
    if path.exists():
        path.unlink()
    with LatentsWriter(path, latent_dim=N_LATENTS, factor_names=NAMES, factor_sizes=SIZES,
                       with_logvar=False, **kw) as w:
        for m, c, i in _batches(n):
            w.append(m, classes=c, index=i)
    return path


def _mbps(benchmark, n):
    mb = n * N_LATENTS * 4 / 1e6
    benchmark.extra_info["latents_MB"] = mb
    benchmark.extra_info["MB_per_s"] = mb / benchmark.stats.stats.mean


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    return _write(tmp_path_factory.mktemp("io") / "big.h5", N_ROWS)


@pytest.mark.benchmark(group="io-write")
def test_write_default(benchmark, tmp_path):
    benchmark.pedantic(_write, args=(tmp_path / "w.h5", N_ROWS), rounds=2, iterations=1)
    _mbps(benchmark, N_ROWS)
    benchmark.extra_info["file_MB"] = (tmp_path / "w.h5").stat().st_size / 1e6


@pytest.mark.benchmark(group="io-write-sweep")
@pytest.mark.parametrize("compression", ["auto", None, "lzf", "gzip"])
@pytest.mark.parametrize("chunk_rows", [8_192, 65_536, 262_144])
def test_write_sweep(benchmark, tmp_path, compression, chunk_rows):
    path = tmp_path / "s.h5"
    benchmark.pedantic(_write, args=(path, SWEEP_ROWS), kwargs=dict(compression=compression, chunk_rows=chunk_rows),
                       rounds=2, iterations=1)
    _mbps(benchmark, SWEEP_ROWS)
    benchmark.extra_info["file_MB"] = path.stat().st_size / 1e6

    def read():
        with open_latents(path) as r:
            for _ in r.iter_chunks(fields=["mean", "classes"]):
                pass

    import time

    t = time.perf_counter()
    read()
    benchmark.extra_info["read_MB_per_s"] = SWEEP_ROWS * N_LATENTS * 4 / 1e6 / (time.perf_counter() - t)


@pytest.mark.benchmark(group="io-read")
def test_read_iter_chunks(benchmark, big_file):
    def run():
        total = 0
        with open_latents(big_file) as r:
            for chunk in r.iter_chunks(fields=["mean", "classes"]):
                total += len(chunk)
        return total

    assert benchmark.pedantic(run, rounds=3, iterations=1) == N_ROWS
    _mbps(benchmark, N_ROWS)


@pytest.mark.benchmark(group="io-read")
def test_read_iter_chunks_unvalidated(benchmark, big_file):
    def run():
        with open_latents(big_file, validate=False) as r:
            return sum(len(c) for c in r.iter_chunks(fields=["mean", "classes"]))

    assert benchmark.pedantic(run, rounds=3, iterations=1) == N_ROWS
    _mbps(benchmark, N_ROWS)


@pytest.mark.benchmark(group="io-read")
def test_read_plain_h5py_full(benchmark, big_file):
    import h5py

    def run():
        with h5py.File(big_file, "r") as f:
            m = f["latents/mean"][:]
            c = f["factors/classes"][:]
        return len(m) + 0 * len(c)

    assert benchmark.pedantic(run, rounds=3, iterations=1) == N_ROWS
    _mbps(benchmark, N_ROWS)
