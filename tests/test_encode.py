"""The streaming encoder: file contents against a direct encoding, resume after a kill, bad input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import fastdci.train.session as S
from fastdci.data import DSprites
from fastdci.encode import encode, encode_batches, select_rows
from fastdci.io.background import _BackgroundWriter
from fastdci.errors import CheckpointError, InvalidInputError, LatentsFileError, OutputExistsError
from fastdci.io import open_latents
from fastdci.train import load_checkpoint, train
from tests._helpers import Interrupting as _Interrupting

N_ROWS = 1500


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(out=out, steps=2, batch_size=8, seed=1, progress=False)
    return out


@pytest.fixture(scope="module")
def encoded(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("enc") / "latents.h5"
    res = encode(run, path, rows=N_ROWS, batch_size=256, progress=False, chunk_rows=512)
    return path, res


def _read_all(path):
    with open_latents(path) as r:
        return r.read(fields=["mean", "logvar", "classes", "values", "index"])


def test_file_matches_direct_encoding(run, encoded):
    path, res = encoded
    assert res.rows == res.rows_this_call == N_ROWS and res.images_per_second > 0
    ds = DSprites()
    with open_latents(path) as r:
        assert r.complete and r.n_rows == N_ROWS and r.latent_dim == 10
        assert r.factor_names == ds.factor_names and r.factor_sizes == ds.factor_sizes
        assert r.model["checkpoint_step"] == 2 and r.model["config"]["seed"] == 1
        assert r.model["config"]["arch"] == "standard"
        assert r.dataset["name"] == "dsprites" and r.dataset["source"] == "rendered"
        assert r.dataset["selection"] == {"rows": "random", "n": N_ROWS, "seed": 0}
    got = _read_all(path)
    want_idx, _ = select_rows(len(ds), N_ROWS, seed=0)
    np.testing.assert_array_equal(got.index, want_idx)
    np.testing.assert_array_equal(got.classes, ds.classes(got.index))
    np.testing.assert_array_equal(got.values, ds.values(got.index))
    # independent path: the model on a few rows, one at a time
    model, _ = load_checkpoint(run)
    pick = np.array([0, 7, 700, N_ROWS - 1])
    with torch.inference_mode():
        mean, logvar = model.encode(ds.images_torch(got.index[pick]))
    np.testing.assert_allclose(got.mean[pick], mean.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.logvar[pick], logvar.numpy(), rtol=1e-4, atol=1e-5)


def test_select_rows():
    idx, sel = select_rows(737280, None)
    assert sel == {"rows": "all", "n": 737280} and idx[0] == 0 and idx[-1] == 737279 and np.all(np.diff(idx) == 1)
    assert select_rows(100, "all")[1]["rows"] == "all"
    assert select_rows(100, 100)[1]["rows"] == "all"
    a, sel = select_rows(737280, 3000, seed=5)
    b, _ = select_rows(737280, "3000", seed=5)
    c, _ = select_rows(737280, 3000, seed=6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and sel == {"rows": "random", "n": 3000, "seed": 5}
    assert np.all(np.diff(a) > 0)
    # unlike a prefix (only squares) or stride 32 (one posY), every class of every factor shows up
    classes = DSprites().classes(a)
    for k, size in enumerate((3, 6, 40, 32, 32)):
        assert np.unique(classes[:, k]).size == size
    e, sel = select_rows(100, np.array([5, 3, 9]))
    assert e.tolist() == [5, 3, 9] and sel["rows"] == "explicit" and len(sel["sha1"]) == 40


@pytest.mark.parametrize("rows, pattern", [
    (0, r"rows must be between 1 and 100 \(the dataset's size\); got 0"),
    (101, "got 101. Use 'all'"),
    ("lots", r"rows must be 'all' or a positive number of rows; got 'lots'"),
    (np.array([1.5]), "non-empty 1-D integer array"),
    (np.array([3, 100]), r"dataset row 100, outside \[0, 100\)"),
])
def test_select_rows_bad(rows, pattern):
    with pytest.raises(InvalidInputError, match=pattern):
        select_rows(100, rows)


@pytest.mark.slow
def test_resume_after_kill_gives_the_same_file(run, encoded, tmp_path, monkeypatch):
    path = tmp_path / "killed.h5"
    real = S.open_dataset
    monkeypatch.setattr(S, "open_dataset", lambda data: _Interrupting(real(data), after=4))
    with pytest.raises(KeyboardInterrupt):
        encode(run, path, rows=N_ROWS, batch_size=256, progress=False, chunk_rows=512)
    monkeypatch.setattr(S, "open_dataset", real)
    with open_latents(path, allow_incomplete=True) as r:
        assert not r.complete and r.n_rows == 3 * 256  # the three batches before the kill
    with pytest.raises(OutputExistsError, match="--resume to finish an interrupted encode, --overwrite"):
        encode(run, path, rows=N_ROWS, progress=False)
    with pytest.raises(LatentsFileError, match=r"row selection differs.*same run, --rows and --seed"):
        encode(run, path, rows=N_ROWS, seed=9, resume=True, progress=False)
    res = encode(run, path, rows=N_ROWS, batch_size=256, resume=True, progress=False)
    assert res.rows_this_call == N_ROWS - 768
    a, b = _read_all(encoded[0]), _read_all(path)
    for field in ("mean", "logvar", "classes", "values", "index"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-5, atol=1e-6)
    with pytest.raises(OutputExistsError, match="already complete; nothing to resume.*--overwrite"):
        encode(run, path, rows=N_ROWS, resume=True, progress=False)


def test_resume_with_another_checkpoint_refused(run, tmp_path, monkeypatch):
    other = tmp_path / "other"
    train(out=other, steps=1, batch_size=8, seed=1, progress=False)
    path = tmp_path / "x.h5"
    real = S.open_dataset
    monkeypatch.setattr(S, "open_dataset", lambda data: _Interrupting(real(data), after=2))
    with pytest.raises(KeyboardInterrupt):
        encode(run, path, rows=600, batch_size=256, progress=False, chunk_rows=256)
    monkeypatch.setattr(S, "open_dataset", real)
    with pytest.raises(LatentsFileError, match="model checkpoint_step differs"):
        encode(other, path, rows=600, batch_size=256, resume=True, progress=False)


def test_existing_output_is_kept(run, tmp_path):
    path = tmp_path / "keep.h5"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match=r"already exists; pass --resume .* --overwrite"):
        encode(run, path, rows=10, progress=False)
    # a broken run fails before --overwrite deletes anything
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        encode(tmp_path / "norun", path, rows=10, overwrite=True, progress=False)
    with pytest.raises(InvalidInputError, match="rows must be between 1 and 737280"):
        encode(run, path, rows=-3, overwrite=True, progress=False)
    assert path.read_bytes() == b"precious"
    res = encode(run, path, rows=10, overwrite=True, progress=False)
    assert res.rows == 10
    with open_latents(path) as r:
        assert r.complete and r.n_rows == 10


def test_bad_options(run, tmp_path):
    with pytest.raises(InvalidInputError, match="batch_size must be a positive integer; got 0"):
        encode(run, tmp_path / "a.h5", batch_size=0)
    with pytest.raises(InvalidInputError, match="--resume or --overwrite, not both"):
        encode(run, tmp_path / "a.h5", resume=True, overwrite=True)
    with pytest.raises(InvalidInputError, match="is a directory"):
        encode(run, tmp_path)
    assert not (tmp_path / "a.h5").exists()


def test_encode_batches_match_model(run):
    model, _ = load_checkpoint(run)
    ds = DSprites()
    idx = np.array([5, 1, 99])
    (b,) = list(encode_batches(model, ds, idx, batch_size=8))
    assert b["mean"].dtype == np.float32 and b["mean"].shape == (3, 10)
    np.testing.assert_array_equal(b["index"], idx)
    np.testing.assert_array_equal(b["classes"], ds.classes(idx))


class _FakeWriter:
    def __init__(self, fail_at=None):
        self.threads, self.rows, self.fail_at = set(), [], fail_at

    def append(self, **kw):
        self.threads.add(threading.current_thread().name)
        if self.fail_at is not None and len(self.rows) == self.fail_at:
            raise OSError("no space left on device")
        self.rows.append(kw["index"])


def test_background_writer_runs_off_the_main_thread_and_reports_errors():
    w = _FakeWriter()
    bg = _BackgroundWriter(w, max_batches=2)
    for i in range(5):
        bg.put({"index": np.array([i])})
    bg.finish()
    assert [int(r[0]) for r in w.rows] == [0, 1, 2, 3, 4]
    assert w.threads == {"fastdci-latents-writer"}
    bad = _BackgroundWriter(_FakeWriter(fail_at=1), max_batches=1)
    with pytest.raises(OSError, match="no space left"):
        for i in range(50):
            bad.put({"index": np.array([i])})
        bad.finish()


@pytest.mark.cuda
def test_encode_on_cuda_matches_cpu(run, encoded, tmp_path):
    path = tmp_path / "gpu.h5"
    encode(run, path, rows=N_ROWS, batch_size=256, device="cuda", chunk_rows=512, progress=False)
    a, b = _read_all(encoded[0]), _read_all(path)
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_array_equal(a.classes, b.classes)
    # TF32 would leave ~1e-3 relative differences; full float32 agrees far closer
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.logvar, a.logvar, rtol=1e-4, atol=1e-5)
    assert torch.backends.cudnn.allow_tf32  # restored afterwards


def test_progress_on_stderr_and_off_by_default(run, tmp_path, capsys):
    encode(run, tmp_path / "p.h5", rows=600, batch_size=256, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "600/600 images" in err and "img/s" in err
    encode(run, tmp_path / "q.h5", rows=600, batch_size=256)  # stderr is not a terminal here
    out, err = capsys.readouterr()
    assert out == "" and err == ""
