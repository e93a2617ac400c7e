"""The torchmetrics state of the information metrics: exact int64 joint counts, batch by batch.

:class:`InformationCounts` counts every batch with the core's
:func:`~fastdci.metrics.information._counts.information_stats` on bin edges fixed before the
first count, keeps the int64 table as a state summed across processes, and finalizes with
the registry's finalizers. The public classes are in :mod:`fastdci.torchmetrics`.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from ._tm_common import ResultMetric, all_reduce, is_distributed
from ._validation import check_latents
from .backend import device_of, float_dtype, resolve_device, to_numpy, to_torch
from .errors import FastDCIError, InvalidInputError
from .kernels.cpu import uniform_edges
from .metrics.information._counts import InformationStats, check_edges, information_stats
from .metrics.registry import get

__all__ = ["InformationCounts"]


class InformationCounts(ResultMetric):
    """Joint counts of every (latent, factor) pair, summed over batches and processes.

    One instance finalizes one or more information metrics that share one binning
    (``n_bins``, ``discretizer``). The states are ``counts`` (int64 (L, K, C, B), summed),
    and the per-latent ``mins`` / ``maxs`` of every row seen (reduced by min / max), which
    only serve the range check.

    Bin edges are fixed before the first count:

    - ``edges=`` (L, n_bins + 1): these edges (the only choice for ``discretizer="quantile"``);
    - ``latent_range=(lo, hi)``: uniform edges between ``lo`` and ``hi`` (scalars, or one
      value per latent), as :func:`fastdci.kernels.cpu.uniform_edges` builds them;
    - neither: uniform edges between the first update's per-latent min and max. Under DDP
      that first update is a collective: every process's first-batch min and max are
      reduced over the process group, so all processes count with the same edges (every
      process must make its first update at the same point, as DDP loops do). The edges are
      agreed again after :meth:`reset`.

    The result equals ``fastdci.<name>`` on all rows (of all processes) exactly when every
    row lies within the edges and the edges are those of all rows' min and max: always for
    the first-update edges when no later row falls outside them. A row outside the edges is
    counted in the end bin, and :meth:`compute` warns with one line naming the latents and
    the ``latent_range`` to pass. Values are binned in the latents' precision (float32 stay
    float32), as the plain functions do.
    """

    def __init__(self, names: Sequence[str], options: Mapping[str, Mapping[str, Any]], *, latent_range: Any = None,
                 edges: Any = None, backend: str = "auto", **kwargs: Any):
        super().__init__(**kwargs)
        self._names = tuple(names)
        self._options = {n: get(n).check(options.get(n, {})) for n in self._names}
        binnings = {(o["n_bins"], o["discretizer"]) for o in self._options.values()}
        if len(binnings) != 1:  # the collection groups metrics by binning before it gets here
            raise InvalidInputError(f"{', '.join(self._names)} need one binning; got {sorted(binnings)}.")
        self.n_bins, self.discretizer = binnings.pop()
        resolve_device(backend)  # raises for an unknown backend or a missing GPU
        self._backend = backend
        self._given_edges = _check_given_edges(edges, latent_range, self.n_bins, self.discretizer, self._names[0])
        self._range = None if latent_range is None else _check_range(latent_range)
        self.bin_edges = "edges" if edges is not None else "latent_range" if latent_range is not None \
            else "first update"
        self.edges: np.ndarray | None = self._given_edges
        self._counted_on = "cpu"
        self.add_state("counts", default=torch.zeros((0, 0, 0, 0), dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("mins", default=torch.zeros(0, dtype=torch.float64), dist_reduce_fx="min")
        self.add_state("maxs", default=torch.zeros(0, dtype=torch.float64), dist_reduce_fx="max")

    # ------------------------------------------------------------------ update
    def update(self, latents: Any, factors: Any) -> None:
        """Count one batch: latents (n, L) float and factors (n, K) int classes (NumPy, torch, CuPy)."""
        latents = check_latents(latents, min_rows=1)
        if self.edges is None:
            self.edges = self._agree_edges(latents)
        part = information_stats(latents, factors, n_bins=self.n_bins, discretizer=self.discretizer,
                                 edges=self.edges, backend=self._backend)
        self._counted_on = device_of(latents) if self._backend == "auto" else resolve_device(self._backend)
        lo, hi = _column_range(latents, self.device)
        self.counts = _add_padded(self.counts, torch.from_numpy(part.counts).to(self.device))
        self.mins = lo if self.mins.numel() == 0 else torch.minimum(self.mins, lo)
        self.maxs = hi if self.maxs.numel() == 0 else torch.maximum(self.maxs, hi)

    def _agree_edges(self, latents: Any) -> np.ndarray:
        n_latents, dtype = int(latents.shape[1]), float_dtype(latents)
        if self._range is not None:
            lo, hi = (np.broadcast_to(b, (n_latents,)) if b.size in (1, n_latents) else None for b in self._range)
            if lo is None or hi is None:
                raise InvalidInputError(
                    f"latent_range gives {max(b.size for b in self._range)} values per bound but the latents have "
                    f"{n_latents} columns; give scalars (one range for every latent) or one value per latent.")
            return uniform_edges(lo, hi, self.n_bins, dtype)
        lo, hi = _column_range(latents, self.device)
        if is_distributed(self):
            lo = all_reduce(self, lo, torch.distributed.ReduceOp.MIN)
            hi = all_reduce(self, hi, torch.distributed.ReduceOp.MAX)
        return uniform_edges(lo.cpu().numpy(), hi.cpu().numpy(), self.n_bins, dtype)

    def reset(self) -> None:
        """Forget every count; edges agreed on a first update are agreed again on the next one."""
        super().reset()
        if self._given_edges is None and self._range is None:
            self.edges = None

    # ------------------------------------------------------------------ sync and compute
    def _sync_dist(self, dist_sync_fn: Any = None, process_group: Any = None) -> None:
        # processes may have seen different numbers of classes (or no rows): pad every
        # state to the largest shape first, so the gathered states stack and sum
        group = process_group or self.process_group
        shape = torch.tensor(self.counts.shape, dtype=torch.int64, device=self.counts.device)
        torch.distributed.all_reduce(shape, op=torch.distributed.ReduceOp.MAX, group=group)
        target = tuple(int(s) for s in shape)
        if tuple(self.counts.shape) != target:
            grown = torch.zeros(target, dtype=torch.int64, device=self.counts.device)
            grown[tuple(slice(0, s) for s in self.counts.shape)] = self.counts
            self.counts = grown
        n = target[0]
        if self.mins.numel() != n:
            self.mins = torch.full((n,), np.inf, dtype=torch.float64, device=self.counts.device)
            self.maxs = torch.full((n,), -np.inf, dtype=torch.float64, device=self.counts.device)
        super()._sync_dist(dist_sync_fn, process_group=process_group)

    def stats(self) -> InformationStats:
        """The counts so far (of every process, inside :meth:`compute`) with their edges."""
        if self.counts.numel() == 0 or int(self.counts[0, 0].sum()) == 0:
            raise InvalidInputError(f"{self._names[0]}: no rows counted yet; call update(latents, factors) first.")
        if self.edges is None:  # other processes counted rows, this one none
            raise InvalidInputError(f"{self._names[0]}: this process made no update; every process must update at "
                                    "least once before compute().")
        return InformationStats(counts=self.counts.cpu().numpy(), edges=self.edges, discretizer=self.discretizer)

    def compute(self) -> dict[str, Any]:
        """Name -> result, or -> the :class:`~fastdci.errors.FastDCIError` that metric raised."""
        return self.compute_each()

    def compute_each(self) -> dict[str, Any]:
        """What :meth:`compute` returns, from the states as they are (no sync)."""
        stats = self.stats()
        self._warn_outside(stats)
        single = [k for k in range(stats.counts.shape[1]) if int((stats.counts[0, k].sum(axis=1) > 0).sum()) < 2]
        out: dict[str, Any] = {}
        for name in self._names:
            spec = get(name)
            if single:
                out[name] = InvalidInputError(
                    f"{name}: factor(s) {single} take a single class in these rows. Every metric refuses such a "
                    "factor: it carries no information (entropy 0). Drop the column(s), or update with rows "
                    "where every factor varies.")
                continue
            _, final = spec.split_options(self._options[name])
            try:
                result = spec.load("finalize")(stats, **final)
            except FastDCIError as exc:
                out[name] = exc
                continue
            settings = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else type(v).__name__)
                        for k, v in self._options[name].items()}
            settings.update(result.settings)
            prov = {"n_rows": stats.n_rows, "backend": self._counted_on, **result.provenance,
                    "bin_edges": self.bin_edges}
            out[name] = dataclasses.replace(result, settings=settings, provenance=prov)
        return out

    def _warn_outside(self, stats: InformationStats) -> None:
        lo, hi = self.mins.cpu().numpy(), self.maxs.cpu().numpy()
        e0, e1 = stats.edges[:, 0].astype(np.float64), stats.edges[:, -1].astype(np.float64)
        bad = np.flatnonzero((lo < e0) | (hi > e1))
        if bad.size == 0:
            return
        l = int(bad[0])
        wide_lo = np.minimum(lo, e0)
        wide_hi = np.maximum(hi, e1)
        warnings.warn(
            f"{', '.join(self._names)}: latent(s) {bad.tolist()} have rows outside the bin edges fixed by "
            f"{_HOW[self.bin_edges]} (latent {l}: rows in [{lo[l]:.6g}, {hi[l]:.6g}], edges [{e0[l]:.6g}, {e1[l]:.6g}]); "
            f"they were counted in the end bins, so the scores differ from fastdci.{get(self._names[0]).public_name} "
            f"on the same rows. Fix the edges before the first update: pass latent_range=(mins, maxs) covering "
            f"every row (here at least ({wide_lo.min():.6g}, {wide_hi.max():.6g})).", UserWarning, stacklevel=2)


_HOW = {"edges": "edges=", "latent_range": "latent_range=", "first update": "the first update's min and max"}


def _column_range(latents: Any, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column (min, max) of a checked batch as float64 tensors on ``device``."""
    x = to_torch(latents).detach()
    lo, hi = torch.aminmax(x, dim=0)
    return lo.to(device=device, dtype=torch.float64), hi.to(device=device, dtype=torch.float64)


