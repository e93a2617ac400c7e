"""The DSprites dataset: grid order, factor values, images, the real-file loader and its errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from fastdci.data import FACTOR_NAMES, FACTOR_SIZES, DSprites, grid_classes, render_numpy
from fastdci.errors import DatasetFileError, InvalidDTypeError, InvalidInputError, MissingFileError, OutputExistsError

from ..conftest import DSPRITES_NAMES, DSPRITES_SIZES

N = 737280


@pytest.fixture(scope="module")
def ds():
    return DSprites()


def test_names_and_sizes(ds):
    assert len(ds) == N
    assert ds.factor_names == FACTOR_NAMES == DSPRITES_NAMES
    assert ds.factor_sizes == FACTOR_SIZES == DSPRITES_SIZES
    assert int(np.prod(ds.factor_sizes)) == N


def test_classes_follow_the_real_files_c_order(ds, rng):
    idx = np.concatenate([[0, 1, 31, 32, 1023, 1024, 40959, 40960, 245759, 245760, N - 1], rng.integers(0, N, 2000)])
    expected = np.stack(np.unravel_index(idx, DSPRITES_SIZES), axis=1)
    got = ds.classes(idx)
    assert got.dtype == np.int64 and got.shape == (len(idx), 5)
    np.testing.assert_array_equal(got, expected)
    # the documented formula
    s, sc, o, x, y = got.T
    np.testing.assert_array_equal(s * 245760 + sc * 40960 + o * 1024 + x * 32 + y, idx)


def test_index_of_inverts_classes(ds, rng):
    idx = rng.permutation(N)[:5000]
    rows = ds.index_of(ds.classes(idx))
    assert rows.dtype == np.int64
    np.testing.assert_array_equal(rows, idx)
    np.testing.assert_array_equal(ds.index_of(grid_classes(0, 3000)), np.arange(3000))


def test_values(ds):
    idx = ds.index_of([[0, 0, 0, 0, 0], [1, 2, 10, 5, 30], [2, 5, 39, 31, 31]])
    v = ds.values(idx)
    assert v.dtype == np.float32 and v.shape == (3, 5)
    expected = np.array(
        [[1.0, 0.5, 0.0, 0.0, 0.0], [2.0, 0.7, 2 * np.pi * 10 / 39, 5 / 31, 30 / 31], [3.0, 1.0, 2 * np.pi, 1.0, 1.0]],
        dtype=np.float32,
    )
    np.testing.assert_allclose(v, expected, rtol=1e-6)


def test_images_are_the_rendered_grid(ds, rng):
    idx = rng.integers(0, N, 300)
    images = ds.images(idx)
    assert images.dtype == np.uint8 and images.shape == (300, 64, 64)
    np.testing.assert_array_equal(images, render_numpy(ds.classes(idx)))


def test_images_torch_matches_images(ds, rng):
    import torch

    idx = rng.integers(0, N, 200)
    t = ds.images_torch(idx)
    assert t.dtype == torch.float32 and tuple(t.shape) == (200, 1, 64, 64) and t.device.type == "cpu"
    np.testing.assert_array_equal(t[:, 0].numpy().astype(np.uint8), ds.images(idx))
    t2 = ds.images_torch(torch.as_tensor(idx), device="cpu")
    assert torch.equal(t, t2)


@pytest.mark.cuda
def test_images_torch_on_cuda(ds, rng):
    import torch

    idx = rng.integers(0, N, 500)
    t = ds.images_torch(torch.as_tensor(idx, device="cuda"), device="cuda")
    assert t.device.type == "cuda" and t.dtype == torch.float32
    np.testing.assert_array_equal(t[:, 0].cpu().numpy().astype(np.uint8), ds.images(idx))


def test_describe_is_json(ds):
    d = json.loads(json.dumps(ds.describe()))
    assert d["name"] == "dsprites" and d["source"] == "rendered"
    assert d["factor_names"] == list(FACTOR_NAMES) and d["factor_sizes"] == list(FACTOR_SIZES)
    assert d["n_images"] == N and "renderer" in d


def test_bad_indices(ds):
    with pytest.raises(InvalidInputError, match=r"row 737280, outside \[0, 737280\)"):
        ds.images([0, N])
    with pytest.raises(InvalidInputError, match="row -1"):
        ds.classes([-1])
    with pytest.raises(InvalidDTypeError, match="integer dataset rows"):
        ds.values(np.array([0.5, 1.0]))
    with pytest.raises(InvalidInputError, match="1-D array"):
        ds.classes(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(InvalidInputError, match=r"column 4 \(posY\) has class 32"):
        ds.index_of([[0, 0, 0, 0, 32]])


# ---------------------------------------------------------------- the npz file


def _grid_tables():
    classes = np.zeros((N, 6), dtype=np.int64)
    classes[:, 1:] = grid_classes()
    values = np.ones((N, 6), dtype=np.float64)
    values[:, 1] = classes[:, 1] + 1.0
    values[:, 2] = np.linspace(0.5, 1.0, 6)[classes[:, 2]]
    values[:, 3] = np.linspace(0.0, 2 * np.pi, 40)[classes[:, 3]]
    values[:, 4] = np.linspace(0.0, 1.0, 32)[classes[:, 4]]
    values[:, 5] = np.linspace(0.0, 1.0, 32)[classes[:, 5]]
    return classes, values


def _metadata():
    return np.array({"latents_sizes": np.array([1, 3, 6, 40, 32, 32]), "latents_names": ("color",)}, dtype=object)


IMGS_HEADER_ONLY = ((N, 64, 64), np.uint8)


def _write_npz(path, arrays):
    """An npz with the given members.

    A member given as ``(shape, dtype[, data])`` is written as an .npy header followed by
    ``data`` only (default: nothing), i.e. truncated: opening validates headers and tables, the
    pixels are read (and found short) on first use. That keeps these files a few MB.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as fp:
                if isinstance(arr, tuple):
                    shape, dtype, data = (*arr, b"")[:3]
                    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
                    np.lib.format.write_array_header_1_0(fp, header)
                    fp.write(data)
                else:
                    np.lib.format.write_array(fp, arr, allow_pickle=True)


