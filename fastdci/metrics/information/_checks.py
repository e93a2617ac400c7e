"""Checks and helpers the information finalizers share."""

from __future__ import annotations

import numpy as np

from ...errors import InvalidInputError


def need(cond: bool, message: str) -> None:
    """Raise ``message`` as an :class:`InvalidInputError` unless ``cond``."""
    if not cond:
        raise InvalidInputError(message)


def check_factor_entropy(h: np.ndarray, metric: str) -> None:
    """Refuse factors with zero entropy (a single class) for a metric that divides by it."""
    zero = np.flatnonzero(h <= 0)
    if zero.size:
        raise InvalidInputError(
            f"{metric} divides by each factor's entropy, but factor column(s) {zero.tolist()} take a "
            "single class in these rows (entropy 0). Drop those columns or evaluate on rows where "
            "every factor varies."
        )


def top2(m: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The largest and second largest values along ``axis`` (0 or 1)."""
    s = np.sort(m, axis=axis)
    if axis == 0:
        return s[-1], s[-2]
    return s[:, -1], s[:, -2]
