"""The one result contract every metric returns: a frozen dataclass with a headline score.

- ``score``: the documented headline (the field named by :attr:`MetricResult.headline`);
- ``scores()``: every score as a Python ``float``, headline first (no counts);
- ``counts()``: integer quantities (``num_active_dims``, rows used) as Python ``int``;
- ``settings``: every option the metric ran with, so a stored result says which variant it is;
- ``provenance``: where the numbers came from (rows, backend, ...);
- ``==`` compares every field (arrays by value, NaN equal to NaN);
- ``to_dict()`` / ``from_dict()`` round-trip through JSON.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class MetricResult:
    """Base of every metric result (see the module docstring for the contract).

    Subclasses are frozen dataclasses that set :attr:`metric`, :attr:`headline`,
    :attr:`score_fields` (float fields, headline first) and :attr:`count_fields`.
    """

    metric: ClassVar[str] = "metric"
    headline: ClassVar[str] = ""
    score_fields: ClassVar[tuple[str, ...]] = ()
    count_fields: ClassVar[tuple[str, ...]] = ()

    settings: dict = dataclasses.field(default_factory=dict, kw_only=True)
    provenance: dict = dataclasses.field(default_factory=dict, kw_only=True)

    def scores(self) -> dict[str, float]:
        """Every score as a Python float, the headline first."""
        return {name: float(getattr(self, name)) for name in self.score_fields}

    def counts(self) -> dict[str, int]:
        """Integer quantities behind the scores (latents kept, rows used) as Python ints."""
        return {name: int(getattr(self, name)) for name in self.count_fields}

    @property
    def score(self) -> float:
        """The headline number (:attr:`headline`)."""
        return float(getattr(self, self.headline))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self))

    __hash__ = None  # type: ignore[assignment]  # results hold arrays

    def to_dict(self) -> dict[str, Any]:
        """Every field (arrays as nested lists), plus ``metric``, ``scores`` and ``counts``."""
        out: dict[str, Any] = {"metric": self.metric, "scores": self.scores(), "counts": self.counts()}
        for f in dataclasses.fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "MetricResult":
        """The result :meth:`to_dict` described (arrays come back as NumPy arrays)."""
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name not in doc:
                continue
            kwargs[f.name] = _revive(doc[f.name], hints.get(f.name))
        return cls(**kwargs)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" and b.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


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


def _revive(v: Any, hint: Any) -> Any:
    if hint is np.ndarray:
        return np.asarray(v)
    if hint is tuple and isinstance(v, list):
        return tuple(np.asarray(x) if isinstance(x, list) else x for x in v)
    return v
