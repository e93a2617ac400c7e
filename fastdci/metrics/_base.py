"""The base class of every metric result."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np


@dataclasses.dataclass(frozen=True)
class MetricResult:
    """A frozen result: the score(s) and the matrices behind them.

    Subclasses are frozen dataclasses; they set :attr:`metric` and implement :meth:`scores`,
    which returns the scalar numbers as Python floats (``{"mig": 0.31}``, or
    ``{"disentanglement": ..., "completeness": ..., ...}`` for DCI).
    """

    metric: ClassVar[str] = "metric"

    def scores(self) -> dict[str, float]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def score(self) -> float:
        """The headline number (the first entry of :meth:`scores`)."""
        return next(iter(self.scores().values()))

    def to_dict(self) -> dict[str, Any]:
        """Every field, arrays as nested lists, plus the scores; JSON-serialisable."""
        out: dict[str, Any] = {"metric": self.metric, "scores": self.scores()}
        for f in dataclasses.fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    return v
