"""Rows grouped by factor values: "fix some factors, let the rest fall" sampling by index.

The intervention metrics (BetaVAE, FactorVAE, Z-max, IRS) need batches of data points in
which one factor is held fixed (or all but one are). The reference implementations sample
factor values, render images and run the encoder for every batch. When the rows of a latents
file cover the factor grid, each such batch is just a set of rows: :class:`FactorIndex`
groups the rows once (by each factor's value, and by the values of all the other factors)
and then draws the rows of *all* requested batches in one vectorised call.

On a full grid (one row per factor combination) the draws follow exactly the distribution of
disentanglement_lib's samplers, which draw every factor independently and uniformly:

- ``sample_fixed``: a value ``v`` uniform over factor ``k``'s classes, then ``n`` rows uniform
  (with replacement) among the rows whose factor ``k`` equals ``v``;
- ``sample_pairs``: per pair, ``v`` uniform, then two rows uniform among the rows with
  factor ``k`` equal to ``v``;
- ``sample_others_fixed``: a combination of the other factors uniform over the grid, then
  ``n`` rows uniform among the rows that share it (factor ``k`` free).

On a subset of the grid the same draws are made over the groups that exist; a group with
fewer than ``min_rows`` rows (default 2: one row cannot vary) is never drawn, and the caller
reports it (:meth:`FactorIndex.skipped_values`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from ...errors import InvalidInputError

__all__ = ["FactorIndex", "Grouping", "grid_coverage"]

@dataclasses.dataclass(frozen=True, eq=False)
class Grouping:
    """The rows of a table grouped by a key, as offsets into one sorted row list.

    Attributes
    ----------
    order : ndarray (N,) int64
        Row numbers sorted by key (stable: within a group, in row order).
    starts, counts : ndarray (G,) int64
        Group ``g`` is ``order[starts[g] : starts[g] + counts[g]]``.
    keys : ndarray (G,) int64
        The key of each group (a factor value, or a code of several factors' values).
    n_possible : int
        How many keys the factor grid allows (groups absent from the rows included).
    """

    order: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    keys: np.ndarray
    n_possible: int

    def rows(self, g: int) -> np.ndarray:
        """The rows of group ``g``."""
        s = int(self.starts[g])
        return self.order[s : s + int(self.counts[g])]


@dataclasses.dataclass(frozen=True, eq=False)
class _Table:
    """Groupings of every factor concatenated, so one gather serves batches of any factor."""

    order: np.ndarray  # (K * N,) rows, factor k's grouping at [k * N, (k + 1) * N)
    starts: np.ndarray  # (G,) global group start offsets into ``order``
    counts: np.ndarray  # (G,)
    usable: np.ndarray  # (U,) global ids of the groups with >= min_rows rows
    usable_start: np.ndarray  # (K,) factor k's usable groups: usable[usable_start[k]:][:usable_count[k]]
    usable_count: np.ndarray  # (K,)


def _small_dtype(n_values: int):
    return np.uint8 if n_values <= 256 else np.uint16 if n_values <= 65536 else np.int64


def _uniform_below(rng: np.random.Generator, high: np.ndarray, shape) -> np.ndarray:
    """Integers uniform in ``[0, high)`` (``high`` broadcast to ``shape``), all in one draw.

    A scalar bound uses ``rng.integers``. An array bound uses ``floor(u * high)`` with ``u``
    uniform on the 2**53 doubles of [0, 1): the bias is below ``high / 2**53``, in one
    vectorised draw (``rng.integers`` with an array bound loops per element).
    """
    if np.ndim(high) == 0:
        return rng.integers(0, int(high), size=shape, dtype=np.int64)
    high = np.broadcast_to(high, shape)
    out = (rng.random(shape) * high).astype(np.int64)
    np.minimum(out, high - 1, out=out)  # u * high can round up to high
    return out


def _grouping_by_key(key: np.ndarray, n_possible: int) -> Grouping:
    order = np.argsort(key, kind="stable")
    skey = key[order]
    if skey.size:
        bounds = np.flatnonzero(skey[1:] != skey[:-1]) + 1
        starts = np.concatenate([[0], bounds]).astype(np.int64)
    else:
        starts = np.zeros(0, np.int64)
    counts = np.diff(np.concatenate([starts, [skey.size]])).astype(np.int64)
    return Grouping(order.astype(np.int64), starts, counts, skey[starts].astype(np.int64), int(n_possible))


class FactorIndex:
    """Rows of a dataset grouped by factor values, for sampling interventions by index.

    Built once from the factor classes (cheap: a few stable sorts of N keys), then every draw
    is a handful of vectorised NumPy operations over all requested batches at once.

    Parameters
    ----------
    factors : array (N, K) of int
        Class of each factor for each row, in ``[0, factor_sizes[k])``. Not copied when it is
        already a contiguous int64 array; the caller validates it.
    factor_sizes : sequence of K int, optional
        Classes per factor; default ``factors.max(axis=0) + 1``.
    min_rows : int, default 2
        Groups with fewer rows are never drawn (a single row cannot vary).

    Examples
    --------
    >>> import numpy as np
    >>> grid = np.stack(np.meshgrid(np.arange(2), np.arange(3), indexing="ij"), -1).reshape(-1, 2)
    >>> index = FactorIndex(grid)
    >>> rows = index.sample_fixed(np.array([0, 1]), 4, np.random.default_rng(0))
    >>> rows.shape
    (2, 4)
    >>> [len(set(grid[r, k])) for r, k in zip(rows, [0, 1])]
    [1, 1]
    """

    def __init__(self, factors: Any, factor_sizes: Sequence[int] | None = None, *, min_rows: int = 2):
        f = np.ascontiguousarray(factors, dtype=np.int64)
        if f.ndim != 2:
            raise InvalidInputError(f"factors must have shape (n_samples, n_factors); got {f.shape}.")
        self.factors = f
        self.n_rows, self.n_factors = (int(s) for s in f.shape)
        if factor_sizes is None:
            sizes = tuple(int(m) + 1 for m in f.max(axis=0)) if self.n_rows else (1,) * self.n_factors
        else:
            sizes = tuple(int(s) for s in factor_sizes)
        self.factor_sizes = sizes
        self.min_rows = int(min_rows)
        self._fixed: list[Grouping | None] = [None] * self.n_factors
        self._others: list[Grouping | None] = [None] * self.n_factors
        self._tables: dict[str, _Table] = {}
        self._counts = tuple(np.bincount(f[:, k], minlength=s).astype(np.int64) for k, s in enumerate(sizes))

    # -- provenance ------------------------------------------------------------------------
    def rows_per_value(self) -> tuple[np.ndarray, ...]:
        """Rows backing each value: K arrays, array k of shape (factor_sizes[k],) int64."""
        return tuple(c.copy() for c in self._counts)

    def skipped_values(self) -> tuple[np.ndarray, ...]:
        """Per factor, the values present in some rows but fewer than ``min_rows`` (never drawn,
        though the data holds them): K int64 arrays."""
        return tuple(np.flatnonzero((c > 0) & (c < self.min_rows)).astype(np.int64) for c in self._counts)

    def absent_values(self) -> tuple[np.ndarray, ...]:
        """Per factor, the values no row holds (a sub-grid, e.g. every second position): K arrays.

        The draws cover the values present, so on a complete sub-grid they follow the
        sub-grid's own uniform distribution; nothing present is left out."""
        return tuple(np.flatnonzero(c == 0).astype(np.int64) for c in self._counts)

    def skipped_combinations(self, k: int) -> int:
        """How many combinations of the factors other than ``k`` that some rows hold have fewer
        than ``min_rows`` rows (never drawn)."""
        g = self.others(k)
        return int(np.count_nonzero(g.counts < self.min_rows))

    def sampleable(self, kind: str = "fixed") -> np.ndarray:
        """Boolean (K,): factors with at least one group of ``min_rows`` rows for ``kind``."""
        return self._table(kind).usable_count > 0

    # -- groupings -------------------------------------------------------------------------
    def fixed(self, k: int, out: np.ndarray | None = None) -> Grouping:
        """Rows grouped by the value of factor ``k`` (one group per value, empty ones included).

        ``out``, an (N,) int64 array, receives the sorted rows (the grouping then views it).
        """
        g = self._fixed[k]
        if g is None:
            counts = self._counts[k]
            # a stable sort of small integers is a radix sort in NumPy: O(N)
            col = self.factors[:, k].astype(_small_dtype(len(counts)))
            order = np.argsort(col, kind="stable")
            if out is None:
                out = order.astype(np.int64)
            else:
                out[:] = order
            starts = (np.cumsum(counts) - counts).astype(np.int64)
            g = Grouping(out, starts, counts, np.arange(len(counts), dtype=np.int64), len(counts))
            self._fixed[k] = g
        return g

    def others(self, k: int) -> Grouping:
        """Rows grouped by the values of every factor except ``k`` (combinations present only)."""
        g = self._others[k]
        if g is None:
            cols = [j for j in range(self.n_factors) if j != k]
            sizes = [self.factor_sizes[j] for j in cols]
            n_possible = int(np.prod(sizes, dtype=object)) if cols else 1
            if not cols:
                key = np.zeros(self.n_rows, np.int64)
            elif n_possible < 2**62:
                strides = np.cumprod([1] + sizes[:0:-1])[::-1].astype(np.int64)
                key = self.factors[:, cols] @ strides
            else:  # too many combinations for a mixed-radix code: number the ones present
                key = np.unique(self.factors[:, cols], axis=0, return_inverse=True)[1].ravel().astype(np.int64)
            g = _grouping_by_key(key, n_possible)
            self._others[k] = g
        return g

    def _table(self, kind: str) -> _Table:
        table = self._tables.get(kind)
        if table is not None:
            return table
        n = self.n_rows
        if kind == "fixed":
            order = np.empty(self.n_factors * n, np.int64)
            for k in range(self.n_factors):
                if self._fixed[k] is None:  # sort straight into the table
                    self.fixed(k, out=order[k * n : (k + 1) * n])
                else:
                    order[k * n : (k + 1) * n] = self._fixed[k].order
            groupings = [self.fixed(k) for k in range(self.n_factors)]
        elif kind == "others":
            groupings = [self.others(k) for k in range(self.n_factors)]
            order = np.concatenate([g.order for g in groupings]) if groupings else np.zeros(0, np.int64)
        else:
            raise InvalidInputError(f"kind must be 'fixed' or 'others'; got {kind!r}.")
        starts = np.concatenate([g.starts + k * n for k, g in enumerate(groupings)]).astype(np.int64)
        counts = np.concatenate([g.counts for g in groupings]).astype(np.int64)
        first = np.cumsum([0] + [len(g.counts) for g in groupings])[:-1]
        usable_parts = [np.flatnonzero(g.counts >= self.min_rows) + first[k] for k, g in enumerate(groupings)]
        usable_count = np.array([len(u) for u in usable_parts], np.int64)
        usable_start = (np.cumsum(usable_count) - usable_count).astype(np.int64)
        usable = np.concatenate(usable_parts).astype(np.int64) if usable_parts else np.zeros(0, np.int64)
        table = _Table(order, starts, counts, usable, usable_start, usable_count)
        self._tables[kind] = table
        return table

    # -- sampling --------------------------------------------------------------------------
    def draw_factors(self, n: int, rng: np.random.Generator, kind: str = "fixed") -> np.ndarray:
        """``n`` factor ids, uniform over the factors that :meth:`sampleable` allows: (n,) int64."""
        ok = np.flatnonzero(self.sampleable(kind))
        if ok.size == 0:
            raise InvalidInputError(
                "no factor has a group of at least "
                f"{self.min_rows} rows to sample from (rows: {self.n_rows}, factor sizes "
                f"{list(self.factor_sizes)}); the rows cover too little of the factor grid. Evaluate "
                "on rows that cover the grid (e.g. every dSprites image), or on a larger subset."
            )
        return ok[_uniform_below(rng, np.int64(ok.size), (int(n),))].astype(np.int64)

    def _draw_groups(self, table: _Table, factor_ids: np.ndarray, rng: np.random.Generator, shape) -> np.ndarray:
        uc = table.usable_count[factor_ids]
        if np.any(uc == 0):
            bad = int(factor_ids[np.flatnonzero(uc == 0)[0]])
            raise InvalidInputError(
                f"factor {bad} has no group of at least {self.min_rows} rows to sample from; draw "
                "factor ids with FactorIndex.draw_factors, which leaves such factors out."
            )
        extra = (1,) * (len(shape) - uc.ndim)
        pick = _uniform_below(rng, uc.reshape(uc.shape + extra), shape)
        start = table.usable_start[factor_ids].reshape(uc.shape + extra)
        return table.usable[start + pick]

    def _rows_in(self, table: _Table, groups: np.ndarray, rng: np.random.Generator, shape) -> np.ndarray:
        counts = table.counts[groups]
        starts = table.starts[groups]
        extra = (1,) * (len(shape) - groups.ndim)
        offset = _uniform_below(rng, counts.reshape(counts.shape + extra), shape)
        return table.order[starts.reshape(starts.shape + extra) + offset]

    def sample_rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows uniform over all rows, with replacement: (n,) int64."""
        if self.n_rows == 0:
            raise InvalidInputError("there are no rows to sample from.")
        return _uniform_below(rng, np.int64(self.n_rows), (int(n),))

    def sample_fixed(self, factor_ids: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Per batch ``b``: factor ``factor_ids[b]`` fixed to one value, the others as they fall.

        Returns
        -------
        rows : ndarray (B, batch_size) int64
            The value of batch ``b`` is uniform over factor ``factor_ids[b]``'s usable values;
            its rows are uniform, with replacement, among the rows holding that value.
        """
        factor_ids = np.asarray(factor_ids, np.int64)
        table = self._table("fixed")
        groups = self._draw_groups(table, factor_ids, rng, factor_ids.shape)
        return self._rows_in(table, groups, rng, factor_ids.shape + (int(batch_size),))

    def sample_pairs(
        self, factor_ids: np.ndarray, batch_size: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per batch ``b``: ``batch_size`` pairs of rows that share factor ``factor_ids[b]``.

        Returns
        -------
        rows1, rows2 : ndarray (B, batch_size) int64
            Each pair draws its own value (uniform over the usable values), then both rows
            uniform, with replacement, among the rows holding it.
        """
        factor_ids = np.asarray(factor_ids, np.int64)
        table = self._table("fixed")
        shape = factor_ids.shape + (int(batch_size),)
        groups = self._draw_groups(table, factor_ids, rng, shape)
        return self._rows_in(table, groups, rng, shape), self._rows_in(table, groups, rng, shape)

    def sample_others_fixed(self, factor_ids: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Per batch ``b``: every factor but ``factor_ids[b]`` fixed, that one as it falls.

        Returns
        -------
        rows : ndarray (B, batch_size) int64
            The combination of the other factors is uniform over the usable combinations;
            the rows are uniform, with replacement, among the rows holding it.
        """
        factor_ids = np.asarray(factor_ids, np.int64)
        table = self._table("others")
        groups = self._draw_groups(table, factor_ids, rng, factor_ids.shape)
        return self._rows_in(table, groups, rng, factor_ids.shape + (int(batch_size),))

    def __repr__(self) -> str:
        return f"FactorIndex(rows={self.n_rows}, factor_sizes={list(self.factor_sizes)})"


def grid_coverage(factors: np.ndarray, factor_sizes: Sequence[int], factor_names: Sequence[str], *,
                  others: bool = False) -> tuple[bool, str]:
    """Whether rows with these factor classes support the intervention metrics; if not, why.

    One factor fixed, the others free (BetaVAE, FactorVAE, IRS): each factor needs at least
    two values backed by two rows or more. ``others`` (Z-max, every factor fixed but one): for
    each factor, at least half the rows must share all the other factors with another row (a
    random subset of the grid does not; the full grid does).
    """
    sizes = np.asarray(factor_sizes)
    for k, s in enumerate(sizes):
        if (np.bincount(factors[:, k], minlength=s) >= 2).sum() < 2:
            return False, (f"factor {factor_names[k]} has fewer than two values with two or more rows; encode "
                           "more rows (the full grid: --rows all)")
    if others and len(sizes) > 1:
        for k in range(len(sizes)):
            rest = [j for j in range(len(sizes)) if j != k]
            key = np.ravel_multi_index(tuple(factors[:, j] for j in rest), tuple(sizes[rest]))
            _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
            shared = float(np.mean(counts[inverse] >= 2))
            if shared < 0.5:
                return False, (f"only {100 * shared:.1f}% of the rows share every factor but {factor_names[k]} "
                               "with another row; Z-max needs (most of) the full grid: encode it with --rows all")
    return True, ""
