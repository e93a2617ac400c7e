"""The dSprites dataset: rendered procedurally, or read from the real ``.npz`` file.

Both sources expose the same rows in the same order as the real file
``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (Matthey et al. 2017): C order over
(colour, shape, scale, orientation, posX, posY), so
``row = shape * 245760 + scale * 40960 + orientation * 1024 + posX * 32 + posY``.
The constant colour factor is dropped, as in disentanglement_lib.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import DatasetFileError, InvalidDTypeError, InvalidInputError, MissingFileError, OutputExistsError
from . import render as _render
from .render import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    FACTOR_STRIDES,
    HEART_VERTICES,
    IMAGE_SIZE,
    N_IMAGES,
    ORIENTATION_VALUES,
    POSITION_VALUES,
    SCALE_VALUES,
    SHAPE_VALUES,
)

__all__ = ["DSprites", "REAL_FILE_NAME", "RENDERER_VERSION", "grid_classes"]

REAL_FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
"""The name of DeepMind's dSprites file."""
RENDERER_VERSION = 1
"""Bumped whenever the procedural renderer's pixels change."""

_KEYS = ("imgs", "latents_classes", "latents_values", "metadata")
_FILE_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
_FILE_SIZES = (1, *FACTOR_SIZES)
_LOAD_CHUNK = 16384  # images decompressed at a time when reading the real file


