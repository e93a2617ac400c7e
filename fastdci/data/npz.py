"""The real dSprites file: reading, validating and writing the ``.npz`` layout.

DeepMind's ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` holds ``imgs`` (uint8
(737280, 64, 64) of 0/1), ``latents_classes`` and ``latents_values`` ((737280, 6), the
constant colour column first, rows in the grid's C order) and a pickled ``metadata`` dict.
:func:`open_npz` checks a file against that layout and returns its factor values;
:func:`load_packed_images` decompresses its images once into a bit-packed array;
:func:`write_npz` writes a file of the same layout. Errors are
:class:`~fastdci.errors.DatasetFileError` (or :class:`~fastdci.errors.MissingFileError`)
naming what is wrong and the fix. The metadata pickle is read with an unpickler that allows
only NumPy arrays and plain containers.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetFileError, MissingFileError, OutputExistsError
from .factors import (
    FACTOR_SIZES,
    IMAGE_SIZE,
    N_IMAGES,
    ORIENTATION_VALUES,
    POSITION_VALUES,
    SCALE_VALUES,
    SHAPE_VALUES,
    class_values,
    grid_classes,
)

__all__ = ["REAL_FILE_NAME", "load_packed_images", "open_npz", "write_npz"]

REAL_FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
"""The name of DeepMind's dSprites file."""

_KEYS = ("imgs", "latents_classes", "latents_values", "metadata")
_FILE_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
_FILE_SIZES = (1, *FACTOR_SIZES)
_LOAD_CHUNK = 16384  # images decompressed at a time when reading the real file


def _fix_hint(path: Path) -> str:
    return (
        f"Pass the real dSprites file ({REAL_FILE_NAME}, from github.com/deepmind/dsprites-dataset) "
        "or one written by DSprites().export_npz(path); or use DSprites() without a path to render "
        "the images procedurally."
    )


class _MetadataUnpickler(pickle.Unpickler):
    """Unpickles the metadata dict, allowing only NumPy arrays and plain Python containers."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("copy_reg", "_reconstructor"),
        ("copyreg", "_reconstructor"),
        ("__builtin__", "object"),
        ("builtins", "object"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the metadata")
        return super().find_class(module, name)


def _read_header(fp) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    if fortran:
        raise ValueError("Fortran-ordered arrays are not supported")
    return tuple(shape), np.dtype(dtype)


def _read_member(zf: zipfile.ZipFile, key: str) -> np.ndarray:
    with zf.open(key + ".npy") as fp:
        shape, dtype = _read_header(fp)
        data = fp.read()
    if dtype.hasobject:
        obj = _MetadataUnpickler(io.BytesIO(data), encoding="latin1").load()
        return obj
    arr = np.frombuffer(data, dtype=dtype)
    return arr.reshape(shape)


def open_npz(path: Path) -> np.ndarray:
    """Check the dSprites file at ``path`` (all but its pixels); return its factor values.

    Returns
    -------
    values : float32 array, shape (737280, 5)
        ``latents_values`` without the colour column.

    Raises
    ------
    MissingFileError
        ``path`` does not exist.
    DatasetFileError
        ``path`` is not a dSprites npz (not a zip, missing arrays, wrong shapes, dtypes,
        row order or values, bad metadata).
    """
    if not path.exists():
        raise MissingFileError(f"dSprites file {str(path)!r} does not exist. {_fix_hint(path)}")
    if path.is_dir():
        candidate = path / REAL_FILE_NAME
        raise DatasetFileError(
            f"{str(path)!r} is a directory, not a dSprites .npz file. "
            + (f"Pass {str(candidate)!r}." if candidate.exists() else _fix_hint(path))
        )
    shape, dtype, classes, values, metadata = _read_tables(path)
    expected_img = (N_IMAGES, IMAGE_SIZE, IMAGE_SIZE)
    if shape != expected_img or dtype != np.uint8:
        raise DatasetFileError(
            f"{str(path)!r}: imgs must be uint8 with shape {expected_img}; got {dtype} {shape}. "
            f"{_fix_hint(path)}"
        )
    _check_table(path, classes, "latents_classes", "iu")
    _check_table(path, values, "latents_values", "f")
    _check_rows(path, classes, values)
    _check_metadata(path, metadata)
    return np.ascontiguousarray(values[:, 1:], dtype=np.float32)


def _read_tables(path: Path):
    """The image header (shape, dtype) and the classes, values and metadata members."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetFileError(
            f"{str(path)!r} is not an .npz (zip) archive ({exc}); the file is corrupt, "
            f"truncated or of another kind. {_fix_hint(path)}"
        ) from None
    with zf:
        names = set(zf.namelist())
        missing = [k for k in _KEYS if k + ".npy" not in names]
        if missing:
            have = sorted(n[:-4] if n.endswith(".npy") else n for n in names)
            raise DatasetFileError(
                f"{str(path)!r} lacks the dSprites arrays {missing} (it has {have}). "
                f"{_fix_hint(path)}"
            )
        try:
            with zf.open("imgs.npy") as fp:
                shape, dtype = _read_header(fp)
            classes = _read_member(zf, "latents_classes")
            values = _read_member(zf, "latents_values")
            metadata = _read_member(zf, "metadata")
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, pickle.UnpicklingError, TypeError) as exc:
            raise DatasetFileError(
                f"{str(path)!r} could not be read ({type(exc).__name__}: {exc}); the file is "
                f"corrupt or truncated. Download or export it again. {_fix_hint(path)}"
            ) from None
    return shape, dtype, classes, values, metadata


