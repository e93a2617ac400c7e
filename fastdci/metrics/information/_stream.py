"""Streaming information metrics: counts that grow chunk by chunk, then any finalizer.

For rows that arrive in parts (a training loop's batches, a file read by several workers):
fix the bin edges first, count each part with them, merge, finalize. The counts are integers,
so the result equals the one-pass result bit for bit, in any order.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...backend import float_dtype, to_numpy
from ...errors import InvalidInputError
from ...kernels import cpu as _cpu
from ._counts import InformationStats, check_edges, information_stats

__all__ = ["InformationAccumulator"]

class InformationAccumulator:
    """Streaming counts for the information metrics: ``update``, ``merge``, ``compute``.

    The state is an :class:`InformationStats`; the bin edges are fixed before the first
    update (given, or from :meth:`from_data` / :meth:`from_range`).

    Parameters
    ----------
    edges : array (L, n_bins + 1)
        Bin edges per latent, in the latents' dtype (chunks are cast to it). Values outside
        ``[edges[l, 0], edges[l, -1]]`` go to the first or last bin.
    discretizer : {"uniform", "quantile"}, default "uniform"
        A label for the result and a hint for the kernel (evenly spaced edges).

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import InformationAccumulator, mig
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=(1000, 2)); x = y + rng.normal(size=(1000, 2))
    >>> acc = InformationAccumulator.from_data(x)
    >>> for s in range(0, 1000, 300):
    ...     _ = acc.update(x[s:s + 300], y[s:s + 300])
    >>> acc.compute("mig").mig == mig(x, y).mig
    True
    """

    def __init__(self, edges: Any, *, discretizer: str = "uniform"):
        if discretizer not in ("uniform", "quantile"):
            raise InvalidInputError(f"discretizer must be 'uniform' or 'quantile'; got {discretizer!r}.")
        self.discretizer = discretizer
        e = np.asarray(to_numpy(edges))
        if e.dtype not in (np.float32, np.float64):
            e = e.astype(np.float64)
        self.edges = check_edges(e, e.shape[0] if e.ndim == 2 else -1, e.dtype)
        self.n_latents = int(self.edges.shape[0])
        self.n_bins = int(self.edges.shape[1]) - 1
        self._stats: InformationStats | None = None

    @classmethod
    def from_range(cls, mins: Any, maxs: Any, *, n_bins: int = 20, dtype=np.float32) -> "InformationAccumulator":
        """Uniform edges from per-latent min and max (disentanglement_lib's histogram edges)."""
        if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
            raise InvalidInputError(f"n_bins must be an integer >= 2; got {n_bins!r}.")
        dt = float_dtype(np.empty(0, dtype=dtype))
        return cls(_cpu.uniform_edges(np.asarray(mins), np.asarray(maxs), int(n_bins), dt))

    @classmethod
    def from_data(cls, latents: Any, *, n_bins: int = 20, discretizer: str = "uniform") -> "InformationAccumulator":
        """Edges from every row of an array (min/max for uniform bins, quantiles otherwise)."""
        y = np.zeros((int(np.shape(latents)[0]), 1), np.int64)
        stats = information_stats(latents, y, n_bins=n_bins, discretizer=discretizer)
        return cls(stats.edges, discretizer=discretizer)

    @property
    def n_rows(self) -> int:
        """Rows counted so far."""
        return 0 if self._stats is None else self._stats.n_rows

    def update(self, latents: Any, factors: Any) -> "InformationAccumulator":
        """Count one chunk of rows (latents (n, L) float, factors (n, K) int); returns self."""
        shape = tuple(np.shape(latents))
        if len(shape) == 2 and shape[1] != self.n_latents:
            raise InvalidInputError(
                f"this chunk has {shape[1]} latents but the edges are for {self.n_latents}; "
                "give every chunk the same latent columns."
            )
        part = information_stats(latents, factors, edges=self.edges, n_bins=self.n_bins,
                                 discretizer=self.discretizer, backend="auto")
        return self._add(part)

    def _add(self, part: InformationStats) -> "InformationAccumulator":
        self._stats = part if self._stats is None else self._stats.merge(part)
        return self

    def merge(self, other: "InformationAccumulator") -> "InformationAccumulator":
        """Add another accumulator's counts (same edges required); returns self."""
        if not isinstance(other, InformationAccumulator):
            raise InvalidInputError(f"merge takes an InformationAccumulator; got {type(other).__name__}.")
        if other.edges.shape != self.edges.shape or not np.array_equal(other.edges, self.edges):
            raise InvalidInputError(
                "cannot merge accumulators with different bin edges: their counts are not comparable. Build "
                "both from the same edges (e.g. InformationAccumulator(acc.edges))."
            )
        if other._stats is not None:
            self._add(other._stats)
        return self

    def stats(self) -> InformationStats:
        """The counts so far."""
        if self._stats is None or self.n_rows == 0:
            raise InvalidInputError("no rows counted yet; call update(latents, factors) first.")
        return self._stats

    def compute(self, metric: str | Sequence[str] | None = None, **options) -> Any:
        """Finalise: one metric's result, or a dict name -> result for several (all by default).

        ``options`` are finalize options (``normalization`` for MIG, ``uninformative`` for
        modularity); with several metrics each takes the ones it declares.
        """
        from ..registry import METRICS, get

        stats = self.stats()
        information = [n for n, spec in METRICS.items() if spec.family == "information"]
        names = [metric] if isinstance(metric, str) else list(information if metric is None else metric)
        if not isinstance(metric, str):
            known = {o.name for n in names for o in get(n).options}
            unused = sorted(set(options) - known)
            if unused:
                raise InvalidInputError(f"no metric among {names} has the option(s) {unused}.")
        out = {}
        for name in names:
            spec = get(name)
            if spec.family != "information":
                raise InvalidInputError(f"{name} is not an information metric; choose from {', '.join(information)}.")
            # one metric: every option is its own (unknown ones raise); several: each takes its own
            own = dict(options) if isinstance(metric, str) else {
                k: v for k, v in options.items() if k in {o.name for o in spec.options}}
            checked = spec.check({"n_bins": self.n_bins, "discretizer": self.discretizer, **own})
            _, final = spec.split_options(checked)
            out[name] = spec.load("finalize")(stats, **final)
        return out[metric] if isinstance(metric, str) else out
