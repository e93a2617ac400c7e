"""The procedural dSprites renderer (images/s), beside reading the images of the real file.

Groups:

- ``images-batch``: ``BATCH`` random dataset rows (an encoder batch) rendered by
  :func:`fastdci.data.render_numpy` and :func:`fastdci.data.render_torch` (CPU), and read by
  ``DSprites(path).images`` (the real file's images held bit-packed in memory: gather + unpack),
  vs the reference a user of the real file runs: ``imgs[idx]`` on the uint8 array loaded with
  ``np.load``. The in-memory arrays here are stand-ins of ``STANDIN_ROWS`` random sprites-like
  rows (rows are 4 KiB each, so a random gather costs the same per row as on the full 3 GiB
  array, without holding 3 GiB on a shared machine).
- ``images-train``: a training batch of ``TRAIN_BATCH`` rows as a float32 tensor, rendered
  (``DSprites().images_torch``, which uses NumPy on the CPU; ``render_torch``; ``render_numpy``
  + conversion) vs gathered from the loaded array and converted.
- ``full-grid``: every one of the 737,280 images rendered once (NumPy), with the mean number of
  lit pixels (real dSprites: 174.06) stored in ``extra_info``.
- ``images-batch-cuda``: :func:`~fastdci.data.render_torch` on the GPU (skips without one).

Each benchmark stores images/s in ``extra_info``. ``FASTDCI_BENCH_THREADS`` sets torch's CPU
threads (on a machine shared with other jobs, 1 avoids torch's thread pool stalling).

Run: ``python -m pytest benchmarks/test_05_render.py --benchmark-only``.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from fastdci.data import FACTOR_SIZES, N_IMAGES, DSprites, render_numpy, render_torch

from .conftest import scaled

BATCH = scaled("RENDER_BATCH", 16_384)
TRAIN_BATCH = 64
STANDIN_ROWS = scaled("RENDER_STANDIN_ROWS", 92_160)  # 1/8 of the grid: 377 MB as uint8



@pytest.fixture(scope="module")
def dataset():
    return DSprites()


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).integers(0, N_IMAGES, BATCH)


@pytest.fixture(scope="module")
def classes(dataset, rows):
    return dataset.classes(rows)


@pytest.fixture(scope="module")
def loaded():
    """Stand-in for the real file's arrays in memory: uint8 images, and the same bit-packed."""
    ds = DSprites()
    rng = np.random.default_rng(1)
    imgs = np.empty((STANDIN_ROWS, 64, 64), dtype=np.uint8)
    sample = rng.integers(0, N_IMAGES, 4096)
    pool = ds.images(sample)
    for start in range(0, STANDIN_ROWS, 4096):
        stop = min(start + 4096, STANDIN_ROWS)
        imgs[start:stop] = pool[: stop - start]
    return imgs, np.packbits(imgs, axis=-1)


@pytest.fixture(scope="module")
def standin_rows():
    return np.random.default_rng(2).integers(0, STANDIN_ROWS, BATCH)


def _rate(benchmark, n):
    benchmark.extra_info["images_per_s"] = n / benchmark.stats.stats.mean


# ---------------------------------------------------------------- an encoder-sized batch


@pytest.mark.benchmark(group="images-batch")
def test_batch_render_numpy(benchmark, classes):
    images = benchmark(render_numpy, classes)
    assert images.shape == (BATCH, 64, 64)
    _rate(benchmark, BATCH)


@pytest.mark.benchmark(group="images-batch")
def test_batch_render_torch_cpu(benchmark, classes):
    expected = render_numpy(classes[:256])
    images = benchmark(render_torch, classes, "cpu")
    assert np.array_equal(images[:256, 0].numpy().astype(np.uint8), expected)
    _rate(benchmark, BATCH)


@pytest.mark.benchmark(group="images-batch")
def test_batch_file_bitpacked(benchmark, loaded, standin_rows):
    """What ``DSprites(path).images`` does once the file is decompressed."""
    packed = loaded[1]
    images = benchmark(lambda: np.unpackbits(packed[standin_rows], axis=-1))
    assert images.shape == (BATCH, 64, 64)
    _rate(benchmark, BATCH)


@pytest.mark.benchmark(group="images-batch")
def test_batch_loaded_array_reference(benchmark, loaded, standin_rows):
    imgs = loaded[0]
    images = benchmark(lambda: imgs[standin_rows])
    assert images.shape == (BATCH, 64, 64)
    _rate(benchmark, BATCH)


# ---------------------------------------------------------------- a training batch


@pytest.mark.benchmark(group="images-train")
def test_train_batch_images_torch(benchmark, dataset):
    rng = np.random.default_rng(3)
    out = benchmark(lambda: dataset.images_torch(rng.integers(0, N_IMAGES, TRAIN_BATCH)))
    assert tuple(out.shape) == (TRAIN_BATCH, 1, 64, 64)
    _rate(benchmark, TRAIN_BATCH)


@pytest.mark.benchmark(group="images-train")
def test_train_batch_render_torch(benchmark, dataset):
    rng = np.random.default_rng(3)
    out = benchmark(lambda: render_torch(dataset.classes(rng.integers(0, N_IMAGES, TRAIN_BATCH)), "cpu"))
    assert tuple(out.shape) == (TRAIN_BATCH, 1, 64, 64)
    _rate(benchmark, TRAIN_BATCH)


@pytest.mark.benchmark(group="images-train")
def test_train_batch_render_numpy(benchmark, dataset):
    rng = np.random.default_rng(3)

    def run():
        idx = rng.integers(0, N_IMAGES, TRAIN_BATCH)
        return torch.from_numpy(dataset.images(idx)).unsqueeze(1).to(torch.float32)

    out = benchmark(run)
    assert tuple(out.shape) == (TRAIN_BATCH, 1, 64, 64)
    _rate(benchmark, TRAIN_BATCH)


@pytest.mark.benchmark(group="images-train")
def test_train_batch_loaded_array_reference(benchmark, loaded):
    imgs = loaded[0]
    rng = np.random.default_rng(3)

    def run():
        idx = rng.integers(0, STANDIN_ROWS, TRAIN_BATCH)
        return torch.from_numpy(imgs[idx]).unsqueeze(1).to(torch.float32)

    out = benchmark(run)
    assert tuple(out.shape) == (TRAIN_BATCH, 1, 64, 64)
    _rate(benchmark, TRAIN_BATCH)


# ---------------------------------------------------------------- the whole grid


@pytest.mark.benchmark(group="full-grid")
def test_full_grid_render_numpy(benchmark):
    step = 65_536

    def run():
        lit = 0
        for start in range(0, N_IMAGES, step):
            rows = np.arange(start, min(start + step, N_IMAGES))
            classes = np.stack(np.unravel_index(rows, FACTOR_SIZES), axis=1)
            lit += int(render_numpy(classes).sum(dtype=np.int64))
        return lit / N_IMAGES

    mean_lit = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info["mean_lit_pixels"] = mean_lit
    _rate(benchmark, N_IMAGES)
    assert abs(mean_lit - 174.06) < 1.0


# ---------------------------------------------------------------- GPU


@pytest.mark.cuda
@pytest.mark.benchmark(group="images-batch-cuda")
def test_batch_render_torch_cuda(benchmark, classes):
    c = torch.as_tensor(classes, device="cuda")
    render_torch(c, "cuda")
    torch.cuda.synchronize()

    def run():
        out = render_torch(c, "cuda")
        torch.cuda.synchronize()
        return out

    out = benchmark(run)
    assert out.device.type == "cuda"
    _rate(benchmark, BATCH)
