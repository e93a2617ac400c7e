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


def _seed_key(random_state: Any) -> Any:
    """A cache key for a seed: the int itself, or the identity of a Generator."""
    return random_state if random_state is None or isinstance(random_state, int) else ("generator", id(random_state))


def _check_orientation(latents_shape: tuple, factors_shape: tuple) -> None:
    """Refuse arrays that look transposed: every metric here estimates statistics over rows, so
    a code needs more rows (data points) than latents, and more rows than factors."""
    n, n_latents = latents_shape
    fix = ("which looks transposed (disentanglement_lib's codes x points layout): pass latents.T and "
           "factors.T, or use fastdci.compat.disentanglement_lib. With truly fewer data points than that, "
           "no metric can be estimated: encode more rows.")
    if n <= n_latents:
        raise InvalidInputError(f"latents have shape {latents_shape}: {n} rows for {n_latents} latents, {fix}")
    if len(factors_shape) == 2 and factors_shape[0] <= factors_shape[1]:
        raise InvalidInputError(f"factors have shape {factors_shape}: {factors_shape[0]} rows for "
                                f"{factors_shape[1]} factors, {fix}")


def _names(factor_names, n_factors: int) -> tuple[str, ...]:
    if factor_names is None:
        return tuple(f"factor_{k}" for k in range(n_factors))
    names = tuple(str(n) for n in factor_names)
    if len(names) != n_factors:
        raise InvalidInputError(
            f"factor_names has {len(names)} entries but there are {n_factors} factors; give one name "
            "per factor column."
        )
    return names


