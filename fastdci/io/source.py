"""``LatentsSource``: the one object every metric reads its data from.

A source wraps a latents file (a path or an open :class:`~fastdci.io.LatentsReader`) or arrays
(NumPy, torch on any device, CuPy). It reads each field from disk at most once: one streaming
pass over ``/latents/mean`` and ``/factors/classes`` validates them (NaN/inf, class range),
takes each latent's min and max, and keeps the rows in memory when they fit ``memory_budget``.
Above the budget the rows stay on disk: the information counts stream the chunks a second time,
and metrics that need rows read only the rows they draw.

Everything several metrics share is computed once and cached here: the joint counts of the
information metrics (per binning), the train/test split of the predictor metrics (per test
size and seed), the factor index of the intervention metrics, and the copy of the latents on
the compute device. Metric functions take a source (or arrays, which they wrap in one), never
paths.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from ..backend import array_namespace, common_namespace, device_of, float_dtype, kernel, to_numpy, to_torch
from ..errors import InvalidInputError
from ._split import SplitMixin
from .factor_types import FactorBins, check_factor_types, split_columns

__all__ = ["LatentsSource", "default_memory_budget"]


def default_memory_budget() -> int:
    """A quarter of the machine's physical memory, in bytes (2 GiB if it cannot be read)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 4
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 2 << 30


def _torch_dtype(dtype):
    import torch

    return getattr(torch, np.dtype(dtype).name)


