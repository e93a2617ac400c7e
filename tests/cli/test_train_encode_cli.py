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
    (["train", "--objective", "vae"], "error: objective must be one of"),
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
