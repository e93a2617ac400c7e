"""The statistic every information metric is a function of: one table of joint counts.

``counts[l, k, c, b]`` is the number of rows whose factor ``k`` has class ``c`` and whose latent
``l`` falls in bin ``b``. The latents are binned per dimension as disentanglement_lib's
``histogram_discretizer`` does (``n_bins`` equal-width bins between the column's min and max,
``np.digitize`` semantics, see :mod:`fastdci.kernels.cpu`). Counts from disjoint parts of the
rows, binned with the same edges, add: :meth:`InformationStats.merge` is exact, so chunks of a
file, batches of a training loop and workers of a cluster give the one-pass result bit for bit.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ...backend import common_namespace, device_of, float_dtype, kernel, to_numpy, to_torch
from ...errors import InvalidInputError
from ...kernels import cpu as _cpu
from . import _entropy

__all__ = ["QUANTILE_ROWS", "InformationStats", "counts_statistics", "information_stats", "source_counts"]

QUANTILE_ROWS = 1_000_000
"""Rows behind quantile edges of a file above the memory budget (all rows of smaller files)."""


@dataclasses.dataclass(frozen=True, eq=False)
class InformationStats:
    """Joint counts and the bin edges they were counted with.

    Attributes
    ----------
    counts : int64 array (L, K, C, B)
        ``C`` is the largest number of classes over factors (unused classes count 0).
    edges : array (L, B + 1)
        Bin edges per latent, in the latents' dtype.
    discretizer : str
        ``"uniform"`` or ``"quantile"``.
    """

    counts: np.ndarray
    edges: np.ndarray
    discretizer: str = "uniform"

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[3])

    @property
    def n_rows(self) -> int:
        return int(self.counts[0, 0].sum()) if self.counts.size else 0

    def merge(self, other: "InformationStats") -> "InformationStats":
        """The counts of both parts (same edges required): exact, order-free."""
        if not isinstance(other, InformationStats):
            raise InvalidInputError(f"merge takes InformationStats; got {type(other).__name__}.")
        if other.edges.shape != self.edges.shape or not np.array_equal(other.edges, self.edges):
            raise InvalidInputError(
                "cannot merge counts made with different bin edges: they are not comparable. Count every "
                "part with the same edges (information_stats(..., edges=stats.edges))."
            )
        a, b = self.counts, other.counts
        if a.shape[1] != b.shape[1]:
            raise InvalidInputError(
                f"cannot merge counts of {a.shape[1]} and {b.shape[1]} factors; every part needs the same "
                "factor columns in the same order."
            )
        c = max(a.shape[2], b.shape[2])
        pad = lambda t: np.pad(t, ((0, 0), (0, 0), (0, c - t.shape[2]), (0, 0)))  # noqa: E731
        return InformationStats(counts=pad(a) + pad(b), edges=self.edges, discretizer=self.discretizer)

    def mutual_info(self) -> np.ndarray:
        """(L, K) float64: I(z_l; v_k) in nats between binned latent l and factor k."""
        return _entropy.mutual_info_matrix(self.counts)

    def factor_entropy(self) -> np.ndarray:
        """(K,) float64: H(v_k) in nats, from the class counts."""
        return _entropies(self.counts[0].sum(axis=2))

    def latent_entropy(self) -> np.ndarray:
        """(L,) float64: H(z_l) in nats of the binned latent (0 for a constant latent)."""
        return _entropies(self.counts[:, 0].sum(axis=1))

    def joint_entropy(self) -> np.ndarray:
        """(L, K) float64: H(z_l, v_k) in nats."""
        L, K = self.counts.shape[:2]
        out = np.empty((L, K), dtype=np.float64)
        for l in range(L):
            for k in range(K):
                out[l, k] = _entropy.joint_entropy_from_counts(self.counts[l, k])
        return out


def _entropies(counts: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of class counts, as I(v; v) (disentanglement_lib's way)."""
    n = counts.shape[-1]
    diag = np.zeros(counts.shape + (n,), dtype=np.int64)
    idx = np.arange(n)
    diag[..., idx, idx] = counts
    return _entropy.mutual_info_matrix(diag)


def _raise_non_finite(latents) -> None:
    from ..._validation import check_latents

    check_latents(latents)  # raises with the position of the first bad value
    raise InvalidInputError("latents contain NaN or inf; drop or fix those rows.")  # pragma: no cover


def check_edges(edges: Any, n_latents: int, dtype) -> np.ndarray:
    """Edges as a C-contiguous (L, B + 1) array in ``dtype``, or one clear error."""
    e = np.asarray(to_numpy(edges))
    if e.ndim != 2 or e.shape[0] != n_latents or e.shape[1] < 3:
        raise InvalidInputError(
            f"edges must have shape (n_latents, n_bins + 1) = ({n_latents}, n_bins + 1) with n_bins >= 2; got "
            f"{e.shape}. Build them with fastdci.kernels.cpu.uniform_edges(mins, maxs, n_bins, dtype)."
        )
    if not np.all(np.isfinite(e)) or np.any(np.diff(e, axis=1) < 0):
        raise InvalidInputError("edges must be finite and non-decreasing along each row.")
    return np.ascontiguousarray(e, dtype=dtype)