def _check_rows(path: Path, classes: np.ndarray, values: np.ndarray) -> None:
    """The rows run in the grid's order and the values match the classes."""
    if not np.array_equal(classes[:, 1:], grid_classes()) or np.any(classes[:, 0] != 0):
        bad = int(np.nonzero(np.any(classes[:, 1:] != grid_classes(), axis=1) | (classes[:, 0] != 0))[0][0])
        raise DatasetFileError(
            f"{str(path)!r}: latents_classes is not in the dSprites row order (first wrong row "
            f"{bad}: {classes[bad].tolist()}). Rows must run in C order over (colour, shape, "
            f"scale, orientation, posX, posY). {_fix_hint(path)}"
        )
    expected_values = class_values(grid_classes())
    if not np.allclose(values[:, 1:], expected_values, rtol=0, atol=1e-6):
        bad = int(np.nonzero(~np.all(np.isclose(values[:, 1:], expected_values, rtol=0, atol=1e-6), axis=1))[0][0])
        raise DatasetFileError(
            f"{str(path)!r}: latents_values row {bad} is {values[bad].tolist()} but its classes "
            f"{classes[bad].tolist()} mean {[1.0, *expected_values[bad].tolist()]}. "
            f"{_fix_hint(path)}"
        )


def _check_table(path: Path, arr: Any, key: str, kinds: str) -> None:
    expected = (N_IMAGES, len(_FILE_NAMES))
    if not isinstance(arr, np.ndarray) or arr.shape != expected or arr.dtype.kind not in kinds:
        got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
        want = "integer" if kinds == "iu" else "float"
        raise DatasetFileError(
            f"{str(path)!r}: {key} must be a {want} array of shape {expected} (columns "
            f"{list(_FILE_NAMES)}); got {got}. {_fix_hint(path)}"
        )


def _check_metadata(path: Path, metadata: Any) -> None:
    meta = metadata.item() if isinstance(metadata, np.ndarray) and metadata.shape == () else metadata
    sizes = meta.get("latents_sizes") if isinstance(meta, dict) else None
    try:
        ok = sizes is not None and [int(s) for s in np.asarray(sizes).ravel()] == list(_FILE_SIZES)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DatasetFileError(
            f"{str(path)!r}: metadata must be a dict whose latents_sizes is "
            f"{list(_FILE_SIZES)}; got {sizes if isinstance(meta, dict) else type(meta).__name__!r}. "
            f"{_fix_hint(path)}"
        )