def grid_classes(start: int = 0, stop: int = N_IMAGES) -> np.ndarray:
    """Factor classes of rows ``start .. stop - 1`` of the dSprites grid, int64 (n, 5)."""
    rows = np.arange(start, stop, dtype=np.int64)
    return (rows[:, None] // np.asarray(FACTOR_STRIDES)) % np.asarray(FACTOR_SIZES)


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


class DSprites:
    """The dSprites dataset (737,280 images of 64 x 64 binary sprites over a 5-factor grid).

    Parameters
    ----------
    path : str or Path, optional
        The real file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (or one written by
        :meth:`export_npz`). It is validated on opening; its images are decompressed once, on
        first use, and kept bit-packed in memory (377 MiB). Without a path, images are rendered
        procedurally (:mod:`fastdci.data.render`) and nothing is kept in memory.

    Attributes
    ----------
    factor_names : tuple of str
        ``("shape", "scale", "orientation", "posX", "posY")``.
    factor_sizes : tuple of int
        ``(3, 6, 40, 32, 32)``.
    source : str
        ``"rendered"`` or ``"file"``.

    Raises
    ------
    MissingFileError
        ``path`` does not exist.
    DatasetFileError
        ``path`` is not a dSprites npz (not a zip, missing arrays, wrong shapes, dtypes or
        row order, values outside 0/1).

    Notes
    -----
    Row order is the real file's: C order over (shape, scale, orientation, posX, posY), so
    ``row = shape * 245760 + scale * 40960 + orientation * 1024 + posX * 32 + posY``. Factor
    names and sizes are disentanglement_lib's (its ``DSprites`` drops the constant colour).

    References
    ----------
    L. Matthey, I. Higgins, D. Hassabis, A. Lerchner. dSprites: Disentanglement testing
    Sprites dataset. https://github.com/deepmind/dsprites-dataset, 2017.

    Examples
    --------
    >>> ds = DSprites()
    >>> len(ds), ds.factor_sizes
    (737280, (3, 6, 40, 32, 32))
    >>> rows = ds.index_of([[2, 5, 0, 0, 0]])
    >>> rows.tolist(), int(ds.images(rows).sum())
    ([696320], 222)
    """

    factor_names: tuple[str, ...] = FACTOR_NAMES
    factor_sizes: tuple[int, ...] = FACTOR_SIZES

    def __init__(self, path: str | os.PathLike | None = None):
        self._path = None if path is None else Path(path)
        self._packed: np.ndarray | None = None
        self._values: np.ndarray | None = None
        self.source = "rendered" if path is None else "file"
        if self._path is not None:
            self._open()

    # ------------------------------------------------------------------ the real file
    def _open(self) -> None:
        path = self._path
        if not path.exists():
            raise MissingFileError(f"dSprites file {str(path)!r} does not exist. {_fix_hint(path)}")
        if path.is_dir():
            candidate = path / REAL_FILE_NAME
            raise DatasetFileError(
                f"{str(path)!r} is a directory, not a dSprites .npz file. "
                + (f"Pass {str(candidate)!r}." if candidate.exists() else _fix_hint(path))
            )
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
        expected_img = (N_IMAGES, IMAGE_SIZE, IMAGE_SIZE)
        if shape != expected_img or dtype != np.uint8:
            raise DatasetFileError(
                f"{str(path)!r}: imgs must be uint8 with shape {expected_img}; got {dtype} {shape}. "
                f"{_fix_hint(path)}"
            )
        self._check_table(classes, "latents_classes", "iu")
        self._check_table(values, "latents_values", "f")
        if not np.array_equal(classes[:, 1:], grid_classes()) or np.any(classes[:, 0] != 0):
            bad = int(np.nonzero(np.any(classes[:, 1:] != grid_classes(), axis=1) | (classes[:, 0] != 0))[0][0])
            raise DatasetFileError(
                f"{str(path)!r}: latents_classes is not in the dSprites row order (first wrong row "
                f"{bad}: {classes[bad].tolist()}). Rows must run in C order over (colour, shape, "
                f"scale, orientation, posX, posY). {_fix_hint(path)}"
            )
        expected_values = _render.class_values(grid_classes())
        if not np.allclose(values[:, 1:], expected_values, rtol=0, atol=1e-6):
            bad = int(np.nonzero(~np.all(np.isclose(values[:, 1:], expected_values, rtol=0, atol=1e-6), axis=1))[0][0])
            raise DatasetFileError(
                f"{str(path)!r}: latents_values row {bad} is {values[bad].tolist()} but its classes "
                f"{classes[bad].tolist()} mean {[1.0, *expected_values[bad].tolist()]}. "
                f"{_fix_hint(path)}"
            )
        self._check_metadata(metadata)
        self._values = np.ascontiguousarray(values[:, 1:], dtype=np.float32)

    def _check_table(self, arr: Any, key: str, kinds: str) -> None:
        expected = (N_IMAGES, len(_FILE_NAMES))
        if not isinstance(arr, np.ndarray) or arr.shape != expected or arr.dtype.kind not in kinds:
            got = f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray) else type(arr).__name__
            want = "integer" if kinds == "iu" else "float"
            raise DatasetFileError(
                f"{str(self._path)!r}: {key} must be a {want} array of shape {expected} (columns "
                f"{list(_FILE_NAMES)}); got {got}. {_fix_hint(self._path)}"
            )

    def _check_metadata(self, metadata: Any) -> None:
        meta = metadata.item() if isinstance(metadata, np.ndarray) and metadata.shape == () else metadata
        sizes = meta.get("latents_sizes") if isinstance(meta, dict) else None
        try:
            ok = sizes is not None and [int(s) for s in np.asarray(sizes).ravel()] == list(_FILE_SIZES)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise DatasetFileError(
                f"{str(self._path)!r}: metadata must be a dict whose latents_sizes is "
                f"{list(_FILE_SIZES)}; got {sizes if isinstance(meta, dict) else type(meta).__name__!r}. "
                f"{_fix_hint(self._path)}"
            )

    def _load_images(self) -> np.ndarray:
        """Decompress the file's images once, checking they are 0/1, and keep them bit-packed."""
        if self._packed is None:
            packed = np.empty((N_IMAGES, IMAGE_SIZE, IMAGE_SIZE // 8), dtype=np.uint8)
            per_image = IMAGE_SIZE * IMAGE_SIZE
            try:
                with zipfile.ZipFile(self._path) as zf, zf.open("imgs.npy") as fp:
                    _read_header(fp)
                    for start in range(0, N_IMAGES, _LOAD_CHUNK):
                        want = min(_LOAD_CHUNK, N_IMAGES - start)
                        buf = fp.read(want * per_image)
                        n = len(buf) // per_image
                        chunk = np.frombuffer(buf, dtype=np.uint8, count=n * per_image).reshape(n, IMAGE_SIZE, IMAGE_SIZE)
                        if chunk.max(initial=0) > 1:
                            bad = start + int(np.nonzero(chunk.reshape(n, -1).max(axis=1) > 1)[0][0])
                            raise DatasetFileError(
                                f"{str(self._path)!r}: imgs must hold 0/1 pixels; image {bad} has "
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
                    f"{str(self._path)!r}: imgs could not be read ({type(exc).__name__}: {exc}); "
                    f"the file is corrupt or truncated. {_fix_hint(self._path)}"
                ) from None
            self._packed = packed
        return self._packed

    # ------------------------------------------------------------------ indexing
    def __len__(self) -> int:
        return N_IMAGES

    def __repr__(self) -> str:
        where = f"{str(self._path)!r}" if self._path is not None else "rendered"
        return f"DSprites({where})"

    def _check_idx(self, idx: Any, name: str = "idx") -> np.ndarray:
        arr = np.asarray(idx)
        if arr.ndim == 0:
            arr = arr[None]
        if arr.ndim != 1:
            raise InvalidInputError(f"{name} must be a 1-D array of dataset rows; got shape {arr.shape}.")
        if arr.dtype.kind not in "iu":
            if arr.size == 0:
                return np.zeros(0, dtype=np.int64)
            raise InvalidDTypeError(
                f"{name} must hold integer dataset rows; got dtype {arr.dtype}. Convert with "
                f"np.asarray({name}, dtype=np.int64)."
            )
        arr = arr.astype(np.int64, copy=False)
        if arr.size and (arr.min() < 0 or arr.max() >= N_IMAGES):
            bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
            raise InvalidInputError(
                f"{name} holds row {bad}, outside [0, {N_IMAGES}); dSprites has {N_IMAGES} rows."
            )
        return arr

    def classes(self, idx: Any) -> np.ndarray:
        """Factor classes of dataset rows.

        Parameters
        ----------
        idx : int array, shape (n,)
            Dataset rows, in any order (repeats allowed).

        Returns
        -------
        classes : int64 array, shape (n, 5)
            Columns shape, scale, orientation, posX, posY (0-based).

        Examples
        --------
        >>> DSprites().classes([0, 1, 737279]).tolist()
        [[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [2, 5, 39, 31, 31]]
        """
        rows = self._check_idx(idx)
        return (rows[:, None] // np.asarray(FACTOR_STRIDES)) % np.asarray(FACTOR_SIZES)

    def values(self, idx: Any) -> np.ndarray:
        """Real factor values of dataset rows, as in the real file's ``latents_values``.

        Parameters
        ----------
        idx : int array, shape (n,)
            Dataset rows.

        Returns
        -------
        values : float32 array, shape (n, 5)
            shape in {1, 2, 3}, scale in [0.5, 1], orientation in radians [0, 2 pi], posX and
            posY in [0, 1].

        Examples
        --------
        >>> v = DSprites().values([737279])
        >>> v.dtype, [round(float(x), 4) for x in v[0]]
        (dtype('float32'), [3.0, 1.0, 6.2832, 1.0, 1.0])
        """
        rows = self._check_idx(idx)
        if self._values is not None:
            return self._values[rows]
        return _render.class_values(self.classes(rows)).astype(np.float32)

    def index_of(self, classes: Any) -> np.ndarray:
        """Dataset rows of factor classes (the inverse of :meth:`classes`).

        Parameters
        ----------
        classes : int array, shape (n, 5)

        Returns
        -------
        rows : int64 array, shape (n,)

        Examples
        --------
        >>> DSprites().index_of([[1, 0, 0, 0, 0], [2, 5, 39, 31, 31]]).tolist()
        [245760, 737279]
        """
        c = _render._check_classes(classes)
        return c @ np.asarray(FACTOR_STRIDES, dtype=np.int64)

    def images(self, idx: Any) -> np.ndarray:
        """Images of dataset rows.

        Parameters
        ----------
        idx : int array, shape (n,)
            Dataset rows.

        Returns
        -------
        images : uint8 array, shape (n, 64, 64), of 0/1

        Examples
        --------
        >>> int(DSprites().images([0]).sum())  # the smallest square, top-left
        100
        """
        rows = self._check_idx(idx)
        if self._path is not None:
            return np.unpackbits(self._load_images()[rows], axis=-1)
        return _render.render_numpy(self.classes(rows))

    def images_torch(self, idx: Any, device: Any = "cpu"):
        """Images of dataset rows as a float32 tensor on ``device``.

        Rendered datasets render on ``device`` itself: on a GPU with
        :func:`fastdci.data.render.render_torch`, on the CPU with the NumPy renderer (the same
        pixels, and faster there than torch's CPU kernels). File datasets copy the file's
        images to ``device``.

        Parameters
        ----------
        idx : int array or tensor, shape (n,)
            Dataset rows.
        device : str or torch.device, default "cpu"

        Returns
        -------
        images : torch.float32 tensor, shape (n, 1, 64, 64), of 0/1

        Examples
        --------
        >>> x = DSprites().images_torch([0, 1])
        >>> tuple(x.shape), str(x.dtype)
        ((2, 1, 64, 64), 'torch.float32')
        """
        import torch

        device = torch.device(device)
        if isinstance(idx, torch.Tensor):
            idx = idx.detach().cpu().numpy()
        rows = self._check_idx(idx)
        if self._path is not None:
            host = torch.from_numpy(np.unpackbits(self._load_images()[rows], axis=-1))
            return host.to(device=device, non_blocking=True).to(torch.float32).unsqueeze(1)
        if device.type == "cpu":
            # same pixels; NumPy's kernels render 2-4x faster than torch's on the CPU
            return torch.from_numpy(_render.render_numpy(self.classes(rows))).unsqueeze(1).to(torch.float32)
        return _render.render_torch(self.classes(rows), device=device)

    # ------------------------------------------------------------------ description, export
    def describe(self) -> dict:
        """A JSON-able description of the dataset (stored in latents files' ``dataset`` attribute).

        Examples
        --------
        >>> d = DSprites().describe()
        >>> d["name"], d["source"], d["n_images"]
        ('dsprites', 'rendered', 737280)
        """
        out: dict[str, Any] = {
            "name": "dsprites",
            "source": self.source,
            "n_images": N_IMAGES,
            "image_shape": [IMAGE_SIZE, IMAGE_SIZE],
            "factor_names": list(FACTOR_NAMES),
            "factor_sizes": list(FACTOR_SIZES),
        }
        if self._path is None:
            out["renderer"] = {
                "fastdci_version": __version__,
                "renderer_version": RENDERER_VERSION,
                "heart_vertices": HEART_VERTICES,
            }
        else:
            out["path"] = str(self._path.resolve())
            out["file_name"] = self._path.name
            out["file_bytes"] = self._path.stat().st_size
        return out

    def export_npz(self, path: str | os.PathLike, *, overwrite: bool = False, chunk: int = 16384) -> Path:
        """Write the dataset as an npz with the real file's layout.

        The file holds ``imgs`` (uint8 (737280, 64, 64)), ``latents_classes`` (int64 (737280, 6))
        and ``latents_values`` (float64 (737280, 6)), both with the constant colour column first,
        and a pickled ``metadata`` dict (``latents_sizes``, ``latents_names``,
        ``latents_possible_values``, ...), compressed. Images are rendered and compressed chunk
        by chunk (memory stays small); the file appears under ``path`` only when complete.

        Parameters
        ----------
        path : str or Path
            Output file (conventionally ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``).
        overwrite : bool, default False
            Replace an existing file.
        chunk : int, default 16384
            Images rendered at a time.

        Returns
        -------
        Path
            ``path``; ``DSprites(path)`` loads it back.

        Raises
        ------
        OutputExistsError
            ``path`` exists and ``overwrite`` is False.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise OutputExistsError(
                f"{str(path)!r} already exists; pass overwrite=True to replace it or choose another path."
            )
        classes = np.zeros((N_IMAGES, len(_FILE_NAMES)), dtype=np.int64)
        classes[:, 1:] = grid_classes()
        values = np.ones((N_IMAGES, len(_FILE_NAMES)), dtype=np.float64)
        values[:, 1:] = _render.class_values(classes[:, 1:])
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
                        fp.write(np.ascontiguousarray(self.images(rows)).tobytes())
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
