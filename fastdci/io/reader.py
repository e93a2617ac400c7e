"""Reader of latents files (format version 1). A reader never modifies the file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields as dc_fields
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import (
    FORMAT_DOC,
    ForeignFileError,
    FormatVersionError,
    IncompleteFileError,
    InvalidInputError,
    LatentsFileError,
    MissingFileError,
)
from . import _format as F

__all__ = ["LatentsChunk", "LatentsReader", "open_latents"]

_FIELDS = {"mean": F.MEAN, "logvar": F.LOGVAR, "classes": F.CLASSES, "values": F.VALUES, "index": F.INDEX}


@dataclass(frozen=True)
class LatentsChunk:
    """Rows of a latents file as NumPy arrays (fields not requested or not stored are None).

    ``mean`` (n, L) float32, ``classes`` (n, K) int, ``index`` (n,) int64, ``logvar`` (n, L)
    float32, ``values`` (n, K) float32; ``start`` is the first row for contiguous reads.
    """

    mean: np.ndarray | None = None
    classes: np.ndarray | None = None
    index: np.ndarray | None = None
    logvar: np.ndarray | None = None
    values: np.ndarray | None = None
    start: int | None = None

    def __len__(self) -> int:
        for f in dc_fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray):
                return int(v.shape[0])
        return 0


def _decode(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _err(cls, path, problem: str, fix: str):
    return cls(f"{path}: {problem} {fix} (format spec: {FORMAT_DOC})")


class LatentsReader:
    """Read-only view of a latents file; use :func:`open_latents` to get one.

    Attributes
    ----------
    path : Path
    n_rows : int
        Valid rows (``rows_written``).
    latent_dim, n_factors : int
    factor_names : tuple of str
    factor_sizes : tuple of int
    dataset, model : dict
        The free-form JSON descriptions.
    complete, has_logvar, has_values : bool
    chunk_rows : int
        Rows per HDF5 chunk of ``/latents/mean``; the natural read size.
    """

    def __init__(self, path: str | os.PathLike, *, allow_incomplete: bool = False, validate: bool = True):
        import h5py

        self.path = Path(path)
        self.validate = validate
        if not self.path.exists():
            raise MissingFileError(f"{self.path}: no such file. Check the path (write one with fastdci encode).")
        if self.path.is_dir():
            raise MissingFileError(f"{self.path}: is a folder, not a latents file. Pass the .h5 file inside it.")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            msg = " ".join(str(exc).split())
            if "unable to lock file" in msg.lower():
                raise _err(
                    LatentsFileError, self.path, "is open for writing in another process (the HDF5 file is locked).",
                    "Wait for that process (an encoder?) to finish, or stop it; a killed encoder's file "
                    "opens again once it has exited.",
                ) from exc
            if "truncated" in msg.lower():
                raise _err(
                    LatentsFileError, self.path,
                    f"the HDF5 file is truncated or corrupt ({msg}).",
                    "Copy it again in full; if an encoder was killed while writing, rerun it with --resume.",
                ) from exc
            if "signature" in msg.lower() or "not an hdf5" in msg.lower() or "file signature" in msg.lower():
                raise _err(
                    ForeignFileError, self.path, "is not an HDF5 file.",
                    "Pass a latents file written by fastdci encode or fastdci.io.LatentsWriter.",
                ) from exc
            raise _err(LatentsFileError, self.path, f"cannot be opened as HDF5 ({msg}).",
                       "Check that the file is complete and readable.") from exc
        try:
            self._check(allow_incomplete)
        except BaseException:
            self._file.close()
            raise

    def _check(self, allow_incomplete: bool) -> None:
        f, a, p = self._file, self._file.attrs, self.path
        if a.get("format") is None or _decode(a.get("format")) != F.FORMAT_NAME:
            seen = _decode(a["format"]) if "format" in a else "no 'format' attribute"
            raise _err(
                ForeignFileError, p,
                f"is an HDF5 file but not a fastdci latents file ({seen}; expected format='{F.FORMAT_NAME}').",
                "Convert it by writing its arrays with fastdci.io.LatentsWriter, or pass the arrays "
                "directly to the metric functions.",
            )
        version = int(a.get("version", -1))
        if version > F.FORMAT_VERSION:
            raise _err(
                FormatVersionError, p,
                f"uses latents format version {version}; this fastdci reads version {F.FORMAT_VERSION}.",
                "Upgrade fastdci (pip install -U fastdci).",
            )
        if version < 1:
            raise _err(LatentsFileError, p, f"has an invalid format version {version}.", "Rewrite it with fastdci.")
        for name in F.REQUIRED_DATASETS:
            if name not in f:
                raise _err(LatentsFileError, p, f"lacks the required dataset /{name}.",
                           "The file is damaged or was written by another tool; write it again.")
        for key in ("rows_written", "complete", "factor_names", "factor_sizes"):
            if key not in a:
                raise _err(LatentsFileError, p, f"lacks the root attribute '{key}'.",
                           "The file is damaged or was written by another tool; write it again.")
        self.complete = bool(a["complete"])
        self.n_rows = int(a["rows_written"])
        if not self.complete and not allow_incomplete:
            raise _err(
                IncompleteFileError, p,
                f"is incomplete: its writer never finished ({self.n_rows} rows written).",
                "Rerun the encoder with --resume (LatentsWriter(..., resume=True)) to finish it, or "
                "open it with allow_incomplete=True to use the rows written so far.",
            )
        mean = f[F.MEAN]
        if mean.ndim != 2:
            raise _err(LatentsFileError, p, f"/{F.MEAN} has shape {mean.shape}; expected (N, L).", "Write it again.")
        if mean.dtype.kind != "f":
            raise _err(LatentsFileError, p, f"/{F.MEAN} has dtype {mean.dtype}; expected float32.",
                       "Write it again with LatentsWriter, which stores float32.")
        self.latent_dim = int(mean.shape[1])
        self.factor_names = tuple(_decode(n) for n in np.atleast_1d(a["factor_names"]))
        self.factor_sizes = tuple(int(s) for s in np.atleast_1d(a["factor_sizes"]))
        self.n_factors = len(self.factor_names)
        if len(self.factor_sizes) != self.n_factors:
            raise _err(LatentsFileError, p,
                       f"has {self.n_factors} factor_names but {len(self.factor_sizes)} factor_sizes.",
                       "Write it again with one size per factor.")
        cls = f[F.CLASSES]
        if cls.ndim != 2 or cls.shape[1] != self.n_factors:
            raise _err(LatentsFileError, p, f"/{F.CLASSES} has shape {cls.shape}; expected (N, {self.n_factors}).",
                       "Write it again.")
        if cls.dtype.kind not in "iu":
            raise _err(LatentsFileError, p, f"/{F.CLASSES} has dtype {cls.dtype}; expected integers.",
                       "Store class indices, not values (values go in /factors/values).")
        self.has_logvar = F.LOGVAR in f
        self.has_values = F.VALUES in f
        for name in F.ROW_DATASETS:
            if name not in f:
                continue
            rows = int(f[name].shape[0])
            if self.complete and rows != self.n_rows:
                raise _err(
                    LatentsFileError, p,
                    f"row counts disagree: /{name} has {rows} rows but rows_written is {self.n_rows}.",
                    "The file was modified after writing; write it again.",
                )
            if rows < self.n_rows:
                raise _err(
                    LatentsFileError, p,
                    f"/{name} has {rows} rows, fewer than rows_written = {self.n_rows}.",
                    "The file is damaged; write it again.",
                )
        if self.has_logvar and f[F.LOGVAR].shape[1:] != mean.shape[1:]:
            raise _err(LatentsFileError, p, f"/{F.LOGVAR} shape {f[F.LOGVAR].shape} does not match /{F.MEAN}.",
                       "Write it again.")
        self.dataset = self._json_attr("dataset")
        self.model = self._json_attr("model")
        self.version = version = int(a["version"])
        del version
        self.chunk_rows = int(mean.chunks[0]) if mean.chunks else F.DEFAULT_CHUNK_ROWS

    def _json_attr(self, key: str) -> dict:
        raw = self._file.attrs.get(key)
        if raw is None:
            return {}
        try:
            return json.loads(_decode(raw))
        except json.JSONDecodeError as exc:
            raise _err(LatentsFileError, self.path, f"attribute '{key}' is not valid JSON ({exc}).",
                       "Write it again.") from exc

    # -- reading --------------------------------------------------------------------------
    def dtype(self, field: str) -> np.dtype:
        """The stored dtype of ``field`` (``"mean"``, ``"classes"``, ...)."""
        self._names([field])
        return np.dtype(self._file[_FIELDS[field]].dtype)

    def _names(self, fields: Sequence[str] | None) -> list[str]:
        if fields is None:
            names = ["mean", "classes", "index"]
            names += ["logvar"] if self.has_logvar else []
            names += ["values"] if self.has_values else []
            return names
        for name in fields:
            if name not in _FIELDS:
                raise InvalidInputError(f"unknown field {name!r}; choose from {sorted(_FIELDS)}.")
            if name == "logvar" and not self.has_logvar or name == "values" and not self.has_values:
                raise InvalidInputError(f"{self.path} stores no {name!r}; drop it from fields.")
        return list(fields)

    def _check_rows(self, chunk: dict, offset: int) -> None:
        if not self.validate:
            return
        mean = chunk.get("mean")
        if mean is not None:
            bad = ~np.isfinite(mean)
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise _err(
                    LatentsFileError, self.path,
                    f"/{F.MEAN} contains NaN or inf (first near row {offset + int(r)}, latent {int(c)}).",
                    "Re-encode with a model that does not diverge, or drop those rows.",
                )
        cls = chunk.get("classes")
        if cls is not None and cls.size:
            lo, hi = cls.min(axis=0), cls.max(axis=0)
            for k, s in enumerate(self.factor_sizes):
                if lo[k] < 0 or hi[k] >= s:
                    raise _err(
                        LatentsFileError, self.path,
                        f"factor {self.factor_names[k]!r} has classes in [{int(lo[k])}, {int(hi[k])}] but its "
                        f"size is {s}.", "Fix factor_sizes or the classes and write the file again.",
                    )

    def _slice(self, start: int, stop: int, names: list[str]) -> dict:
        out = {}
        for n in names:
            try:
                out[n] = self._file[_FIELDS[n]][start:stop]
            except OSError as exc:  # a chunk that does not decompress or read back
                raise _err(
                    LatentsFileError, self.path,
                    f"rows {start}..{stop} of /{_FIELDS[n]} cannot be read: the file is corrupt "
                    f"({' '.join(str(exc).split())}).",
                    "Copy it again or write it again (fastdci encode --overwrite).",
                ) from exc
        self._check_rows(out, start)
        return out

    def iter_chunks(
        self, rows: int | None = None, *, fields: Sequence[str] | None = None, start: int = 0, stop: int | None = None
    ) -> Iterator[LatentsChunk]:
        """Yield consecutive :class:`LatentsChunk` of ``rows`` rows (default: the file's chunk size)."""
        names = self._names(fields)
        rows = int(rows) if rows is not None else self.chunk_rows
        if rows < 1:
            raise InvalidInputError(f"rows must be >= 1; got {rows}.")
        stop = self.n_rows if stop is None else min(int(stop), self.n_rows)
        for s in range(int(start), stop, rows):
            e = min(s + rows, stop)
            yield LatentsChunk(start=s, **self._slice(s, e, names))

    def read(self, rows: None | slice | Sequence[int] | np.ndarray = None, *, fields: Sequence[str] | None = None
             ) -> LatentsChunk:
        """Read all rows, a slice of rows, or rows by an index array (any order, repeats allowed)."""
        names = self._names(fields)
        if rows is None:
            rows = slice(0, self.n_rows)
        if isinstance(rows, slice):
            start, stop, step = rows.indices(self.n_rows)
            if step == 1:
                return LatentsChunk(start=start, **self._slice(start, max(start, stop), names))
            rows = np.arange(start, stop, step)
        idx = np.asarray(rows)
        if idx.dtype.kind == "b":
            if idx.shape != (self.n_rows,):
                raise InvalidInputError(f"a boolean row mask needs shape ({self.n_rows},); got {idx.shape}.")
            idx = np.nonzero(idx)[0]
        if idx.dtype.kind not in "iu":
            raise InvalidInputError(f"rows must be None, a slice or an integer index array; got dtype {idx.dtype}.")
        idx = idx.astype(np.int64).ravel()
        if idx.size and (idx.min() < -self.n_rows or idx.max() >= self.n_rows):
            raise InvalidInputError(f"row indices must lie in [0, {self.n_rows}); got [{idx.min()}, {idx.max()}].")
        idx = np.where(idx < 0, idx + self.n_rows, idx)
        return LatentsChunk(**self._gather(idx, names))

    def _gather(self, idx: np.ndarray, names: list[str]) -> dict:
        """Read rows ``idx`` block by block (one contiguous read per touched chunk)."""
        out = {}
        order = np.argsort(idx, kind="stable")
        sidx = idx[order]
        block = self.chunk_rows
        first = sidx // block
        parts: dict[str, list[np.ndarray]] = {n: [] for n in names}
        if sidx.size:
            bounds = np.flatnonzero(np.diff(first)) + 1
            starts = np.concatenate([[0], bounds])
            ends = np.concatenate([bounds, [sidx.size]])
            for a, b in zip(starts, ends):
                lo = int(sidx[a])
                hi = int(sidx[b - 1]) + 1
                chunk = self._slice(lo, hi, names)
                local = sidx[a:b] - lo
                for n in names:
                    parts[n].append(chunk[n][local])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        for n in names:
            ds = self._file[_FIELDS[n]]
            if parts[n]:
                arr = np.concatenate(parts[n])
            else:
                arr = np.empty((0,) + ds.shape[1:], dtype=ds.dtype)
            out[n] = arr[inverse]
        return out

    def sample(self, n: int, random_state: int | np.random.Generator | None = None, *, replace: bool = False,
               fields: Sequence[str] | None = None) -> LatentsChunk:
        """Read ``n`` rows drawn uniformly at random (without replacement by default)."""
        n = int(n)
        if n < 0 or (not replace and n > self.n_rows):
            raise InvalidInputError(
                f"cannot sample {n} rows without replacement from {self.n_rows}; lower n or pass replace=True."
            )
        rng = np.random.default_rng(random_state)
        idx = rng.choice(self.n_rows, size=n, replace=replace)
        return self.read(idx, fields=fields)

    # -- lifetime -------------------------------------------------------------------------
    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "LatentsReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_rows

    def __repr__(self) -> str:
        state = "complete" if self.complete else "INCOMPLETE"
        return (f"LatentsReader({str(self.path)!r}, rows={self.n_rows}, latents={self.latent_dim}, "
                f"factors={dict(zip(self.factor_names, self.factor_sizes))}, {state})")


def open_latents(path: str | os.PathLike, *, allow_incomplete: bool = False, validate: bool = True) -> LatentsReader:
    """Open a latents file for reading.

    Parameters
    ----------
    path : str or Path
    allow_incomplete : bool, default False
        Accept a file whose writer never finished; only its first ``rows_written`` rows are
        visible. Without it such a file raises :class:`~fastdci.errors.IncompleteFileError`.
    validate : bool, default True
        Check every chunk read for NaN/inf latents and out-of-range classes.

    Returns
    -------
    LatentsReader
        Use it as a context manager (``with open_latents(p) as r: ...``).
    """
    return LatentsReader(path, allow_incomplete=allow_incomplete, validate=validate)
