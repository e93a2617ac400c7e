"""Scale-out on a real Dask ``LocalCluster`` with 2 worker processes: many files, a killed and
resumed sweep, files added, metrics added, a corrupt file, one file reduced out of core, and a
tiny training sweep."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import fastdci
from fastdci.io import LatentsWriter

distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

from fastdci.sweep import evaluate_many, information_out_of_core, local_client, sweep  # noqa: E402

SIZES = (3, 4, 5)
NAMES = ("shape", "scale", "orientation")
METRICS = "mig,modularity,sap"


def write(path, seed, chunk_rows=64):
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, 3)
    f = np.repeat(grid, 4, axis=0)
    noise = 0.1 + 0.05 * seed
    lat = np.concatenate([f + noise * rng.normal(size=f.shape), rng.normal(size=(len(f), 1))], 1)
    with LatentsWriter(path, latent_dim=4, factor_names=NAMES, factor_sizes=SIZES, with_logvar=False,
                       chunk_rows=chunk_rows) as w:
        w.append(lat.astype(np.float32), classes=f)
    return path


@pytest.fixture(scope="module")
def client():
    c = local_client(2)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


@pytest.fixture()
def files(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    return [write(d / f"m{i}.h5", i) for i in range(10)]


def one_by_one(path, metrics=METRICS):
    return {f"{m}.{k}": v for m, sc in fastdci.evaluate(path, metrics).scores().items() for k, v in sc.items()}


def _scores(row):
    return {k: v for k, v in row.items() if "." in k and not k.endswith(("n_rows", "n_train", "n_test"))}


def test_many_files_equal_one_by_one_and_rerun_reuses(client, files, tmp_path):
    out = tmp_path / "out"
    table = evaluate_many(files, METRICS, client=client, out=out, progress=False)
    assert list(table["file"]) == [str(f) for f in files] and set(table["status"]) == {"computed"}
    for f, row in zip(files, table.to_dict("records")):
        assert _scores(row) == one_by_one(f), f
    assert len(list(out.glob("m*.json"))) == 10
    back = pd.read_parquet(out / "summary.parquet")
    assert list(back["mig.mig"]) == list(table["mig.mig"])
    assert list(pd.read_csv(out / "summary.csv")["file"]) == [str(f) for f in files]
    again = evaluate_many(files, METRICS, client=client, out=out, progress=False)
    assert set(again["status"]) == {"stored"}
    assert list(again["mig.mig"]) == list(table["mig.mig"])


def test_added_file_and_reordering_keep_every_result_with_its_file(client, files, tmp_path):
    out = tmp_path / "out"
    evaluate_many(files[:6], METRICS, client=client, out=out, progress=False)
    new = write(files[0].parent / "a_new.h5", 42)  # sorts first: positions shift
    table = evaluate_many([new, *reversed(files)], METRICS, client=client, out=out, progress=False)
    status = dict(zip(table["file"], table["status"]))
    assert status[str(new)] == "computed" and all(status[str(f)] == "stored" for f in files[:6])
    for row in table.to_dict("records"):
        assert _scores(row) == one_by_one(row["file"]), row["file"]
    for doc in (json.loads(p.read_text()) for p in out.glob("*-*.json")):
        path = doc["request"]["file"]
        assert doc["scores"]["mig.mig"] == one_by_one(path)["mig.mig"], path


def test_another_metric_or_option_is_computed_not_reported_stale(client, files, tmp_path):
    out = tmp_path / "out"
    evaluate_many(files[:3], "mig", client=client, out=out, progress=False)
    table = evaluate_many(files[:3], "mig,sap", client=client, out=out, progress=False)
    assert set(table["computed"]) == {"sap"}
    changed = evaluate_many(files[:3], "mig", client=client, out=out, progress=False, mig={"n_bins": 7})
    assert set(changed["computed"]) == {"mig"}
    assert list(changed["mig.mig"]) == [fastdci.evaluate(f, "mig", mig={"n_bins": 7})["mig"].score for f in files[:3]]


def test_corrupt_and_missing_files_are_reported_and_the_rest_succeed(client, files, tmp_path):
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not HDF5")
    broken = write(tmp_path / "broken.h5", 3, chunk_rows=16)
    with h5py.File(broken, "r") as f:  # overwrite one compressed chunk of the classes in place
        info = f["factors/classes"].id.get_chunk_info(1)
    with open(broken, "r+b") as fh:
        fh.seek(info.byte_offset)
        fh.write(b"\xff" * info.size)
    paths = [files[0], garbage, broken, tmp_path / "missing.h5", files[1]]
    table = evaluate_many(paths, "mig", client=client, out=tmp_path / "out", progress=False)
    rows = dict(zip(table["file"], table.to_dict("records")))
    assert rows[str(files[0])]["status"] == rows[str(files[1])]["status"] == "computed"
    assert "not an HDF5 file" in rows[str(garbage)]["error"]
    assert rows[str(broken)]["status"] == "failed" and str(broken) in rows[str(broken)]["error"]
    assert "corrupt" in rows[str(broken)]["error"]
    assert "no such file" in rows[str(tmp_path / "missing.h5")]["error"]


def test_killed_sweep_resumes_with_only_the_missing_files(client, files, tmp_path):
    files = files + [write(files[0].parent / f"x{i}.h5", 20 + i) for i in range(14)]  # 24: time to kill midway
    out = tmp_path / "out"
    script = (
        "import sys, fastdci\n"
        "if __name__ == '__main__':\n"
        f"    fastdci.evaluate_many(sys.argv[2:], 'mig,dci', out=sys.argv[1], n_workers=2, progress=False,\n"
        "                          dci={'n_rounds': 200})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(out), *map(str, files)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(out.glob("*.json"))) < 3:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, midway
    proc.wait()
    done = {p.name for p in out.glob("*.json")}
    assert 3 <= len(done) < len(files), len(done)
    for p in out.glob("*.json"):  # what was written is whole (atomic writes)
        json.loads(p.read_text())
    table = evaluate_many(files, "mig,dci", client=client, out=out, progress=False, dci={"n_rounds": 200})
    status = {row["identity"] + ".json": row["status"] for row in table.to_dict("records")}
    assert {n for n, s in status.items() if s == "stored"} == done
    assert {n for n, s in status.items() if s == "computed"} == set(status) - done


def test_out_of_core_information_metrics_equal_in_memory_exactly(client, tmp_path):
    path = write(tmp_path / "big.h5", 1, chunk_rows=32)
    reduced = information_out_of_core(path, "information", client=client, rows_per_task=40)
    in_memory = fastdci.evaluate(path, "information")
    for name, result in in_memory.items():
        got = reduced[name]
        assert got.provenance["tasks"] == 6
        for field in ("mutual_info", "factor_entropy"):
            np.testing.assert_array_equal(getattr(got, field), getattr(result, field))
        assert got.scores() == result.scores(), name
    from fastdci.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="quantile bins need every row"):
        information_out_of_core(path, "mig", client=client, mig={"discretizer": "quantile"})


@pytest.mark.slow
def test_tiny_training_sweep_produces_its_table(client, tmp_path):
    table = sweep(tmp_path / "sweep", objectives=("beta",), betas=(1.0, 4.0), seeds=(0,), steps=4, rows=2000,
                  metrics="mig", client=client, progress=False, train_options={"batch_size": 8, "log_every": 2})
    assert list(table["beta"]) == [1.0, 4.0] and set(table["status"]) == {"computed"}, table.get("error")
    assert table["mig.mig"].notna().all()
    assert (tmp_path / "sweep" / "sweep.parquet").exists()
    again = sweep(tmp_path / "sweep", objectives=("beta",), betas=(1.0, 4.0), seeds=(0,), steps=4, rows=2000,
                  metrics="mig", client=client, progress=False, train_options={"batch_size": 8, "log_every": 2})
    assert set(again["status"]) == {"stored"} and list(again["mig.mig"]) == list(table["mig.mig"])


def test_gpu_workers_without_a_gpu_raise():
    from fastdci.backend import cuda_available
    from fastdci.errors import MissingDependencyError

    if cuda_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(MissingDependencyError, match="gpus=True needs a visible CUDA GPU"):
        local_client(gpus=True)


@pytest.mark.cuda
def test_one_worker_per_gpu():
    import torch

    c = local_client(gpus=True)
    try:
        assert len(c.scheduler_info()["workers"]) == torch.cuda.device_count()
    finally:
        cluster = c.cluster
        c.close()
        cluster.close()


@pytest.mark.slow
def test_sweep_command(tmp_path):
    out = tmp_path / "cli-sweep"
    r = subprocess.run([sys.executable, "-m", "fastdci", "sweep", "--out", str(out), "--beta", "1,4", "--steps", "3",
                        "--rows", "1500", "--metrics", "mig", "--workers", "2", "--no-progress"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("computed") == 2
    assert len(pd.read_csv(out / "sweep.csv")) == 2


def test_comparison_across_seeds(tmp_path):
    from PIL import Image

    from fastdci.sweep import plot_comparison, summarize

    table = pd.DataFrame({"objective": ["beta"] * 4 + ["tcvae"] * 2, "beta": [1.0, 1.0, 4.0, 4.0, 4.0, 4.0],
                          "seed": [0, 1, 0, 1, 0, 1], "status": ["computed"] * 5 + ["failed"],
                          "mig.mig": [0.1, 0.3, 0.2, 0.2, 0.5, np.nan], "sap.sap": [0.0, 0.2, 0.1, 0.3, 0.4, np.nan]})
    s = summarize(table)
    assert list(zip(s.objective, s.beta)) == [("beta", 1.0), ("beta", 4.0), ("tcvae", 4.0)]
    assert s["mig.mig.mean"].tolist() == pytest.approx([0.2, 0.2, 0.5])
    assert s["mig.mig.sd"].tolist()[:2] == pytest.approx([np.std([0.1, 0.3], ddof=1), 0.0])
    assert np.isnan(s["mig.mig.sd"].tolist()[2]) and s["runs"].tolist() == [2, 2, 1]  # the failed run is left out
    png = plot_comparison(s, tmp_path / "c.png")
    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert img.shape[1] > 400 and img.std() > 10
