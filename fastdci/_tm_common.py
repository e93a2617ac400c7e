"""Pieces shared by the torchmetrics classes: keyword splitting and the distributed checks.

Importing this module imports torch (the classes that use it need torchmetrics anyway).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

import torch
from torchmetrics import Metric

__all__ = ["METRIC_KWARGS", "ResultMetric", "all_reduce", "is_distributed", "split_kwargs"]

METRIC_KWARGS = frozenset({"compute_on_cpu", "dist_sync_on_step", "process_group", "dist_sync_fn",
                           "distributed_available_fn", "sync_on_compute", "compute_with_cache"})
"""Keyword arguments that go to ``torchmetrics.Metric`` itself; every other one is a metric option."""


def split_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict, dict]:
    """``kwargs`` divided into (fastdci metric options, ``torchmetrics.Metric`` keywords)."""
    options = {k: v for k, v in kwargs.items() if k not in METRIC_KWARGS}
    metric = {k: v for k, v in kwargs.items() if k in METRIC_KWARGS}
    return options, metric


def is_distributed(metric) -> bool:
    """True when ``metric`` syncs its states across more than one process at compute time."""
    if not metric.sync_on_compute:
        return False
    available = metric.distributed_available_fn
    if not (callable(available) and available()):
        return False
    return torch.distributed.get_world_size(metric.process_group) > 1


def all_reduce(metric, tensor: torch.Tensor, op) -> torch.Tensor:
    """``tensor`` reduced with ``op`` over ``metric``'s process group (a collective call)."""
    torch.distributed.all_reduce(tensor, op=op, group=metric.process_group)
    return tensor


class _Box:
    """Holds a compute() value out of torchmetrics' reach (it rebuilds dataclasses, and fastdci's
    results are frozen)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class ResultMetric(Metric):
    """A ``torchmetrics.Metric`` whose ``compute()`` returns fastdci results as they are.

    Syncing, caching and unsyncing are torchmetrics' own; only the returned value passes
    untouched. ``forward`` (``metric(latents, factors)``) is :meth:`update`: the scores need
    every row, so call ``compute()``.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def _wrap_compute(self, compute: Callable) -> Callable:
        wrapped = super()._wrap_compute(lambda *a, **k: _Box(compute(*a, **k)))

        @functools.wraps(compute)
        def unboxed(*args: Any, **kwargs: Any) -> Any:
            return wrapped(*args, **kwargs).value

        return unboxed

    def forward(self, *args: Any, **kwargs: Any) -> None:
        self.update(*args, **kwargs)
