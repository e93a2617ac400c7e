"""The dSprites dataset: rendered procedurally, or read from the real ``.npz`` file.

Both sources expose the same rows in the same order as the real file
``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (Matthey et al. 2017): C order over
(colour, shape, scale, orientation, posX, posY), so
``row = shape * 245760 + scale * 40960 + orientation * 1024 + posX * 32 + posY``.
The constant colour factor is dropped, as in disentanglement_lib. :class:`DSprites` is the
dataset API (rows to classes, values and images, a description, export); the file format
itself is :mod:`fastdci.data.npz`, the renderers :mod:`fastdci.data.render` and
:mod:`fastdci.data.torch_render`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InvalidDTypeError, InvalidInputError
from .factors import FACTOR_NAMES, FACTOR_SIZES, FACTOR_STRIDES, IMAGE_SIZE, N_IMAGES, check_classes, class_values
from .npz import load_packed_images, open_npz, write_npz
from .render import render_numpy
from .torch_render import render_torch
from .shapes import HEART_VERTICES

__all__ = ["DSprites", "RENDERER_VERSION"]

RENDERER_VERSION = 1
"""Bumped whenever the procedural renderer's pixels change."""


class DSprites:
    """The dSprites dataset (737,280 images of 64 x 64 binary sprites over a 5-factor grid).

    Parameters
    ----------
    path : str or Path, optional
        The real file ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` (or one written by
        :meth:`export_npz`). It is validated on opening; its images are decompressed once, on
        first use, and kept bit-packed in memory (360 MiB). Without a path, images are rendered
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
        self._values = open_npz(self._path)

    def _load_images(self) -> np.ndarray:
        """The file's images, decompressed once (on first use) and kept bit-packed."""
        if self._packed is None:
            self._packed = load_packed_images(self._path)
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
        return class_values(self.classes(rows)).astype(np.float32)

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
        c = check_classes(classes)
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
        return render_numpy(self.classes(rows))

    def images_torch(self, idx: Any, device: Any = "cpu"):
        """Images of dataset rows as a float32 tensor on ``device``.

        Rendered datasets render on ``device`` itself: on a GPU with
        :func:`fastdci.data.torch_render.render_torch`, on the CPU with the NumPy renderer (the
        same pixels; benchmarks/results/render.md compares the two). File datasets copy the file's
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
            # the NumPy renderer: the same pixels as render_torch (see benchmarks/results/render.md)
            return torch.from_numpy(render_numpy(self.classes(rows))).unsqueeze(1).to(torch.float32)
        return render_torch(self.classes(rows), device=device)

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
        return write_npz(path, self.images, overwrite=overwrite, chunk=chunk)
