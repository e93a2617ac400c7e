"""Streaming, resumable writer of latents files (format version 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._validation import check_factor_sizes
from .._version import __version__
from ..backend import to_numpy
from ..errors import (
    FORMAT_DOC,
    InvalidDTypeError,
    InvalidInputError,
    LatentsFileError,
    OutputExistsError,
)
from . import _format as F

__all__ = ["LatentsWriter"]


def _filter_opts(compression: str | None) -> dict:
    return dict(compression=compression, shuffle=compression is not None)


def _json_attr(obj: Any) -> str:
    return json.dumps(obj if obj is not None else {}, sort_keys=True, default=str)


class LatentsWriter:
    """Append latents chunk by chunk to an HDF5 file that survives being killed.

    Rows are buffered and written in whole chunks of ``chunk_rows``; after each chunk the
    file is flushed and only then the root attribute ``rows_written`` is raised, so a killed
    writer leaves a file whose first ``rows_written`` rows are valid. A clean :meth:`close`
    (or leaving the ``with`` block without an exception) writes the last partial chunk and
    sets ``complete = True``.

    Parameters
    ----------
    path : str or Path
        Output file.
    latent_dim : int
        Number of latent dimensions L.
    factor_names : sequence of str
        One name per ground-truth factor (K names).
    factor_sizes : sequence of int
        Number of classes of each factor; classes must lie in ``[0, size)``.
    with_logvar : bool, default True
        Store ``/latents/logvar`` (then every :meth:`append` must pass ``logvar``).
    with_values : bool, default False
        Store ``/factors/values`` (then every :meth:`append` must pass ``values``).
    dataset, model : dict, optional
        Free-form JSON-serialisable descriptions stored as root attributes.
    chunk_rows : int, default 65536
        Rows per HDF5 chunk and per flush (see docs/latents-format.md for the measurements).
    compression : {"auto", "lzf", "gzip", None}, default "auto"
        HDF5 filter (with the shuffle filter). ``"auto"`` stores the float datasets raw and
        compresses the integer ones with lzf; any other value applies to every dataset.
    resume : bool, default False
        Reopen an existing incomplete file and carry on at its ``rows_written`` (rows past
        it are dropped). A missing file is created. Refuses a complete file.
    overwrite : bool, default False
        Replace an existing file. Without ``resume`` or ``overwrite`` an existing file is
        never touched.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from fastdci.io import LatentsWriter, open_latents
    >>> path = os.path.join(tempfile.mkdtemp(), "latents.h5")
    >>> with LatentsWriter(path, latent_dim=2, factor_names=["a"], factor_sizes=[3],
    ...                    with_logvar=False) as w:
    ...     w.append(np.zeros((5, 2), np.float32), classes=np.arange(5)[:, None] % 3)
    >>> with open_latents(path) as r:
    ...     r.n_rows, r.latent_dim, r.factor_sizes
    (5, 2, (3,))
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        latent_dim: int,
        factor_names: Sequence[str],
        factor_sizes: Sequence[int],
        with_logvar: bool = True,
        with_values: bool = False,
        dataset: dict | None = None,
        model: dict | None = None,
        chunk_rows: int = F.DEFAULT_CHUNK_ROWS,
        compression: str | None = F.DEFAULT_COMPRESSION,
        resume: bool = False,
        overwrite: bool = False,
    ):
        import h5py

        self.path = Path(path)
        self.latent_dim = int(latent_dim)
        if self.latent_dim < 1:
            raise InvalidInputError(f"latent_dim must be >= 1; got {latent_dim}.")
        self.factor_names = tuple(str(n) for n in factor_names)
        self.factor_sizes = check_factor_sizes(factor_sizes, len(self.factor_names))
        if len(set(self.factor_names)) != len(self.factor_names):
            raise InvalidInputError(f"factor_names must be unique; got {list(self.factor_names)}.")
        self.with_logvar = bool(with_logvar)
        self.with_values = bool(with_values)
        self.chunk_rows = int(chunk_rows)
        if self.chunk_rows < 1:
            raise InvalidInputError(f"chunk_rows must be >= 1; got {chunk_rows}.")
        if compression not in ("auto", "lzf", "gzip", None):
            raise InvalidInputError(f"compression must be 'auto', 'lzf', 'gzip' or None; got {compression!r}.")
        self.compression = compression
        self._classes_dtype = F.classes_dtype(self.factor_sizes)
        self._buffer: list[dict[str, np.ndarray]] = []
        self._buffered = 0
        self._closed = False
        if resume and overwrite:
            raise InvalidInputError("pass resume=True or overwrite=True, not both.")

        exists = self.path.exists()
        if exists and not (resume or overwrite):
            raise OutputExistsError(
                f"{self.path} already exists; pass resume=True to continue an interrupted write, "
                "overwrite=True to replace it, or choose another path."
            )
        if exists and resume:
            self._file = self._reopen(h5py)
        else:
            if exists:
                self.path.unlink()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._create(h5py, dataset, model)

    # -- creation / resumption -------------------------------------------------------------
    def _create(self, h5py, dataset, model):
        f = h5py.File(self.path, "w")
        try:
            comp = self.compression
            # "auto": float datasets raw (float mantissas barely compress, and an lzf read is
            # ~3x slower), integer datasets lzf + shuffle (2-40x smaller); see the format doc
            fopts = _filter_opts(None if comp == "auto" else comp)
            iopts = _filter_opts("lzf" if comp == "auto" else comp)
            L, K, c = self.latent_dim, len(self.factor_names), self.chunk_rows
            f.create_dataset(F.MEAN, shape=(0, L), maxshape=(None, L), dtype="f4", chunks=(c, L), **fopts)
            if self.with_logvar:
                f.create_dataset(F.LOGVAR, shape=(0, L), maxshape=(None, L), dtype="f4", chunks=(c, L), **fopts)
            f.create_dataset(
                F.CLASSES, shape=(0, K), maxshape=(None, K), dtype=self._classes_dtype,
                chunks=(c, max(K, 1)) if K else None, **iopts,
            )
            if self.with_values:
                f.create_dataset(F.VALUES, shape=(0, K), maxshape=(None, K), dtype="f4", chunks=(c, max(K, 1)), **fopts)
            f.create_dataset(F.INDEX, shape=(0,), maxshape=(None,), dtype="i8", chunks=(c,), **iopts)
            a = f.attrs
            a["format"] = F.FORMAT_NAME
            a["version"] = F.FORMAT_VERSION
            a["complete"] = False
            a["rows_written"] = np.int64(0)
            a["factor_names"] = np.array(self.factor_names, dtype=h5py.string_dtype())
            a["factor_sizes"] = np.array(self.factor_sizes, dtype=np.int64)
            a["dataset"] = _json_attr(dataset)
            a["model"] = _json_attr(model)
            a["writer"] = f"fastdci {__version__}"
            f.flush()
        except BaseException:
            f.close()
            raise
        return f

    def _reopen(self, h5py):
        from .reader import open_latents  # validates the structure

        try:
            reader = open_latents(self.path, allow_incomplete=True)
        except LatentsFileError as exc:
            raise LatentsFileError(
                f"cannot resume {self.path}: {exc} Delete it or pass overwrite=True to start over."
            ) from exc
        with reader:
            if reader.complete:
                raise OutputExistsError(
                    f"{self.path} is already complete ({reader.n_rows} rows); nothing to resume. "
                    "Pass overwrite=True to write it again."
                )
            mismatch = []
            if reader.latent_dim != self.latent_dim:
                mismatch.append(f"latent_dim {reader.latent_dim} != {self.latent_dim}")
            if reader.factor_names != self.factor_names:
                mismatch.append(f"factor_names {list(reader.factor_names)} != {list(self.factor_names)}")
            if reader.factor_sizes != self.factor_sizes:
                mismatch.append(f"factor_sizes {list(reader.factor_sizes)} != {list(self.factor_sizes)}")
            if reader.has_logvar != self.with_logvar:
                mismatch.append(f"with_logvar {reader.has_logvar} != {self.with_logvar}")
            if reader.has_values != self.with_values:
                mismatch.append(f"with_values {reader.has_values} != {self.with_values}")
            rows = reader.n_rows
        if mismatch:
            raise LatentsFileError(
                f"cannot resume {self.path}: it was started with other settings ({'; '.join(mismatch)}). "
                f"Resume with the original settings, or pass overwrite=True. See {FORMAT_DOC}."
            )
        f = h5py.File(self.path, "r+")
        for name in F.ROW_DATASETS:
            if name in f:
                ds = f[name]
                if ds.shape[0] != rows:
                    ds.resize(rows, axis=0)
        self.chunk_rows = int(f[F.MEAN].chunks[0])
        f.flush()
        return f

    # -- appending ------------------------------------------------------------------------
    @property
    def rows_written(self) -> int:
        """Rows safely on disk (``rows_written`` attribute); buffered rows not included."""
        return int(self._file.attrs["rows_written"])

    @property
    def rows_total(self) -> int:
        """Rows on disk plus rows buffered for the next chunk."""
        return self.rows_written + self._buffered

    def append(self, mean, logvar=None, classes=None, values=None, index=None) -> None:
        """Add ``n`` rows.

        Parameters
        ----------
        mean : array (n, latent_dim), float
            Posterior means; NaN or inf is refused.
        logvar : array (n, latent_dim), float
            Posterior log-variances; required iff ``with_logvar``.
        classes : array (n, n_factors), int
            Factor classes, each in ``[0, factor_sizes[k])``. Required.
        values : array (n, n_factors), float
            Factor values; required iff ``with_values``.
        index : array (n,), int, optional
            Dataset index of each row; default continues ``0, 1, 2, ...`` from the last row.
        """
        if self._closed:
            raise InvalidInputError(f"the writer for {self.path} is closed; open a new one with resume=True.")
        L, K = self.latent_dim, len(self.factor_names)
        mean = self._float(mean, "mean", L)
        n = mean.shape[0]
        bad = ~np.isfinite(mean)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InvalidInputError(
                f"mean contains {int(bad.sum())} NaN/inf value(s) (first at row {int(r)} of this batch, "
                f"latent {int(c)}); the encoder probably diverged. Nothing from this batch was written; "
                "fix the model (lower the learning rate, check the checkpoint) and resume."
            )
        rec = {F.MEAN: mean}
        if self.with_logvar:
            if logvar is None:
                raise InvalidInputError("this file stores logvar (with_logvar=True); pass logvar= to append().")
            rec[F.LOGVAR] = self._float(logvar, "logvar", L, n)
        elif logvar is not None:
            raise InvalidInputError("logvar was given but the writer was created with with_logvar=False.")
        if classes is None:
            raise InvalidInputError("classes (the ground-truth factor classes, shape (n, n_factors)) are required.")
        cls = to_numpy(classes)
        if cls.ndim == 1 and K == 1:
            cls = cls[:, None]
        if cls.shape != (n, K):
            raise InvalidInputError(f"classes must have shape ({n}, {K}); got {cls.shape}.")
        if cls.dtype.kind not in "iu":
            if cls.dtype.kind == "f" and np.array_equal(cls, np.round(cls)):
                cls = cls.astype(np.int64)
            else:
                raise InvalidDTypeError(f"classes must be integer class indices; got dtype {cls.dtype}.")
        if cls.size:
            lo, hi = cls.min(axis=0), cls.max(axis=0)
            for k in range(K):
                if lo[k] < 0 or hi[k] >= self.factor_sizes[k]:
                    raise InvalidInputError(
                        f"classes of factor {self.factor_names[k]!r} range over [{int(lo[k])}, {int(hi[k])}] "
                        f"but its size is {self.factor_sizes[k]}: classes must lie in [0, {self.factor_sizes[k]})."
                    )
        rec[F.CLASSES] = cls.astype(self._classes_dtype)
        if self.with_values:
            if values is None:
                raise InvalidInputError("this file stores factor values (with_values=True); pass values= to append().")
            rec[F.VALUES] = self._float(values, "values", K, n)
        elif values is not None:
            raise InvalidInputError("values were given but the writer was created with with_values=False.")
        if index is None:
            idx = np.arange(self.rows_total, self.rows_total + n, dtype=np.int64)
        else:
            idx = to_numpy(index)
            if idx.shape != (n,) or idx.dtype.kind not in "iu":
                raise InvalidInputError(f"index must be an integer array of shape ({n},); got {idx.dtype} {idx.shape}.")
            idx = idx.astype(np.int64)
        rec[F.INDEX] = idx
        self._buffer.append(rec)
        self._buffered += n
        while self._buffered >= self.chunk_rows:
            self._write(self.chunk_rows)

    @staticmethod
    def _float(x, name, width, n=None):
        arr = to_numpy(x)
        if arr.dtype.kind not in "fiu":
            raise InvalidDTypeError(f"{name} must be a float array; got dtype {arr.dtype}.")
        if arr.ndim != 2 or arr.shape[1] != width or (n is not None and arr.shape[0] != n):
            want = f"({n if n is not None else 'n'}, {width})"
            raise InvalidInputError(f"{name} must have shape {want}; got {arr.shape}.")
        return arr.astype(np.float32, copy=False)

    def _take(self, n: int) -> dict[str, np.ndarray]:
        """Pop the first ``n`` buffered rows as one record."""
        out: dict[str, list[np.ndarray]] = {}
        need = n
        while need:
            rec = self._buffer[0]
            m = len(rec[F.INDEX])
            if m <= need:
                self._buffer.pop(0)
                part = rec
            else:
                part = {k: v[:need] for k, v in rec.items()}
                self._buffer[0] = {k: v[need:] for k, v in rec.items()}
            for k, v in part.items():
                out.setdefault(k, []).append(v)
            need -= len(part[F.INDEX])
        self._buffered -= n
        return {k: np.concatenate(v) if len(v) > 1 else v[0] for k, v in out.items()}

    def _write(self, n: int) -> None:
        rec = self._take(n)
        f = self._file
        start = self.rows_written
        stop = start + n
        for name, arr in rec.items():
            ds = f[name]
            if ds.shape[0] < stop:
                ds.resize(stop, axis=0)
            ds[start:stop] = arr
        f.flush()  # data first ...
        f.attrs["rows_written"] = np.int64(stop)
        f.flush()  # ... then the row count that vouches for it

    def flush(self) -> None:
        """Write every buffered row now (possibly a partial chunk) and flush the file."""
        if self._buffered:
            self._write(self._buffered)

    # -- closing --------------------------------------------------------------------------
    def close(self, complete: bool = True) -> None:
        """Write the remaining rows; with ``complete=True`` mark the file complete."""
        if self._closed:
            return
        try:
            self.flush()
            if complete:
                self._file.attrs["complete"] = True
                self._file.flush()
        finally:
            self._file.close()
            self._closed = True

    def __enter__(self) -> "LatentsWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # On an exception the rows appended so far are kept, but the file stays incomplete,
        # so a rerun with resume=True carries on where this one stopped.
        self.close(complete=exc_type is None)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.rows_total} rows"
        return f"LatentsWriter({str(self.path)!r}, {state})"