def load_packed_images(path: Path) -> np.ndarray:
    """Decompress the file's images, checking they are 0/1; return them bit-packed, (737280, 64, 8)."""
    packed = np.empty((N_IMAGES, IMAGE_SIZE, IMAGE_SIZE // 8), dtype=np.uint8)
    per_image = IMAGE_SIZE * IMAGE_SIZE
    try:
        with zipfile.ZipFile(path) as zf, zf.open("imgs.npy") as fp:
            _read_header(fp)
            for start in range(0, N_IMAGES, _LOAD_CHUNK):
                want = min(_LOAD_CHUNK, N_IMAGES - start)
                buf = fp.read(want * per_image)
                n = len(buf) // per_image
                chunk = np.frombuffer(buf, dtype=np.uint8, count=n * per_image).reshape(n, IMAGE_SIZE, IMAGE_SIZE)
                if chunk.max(initial=0) > 1:
                    bad = start + int(np.nonzero(chunk.reshape(n, -1).max(axis=1) > 1)[0][0])
                    raise DatasetFileError(
                        f"{str(path)!r}: imgs must hold 0/1 pixels; image {bad} has "
                        f"values up to {int(chunk.max())}. Threshold the images (imgs > 127) "
                        "and write the file again."
                    )
                packed[start : start + n] = np.packbits(chunk, axis=-1)
                if n < want:
                    raise EOFError(f"imgs ends after {start + n} of {N_IMAGES} images")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, DatasetFileError):
            raise
        raise DatasetFileError(
            f"{str(path)!r}: imgs could not be read ({type(exc).__name__}: {exc}); "
            f"the file is corrupt or truncated. {_fix_hint(path)}"
        ) from None
    return packed


def write_npz(path: str | os.PathLike, images: Callable[[np.ndarray], np.ndarray], *, overwrite: bool = False,
              chunk: int = 16384) -> Path:
    """Write an npz with the real file's layout whose ``imgs`` are ``images(rows)``, chunk by chunk.

    ``images`` maps an int64 array of grid rows to their uint8 (n, 64, 64) images; the tables
    and the metadata are the grid's. The file is compressed and appears under ``path`` only
    when complete. Raises :class:`OutputExistsError` when ``path`` exists and ``overwrite``
    is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{str(path)!r} already exists; pass overwrite=True to replace it or choose another path."
        )
    classes = np.zeros((N_IMAGES, len(_FILE_NAMES)), dtype=np.int64)
    classes[:, 1:] = grid_classes()
    values = np.ones((N_IMAGES, len(_FILE_NAMES)), dtype=np.float64)
    values[:, 1:] = class_values(classes[:, 1:])
    metadata = {
        "date": "",
        "description": "dSprites: 737,280 64x64 binary sprites (procedural re-rendering by fastdci).",
        "version": 1,
        "latents_names": _FILE_NAMES,
        "latents_possible_values": {
            "color": np.array([1.0]),
            "shape": SHAPE_VALUES.copy(),
            "scale": SCALE_VALUES.copy(),
            "orientation": ORIENTATION_VALUES.copy(),
            "posX": POSITION_VALUES.copy(),
            "posY": POSITION_VALUES.copy(),
        },
        "latents_sizes": np.array(_FILE_SIZES, dtype=np.int64),
        "author": "",
        "title": "dSprites dataset",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3, allowZip64=True) as zf:
            with zf.open("imgs.npy", "w", force_zip64=True) as fp:
                header = {"descr": "|u1", "fortran_order": False, "shape": (N_IMAGES, IMAGE_SIZE, IMAGE_SIZE)}
                np.lib.format.write_array_header_1_0(fp, header)
                for start in range(0, N_IMAGES, int(chunk)):
                    rows = np.arange(start, min(start + int(chunk), N_IMAGES))
                    fp.write(np.ascontiguousarray(images(rows)).tobytes())
            for key, arr in (("latents_classes", classes), ("latents_values", values)):
                with zf.open(key + ".npy", "w", force_zip64=True) as fp:
                    np.lib.format.write_array(fp, arr)
            with zf.open("metadata.npy", "w") as fp:
                np.lib.format.write_array(fp, np.array(metadata, dtype=object), allow_pickle=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
