"""The torchmetrics state of the predictor and intervention metrics: the rows themselves.

:class:`RowStore` keeps every batch's latents and factor classes (list states concatenated
across processes) up to a stated cap, and computes with the core functions on all of them.
The public classes are in :mod:`fastdci.torchmetrics`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torchmetrics.utilities import dim_zero_cat

from ._tm_common import ResultMetric
from ._validation import check_factor_sizes, check_factors, check_latents
from .backend import resolve_device, to_torch
from .errors import InvalidInputError

__all__ = ["DEFAULT_MAX_ROWS", "RowStore"]

DEFAULT_MAX_ROWS = 1_000_000
"""Rows one process keeps by default before :meth:`RowStore.update` refuses more."""


class RowStore(ResultMetric):
    """Every row of every batch, kept until :meth:`compute`, then one core computation.

    States: ``latents`` (float, as given) and ``factors`` (int64), list states with
    ``dist_reduce_fx="cat"``: under DDP :meth:`compute` sees the rows of every process
    concatenated in rank order, so the result equals the plain function on those rows in that
    order (the predictor metrics' train/test split is a seeded permutation of the row order).

    ``max_rows`` caps the rows one process keeps: an update past it raises (no silent
    subsampling); DCI's own ``max_train`` option subsamples its training rows, recorded in the
    result. Rows stay on the metric's device (``compute_on_cpu=True`` moves them to the host
    after each update).
    """

    def __init__(self, names: Sequence[str], options: Mapping[str, Mapping[str, Any]], *,
                 max_rows: int = DEFAULT_MAX_ROWS, random_state: Any = 0, backend: str = "auto",
                 factor_sizes: Sequence[int] | None = None, factor_names: Sequence[str] | None = None, **kwargs: Any):
        from .evaluation import check_metric_options
        from .metrics.registry import check_random_state

        super().__init__(**kwargs)
        self._names = tuple(names)
        check_metric_options(self._names, options)  # raises the checker's one line
        self._given = {n: dict(options.get(n, {})) for n in self._names}
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 2:
            raise InvalidInputError(f"max_rows must be an integer >= 2; got {max_rows!r}.")
        self.max_rows = max_rows
        self._random_state = check_random_state(random_state)
        resolve_device(backend)
        self._backend = backend
        self._factor_sizes = None if factor_sizes is None else tuple(int(s) for s in factor_sizes)
        self._factor_names = None if factor_names is None else tuple(factor_names)
        self.add_state("latents", default=[], dist_reduce_fx="cat")
        self.add_state("factors", default=[], dist_reduce_fx="cat")

    def update(self, latents: Any, factors: Any) -> None:
        """Keep one batch: latents (n, L) float and factors (n, K) int classes (NumPy, torch, CuPy)."""
        latents = check_latents(latents, min_rows=1)
        n, n_latents = (int(s) for s in latents.shape)
        y = check_factors(factors, n_rows=n)
        if self._factor_sizes is not None:
            check_factors(y, factor_sizes=check_factor_sizes(self._factor_sizes, y.shape[1]))
        if self.latents:
            first_x, first_y = self.latents[0], self.factors[0]
            if first_x.shape[1] != n_latents or first_y.shape[1] != y.shape[1]:
                raise InvalidInputError(
                    f"this batch has {n_latents} latents and {y.shape[1]} factors but earlier batches had "
                    f"{first_x.shape[1]} and {first_y.shape[1]}; give every batch the same columns.")
        have = sum(int(t.shape[0]) for t in self.latents)
        if have + n > self.max_rows:
            raise InvalidInputError(
                f"{', '.join(self._names)} keep every row until compute(): this batch would make {have + n} rows, "
                f"above max_rows={self.max_rows}. Pass a larger max_rows= or update with fewer rows (a fixed "
                "subset of the evaluation data).")
        self.latents.append(to_torch(latents).detach().to(self.device, copy=True))
        self.factors.append(torch.from_numpy(y.copy()).to(self.device))

    def rows(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(latents, factors) kept so far (of every process, inside :meth:`compute`)."""
        x = self.latents if isinstance(self.latents, torch.Tensor) else (
            dim_zero_cat(self.latents) if self.latents else None)
        if x is None or x.shape[0] == 0:
            raise InvalidInputError(f"{self._names[0]}: no rows kept yet; call update(latents, factors) first.")
        y = self.factors if isinstance(self.factors, torch.Tensor) else dim_zero_cat(self.factors)
        return x, y

    def compute(self) -> Any:
        """A :class:`~fastdci.Report` of every metric on the rows kept (as :func:`fastdci.evaluate` gives it)."""
        from .evaluation import evaluate

        x, y = self.rows()
        return evaluate((x, y), list(self._names), backend=self._backend, random_state=self._random_state,
                        factor_sizes=self._factor_sizes, factor_names=self._factor_names,
                        **{n: o for n, o in self._given.items() if o})

    def compute_one(self) -> Any:
        """The first metric's result on the rows kept, as ``fastdci.<name>`` returns it (errors raise)."""
        from .metrics.registry import run_metric

        x, y = self.rows()
        name = self._names[0]
        return run_metric(name, x, y, self._given[name], backend=self._backend, random_state=self._random_state,
                          factor_sizes=self._factor_sizes, factor_names=self._factor_names)