def _count(x, y: np.ndarray, edges: np.ndarray, n_classes: int, discretizer: str, device: str) -> np.ndarray:
    """Joint counts of host or device latents ``x`` with host classes ``y`` (kernel by device)."""
    if device == "cuda":
        x = to_torch(x, device="cuda")
        y = to_torch(y, device=x.device)
    return kernel("joint_counts", device)(x, y, edges, n_classes, uniform=discretizer == "uniform")


def source_counts(source, n_bins: int, discretizer: str, device: str) -> InformationStats:
    """The counts of a :class:`~fastdci.io.LatentsSource` for one binning.

    Uniform edges come from the source's min/max (no pass over the rows); quantile edges from
    every row in memory (above the memory budget: every row of files up to
    :data:`QUANTILE_ROWS` rows, else a seeded uniform sample of that many, with a warning).
    Rows in memory are counted where they are (or on ``device``); above the budget the file's
    chunks are streamed.
    """
    dtype = source.dtype
    n_classes = max(source.factor_sizes) if source.factor_sizes else 1
    if discretizer == "uniform":
        mins, maxs = source.minmax()
        edges = _cpu.uniform_edges(mins, maxs, n_bins, dtype)
    elif source.in_memory:
        edges = _cpu.quantile_edges(source.host_latents(), n_bins)
    else:
        n = min(source.n_rows, QUANTILE_ROWS)
        rows = np.sort(np.random.default_rng(0).choice(source.n_rows, size=n, replace=False))
        edges = _cpu.quantile_edges(source.rows(rows), n_bins)
        if n < source.n_rows:
            import warnings

            warnings.warn(
                f"quantile bin edges estimated from a uniform sample of {n} of the {source.n_rows} rows (seed 0); "
                "the counts use every row.", UserWarning, stacklevel=2)
    if source.in_memory:
        x = source.latents
        if device == "cuda":
            x = source.on_device()
        elif device_of(x) == "cuda":
            x = source.host_latents()
        counts = _count(x, source.factors, edges, n_classes, discretizer, device)
    else:
        counts = np.zeros((source.n_latents, source.n_factors, n_classes, n_bins), np.int64)
        for chunk in source.reader.iter_chunks(fields=["mean"]):
            if len(chunk):
                x = np.ascontiguousarray(chunk.mean, dtype=dtype)
                y = source.factors[chunk.start:chunk.start + len(chunk)]
                counts += _count(x, y, edges, n_classes, discretizer, device)
    return InformationStats(counts=counts, edges=edges, discretizer=discretizer)


def counts_statistics(source, *, backend: str, random_state: Any = None, n_bins: int = 20,
                      discretizer: str = "uniform") -> InformationStats:
    """The statistics step of every information metric (the registry calls it)."""
    return source.information_stats(n_bins, discretizer, backend)


def information_stats(latents: Any, factors: Any, *, n_bins: int = 20, discretizer: str = "uniform",
                      edges: np.ndarray | None = None, backend: str = "auto") -> InformationStats:
    """Bin the latents and count every (latent, factor) joint histogram of one array pair.

    Parameters
    ----------
    latents : array (N, L), float
        NumPy, torch or CuPy. float32 and float64 are binned in their own precision; other
        floats are cast to float32, integers to float64.
    factors : array (N, K), int
        Class labels, each in ``[0, n_classes)``.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    edges : array (L, n_bins + 1), optional
        Count with these edges instead of the data's own (to merge with other parts' counts).
    backend : {"auto", "cpu", "cuda"}, default "auto"
        ``"auto"`` counts where the data lives; ``"cuda"`` moves host inputs to the GPU.

    Returns
    -------
    InformationStats
    """
    from ..._validation import check_factors, check_latents
    from ...backend import resolve_device
    from .._options import check_options
    from ..registry import BINNING

    check_options("information_stats", BINNING, {"n_bins": n_bins, "discretizer": discretizer})
    common_namespace(latents, factors)
    latents = check_latents(latents, min_rows=1, check_finite=False)
    y = check_factors(factors, n_rows=int(latents.shape[0]))
    device = device_of(latents) if backend == "auto" else resolve_device(backend)
    dtype = float_dtype(latents)
    x = to_torch(latents, device="cuda", dtype=getattr(__import__("torch"), dtype.name)) if device == "cuda" \
        else np.ascontiguousarray(to_numpy(latents), dtype=dtype)
    mn, mx, bad = kernel("minmax", device)(x)
    if bad:
        _raise_non_finite(to_numpy(latents))
    if edges is not None:
        edges = check_edges(edges, int(x.shape[1]), dtype)
    elif discretizer == "quantile":
        edges = _cpu.quantile_edges(np.ascontiguousarray(to_numpy(x)), n_bins)
    else:
        edges = _cpu.uniform_edges(mn, mx, n_bins, dtype)
    n_classes = int(y.max()) + 1 if y.size else 1
    counts = _count(x, y, edges, n_classes, discretizer, device)
    return InformationStats(counts=counts, edges=edges, discretizer=discretizer)
