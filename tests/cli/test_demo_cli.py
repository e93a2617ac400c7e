"""`fastdci demo` end to end on a tiny run: every file, the table, and resuming."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "FASTDCI_DEBUG"}
    return subprocess.run([sys.executable, "-m", "fastdci", *map(str, args)], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_demo_tiny_run_and_resume(tmp_path):
    out = tmp_path / "demo"
    r = cli("demo", "--out", out, "--steps", 4, "--rows", 1500, "--no-progress", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-3000:]
    for f in ("run/checkpoint.pt", "run/losses.jsonl", "latents.h5", "report/index.html", "report/report.json",
              "report/dci_importance.png", "report/mutual_information.png", "report/latent_histograms.png",
              "report/reconstructions.png", "report/traversals.png"):
        assert (out / f).exists(), f
    doc = json.loads((out / "report/report.json").read_text())
    assert doc["provenance"]["rows"] == 1500
    assert {"mig.mig", "dci.disentanglement", "sap.sap", "factor_vae.eval_accuracy"} <= set(doc["scores"])
    assert "z_max" in doc["skipped"]  # 1,500 random rows do not form the grid
    page = (out / "report/index.html").read_text()
    assert all((out / "report" / s).exists() for s in re.findall(r'(?:src|href)="([^"]+)"', page))
    for png in (out / "report").glob("*.png"):
        img = np.asarray(Image.open(png).convert("L"), dtype=float)
        assert img.std() > 5, f"{png.name} looks blank"
    assert "mig" in r.stdout and "report:" in r.stdout

    latents_mtime = (out / "latents.h5").stat().st_mtime_ns
    again = cli("demo", "--out", out, "--steps", 4, "--rows", 1500, "--no-progress", "--device", "cpu")
    assert again.returncode == 0, again.stderr[-3000:]
    assert (out / "latents.h5").stat().st_mtime_ns == latents_mtime  # finished work is reused


@pytest.mark.parametrize("args,pattern", [
    (["--rows", "lots"], "--rows must be 'all', 'lattice' or a number; got 'lots'"),
    (["--rows", "1"], "--rows must be between 2 and 737280"),
    (["--steps", "0"], "--steps must be a positive number"),
])
def test_demo_checks_its_options_before_training(tmp_path, args, pattern):
    out = tmp_path / "demo"
    r = cli("demo", "--out", out, "--no-progress", "--device", "cpu", *args)
    assert r.returncode == 1 and pattern in r.stderr and r.stderr.count("\n") == 1
    assert not (out / "run").exists()  # nothing was trained