class LatentsSource(SplitMixin):
    """Latents and factor classes, read once, with the per-evaluation caches.

    Parameters
    ----------
    data : str, PathLike, LatentsReader, array (N, L) or (latents, factors)
        A latents file, an open reader (left open), latents with ``factors``, or a pair.
    factors : array (N, K) int, optional
        With array latents: the factor classes (any library; kept as int64 NumPy; a file's
        classes keep the file's compact integer dtype). The classes are always in memory; the
        memory budget is for the latents.
    factor_sizes, factor_names : sequence, optional
        With arrays: classes and names per factor (default ``max + 1`` and ``factor_<k>``);
        with a file they must agree with the file's, or be omitted.
    test : (latents_test, factors_test), optional
        Held-out rows for the predictor metrics instead of a random split.
    memory_budget : int, optional
        Bytes of latents kept in memory (default :func:`default_memory_budget`).
    allow_incomplete : bool, default False
        Accept a file whose writer never finished (a path only).
    factor_types : None, "discrete", "continuous" or a sequence of them, optional
        Per factor (see :mod:`fastdci.io.factor_types`). Continuous factors are real values:
        a float column of ``factors``, or a file's ``/factors/values``. Default: all discrete.
    factor_bins : int, default 20
        Equal-width bins of each continuous factor for the metrics that count classes.
    """

    def __init__(self, data: Any, factors: Any = None, *, factor_sizes: Sequence[int] | None = None,
                 factor_names: Sequence[str] | None = None, test: tuple | None = None,
                 memory_budget: int | None = None, allow_incomplete: bool = False, factor_types: Any = None,
                 factor_bins: int = 20):
        from .._validation import check_factor_names, check_factor_sizes
        from .reader import LatentsReader, open_latents

        if isinstance(factor_bins, bool) or not isinstance(factor_bins, (int, np.integer)) or factor_bins < 2:
            raise InvalidInputError(f"factor_bins must be an integer >= 2; got {factor_bins!r}.")
        self.factor_bins = int(factor_bins)
        self._bins = self._values = self._test_values = None  # continuous factors: binning, values

        self.memory_budget = default_memory_budget() if memory_budget is None else int(memory_budget)
        self.reader: LatentsReader | None = None
        self._own = False
        self._cache: dict = {}
        self.latents: Any = None  # (N, L) in memory: NumPy, or torch/CuPy on a GPU; None above the budget
        if isinstance(data, (tuple, list)) and len(data) == 2 and factors is None:
            data, factors = data
        if isinstance(data, (str, os.PathLike)) or isinstance(data, LatentsReader):
            if factors is not None:
                raise InvalidInputError(
                    "factors were given together with a latents file; the file already holds the factor "
                    "classes. Pass the file alone, or pass both arrays (latents, factors)."
                )
            self._own = not isinstance(data, LatentsReader)
            self.reader = open_latents(data, allow_incomplete=allow_incomplete) if self._own else data
            r = self.reader
            if factor_sizes is not None and check_factor_sizes(factor_sizes, r.n_factors) != r.factor_sizes:
                self.close()
                raise InvalidInputError(
                    f"factor_sizes {list(factor_sizes)} disagree with the file's {list(r.factor_sizes)}; drop "
                    "factor_sizes (the file's are used)."
                )
            self.path: str | None = str(r.path)
            self.factor_types = check_factor_types(factor_types, r.n_factors)
            if self.has_continuous and not r.has_values:
                self.close()
                raise InvalidInputError(
                    f"{r.path} stores no /factors/values, which continuous factor_types need; write the values "
                    "(LatentsWriter(..., with_values=True)) or score the classes (drop factor_types)."
                )
            self.factor_sizes = tuple(r.factor_sizes)
            self.factor_names = r.factor_names if factor_names is None else check_factor_names(factor_names,
                                                                                              r.n_factors)
            self.n_rows, self.n_latents = int(r.n_rows), int(r.latent_dim)
            try:
                self._scan()
            except BaseException:
                self.close()
                raise
        else:
            self._from_arrays(data, factors, factor_sizes, factor_names, factor_types)
        self.test = None if test is None else self._check_test(*test)

    # ------------------------------------------------------------------ construction
    def _from_arrays(self, latents, factors, factor_sizes, factor_names, factor_types) -> None:
        from .._validation import check_factor_names, check_factors, check_latents, check_orientation

        if not (hasattr(latents, "shape") or isinstance(latents, list)):
            raise InvalidInputError(
                "source must be a latents file path, an open LatentsReader, a LatentsSource or a (latents, "
                f"factors) pair of arrays; got {type(latents).__name__}."
            )
        if factors is None:
            raise InvalidInputError(
                "factors are missing. Pass latents (N, L) and factors (N, K) arrays, or a latents file "
                "(path or fastdci.io.open_latents(...)) alone."
            )
        common_namespace(latents, factors)
        latents = check_latents(latents)
        check_orientation(tuple(int(s) for s in latents.shape), tuple(int(s) for s in np.shape(factors)))
        n_factors = int(np.shape(factors)[1]) if len(np.shape(factors)) == 2 else 0
        self.factor_types = check_factor_types(factor_types, n_factors) if n_factors else ()
        if self.has_continuous:
            factors, continuous_values = split_columns(factors, self.factor_types)
        y = check_factors(factors, n_rows=int(latents.shape[0]), factor_sizes=None if factor_sizes is None else [
                              s for s, t in zip(factor_sizes, self.factor_types) if t == "discrete"],
                          factor_names=factor_names if factor_names is None else [
                              n for n, t in zip(factor_names, self.factor_types) if t == "discrete"])
        self.path = None
        self.n_rows, self.n_latents = (int(s) for s in latents.shape)
        if factor_sizes is not None:
            sizes = tuple(int(s) for s, t in zip(factor_sizes, self.factor_types) if t == "discrete")
        else:
            sizes = tuple(int(m) + 1 for m in y.max(axis=0)) if y.size else (1,) * y.shape[1]
        if self.has_continuous:
            y, sizes = self._add_continuous(y, sizes, continuous_values)
        self.factors = y
        self.factor_sizes = sizes
        self.factor_names = check_factor_names(factor_names, y.shape[1])
        if device_of(latents) == "cuda":
            self.latents = latents  # stays on its GPU; a host copy is made on demand
        else:
            self.latents = np.ascontiguousarray(to_numpy(latents), dtype=float_dtype(latents))

    def _scan(self) -> None:
        """The one pass over the file: validate, min/max, keep rows under the budget."""
        r = self.reader
        itemsize = r.dtype("mean").itemsize
        dtype = np.dtype(np.float32) if itemsize <= 4 else np.dtype(np.float64)
        keep = self.n_rows * self.n_latents * dtype.itemsize <= self.memory_budget
        latents = np.empty((self.n_rows, self.n_latents), dtype) if keep else None
        # the classes stay in the file's compact integer dtype (always in memory: K small ints a row)
        factors = np.empty((self.n_rows, len(self.factor_sizes)), r.dtype("classes"))
        mins = maxs = None
        minmax = kernel("minmax", "cpu")
        values = np.empty((self.n_rows, int(self.continuous.sum())), np.float64) if self.has_continuous else None
        for chunk in r.iter_chunks(fields=["mean", "classes"] + (["values"] if self.has_continuous else [])):
            n = len(chunk)
            if n == 0:
                continue
            x = np.ascontiguousarray(chunk.mean, dtype=dtype)
            mn, mx, _ = minmax(x)  # the reader already refused NaN/inf and out-of-range classes
            mins = mn if mins is None else np.minimum(mins, mn)
            maxs = mx if maxs is None else np.maximum(maxs, mx)
            factors[chunk.start:chunk.start + n] = chunk.classes
            if values is not None:
                values[chunk.start:chunk.start + n] = chunk.values[:, self.continuous]
            if keep:
                latents[chunk.start:chunk.start + n] = x
        if mins is None:
            raise InvalidInputError(f"{r.path} holds no rows; nothing to evaluate.")
        self.latents, self.factors = latents, factors
        if values is not None:
            discrete = np.asarray(factors[:, ~self.continuous], dtype=np.int64)
            sizes = tuple(s for s, t in zip(self.factor_sizes, self.factor_types) if t == "discrete")
            self.factors, self.factor_sizes = self._add_continuous(discrete, sizes, values)
        self._cache["minmax"] = (mins, maxs)
        self._dtype = dtype

    def _add_continuous(self, discrete: np.ndarray, sizes: tuple, values: np.ndarray) -> tuple[np.ndarray, tuple]:
        """All factor columns as classes, the continuous ones binned; and their sizes."""
        self._values, self._bins = values, FactorBins(values, self.factor_bins)
        cont = self.continuous
        out = np.empty((values.shape[0], cont.size), np.int64)
        out[:, ~cont], out[:, cont] = discrete, self._bins.classes(values)
        full = np.full(cont.size, self.factor_bins)
        full[~cont] = sizes
        return out, tuple(int(s) for s in full)

    # ------------------------------------------------------------------ views
    @property
    def n_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def continuous(self) -> np.ndarray:
        """(K,) bool: which factors are continuous."""
        return np.array([t == "continuous" for t in self.factor_types], dtype=bool)

    @property
    def has_continuous(self) -> bool:
        return "continuous" in self.factor_types

    def factor_values(self, idx: np.ndarray | None = None) -> np.ndarray:
        """(N, K) float64 factors of rows ``idx`` (default all): a continuous factor's real values,
        a discrete factor's class labels as numbers."""
        rows = slice(None) if idx is None else np.asarray(idx, dtype=np.int64)
        out = np.asarray(self.factors[rows], dtype=np.float64)
        if self._values is not None:
            out[:, self.continuous] = self._values[rows]
        return out

    @property
    def dtype(self) -> np.dtype:
        """The float dtype the latents are computed in (float32 or float64)."""
        return self._dtype if self.latents is None else float_dtype(self.latents)

    def shared(self, key: tuple, compute):
        """``compute()``, computed once per source and ``key``: what several metrics derive alike
        from these rows (the booster that DCI and DCI-ES both fit, for one)."""
        key = ("shared",) + tuple(key)
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    @property
    def in_memory(self) -> bool:
        return self.latents is not None

    def host_latents(self) -> np.ndarray:
        """All latents as one NumPy array on the host (read from the file if above the budget)."""
        if "host" not in self._cache:
            if self.latents is None:
                raise InvalidInputError(
                    f"{self.path}: {self.n_rows} x {self.n_latents} latents exceed memory_budget="
                    f"{self.memory_budget} bytes; raise memory_budget or use a metric option that "
                    "subsamples rows (e.g. dci max_train)."
                )
            self._cache["host"] = np.ascontiguousarray(to_numpy(self.latents), dtype=self.dtype)
        return self._cache["host"]

    def rows(self, idx: np.ndarray, device: str = "cpu", dtype=None):
        """Latents of rows ``idx`` on ``device``: NumPy on the CPU, a torch tensor on CUDA."""
        idx = np.asarray(idx, dtype=np.int64)
        if self.latents is None:  # above the budget: only these rows are read
            x = np.ascontiguousarray(self.reader.read(idx, fields=["mean"]).mean, dtype=self.dtype)
            return to_torch(x, device="cuda", dtype=_torch_dtype(dtype or self.dtype)) if device == "cuda" else x
        if device == "cuda":
            return self.on_device(dtype)[to_torch(idx, device="cuda")]
        return self.host_latents()[idx]

    def on_device(self, dtype=None):
        """The latents as one torch tensor on the GPU, copied there once."""
        dt = _torch_dtype(dtype or self.dtype)
        key = ("device", str(dt))
        if key not in self._cache:
            base = self.latents if self.latents is not None and device_of(self.latents) == "cuda" \
                else self.host_latents()
            self._cache[key] = to_torch(base, device="cuda", dtype=dt)
        return self._cache[key]

    def minmax(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-latent (min, max) as NumPy arrays in :attr:`dtype`."""
        if "minmax" not in self._cache:
            x = self.latents
            dev = device_of(x)
            if dev == "cuda":
                x = to_torch(x)
            mn, mx, _ = kernel("minmax", dev)(x)
            self._cache["minmax"] = (np.asarray(mn, dtype=self.dtype), np.asarray(mx, dtype=self.dtype))
        return self._cache["minmax"]

    # ------------------------------------------------------------------ shared statistics
    def information_stats(self, n_bins: int = 20, discretizer: str = "uniform", device: str = "cpu"):
        """The joint counts of the information metrics for one binning (computed once)."""
        from ..metrics.information._counts import source_counts

        key = ("counts", int(n_bins), discretizer)
        if key not in self._cache:
            self._cache[key] = source_counts(self, int(n_bins), discretizer, device)
        return self._cache[key]

    def single_class_factors(self) -> list[str]:
        """Names of the factors that take one class in these rows."""
        if "single" not in self._cache:
            f = self.factors
            self._cache["single"] = [self.factor_names[k] for k in range(f.shape[1])
                                     if f.shape[0] and (f[:, k] == f[0, k]).all()]
        return self._cache["single"]

    def factor_index(self):
        """The :class:`~fastdci.metrics.interventions.factor_index.FactorIndex` over the factors."""
        if "factor_index" not in self._cache:
            from ..metrics.interventions.factor_index import FactorIndex

            self._cache["factor_index"] = FactorIndex(self.factors, self.factor_sizes)
        return self._cache["factor_index"]

    def take(self, rows: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Host latents behind several row arrays: ``(table (U, L), [positions into table])``.

        In memory the table is every row; above the budget only the rows drawn are read (each
        once), so memory follows the number of draws.
        """
        if self.latents is not None:
            return self.host_latents(), [np.ascontiguousarray(r, dtype=np.int64) for r in rows]
        mask = np.zeros(self.n_rows, dtype=bool)
        for r in rows:
            mask[np.asarray(r).ravel()] = True
        needed = np.flatnonzero(mask)
        remap = np.cumsum(mask, dtype=np.int64) - 1
        table = np.ascontiguousarray(self.reader.read(needed, fields=["mean"]).mean, dtype=self.dtype)
        return table, [np.ascontiguousarray(remap[r]) for r in rows]

    def grid_coverage(self, others: bool = False) -> tuple[bool, str]:
        """Whether the rows support the intervention metrics; if not, why (computed once).

        See :func:`~fastdci.metrics.interventions.factor_index.grid_coverage`."""
        key = ("coverage", others)
        if key not in self._cache:
            from ..metrics.interventions.factor_index import grid_coverage

            self._cache[key] = grid_coverage(self.factors, self.factor_sizes, self.factor_names, others=others)
        return self._cache[key]

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        if self._own and self.reader is not None:
            self.reader.close()

    def __enter__(self) -> "LatentsSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.path or f"{array_namespace(self.latents)} arrays"
        return (f"LatentsSource({where}: {self.n_rows} rows x {self.n_latents} latents, factors "
                f"{dict(zip(self.factor_names, self.factor_sizes))})")
