"""Every refusal of the latents file says what is wrong and how to fix it."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from fastdci.errors import (
    FastDCIError,
    ForeignFileError,
    FormatVersionError,
    IncompleteFileError,
    InvalidDTypeError,
    InvalidInputError,
    LatentsFileError,
    MissingFileError,
    OutputExistsError,
)
from fastdci.io import LatentsWriter, open_latents

NAMES, SIZES = ("a", "b"), (3, 4)


@pytest.fixture
def good(tmp_path, rng):
    path = tmp_path / "good.h5"
    with LatentsWriter(path, latent_dim=4, factor_names=NAMES, factor_sizes=SIZES, chunk_rows=50) as w:
        w.append(rng.normal(size=(120, 4)), logvar=np.zeros((120, 4)),
                 classes=np.stack([rng.integers(0, 3, 120), rng.integers(0, 4, 120)], 1))
    return path


def _writer(path, **kw):
    return LatentsWriter(path, latent_dim=4, factor_names=NAMES, factor_sizes=SIZES, **kw)


def test_errors_subclass_fastdci_and_builtin():
    assert issubclass(ForeignFileError, FastDCIError) and issubclass(ForeignFileError, ValueError)
    assert issubclass(InvalidDTypeError, TypeError)
    assert issubclass(OutputExistsError, FileExistsError)
    assert issubclass(MissingFileError, FileNotFoundError)


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="no such file"):
        open_latents(tmp_path / "nope.h5")


def test_not_hdf5(tmp_path):
    p = tmp_path / "x.h5"
    p.write_text("hello")
    with pytest.raises(ForeignFileError, match="not an HDF5 file.*LatentsWriter.*latents-format.md"):
        open_latents(p)


def test_foreign_hdf5(tmp_path):
    p = tmp_path / "foreign.h5"
    with h5py.File(p, "w") as f:
        f["data"] = np.zeros((3, 3))
    with pytest.raises(ForeignFileError, match="not a fastdci latents file.*Convert it.*latents-format.md"):
        open_latents(p)


def test_newer_version(good):
    with h5py.File(good, "r+") as f:
        f.attrs["version"] = 2
    with pytest.raises(FormatVersionError, match="version 2.*reads version 1.*Upgrade fastdci"):
        open_latents(good)


def test_incomplete(good):
    with h5py.File(good, "r+") as f:
        f.attrs["complete"] = False
    with pytest.raises(IncompleteFileError, match="incomplete.*--resume.*allow_incomplete=True"):
        open_latents(good)
    with open_latents(good, allow_incomplete=True) as r:
        assert r.n_rows == 120


def test_row_counts_disagree(good):
    with h5py.File(good, "r+") as f:
        f["index"].resize(100, axis=0)
    with pytest.raises(LatentsFileError, match=r"row counts disagree: /index has 100 rows but rows_written is 120"):
        open_latents(good)


def test_nan_in_file(good):
    with h5py.File(good, "r+") as f:
        f["latents/mean"][77, 2] = np.nan
    with open_latents(good) as r:
        with pytest.raises(LatentsFileError, match="NaN or inf.*row 77, latent 2"):
            r.read()
        with pytest.raises(LatentsFileError, match="NaN or inf"):
            list(r.iter_chunks(10))
    with open_latents(good, validate=False) as r:
        assert np.isnan(r.read().mean[77, 2])


def test_classes_out_of_range_in_file(good):
    with h5py.File(good, "r+") as f:
        f["factors/classes"][5, 1] = 9
    with open_latents(good) as r, pytest.raises(LatentsFileError, match=r"factor 'b' has classes in \[0, 9\].*size is 4"):
        r.read()


def test_wrong_dtype_in_file(tmp_path, good):
    with h5py.File(good, "r+") as f:
        cls = f["factors/classes"][:]
        del f["factors/classes"]
        f["factors/classes"] = cls.astype(np.float32)
    with pytest.raises(LatentsFileError, match="classes has dtype float32; expected integers"):
        open_latents(good)


def test_truncated_file(tmp_path, good):
    data = good.read_bytes()
    p = tmp_path / "cut.h5"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(LatentsFileError, match="truncated or corrupt.*again"):
        open_latents(p)


def test_writer_refuses_existing_file(good):
    before = good.read_bytes()
    with pytest.raises(OutputExistsError, match="already exists.*resume=True.*overwrite=True"):
        _writer(good)
    assert good.read_bytes() == before


def test_writer_refuses_to_resume_complete_file(good):
    with pytest.raises(OutputExistsError, match="already complete"):
        _writer(good, resume=True)


def test_writer_resume_with_other_settings(tmp_path, rng):
    p = tmp_path / "r.h5"
    w = _writer(p, chunk_rows=10)
    w.append(rng.normal(size=(25, 4)), logvar=np.zeros((25, 4)), classes=np.zeros((25, 2), int))
    w.close(complete=False)
    with pytest.raises(LatentsFileError, match="other settings.*latent_dim 4 != 5"):
        LatentsWriter(p, latent_dim=5, factor_names=NAMES, factor_sizes=SIZES, resume=True)
    with _writer(p, resume=True) as w2:  # the right settings resume at rows_written
        assert w2.rows_written == 25


def test_writer_overwrite(good, rng):
    with _writer(good, overwrite=True, with_logvar=False) as w:
        w.append(rng.normal(size=(3, 4)), classes=np.zeros((3, 2), int))
    with open_latents(good) as r:
        assert r.n_rows == 3 and not r.has_logvar


@pytest.mark.parametrize(
    "kwargs,exc,pattern",
    [
        (dict(mean=np.full((2, 4), np.nan)), InvalidInputError, "NaN/inf.*diverged"),
        (dict(mean=np.array([[0, 0, np.inf, 0]])), InvalidInputError, "latent 2"),
        (dict(mean=np.zeros((2, 3))), InvalidInputError, r"mean must have shape \(n, 4\)"),
        (dict(mean=np.array([["a"] * 4])), InvalidDTypeError, "float array"),
        (dict(classes=np.array([[0, 4], [0, 0]])), InvalidInputError, r"factor 'b'.*\[0, 4\].*size is 4"),
        (dict(classes=np.array([[-1, 0], [0, 0]])), InvalidInputError, r"factor 'a'"),
        (dict(classes=np.array([[0.5, 0], [0, 0]])), InvalidDTypeError, "integer class indices"),
        (dict(classes=None), InvalidInputError, "classes.*required"),
        (dict(logvar=None), InvalidInputError, "pass logvar="),
    ],
)
def test_writer_refuses_bad_rows(tmp_path, kwargs, exc, pattern):
    args = dict(mean=np.zeros((2, 4)), logvar=np.zeros((2, 4)), classes=np.zeros((2, 2), int))
    args.update(kwargs)
    if args["mean"].shape[0] != 2 and "classes" not in kwargs:
        args["classes"] = np.zeros((args["mean"].shape[0], 2), int)
        args["logvar"] = np.zeros((args["mean"].shape[0], 4))
    with _writer(tmp_path / "w.h5") as w:
        with pytest.raises(exc, match=pattern):
            w.append(**args)
        assert w.rows_total == 0  # nothing from the bad batch was kept


def test_writer_exception_leaves_incomplete_resumable_file(tmp_path, rng):
    p = tmp_path / "w.h5"
    with pytest.raises(RuntimeError):
        with _writer(p, chunk_rows=8) as w:
            w.append(rng.normal(size=(20, 4)), logvar=np.zeros((20, 4)), classes=np.zeros((20, 2), int))
            raise RuntimeError("encoder crashed")
    with pytest.raises(IncompleteFileError):
        open_latents(p)
    with open_latents(p, allow_incomplete=True) as r:
        assert r.n_rows == 20  # buffered rows were flushed, not lost


def test_bad_writer_arguments(tmp_path):
    with pytest.raises(InvalidInputError, match="2 entries but there are 3 factors"):
        LatentsWriter(tmp_path / "a.h5", latent_dim=2, factor_names=["a", "b", "c"], factor_sizes=[2, 2])
    with pytest.raises(InvalidInputError, match="unique"):
        LatentsWriter(tmp_path / "a.h5", latent_dim=2, factor_names=["a", "a"], factor_sizes=[2, 2])
    with pytest.raises(InvalidInputError, match="not both"):
        LatentsWriter(tmp_path / "a.h5", latent_dim=2, factor_names=["a"], factor_sizes=[2], resume=True,
                      overwrite=True)
    assert not (tmp_path / "a.h5").exists()