class LatentsSource:
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
    """

    def __init__(self, data: Any, factors: Any = None, *, factor_sizes: Sequence[int] | None = None,
                 factor_names: Sequence[str] | None = None, test: tuple | None = None,
                 memory_budget: int | None = None, allow_incomplete: bool = False):
        from .._validation import check_factor_sizes
        from .reader import LatentsReader, open_latents

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
            self.factor_sizes = tuple(r.factor_sizes)
            self.factor_names = r.factor_names if factor_names is None else _names(factor_names, r.n_factors)
            self.n_rows, self.n_latents = int(r.n_rows), int(r.latent_dim)
            try:
                self._scan()
            except BaseException:
                self.close()
                raise
        else:
            self._from_arrays(data, factors, factor_sizes, factor_names)
        self.test = None if test is None else self._check_test(*test)

    # ------------------------------------------------------------------ construction
    def _from_arrays(self, latents, factors, factor_sizes, factor_names) -> None:
        from .._validation import check_factors, check_latents

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
        _check_orientation(tuple(int(s) for s in latents.shape), tuple(int(s) for s in np.shape(factors)))
        y = check_factors(factors, n_rows=int(latents.shape[0]), factor_sizes=factor_sizes,
                          factor_names=factor_names)
        self.path = None
        self.n_rows, self.n_latents = (int(s) for s in latents.shape)
        self.factors = y
        self.factor_sizes = tuple(int(s) for s in factor_sizes) if factor_sizes is not None else tuple(
            int(m) + 1 for m in y.max(axis=0)) if y.size else (1,) * y.shape[1]
        self.factor_names = _names(factor_names, y.shape[1])
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
        for chunk in r.iter_chunks(fields=["mean", "classes"]):
            n = len(chunk)
            if n == 0:
                continue
            x = np.ascontiguousarray(chunk.mean, dtype=dtype)
            mn, mx, _ = minmax(x)  # the reader already refused NaN/inf and out-of-range classes
            mins = mn if mins is None else np.minimum(mins, mn)
            maxs = mx if maxs is None else np.maximum(maxs, mx)
            factors[chunk.start:chunk.start + n] = chunk.classes
            if keep:
                latents[chunk.start:chunk.start + n] = x
        if mins is None:
            raise InvalidInputError(f"{r.path} holds no rows; nothing to evaluate.")
        self.latents, self.factors = latents, factors
        self._cache["minmax"] = (mins, maxs)
        self._dtype = dtype

    def _check_test(self, latents_test, factors_test):
        from .._validation import check_factors, check_latents

        latents_test = check_latents(latents_test, "latents_test", min_rows=1)
        factors_test = check_factors(factors_test, "factors_test", n_rows=int(latents_test.shape[0]),
                                     factor_sizes=self.factor_sizes if len(factors_test.shape) == 2 and
                                     factors_test.shape[1] == len(self.factor_sizes) else None,
                                     factor_names=self.factor_names)
        if int(latents_test.shape[1]) != self.n_latents:
            raise InvalidInputError(
                f"latents_test has {int(latents_test.shape[1])} latents but latents has {self.n_latents}; both "
                "must come from the same encoder."
            )
        if factors_test.shape[1] != len(self.factor_sizes):
            raise InvalidInputError(
                f"factors_test has {factors_test.shape[1]} factors but factors has {len(self.factor_sizes)}; "
                "pass the same factor columns."
            )
        host = device_of(latents_test) == "cpu"
        x = np.ascontiguousarray(to_numpy(latents_test), dtype=float_dtype(latents_test)) if host else latents_test
        return x, factors_test

    # ------------------------------------------------------------------ views
    @property
    def n_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def dtype(self) -> np.dtype:
        """The float dtype the latents are computed in (float32 or float64)."""
        return self._dtype if self.latents is None else float_dtype(self.latents)

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

    def split(self, test_size: float, random_state: int | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(train rows, test rows) of the predictor metrics; test is None with held-out data.

        The rows are a seeded permutation: the first ``round(N * test_size)`` are the test rows;
        both index arrays are sorted.
        """
        key = ("split", float(test_size), _seed_key(random_state))
        if key not in self._cache:
            n = self.n_rows
            if self.test is not None:
                self._cache[key] = (np.arange(n), None)
            else:
                n_test = int(round(n * test_size))
                if n_test < 1 or n - n_test < 2:
                    raise InvalidInputError(
                        f"test_size={test_size} leaves {n - n_test} training and {n_test} test rows of {n}; "
                        "give more rows or another test_size."
                    )
                perm = np.random.default_rng(random_state).permutation(n)
                self._cache[key] = (np.sort(perm[n_test:]), np.sort(perm[:n_test]))
        return self._cache[key]

    def train_test(self, test_size: float, random_state: Any, device: str = "cpu", max_train: int | None = None):
        """(train latents, train factors, test latents, test factors) of :meth:`split`, gathered
        once per device (NumPy on the CPU, torch tensors on CUDA) and shared by the predictor
        metrics. ``max_train`` keeps a uniform subsample of the training rows (drawn with the
        seed ``random_state + 1``), chosen before any row is read."""
        key = ("train_test", float(test_size), _seed_key(random_state), device, max_train)
        if key not in self._cache:
            train_idx, test_idx = self.split(test_size, random_state)
            if max_train is not None and max_train < train_idx.size:
                rng = random_state if isinstance(random_state, np.random.Generator) else \
                    np.random.default_rng(None if random_state is None else random_state + 1)
                train_idx = train_idx[np.sort(rng.choice(train_idx.size, size=int(max_train), replace=False))]
            x_test, y_test = self.test_rows(test_idx, device)
            self._cache[key] = (self.rows(train_idx, device), self.factors[train_idx], x_test, y_test)
        return self._cache[key]

    def test_rows(self, test_idx: np.ndarray | None, device: str = "cpu"):
        """(latents, factors) of the test rows: held-out data, or rows ``test_idx``."""
        if test_idx is None:
            x, y = self.test
            if device == "cuda":
                x = to_torch(x, device="cuda")
            elif device_of(x) == "cuda":
                x = np.ascontiguousarray(to_numpy(x), dtype=float_dtype(x))
            return x, y
        return self.rows(test_idx, device), self.factors[test_idx]

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
