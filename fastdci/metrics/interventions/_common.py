"""What the intervention metrics share: the seeded generator and the record of which factor
values backed the draws (with a warning when the rows do not cover the grid)."""

from __future__ import annotations

import warnings

import numpy as np


__all__ = ["provenance", "rng_of", "warn_unsampleable"]


def rng_of(random_state) -> np.random.Generator:
    """A NumPy Generator from None, an int or a Generator (anything else raises)."""
    from ..registry import check_random_state

    return np.random.default_rng(check_random_state(random_state))


def provenance(source, metric: str, *, warn: bool = True, stacklevel: int = 5) -> dict:
    """Rows per factor value and the values left out of the draws (fewer than 2 rows)."""
    index = source.factor_index()
    skipped = index.skipped_values()
    named = {source.factor_names[k]: tuple(int(v) for v in s) for k, s in enumerate(skipped) if s.size}
    if named and warn:
        parts = "; ".join(f"{n}: {list(v) if len(v) <= 8 else list(v[:8]) + ['...']}" for n, v in named.items())
        warnings.warn(
            f"{metric}: {sum(len(v) for v in named.values())} factor value(s) are held by fewer than "
            f"{index.min_rows} rows and are left out of the draws ({parts}). Encode more rows per value "
            "(e.g. the full grid, --rows all); result.rows_per_value and result.skipped_values record what "
            "backed the score.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return {
        "factor_names": tuple(source.factor_names),
        "rows_per_value": index.rows_per_value(),
        "skipped_values": named,
        "n_rows": index.n_rows,
    }


def warn_unsampleable(source, kind: str, metric: str, stacklevel: int = 5) -> None:
    """Warn about factors with no group of rows to sample from (never chosen)."""
    index = source.factor_index()
    bad = np.flatnonzero(~index.sampleable(kind))
    if bad.size and bad.size < index.n_factors:
        names = [source.factor_names[k] for k in bad]
        warnings.warn(
            f"{metric}: factor(s) {names} have no group of {index.min_rows} or more rows to "
            "sample from and are never chosen; the score covers the other factors only.",
            UserWarning,
            stacklevel=stacklevel,
        )
