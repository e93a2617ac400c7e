"""The command line through a subprocess: --help, --version, inspect on good and bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import fastdci
from fastdci.io import LatentsWriter


def fastdci_cli(*args, env=None):
    e = dict(os.environ, **(env or {}))
    e.pop("FASTDCI_DEBUG", None) if not env or "FASTDCI_DEBUG" not in env else None
    return subprocess.run([sys.executable, "-m", "fastdci", *map(str, args)], capture_output=True, text=True, env=e)


@pytest.fixture
def latents_file(tmp_path, rng):
    path = tmp_path / "l.h5"
    with LatentsWriter(path, latent_dim=3, factor_names=["shape", "scale"], factor_sizes=[3, 6],
                       with_logvar=False, dataset={"name": "toy"}, chunk_rows=16) as w:
        m = rng.normal(loc=[0, 5, -2], scale=[1, 2, 0.5], size=(200, 3))
        w.append(m, classes=np.stack([rng.integers(0, 3, 200), rng.integers(0, 6, 200)], 1))
    return path, m


def test_help_lists_commands():
    r = fastdci_cli("--help")
    assert r.returncode == 0
    assert "inspect" in r.stdout and "Usage" in r.stdout


def test_version():
    r = fastdci_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"fastdci {fastdci.__version__}"


def test_inspect_table(latents_file):
    path, _ = latents_file
    r = fastdci_cli("inspect", path)
    assert r.returncode == 0, r.stderr
    assert "200 rows, 3 latents, complete" in r.stdout
    assert "shape (3), scale (6)" in r.stdout


def test_inspect_json_statistics(latents_file):
    path, m = latents_file
    r = fastdci_cli("inspect", path, "--format", "json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["rows"] == 200 and info["latent_dim"] == 3 and info["complete"] is True
    assert info["factors"] == [{"name": "shape", "size": 3}, {"name": "scale", "size": 6}]
    m32 = m.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose([d["mean"] for d in info["latents"]], m32.mean(0), rtol=1e-9)
    np.testing.assert_allclose([d["std"] for d in info["latents"]], m32.std(0), rtol=1e-7)
    np.testing.assert_allclose([d["min"] for d in info["latents"]], m32.min(0))
    np.testing.assert_allclose([d["max"] for d in info["latents"]], m32.max(0))
    assert info["dataset"] == {"name": "toy"}


def test_inspect_incomplete_file_says_so(latents_file):
    path, _ = latents_file
    with h5py.File(path, "r+") as f:
        f.attrs["complete"] = False
    r = fastdci_cli("inspect", path)
    assert r.returncode == 0 and "INCOMPLETE" in r.stdout


@pytest.mark.parametrize("kind", ["missing", "text", "foreign"])
def test_inspect_bad_files_one_line_exit_1(tmp_path, kind):
    p = tmp_path / "bad.h5"
    if kind == "text":
        p.write_text("not hdf5")
    elif kind == "foreign":
        with h5py.File(p, "w") as f:
            f["x"] = [1, 2, 3]
    r = fastdci_cli("inspect", p)
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert {"missing": "no such file", "text": "not an HDF5 file", "foreign": "not a fastdci latents file"}[kind] in lines[0]


def test_debug_shows_traceback(tmp_path):
    r = fastdci_cli("inspect", tmp_path / "missing.h5", env={"FASTDCI_DEBUG": "1"})
    assert r.returncode != 0
    assert "Traceback" in r.stderr and "MissingFileError" in r.stderr


def test_unknown_command_exits_nonzero():
    r = fastdci_cli("frobnicate")
    assert r.returncode == 2 and "No such command" in r.stderr
