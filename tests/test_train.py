"""Training runs: exact resume on the CPU, run-directory contents, atomic checkpoints, bad input."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch
from PIL import Image

import fastdci.train.session as S
from fastdci.errors import CheckpointError, DatasetFileError, InvalidInputError, OutputExistsError
from fastdci.train import TrainConfig, load_checkpoint, read_checkpoint, train
from tests._helpers import Interrupting as _Interrupting

SMALL = dict(batch_size=8, log_every=1, checkpoint_every=2, progress=False)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _losses(run):
    return [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]


def _strip_times(recs):
    return [{k: v for k, v in r.items() if k not in ("images_per_s", "elapsed_s")} for r in recs]


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    run = tmp_path_factory.mktemp("straight")
    res = train(out=run, steps=5, seed=3, **SMALL)
    return run, res


def test_run_directory_contents(straight):
    run, res = straight
    assert res.step == 5 and res.steps_this_call == 5 and res.images_per_second > 0
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.pt", "config.json", "losses.jsonl", "reconstructions.png", "traversals.png"]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["steps"] == 5 and cfg["seed"] == 3 and cfg["arch"] == "standard" and cfg["objective"] == "beta"
    ckpt = read_checkpoint(run)
    assert ckpt["step"] == 5 and ckpt["config"] == cfg
    assert {"model", "optimizer", "rng", "objective", "dataset"} <= set(ckpt)
    assert {"data", "noise"} <= set(ckpt["rng"]) and "torch" not in ckpt["rng"]
    assert ckpt["log"]["step"] == 5 and ckpt["log"]["sums"] == {}  # the open loss-log window: empty
    assert ckpt["log"]["elapsed_s"] >= _losses(run)[-1]["elapsed_s"]
    assert ckpt["objective"] == {"objective": "beta", "beta": 4.0}
    recs = _losses(run)
    assert [r["step"] for r in recs] == [1, 2, 3, 4, 5]
    for r in recs:
        assert r["loss"] == pytest.approx(r["recon"] + 4.0 * r["kl"], rel=1e-5)
        assert r["images_per_s"] > 0
    # 2 rows x 10 images of 64 px with 2 px gutters, shown at 2x
    rec = Image.open(run / "reconstructions.png")
    assert rec.size == ((10 * 66 + 2) * 2, (2 * 66 + 2) * 2) and rec.mode == "L"
    trav = Image.open(run / "traversals.png")
    assert trav.size == ((12 * 66 + 2) * 2, (10 * 66 + 2) * 2)


@pytest.mark.slow
def test_resume_after_interrupt_equals_straight_run(straight, tmp_path, monkeypatch):
    run_a, _ = straight
    run_b = tmp_path / "b"
    real = S.open_dataset
    # killed while fetching the 4th batch: checkpoint at step 2, losses logged up to step 3
    monkeypatch.setattr(S, "open_dataset", lambda data: _Interrupting(real(data), after=4))
    with pytest.raises(KeyboardInterrupt):
        train(out=run_b, steps=5, seed=3, **SMALL)
    assert read_checkpoint(run_b)["step"] == 2
    assert [r["step"] for r in _losses(run_b)] == [1, 2, 3]
    monkeypatch.setattr(S, "open_dataset", real)
    res = train(out=run_b, steps=5, resume=True, progress=False)
    assert res.step == 5 and res.steps_this_call == 3
    a, b = read_checkpoint(run_a), read_checkpoint(run_b)
    assert _same_state(a["model"], b["model"])  # bit for bit
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sa.keys() == sb.keys() and all(_same_state(sa[k], sb[k]) for k in sa)
    assert all(torch.equal(a["rng"][k], b["rng"][k]) for k in ("data", "noise"))
    assert _strip_times(_losses(run_a)) == _strip_times(_losses(run_b))


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint_every, steps, after, device", [
    (2, 7, 6, "cpu"),  # killed fetching batch 6: checkpoint at 4 inside the window 3..6, lines up to 3
    (4, 9, 8, "cpu"),  # killed fetching batch 8: checkpoint at 4, a line at 6 after it is dropped
    pytest.param(2, 7, 6, "cuda", marks=pytest.mark.cuda),  # the sums go back onto the GPU
])
def test_resume_mid_log_window_writes_the_same_log(tmp_path, monkeypatch, checkpoint_every, steps, after, device):
    settings = dict(SMALL, log_every=3, checkpoint_every=checkpoint_every, device=device)
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    train(out=run_a, steps=steps, seed=3, **settings)
    real = S.open_dataset
    monkeypatch.setattr(S, "open_dataset", lambda data: _Interrupting(real(data), after=after))
    with pytest.raises(KeyboardInterrupt):
        train(out=run_b, steps=steps, seed=3, **settings)
    assert read_checkpoint(run_b)["step"] == 4
    window = read_checkpoint(run_b)["log"]
    assert window["step"] == 3 and set(window["sums"]) == {"loss", "recon", "kl"}  # step 4's terms
    monkeypatch.setattr(S, "open_dataset", real)
    train(out=run_b, steps=steps, resume=True, progress=False)
    a, b = _losses(run_a), _losses(run_b)
    assert [r["step"] for r in a] == [3, 6, steps][: len(a)] and len(a) == len(b)
    for ra, rb in zip(a, b):  # line by line; only the two timing fields may differ
        assert ra.keys() == rb.keys()
        terms_a = {k: v for k, v in ra.items() if k not in ("images_per_s", "elapsed_s")}
        terms_b = {k: v for k, v in rb.items() if k not in ("images_per_s", "elapsed_s")}
        # bit for bit on the CPU; on the GPU the weights (so the terms) may differ in the last bits
        assert terms_a == (terms_b if device == "cpu" else pytest.approx(terms_b, rel=1e-4))
        assert rb["images_per_s"] > 0
    assert [r["elapsed_s"] for r in b] == sorted(r["elapsed_s"] for r in b)  # summed over both calls
    if device == "cpu":
        assert _same_state(read_checkpoint(run_a)["model"], read_checkpoint(run_b)["model"])


def test_checkpoint_without_log_window_still_resumes(tmp_path):
    # a checkpoint written before the log window was saved: the window restarts there
    train(out=tmp_path, steps=2, seed=3, **SMALL)
    obj = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    del obj["log"]
    torch.save(obj, tmp_path / "checkpoint.pt")
    res = train(out=tmp_path, steps=3, resume=True, progress=False)
    assert res.step == 3 and [r["step"] for r in _losses(tmp_path)] == [1, 2, 3]


def test_training_leaves_the_global_torch_generator_alone(tmp_path):
    # why checkpoints do not save torch's global RNG state: training never draws from it
    before = torch.get_rng_state()
    train(out=tmp_path, steps=2, seed=3, **SMALL)
    train(out=tmp_path, steps=3, resume=True, progress=False)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.slow
def test_resume_can_extend_steps(straight, tmp_path):
    run = tmp_path / "c"
    train(out=run, steps=2, seed=3, **SMALL)
    train(out=run, steps=5, resume=True, progress=False)
    assert _same_state(read_checkpoint(straight[0])["model"], read_checkpoint(run)["model"])
    again = train(out=run, steps=5, resume=True, progress=False)  # nothing left to do
    assert again.steps_this_call == 0 and again.step == 5


def test_seed_changes_the_run(straight, tmp_path):
    train(out=tmp_path, steps=5, seed=4, **SMALL)
    assert not _same_state(read_checkpoint(straight[0])["model"], read_checkpoint(tmp_path)["model"])


@pytest.mark.parametrize("objective, extra, key", [
    ("annealed", dict(gamma=10.0, c_max=5.0, anneal_steps=4), "capacity"),
    ("tcvae", dict(beta=6.0), "tc"),
])
def test_other_objectives_and_tutorial_arch(tmp_path, objective, extra, key):
    train(out=tmp_path, steps=3, objective=objective, arch="tutorial", latent_dim=4, **extra, **SMALL)
    recs = _losses(tmp_path)
    assert all(key in r for r in recs)
    if objective == "annealed":
        # capacity C(t) = c_max * min(1, t / T) at steps t = 0, 1, 2
        assert [r["capacity"] for r in recs] == pytest.approx([0.0, 1.25, 2.5])
        for r in recs:
            assert r["loss"] == pytest.approx(r["recon"] + 10.0 * abs(r["kl"] - r["capacity"]), rel=1e-4)
    model, ckpt = load_checkpoint(tmp_path)
    assert model.arch == "tutorial" and model.latent_dim == 4 and not model.training
    assert ckpt["objective"]["objective"] == objective


def test_atomic_checkpoint_keeps_old_file_on_failure(straight, tmp_path, monkeypatch):
    run = tmp_path / "d"
    train(out=run, steps=2, seed=3, **SMALL)
    before = (run / "checkpoint.pt").read_bytes()

    def broken_save(obj, fh):
        fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        train(out=run, steps=4, resume=True, progress=False)
    assert (run / "checkpoint.pt").read_bytes() == before
    assert not [p for p in os.listdir(run) if "tmp" in p]


def test_existing_run_is_not_touched(straight, tmp_path):
    run = tmp_path / "e"
    train(out=run, steps=2, seed=3, **SMALL)
    snapshot = {p.name: p.read_bytes() for p in run.iterdir()}
    with pytest.raises(OutputExistsError, match=r"already holds a training run.*--resume.*--overwrite"):
        train(out=run, steps=2, **SMALL)
    # overwrite with a bad setting fails before deleting anything
    with pytest.raises(InvalidInputError, match="beta must be a finite number >= 0; got -1"):
        train(out=run, steps=2, beta=-1.0, overwrite=True, **SMALL)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == snapshot
    train(out=run, steps=1, overwrite=True, **SMALL)
    assert read_checkpoint(run)["step"] == 1


def test_resume_errors(straight, tmp_path):
    run = straight[0]
    with pytest.raises(CheckpointError, match=r"no checkpoint at .*checkpoint\.pt; train one first"):
        train(out=tmp_path / "nothing", steps=2, resume=True, progress=False)
    assert not (tmp_path / "nothing").exists()
    with pytest.raises(CheckpointError, match=r"another architecture or latent size: got arch='tutorial'"):
        train(out=run, arch="tutorial", resume=True, progress=False)
    with pytest.raises(CheckpointError, match=r"latent_dim=5 \(checkpoint: 10\).*omit those options"):
        train(out=run, latent_dim=5, resume=True, progress=False)
    with pytest.raises(CheckpointError, match=r"other settings: got beta=2\.0 \(checkpoint: 4\.0\)"):
        train(out=run, beta=2.0, resume=True, progress=False)
    with pytest.raises(InvalidInputError, match="resume or overwrite, not both"):
        train(out=run, resume=True, overwrite=True)


def test_bad_checkpoints(straight, tmp_path):
    good = (straight[0] / "checkpoint.pt").read_bytes()
    half = tmp_path / "half"
    half.mkdir()
    (half / "checkpoint.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="is truncated or corrupt"):
        load_checkpoint(half)
    with pytest.raises(CheckpointError, match="is truncated or corrupt"):
        train(out=half, steps=9, resume=True, progress=False)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="is not a fastdci checkpoint"):
        load_checkpoint(foreign)
    # weights of a 10-latent model under a config that claims 6 latents
    obj = torch.load(straight[0] / "checkpoint.pt", weights_only=True)
    obj["config"]["latent_dim"] = 6
    other = tmp_path / "other.pt"
    torch.save(obj, other)
    with pytest.raises(CheckpointError, match=r"another architecture or latent size than arch='standard', latent_dim=6"):
        load_checkpoint(other)
    # a loss-log window that does not fit the checkpoint's step
    obj = torch.load(straight[0] / "checkpoint.pt", weights_only=True)
    obj["log"] = {"step": 9, "sums": {}, "elapsed_s": 0.0}
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    torch.save(obj, damaged / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="unusable loss-log state"):
        train(out=damaged, steps=9, resume=True, progress=False)
    assert sorted(p.name for p in damaged.iterdir()) == ["checkpoint.pt"]


@pytest.mark.parametrize("setting, pattern", [
    (dict(steps=-5), r"steps must be an integer >= 1; got -5\. .*--steps 200"),
    (dict(steps=0), r"steps must be an integer >= 1; got 0"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(lr=0.0), "lr must be a finite number > 0"),
    (dict(beta=-0.5), "beta must be a finite number >= 0; got -0.5"),
    (dict(objective="vae"), r"objective must be one of \['beta', 'annealed', 'tcvae'\]"),
    (dict(arch="resnet"), r"arch must be one of \['standard', 'tutorial'\]"),
    (dict(objective="annealed", anneal_steps=0), "anneal_steps must be a positive integer"),
    (dict(amp=True, device="cpu"), r"amp is a CUDA option .* drop --amp"),
    (dict(bogus=1), r"unknown training settings \['bogus'\]"),
])
def test_bad_settings_write_nothing(tmp_path, setting, pattern):
    out = tmp_path / "run"
    with pytest.raises(InvalidInputError, match=pattern):
        train(out=out, **{**SMALL, **setting})
    assert not out.exists()


def test_bad_data_file_writes_nothing(tmp_path):
    bad = tmp_path / "dsprites.npz"
    bad.write_text("not a zip")
    with pytest.raises(DatasetFileError):
        train(out=tmp_path / "run", steps=1, data=str(bad), **{k: v for k, v in SMALL.items()})
    assert not (tmp_path / "run").exists()


def test_config_roundtrip():
    cfg = TrainConfig(out="x", beta=2.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.validate() is cfg


@pytest.mark.cuda
@pytest.mark.parametrize("amp, compile", [(True, False), (False, True), (False, False)])
def test_cuda_training_amp_compile_and_resume(tmp_path, amp, compile):
    res = train(out=tmp_path, steps=3, device="cuda", amp=amp, compile=compile, **SMALL)
    assert res.step == 3 and all(math.isfinite(r["loss"]) for r in _losses(tmp_path))
    model, ckpt = load_checkpoint(tmp_path, device="cuda")
    assert next(model.parameters()).device.type == "cuda" and ckpt["rng"]["noise_device"] == "cuda"
    res = train(out=tmp_path, steps=4, resume=True, progress=False)
    assert res.step == 4
    # resuming a CUDA run on the CPU reseeds the noise instead of failing
    res = train(out=tmp_path, steps=5, resume=True, device="cpu", amp=False, compile=False, progress=False)
    assert res.step == 5


@pytest.mark.cuda
def test_cuda_straight_equals_resumed_in_data_order(tmp_path):
    # on the GPU weights may differ in the last bits, but batches and step counts agree
    a, b = tmp_path / "a", tmp_path / "b"
    train(out=a, steps=4, device="cuda", **SMALL)
    train(out=b, steps=2, device="cuda", **SMALL)
    train(out=b, steps=4, resume=True, progress=False)
    ra, rb = read_checkpoint(a), read_checkpoint(b)
    assert torch.equal(ra["rng"]["data"], rb["rng"]["data"])
    for k in ra["model"]:
        torch.testing.assert_close(ra["model"][k], rb["model"][k], rtol=1e-4, atol=1e-5)


def test_progress_on_stderr(tmp_path, capsys):
    train(out=tmp_path, steps=2, batch_size=8, log_every=1, progress=True)
    out, err = capsys.readouterr()
    # counts steps, and shows the latest logged loss, recon and KL
    assert out == "" and "2/2 steps" in err and "steps/s" in err
    assert "loss " in err and "recon " in err and "KL " in err and "images" not in err
