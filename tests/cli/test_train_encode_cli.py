"""``fastdci train`` and ``fastdci encode`` end to end through the CLI, and their one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

from fastdci.cli import main


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "--steps", "2", "--batch-size", "8", "--log-every", "1",
                 "--out", str(run_dir), "--no-progress", "--format", "json"])
    return run_dir, code


@pytest.fixture
def run_dir(trained, capsys):
    capsys.readouterr()
    assert trained[1] == 0
    return trained[0]


@pytest.mark.slow
def test_train_encode_inspect(capsys, trained, tmp_path):
    run_dir = trained[0]
    code, out, err = _run(capsys, "train", "--steps", "2", "--batch-size", "8", "--log-every", "1",
                          "--out", str(run_dir), "--no-progress", "--format", "json", "--overwrite")
    assert code == 0, err
    info = json.loads(out)
    assert info["step"] == 2 and info["steps_this_call"] == 2 and info["images_per_second"] > 0
    assert {"loss", "recon", "kl"} <= set(info)
    assert err == ""
    # resume to a larger --steps without repeating the settings
    code, out, err = _run(capsys, "train", "--steps", "3", "--resume", "--out", str(run_dir), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["step"] == 3
    h5 = tmp_path / "latents.h5"
    code, out, err = _run(capsys, "encode", str(run_dir), "--out", str(h5), "--rows", "700", "--batch-size",
                          "256", "--threads", "1", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["rows"] == 700
    code, out, err = _run(capsys, "inspect", str(h5), "--format", "json")
    assert code == 0, err
    meta = json.loads(out)
    assert meta["complete"] and meta["rows"] == 700 and meta["latent_dim"] == 10
    assert meta["model"]["checkpoint_step"] == 3
    assert [f["name"] for f in meta["factors"]] == ["shape", "scale", "orientation", "posX", "posY"]
    # table output names the run
    code, out, err = _run(capsys, "encode", str(run_dir), "--out", str(h5), "--rows", "20", "--overwrite")
    assert code == 0 and "images_per_second" in out


@pytest.mark.parametrize("argv, pattern", [
    (["train", "--steps", "-5"], "error: steps must be an integer >= 1; got -5"),
    (["train", "--beta", "-1"], "error: beta must be a finite number >= 0; got -1.0"),
    (["train", "--objective", "vae"], "error: --objective must be one of beta, annealed, tcvae; got 'vae'."),
    (["train", "--threads", "0"], "error: --threads must be >= 1"),
    (["train", "--amp", "--device", "cpu"], "error: amp is a CUDA option but training runs on the CPU"),
])
def test_train_errors_are_one_line(capsys, tmp_path, argv, pattern):
    code, out, err = _run(capsys, *argv, "--out", str(tmp_path / "r"), "--no-progress")
    assert code == 1 and out == ""
    assert err.startswith(pattern) and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_existing_outputs_refused(capsys, run_dir, tmp_path):
    code, _, err = _run(capsys, "train", "--steps", "2", "--out", str(run_dir))
    assert code == 1 and "--resume to continue it, --overwrite to replace it" in err
    code, _, err = _run(capsys, "train", "--arch", "tutorial", "--resume", "--out", str(run_dir))
    assert code == 1 and "another architecture or latent size" in err and err.count("\n") == 1
    h5 = tmp_path / "x.h5"
    h5.write_bytes(b"keep me")
    code, _, err = _run(capsys, "encode", str(run_dir), "--out", str(h5))
    assert code == 1 and "--resume to finish an interrupted encode, --overwrite" in err
    assert h5.read_bytes() == b"keep me"


def test_encode_errors(capsys, run_dir, tmp_path):
    code, _, err = _run(capsys, "encode", str(tmp_path / "missing"), "--out", str(tmp_path / "a.h5"))
    assert code == 1 and err.startswith("error: no checkpoint at") and "fastdci train --out" in err
    code, _, err = _run(capsys, "encode", str(run_dir), "--out", str(tmp_path / "a.h5"), "--rows", "many")
    assert code == 1 and "rows must be 'all' or a positive number of rows; got 'many'" in err
    bad = tmp_path / "r2"
    bad.mkdir()
    (bad / "checkpoint.pt").write_bytes(b"PK\x03\x04 torn")
    code, _, err = _run(capsys, "encode", str(bad), "--out", str(tmp_path / "a.h5"))
    assert code == 1 and "is truncated or corrupt" in err and err.count("\n") == 1
    assert not (tmp_path / "a.h5").exists()


@pytest.mark.parametrize("argv, pattern", [
    (["train", "--arch", "resnet"], "error: --arch must be one of standard, tutorial; got 'resnet'."),
    (["train", "--device", "gpu"], "error: --device must be one of auto, cpu, cuda or cuda:N; got 'gpu'."),
    (["train", "--format", "xml"], "error: --format must be one of table, json; got 'xml'."),
    (["encode", "run", "--device", "tpu"], "error: --device must be one of auto, cpu, cuda or cuda:N"),
    (["encode", "run", "--format", "yaml"], "error: --format must be one of table, json; got 'yaml'."),
])
def test_choices_refuse_a_wrong_value_in_one_line(capsys, tmp_path, argv, pattern):
    code, out, err = _run(capsys, *argv, "--out", str(tmp_path / "r"))
    assert code == 1 and out == "" and err.startswith(pattern) and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_choices_are_listed_by_help_and_completion(capsys):
    import typer

    from fastdci.cli import app
    from fastdci.cli._train import Arch, Objective
    from fastdci.models import ARCHITECTURES, OBJECTIVES

    assert [m.value for m in Objective] == list(OBJECTIVES) and [m.value for m in Arch] == list(ARCHITECTURES)
    code, out, _ = _run(capsys, "train", "--help")
    assert code == 0 and "<beta|annealed|tcvae>" in out and "<standard|tutorial>" in out
    assert "<table|json>" in out and "<auto|cpu|cuda|cuda:N>" in out
    root = typer.main.get_command(app)
    for name, option, incomplete, want in [
        ("train", "objective", "", ["beta", "annealed", "tcvae"]),
        ("train", "arch", "t", ["tutorial"]),
        ("train", "device", "c", ["cpu", "cuda"]),
        ("train", "format", "", ["table", "json"]),
        ("encode", "device", "", ["auto", "cpu", "cuda"]),
    ]:
        cmd = root.commands[name]
        ctx = cmd.make_context(name, [], resilient_parsing=True)
        param = next(p for p in cmd.params if p.name == option)
        assert [c.value for c in param.shell_complete(ctx, incomplete)] == want, (name, option)


def test_steps_default_depends_on_the_device(capsys, tmp_path, monkeypatch):
    import fastdci.backend
    import fastdci.cli._train as T

    # a CPU run without --steps trains the CPU default and says why on stderr
    monkeypatch.setattr(T, "CPU_STEPS", 2)
    run = tmp_path / "run"
    code, out, err = _run(capsys, "train", "--out", str(run), "--batch-size", "8", "--device", "cpu",
                          "--no-progress", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["step"] == 2 and json.loads((run / "config.json").read_text())["steps"] == 2
    assert err.startswith("--steps not given: training 2 steps, the default on a CPU") and err.count("\n") == 1
    assert "Pass --steps N to choose" in err
    cfg = json.loads((run / "config.json").read_text())  # the CPU recipe's objective, beta and lr
    assert (cfg["objective"], cfg["beta"], cfg["lr"]) == (T.CPU_RECIPE["objective"], T.CPU_RECIPE["beta"], 1e-3)
    assert f"the recipe's objective {T.CPU_RECIPE['objective']} with beta {T.CPU_RECIPE['beta']:g}" in err
    # an objective given keeps its own defaults (beta 4 for the beta-VAE)
    code, out, err = _run(capsys, "train", "--out", str(tmp_path / "beta"), "--batch-size", "8", "--device", "cpu",
                          "--objective", "beta", "--no-progress", "--format", "json")
    cfg = json.loads((tmp_path / "beta" / "config.json").read_text())
    assert code == 0 and (cfg["objective"], cfg["beta"], cfg["lr"]) == ("beta", 4.0, 1e-3), err
    # a resume without --steps keeps the checkpoint's and says nothing
    code, out, err = _run(capsys, "train", "--out", str(run), "--resume", "--no-progress", "--format", "json")
    assert code == 0 and err == "" and json.loads(out)["steps_this_call"] == 0
    # an existing run without --resume fails in one line, without the note
    code, out, err = _run(capsys, "train", "--out", str(run), "--no-progress")
    assert code == 1 and err.startswith("error:") and err.count("\n") == 1
    # with a GPU: disentanglement_lib's 300,000
    monkeypatch.setattr(fastdci.backend, "resolve_device", lambda device="auto": "cuda")
    steps, why = T.default_steps("auto")
    assert steps == 300_000 and "the default with a GPU (disentanglement_lib's standard run)" in why
