"""Discrete and continuous factors: the per-factor type, and how a continuous factor's real
values become the classes the information metrics count.

A **discrete** factor holds class labels ``0..size-1``. A **continuous** factor holds real
values (a float column of arrays, or ``/factors/values`` of a latents file). Every metric
sees both forms of a continuous factor:

- its **values** (float64), which the predictor metrics regress on (SAP's R², DCI's
  regressors, DCI-ES);
- its **classes**: the values min-max scaled to [0, 1] and cut into ``factor_bins``
  equal-width bins, labels ``0..factor_bins-1`` (the metrics review's ``minmax_scale`` then
  ``get_bin_index`` rule, with its labels shifted down by one), which the information metrics
  (MIG, MIG-sup, JEMMIG, DCIMIG, modularity, InfoMEC) and explicitness count.

The edges come from the rows the source was built on; held-out test rows are cut with the
same edges (values beyond them fall in the first or last bin).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InvalidInputError

__all__ = ["FACTOR_TYPES", "FactorBins", "check_factor_types", "split_columns"]

FACTOR_TYPES = ("discrete", "continuous")


def check_factor_types(factor_types: Any, n_factors: int) -> tuple[str, ...]:
    """``factor_types`` as one type per factor: None (all discrete), one type for every factor,
    or a sequence with one ``"discrete"`` / ``"continuous"`` per factor column."""
    if factor_types is None:
        return ("discrete",) * n_factors
    types = (factor_types,) * n_factors if isinstance(factor_types, str) else tuple(factor_types)
    if len(types) != n_factors:
        raise InvalidInputError(
            f"factor_types has {len(types)} entries but there are {n_factors} factors; give one type per factor "
            "column, or one string for all of them."
        )
    bad = [t for t in types if t not in FACTOR_TYPES]
    if bad:
        raise InvalidInputError(f"factor_types entries must be 'discrete' or 'continuous'; got {bad[0]!r}.")
    return types


class FactorBins:
    """The binning of a source's continuous factors: ``n_bins`` bins between each column's min
    and max on the rows it was fitted on.

    :meth:`classes` reproduces ``np.digitize(minmax_scale(v), np.linspace(0, 1, n + 1)[:-1]) - 1``
    (scikit-learn's ``minmax_scale``: ``v * s - min * s`` with ``s = 1 / (max - min)``) so the
    labels equal the metrics review's, ties at the edges included.
    """

    def __init__(self, values: np.ndarray, n_bins: int):
        v = np.asarray(values, dtype=np.float64)
        self.n_bins = int(n_bins)
        self.min_ = v.min(axis=0)
        rng = v.max(axis=0) - self.min_
        self.scale_ = 1.0 / np.where(rng > 0, rng, 1.0)  # scikit-learn's _handle_zeros_in_scale

    def classes(self, values: np.ndarray) -> np.ndarray:
        """(N, K) int64 labels ``0..n_bins-1`` of ``values`` (N, K)."""
        v = np.asarray(values, dtype=np.float64)
        scaled = v * self.scale_ + (0.0 - self.min_ * self.scale_)
        labels = np.digitize(scaled, np.linspace(0.0, 1.0, self.n_bins + 1)[:-1], right=False) - 1
        return np.clip(labels, 0, self.n_bins - 1).astype(np.int64)


def split_columns(factors: Any, types: Sequence[str], name: str = "factors") -> tuple[np.ndarray, np.ndarray]:
    """(discrete columns, continuous columns as finite float64) of a factor array, by ``types``."""
    from ..backend import to_numpy

    arr = to_numpy(factors)
    cont = np.array([t == "continuous" for t in types])
    values = np.asarray(arr[:, cont], dtype=np.float64) if arr.dtype.kind in "fiub" else None
    if values is None:
        raise InvalidInputError(f"{name} must hold numbers; got dtype {arr.dtype}.")
    if not np.all(np.isfinite(values)):
        r, c = np.argwhere(~np.isfinite(values))[0]
        raise InvalidInputError(
            f"{name} continuous column {int(np.flatnonzero(cont)[c])} holds NaN or inf (first at row {int(r)}); "
            "drop those rows first."
        )
    return arr[:, ~cont], values