def _add_padded(total: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """``total + part`` for count tables whose class axis may differ (the shorter is zero-padded)."""
    if total.numel() == 0:
        return part
    if total.shape[:2] != part.shape[:2] or total.shape[3] != part.shape[3]:
        raise InvalidInputError(
            f"this batch gives counts of shape {tuple(part.shape[:2])} (latents, factors) but earlier batches gave "
            f"{tuple(total.shape[:2])}; give every batch the same latent and factor columns.")
    c = max(total.shape[2], part.shape[2])
    pad = lambda t: torch.nn.functional.pad(t, (0, 0, 0, c - t.shape[2]))  # noqa: E731
    return pad(total) + pad(part)


def _check_range(latent_range: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        lo, hi = latent_range
        lo, hi = (np.atleast_1d(np.asarray(to_numpy(b), dtype=np.float64)) for b in (lo, hi))
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"latent_range must be a pair (lo, hi) of numbers or of per-latent arrays; got {latent_range!r}."
        ) from None
    try:
        wide_lo, wide_hi = np.broadcast_arrays(lo, hi)
    except ValueError:
        wide_lo = wide_hi = np.zeros(0)
    if lo.ndim != 1 or hi.ndim != 1 or wide_lo.size == 0 or not np.isfinite(wide_lo).all() or \
            not np.isfinite(wide_hi).all() or np.any(wide_lo >= wide_hi):
        raise InvalidInputError(
            f"latent_range must be finite (lo, hi) with lo < hi for every latent; got {latent_range!r}.")
    return lo, hi


def _check_given_edges(edges: Any, latent_range: Any, n_bins: int, discretizer: str, name: str):
    if edges is not None and latent_range is not None:
        raise InvalidInputError(f"{name}: pass latent_range= or edges=, not both.")
    if edges is None:
        if discretizer == "quantile":
            raise InvalidInputError(
                f"{name}: quantile bins need the quantiles of every row before the first count; pass edges= (e.g. "
                "fastdci.kernels.cpu.quantile_edges(sample_of_latents, n_bins)) or use discretizer='uniform'.")
        return None
    e = np.asarray(to_numpy(edges))
    if e.dtype not in (np.float32, np.float64):
        e = e.astype(np.float64)
    e = check_edges(e, e.shape[0] if e.ndim == 2 else -1, e.dtype)
    if e.shape[1] - 1 != n_bins:
        raise InvalidInputError(
            f"{name}: edges have {e.shape[1] - 1} bins but n_bins is {n_bins}; pass n_bins={e.shape[1] - 1}.")
    return e
