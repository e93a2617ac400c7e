"""`fastdci evaluate` end to end through a subprocess (`fastdci report`: test_report_cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastdci.io import LatentsWriter

SIZES = (3, 4, 5)
NAMES = ("shape", "scale", "orientation")
FAST = ["--set", "dci.n_rounds=5", "--set", "dci.max_depth=1"]  # options of a metric that runs


def cli(*args):
    env = {k: v for k, v in os.environ.items() if k != "FASTDCI_DEBUG"}
    return subprocess.run([sys.executable, "-m", "fastdci", *map(str, args)], capture_output=True, text=True, env=env)


def _write(path, seed):
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, 3)
    f = np.repeat(grid, 5, axis=0)
    lat = np.concatenate([f + 0.1 * rng.normal(size=f.shape), rng.normal(size=(len(f), 1))], 1)
    with LatentsWriter(path, latent_dim=4, factor_names=NAMES, factor_sizes=SIZES, with_logvar=False) as w:
        w.append(lat, classes=f)


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "runs"
    d.mkdir()
    for i in range(2):
        _write(d / f"m{i}.h5", i)
    return d


def test_evaluate_many_files_resumes_and_overwrites(files, tmp_path):
    out = tmp_path / "results"
    r = cli("evaluate", str(files / "*.h5"), "--metrics", "mig,modularity,dci", "--out", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert "m0.h5" in r.stdout and "m1.h5" in r.stdout and "MIG" in r.stdout and "DCI-D" in r.stdout
    docs = {p.name.split("-")[0]: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert set(docs) == {"m0", "m1"}  # one JSON per file, named by the file (stem and path digest)
    assert docs["m0"]["request"]["file"] == str((files / "m0.h5").resolve())
    assert 0.5 < docs["m0"]["scores"]["mig.mig"] <= 1
    assert "dci.disentanglement" in docs["m1"]["scores"]
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*.json")}

    again = cli("evaluate", str(files / "*.h5"), "--metrics", "mig,modularity,dci", "--out", out, *FAST)
    assert again.returncode == 0
    assert again.stderr.count("stored result reused") == 2  # finished files are not recomputed
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.json")} == mtimes

    other = cli("evaluate", str(files / "*.h5"), "--metrics", "mig,sap", "--out", out)
    assert other.returncode == 0 and "SAP" in other.stdout  # a new metric is computed, not reported stale
    m0 = next(out.glob("m0-*.json"))
    assert {"mig", "sap", "dci"} <= set(json.loads(m0.read_text())["results"])
    assert "m0.h5" in again.stdout  # still in the table, from the saved result

    redo = cli("evaluate", files / "m0.h5", "--metrics", "mig", "--out", out, "--overwrite")
    assert redo.returncode == 0
    assert m0.stat().st_mtime_ns != mtimes[m0]
    assert set(json.loads(m0.read_text())["scores"]) == {"mig.mig"}


def test_evaluate_json_format(files):
    r = cli("evaluate", files / "m0.h5", "--metrics", "mig", "--format", "json")
    assert r.returncode == 0, r.stderr
    docs = json.loads(r.stdout)
    assert len(docs) == 1 and docs[0]["file"].endswith("m0.h5") and "mig.mig" in docs[0]


def test_evaluate_mix_of_good_and_bad_files(files, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("not a latents file")
    r = cli("evaluate", files / "m0.h5", bad, tmp_path / "missing.h5", files / "m1.h5", "--metrics", "mig",
            "--out", tmp_path / "res")
    assert r.returncode == 1  # some failed ...
    assert "not an HDF5 file" in r.stderr and "no such file" in r.stderr
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "res").glob("*.json")) == ["m0", "m1"]  # the good ran
    assert "m0.h5" in r.stdout and "m1.h5" in r.stdout
    assert "2 of 4 inputs failed" in r.stderr


def test_evaluate_glob_matching_nothing_fails(files, tmp_path):
    r = cli("evaluate", files / "m0.h5", str(tmp_path / "nothing" / "*.h5"), "--metrics", "mig")
    assert r.returncode == 1 and "no file matches this pattern" in r.stderr
    assert "m0.h5" in r.stdout  # the good file was still evaluated


def test_evaluate_on_a_local_dask_cluster(files, tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    r = cli("evaluate", str(files / "*.h5"), "--metrics", "mig", "--out", out, "--workers", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "m0.h5" in r.stdout and "m1.h5" in r.stdout
    assert (out / "summary.csv").exists() and (out / "summary.parquet").exists()


def test_evaluate_bad_options(files):
    r = cli("evaluate", files / "m0.h5", "--metrics", "nope")
    assert r.returncode == 1 and "unknown metric 'nope'" in r.stderr
    r = cli("evaluate", files / "m0.h5", "--set", "max_train")
    assert r.returncode == 1 and "METRIC.OPTION=VALUE" in r.stderr


def test_evaluate_out_not_writable_and_folder_as_file(files, tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    r = cli("evaluate", files / "m0.h5", "--metrics", "mig", "--out", blocker)
    assert r.returncode == 1 and "is a file, not a folder" in r.stderr and r.stderr.count("\n") == 1
    r = cli("evaluate", files, "--metrics", "mig")
    assert r.returncode == 1 and "is a folder, not a latents file" in r.stderr
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        r = cli("evaluate", files / "m0.h5", "--metrics", "mig", "--out", ro / "sub")
        assert r.returncode == 1 and "cannot write results" in r.stderr


def test_evaluate_interrupted_says_what_was_stored(files, tmp_path):
    import signal
    import time

    out = tmp_path / "res"
    many = [files / "m0.h5"] * 1 + [files / "m1.h5"]
    proc = subprocess.Popen([sys.executable, "-m", "fastdci", "evaluate", *map(str, many), "--metrics", "dci",
                             "--out", str(out), "--set", "dci.n_rounds=20000", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # Ctrl-C as a shell delivers it: a child inherits an ignored SIGINT
                            # from its parent (Python then installs no KeyboardInterrupt), and a
                            # test runner's process may ignore it
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # no tight deadline: on a crowded machine the first file takes longer, and the second one
    # (as slow) is still being computed whenever the first file's result appears
    deadline = time.time() + 900
    while time.time() < deadline and not list(out.glob("m0-*.json")) and proc.poll() is None:
        time.sleep(0.05)
    assert list(out.glob("m0-*.json")), "the first file's result never appeared"
    proc.send_signal(signal.SIGINT)  # while the second file is being computed
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (err, signal.getsignal(signal.SIGINT))
    assert "interrupted after 1 of 2 files" in err and "rerun the same command" in err
