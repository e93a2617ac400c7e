"""Training and encoder throughput (images/s), each beside the plain loop a user would write.

Groups:
- ``train``: :func:`fastdci.train.train` (renders every batch on the fly, logs, checkpoints at
  the end) vs a bare PyTorch loop over the same model and loss with the images already in
  memory as a uint8 tensor (what a user with the real dSprites array loaded would run).
- ``encode``: :func:`fastdci.encode.encode` end to end (render -> encoder -> background
  writer thread -> HDF5) vs the encoder alone (render -> encoder, results dropped), in the
  same run. The difference is what the writer thread costs the encoder.

Each benchmark stores images/s in ``extra_info``; ``encode`` also stores the time the main
thread waited for the writer. ``FASTDCI_BENCH_THREADS`` sets torch's CPU threads.
"""

from __future__ import annotations


import numpy as np
import pytest
import torch

from fastdci.data import DSprites
from fastdci.encode import encode, encode_batches, select_rows
from fastdci.models import BetaVAELoss, build_model
from fastdci.train import load_checkpoint, train

from .conftest import scaled

TRAIN_STEPS = scaled("TRAIN_STEPS", 30)
TRAIN_BATCH = 64
ENCODE_ROWS = scaled("ENCODE_ROWS", 20_000)
ENCODE_BATCH = 512



@pytest.fixture(scope="module")
def dataset():
    return DSprites()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "run"
    train(out=out, steps=1, batch_size=8, progress=False)
    return out


@pytest.fixture(scope="module")
def in_memory(dataset):
    """TRAIN_STEPS batches of pre-rendered images (uint8), as a loaded npz would give."""
    g = np.random.default_rng(0)
    idx = g.integers(0, len(dataset), TRAIN_STEPS * TRAIN_BATCH)
    return torch.from_numpy(dataset.images(idx)).reshape(TRAIN_STEPS, TRAIN_BATCH, 1, 64, 64)


@pytest.mark.benchmark(group="train")
def test_train_fastdci(benchmark, tmp_path):
    out = tmp_path / "run"
    results = []

    def run():
        results.append(train(out=out, steps=TRAIN_STEPS, batch_size=TRAIN_BATCH, checkpoint_every=TRAIN_STEPS,
                             log_every=10, overwrite=True, progress=False))

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    # the training loop alone, and the whole call (checkpoint and PNGs included)
    benchmark.extra_info["images_per_s_loop"] = float(np.mean([r.images_per_second for r in results]))
    benchmark.extra_info["images_per_s_total"] = TRAIN_STEPS * TRAIN_BATCH / benchmark.stats.stats.mean


@pytest.mark.benchmark(group="train")
def test_train_plain_torch_loop(benchmark, in_memory):
    model = build_model(seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = BetaVAELoss(beta=4.0)
    g = torch.Generator().manual_seed(0)

    def run():
        for batch in in_memory:
            x = batch.float()
            out = model(x, generator=g)
            loss = loss_fn(x, out.logits, out.mean, out.logvar, out.z)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = TRAIN_STEPS * TRAIN_BATCH / benchmark.stats.stats.mean


@pytest.mark.benchmark(group="encode")
def test_encode_to_hdf5(benchmark, run_dir, tmp_path):
    out = tmp_path / "latents.h5"
    results = []

    def run():
        results.append(encode(run_dir, out, rows=ENCODE_ROWS, batch_size=ENCODE_BATCH, device="cpu",
                              overwrite=True, progress=False))

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    res = results[-1]
    benchmark.extra_info["images_per_s"] = ENCODE_ROWS / benchmark.stats.stats.mean
    benchmark.extra_info["writer_busy_s"] = float(np.mean([r.writer_busy_seconds for r in results]))
    benchmark.extra_info["writer_wait_s"] = float(np.mean([r.writer_wait_seconds for r in results]))
    benchmark.extra_info["writer_wait_fraction"] = float(np.mean([r.writer_wait_seconds / r.seconds for r in results]))
    assert res.rows == ENCODE_ROWS


@pytest.mark.benchmark(group="encode")
def test_encoder_alone(benchmark, run_dir, dataset):
    model, _ = load_checkpoint(run_dir)
    idx, _ = select_rows(len(dataset), ENCODE_ROWS, seed=0)

    def run():
        for _ in encode_batches(model, dataset, idx, batch_size=ENCODE_BATCH, device="cpu"):
            pass

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    benchmark.extra_info["images_per_s"] = ENCODE_ROWS / benchmark.stats.stats.mean