@pytest.fixture(scope="module")
def tables():
    return _grid_tables()


def test_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist.*DSprites\\(\\) without a path"):
        DSprites(tmp_path / "nope.npz")


def test_not_a_zip(tmp_path):
    p = tmp_path / "latents.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(DatasetFileError, match=r"not an \.npz \(zip\) archive"):
        DSprites(p)


def test_truncated_zip(tmp_path, tables):
    p = tmp_path / "d.npz"
    classes, values = tables
    _write_npz(p, {"latents_classes": classes, "latents_values": values, "metadata": _metadata(),
                   "imgs": IMGS_HEADER_ONLY})
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFileError, match="not an .npz|corrupt"):
        DSprites(p)


def test_directory(tmp_path):
    with pytest.raises(DatasetFileError, match="is a directory"):
        DSprites(tmp_path)


def test_missing_keys(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, imgs=np.zeros((2, 64, 64), np.uint8), latents_values=np.zeros((2, 6)))
    with pytest.raises(DatasetFileError, match=r"lacks the dSprites arrays \['latents_classes', 'metadata'\]"):
        DSprites(p)


def test_wrong_image_shape(tmp_path, tables):
    p = tmp_path / "d.npz"
    classes, values = tables
    _write_npz(p, {"imgs": np.zeros((10, 64, 64), np.uint8), "latents_classes": classes[:10],
                   "latents_values": values[:10], "metadata": _metadata()})
    with pytest.raises(DatasetFileError, match=r"imgs must be uint8 with shape \(737280, 64, 64\); got uint8 \(10, 64, 64\)"):
        DSprites(p)


def test_wrong_image_dtype(tmp_path, tables):
    p = tmp_path / "d.npz"
    classes, values = tables
    _write_npz(p, {"imgs": ((N, 64, 64), np.float32), "latents_classes": classes, "latents_values": values,
                   "metadata": _metadata()})
    with pytest.raises(DatasetFileError, match="imgs must be uint8.*got float32"):
        DSprites(p)


@pytest.mark.slow
def test_wrong_tables_and_metadata(tmp_path, tables):
    classes, values = tables
    imgs = IMGS_HEADER_ONLY
    p = tmp_path / "d.npz"
    _write_npz(p, {"imgs": imgs, "latents_classes": classes[:, 1:], "latents_values": values, "metadata": _metadata()})
    with pytest.raises(DatasetFileError, match=r"latents_classes must be a integer array of shape \(737280, 6\)"):
        DSprites(p)
    swapped = classes.copy()
    swapped[[5, 6]] = swapped[[6, 5]]
    _write_npz(p, {"imgs": imgs, "latents_classes": swapped, "latents_values": values, "metadata": _metadata()})
    with pytest.raises(DatasetFileError, match="not in the dSprites row order \\(first wrong row 5"):
        DSprites(p)
    wrong = values.copy()
    wrong[7, 3] += 0.5
    _write_npz(p, {"imgs": imgs, "latents_classes": classes, "latents_values": wrong, "metadata": _metadata()})
    with pytest.raises(DatasetFileError, match="latents_values row 7"):
        DSprites(p)
    meta = np.array({"latents_sizes": np.array([1, 3, 6, 40, 32])}, dtype=object)
    _write_npz(p, {"imgs": imgs, "latents_classes": classes, "latents_values": values, "metadata": meta})
    with pytest.raises(DatasetFileError, match="latents_sizes is \\[1, 3, 6, 40, 32, 32\\]"):
        DSprites(p)


def test_metadata_pickle_is_restricted(tmp_path, tables):
    import os

    classes, values = tables
    p = tmp_path / "d.npz"
    evil = np.array([os.getcwd], dtype=object)  # a callable from an arbitrary module
    _write_npz(p, {"imgs": IMGS_HEADER_ONLY, "latents_classes": classes, "latents_values": values,
                   "metadata": evil})
    with pytest.raises(DatasetFileError, match="refusing to load"):
        DSprites(p)


def test_metadata_old_style_pickle(tmp_path, tables):
    """The real file's metadata was pickled by Python 2 (protocol 2, ``numpy.core`` names)."""
    import pickle
    import warnings

    classes, values = tables
    p = tmp_path / "d.npz"
    payload = pickle.dumps(_metadata(), protocol=2).replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n" in payload
    _write_npz(p, {"imgs": IMGS_HEADER_ONLY, "latents_classes": classes, "latents_values": values,
                   "metadata": ((), object, payload)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core is numpy._core in NumPy 2
        ds = DSprites(p)
    assert ds.source == "file" and ds.values([1]).shape == (1, 5)


class _CheapImages(DSprites):
    """A rendered dataset whose images are a cheap function of the row: a 4 x 4 block placed by
    posX/posY, plus the shape/scale/orientation classes as lit pixels in row 0 (keeps export
    fast while every row stays distinguishable)."""

    def images(self, idx):
        rows = self._check_idx(idx)
        c = self.classes(rows)
        out = np.zeros((len(rows), 64, 64), dtype=np.uint8)
        n = np.arange(len(rows))
        for dr in range(4):
            for dc in range(4):
                out[n, 16 + c[:, 4] + dr, 16 + c[:, 3] + dc] = 1
        out[n, 0, c[:, 0]] = 1
        out[n, 0, 3 + c[:, 1]] = 1
        out[n, 0, 10 + c[:, 2]] = 1
        return out


@pytest.mark.slow
def test_export_npz_round_trip(tmp_path, rng):
    src = _CheapImages()
    path = src.export_npz(tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        src.export_npz(path)
    loaded = DSprites(path)
    assert loaded.source == "file" and len(loaded) == N
    d = json.loads(json.dumps(loaded.describe()))
    assert d["source"] == "file" and d["file_name"] == path.name
    idx = np.concatenate([[0, N - 1], rng.integers(0, N, 3000)])
    np.testing.assert_array_equal(loaded.images(idx), src.images(idx))
    np.testing.assert_array_equal(loaded.classes(idx), src.classes(idx))
    np.testing.assert_array_equal(loaded.values(idx), src.values(idx))
    np.testing.assert_array_equal(loaded.images_torch(idx[:50])[:, 0].numpy().astype(np.uint8), src.images(idx[:50]))
    # the layout of the real file, readable by plain NumPy as the dSprites README does
    with np.load(path, allow_pickle=True, encoding="latin1") as z:
        assert set(z.files) == {"imgs", "latents_classes", "latents_values", "metadata"}
        meta = z["metadata"][()]
        assert list(meta["latents_sizes"]) == [1, 3, 6, 40, 32, 32]
        assert tuple(meta["latents_names"]) == ("color", "shape", "scale", "orientation", "posX", "posY")
        classes = z["latents_classes"]
        assert classes.dtype == np.int64 and classes.shape == (N, 6)
        np.testing.assert_array_equal(classes[idx, 1:], src.classes(idx))
        assert z["latents_values"].dtype == np.float64


def test_export_refuses_to_overwrite(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="already exists"):
        DSprites().export_npz(p)
    assert p.read_bytes() == b"keep me"


def test_images_not_binary(tmp_path, tables):
    classes, values = tables
    p = tmp_path / "d.npz"
    data = bytearray(64 * 64 * 5)
    data[64 * 64 * 3 + 100] = 255  # image 3 holds a 255 (an unthresholded file)
    _write_npz(p, {"imgs": ((N, 64, 64), np.uint8, bytes(data)), "latents_classes": classes,
                   "latents_values": values, "metadata": _metadata()})
    ds = DSprites(p)  # headers and tables are fine; pixels are checked when first decompressed
    with pytest.raises(DatasetFileError, match="0/1 pixels; image 3 has values up to 255.*imgs > 127"):
        ds.images([0])


def test_images_truncated(tmp_path, tables):
    classes, values = tables
    p = tmp_path / "d.npz"
    _write_npz(p, {"imgs": ((N, 64, 64), np.uint8, bytes(64 * 64 * 5)), "latents_classes": classes,
                   "latents_values": values, "metadata": _metadata()})
    ds = DSprites(p)
    with pytest.raises(DatasetFileError, match="imgs ends after 5 of 737280 images.*corrupt or truncated"):
        ds.images_torch([0])
