"""Intervention-based metrics: BetaVAE (Z-diff), FactorVAE (Z-min), Z-max variance, IRS.

These metrics score a representation by what happens to the codes when some factors are held
fixed and the others vary. disentanglement_lib samples factor values, renders the images and
runs the encoder for every batch of every metric. When the rows of a latents file (or the
arrays passed in) cover the factor grid, a batch with "factor k fixed, the others as they
fall" is just a set of rows: fastdci groups the rows by factor value once
(:class:`~fastdci.metrics._factor_index.FactorIndex`), draws the rows of all batches in one
vectorised call, and reduces every batch at once. No model and no images are needed.

On a full grid (every factor combination once, e.g. the 737,280 dSprites images) the draws
follow exactly the distribution of disentanglement_lib's samplers. On a subset of the grid
the metrics still run; the results record how many rows backed each factor value, and a value
with fewer than two rows is left out of the draws with a warning.

Every public function takes either arrays ``(latents (N, L), factors (N, K))`` or a latents
file (a path or an open :class:`fastdci.io.LatentsReader`), and returns a frozen result whose
:meth:`scores` are Python floats.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import warnings
from typing import Any, ClassVar, Iterator, Sequence

import numba
import numpy as np

from .._validation import check_factor_sizes, check_pair
from ..backend import resolve_device, to_numpy
from ..errors import InvalidInputError
from ..io.reader import LatentsReader, open_latents
from ._base import MetricResult
from ._factor_index import FactorIndex

__all__ = [
    "BetaVAEResult",
    "FactorVAEResult",
    "IRSResult",
    "ZMaxVarianceResult",
    "beta_vae_score",
    "factor_vae_score",
    "irs",
    "z_max_variance",
]

# ============================================================================ kernels
#
# Per-batch reductions fused with the row gather: one pass over the rows drawn, no
# (batches, batch_size, L) temporary. Tables are C-contiguous (U, L) float32 or float64;
# ``pos`` (B, n) int64 are positions into the table; sums are float64.

_TABLE_TYPES = ("float32", "float64")


@numba.njit(
    [f"void({t}[:, ::1], int64[:, ::1], int64[::1], float64[::1], boolean, int64[::1])" for t in _TABLE_TYPES],
    cache=True,
)
def _pick_latent_kernel(table, pos, active, global_var, pick_max, out):
    """out[b] = the active latent whose variance (ddof=1) over rows ``pos[b]``, divided by
    ``global_var``, is smallest (``pick_max`` False) or largest; ties go to the first."""
    n_batches, n = pos.shape
    n_active = active.shape[0]
    sums = np.empty(n_active, np.float64)
    sq = np.empty(n_active, np.float64)
    for b in range(n_batches):
        sums[:] = 0.0
        for i in range(n):
            r = pos[b, i]
            for j in range(n_active):
                sums[j] += table[r, active[j]]
        for j in range(n_active):
            sums[j] /= n
        sq[:] = 0.0
        for i in range(n):
            r = pos[b, i]
            for j in range(n_active):
                d = table[r, active[j]] - sums[j]
                sq[j] += d * d
        best = 0
        best_val = sq[0] / (n - 1) / global_var[active[0]]
        for j in range(1, n_active):
            v = sq[j] / (n - 1) / global_var[active[j]]
            if (v > best_val) if pick_max else (v < best_val):
                best = j
                best_val = v
        out[b] = active[best]


@numba.njit(
    [f"void({t}[:, ::1], int64[:, ::1], int64[:, ::1], float64[:, ::1])" for t in _TABLE_TYPES],
    cache=True,
)
def _mean_abs_diff_kernel(table, pos1, pos2, out):
    """out[b, l] = mean over i of |table[pos1[b, i], l] - table[pos2[b, i], l]|."""
    n_batches, n = pos1.shape
    n_latents = table.shape[1]
    for b in range(n_batches):
        for l in range(n_latents):
            out[b, l] = 0.0
        for i in range(n):
            r1 = pos1[b, i]
            r2 = pos2[b, i]
            for l in range(n_latents):
                out[b, l] += abs(np.float64(table[r1, l]) - np.float64(table[r2, l]))
        for l in range(n_latents):
            out[b, l] /= n


def _as_table(latents: np.ndarray) -> np.ndarray:
    """C-contiguous float32 or float64 (other dtypes become float64) for the kernels."""
    if latents.dtype not in (np.float32, np.float64):
        latents = latents.astype(np.float64)
    return np.ascontiguousarray(latents)


# ============================================================================ results


@dataclasses.dataclass(frozen=True, eq=False)
class BetaVAEResult(MetricResult):
    """The BetaVAE score (Higgins et al. 2017) and what backs it.

    Attributes
    ----------
    train_accuracy, eval_accuracy : float
        Accuracy of the linear classifier on its training points and on fresh points.
    batch_size, num_train, num_eval : int
        Pairs per point, training points, evaluation points.
    C : float
        Inverse L2 regularisation strength of the logistic regression.
    train_label_counts : ndarray (K,) int64
        Training points per fixed factor.
    factor_names : tuple of str
    rows_per_value : tuple of K ndarrays
        ``rows_per_value[k][v]``: rows holding value ``v`` of factor ``k``.
    skipped_values : dict of str to tuple of int
        Per factor, the values with fewer than 2 rows, never drawn (empty on a full grid).
    n_rows : int
        Rows the samples were drawn from.
    """

    metric: ClassVar[str] = "beta_vae"

    train_accuracy: float
    eval_accuracy: float
    batch_size: int
    num_train: int
    num_eval: int
    C: float
    train_label_counts: np.ndarray
    factor_names: tuple
    rows_per_value: tuple
    skipped_values: dict
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {"eval_accuracy": float(self.eval_accuracy), "train_accuracy": float(self.train_accuracy)}


@dataclasses.dataclass(frozen=True, eq=False)
class FactorVAEResult(MetricResult):
    """The FactorVAE score (Kim & Mnih 2018) and what backs it.

    Attributes
    ----------
    train_accuracy, eval_accuracy : float
        Accuracy of the majority-vote classifier on the training votes and on fresh votes.
    num_active_dims : int
        Latents whose global standard deviation reaches ``threshold`` (and is not 0).
    active : ndarray (L,) bool
    global_variances : ndarray (L,) float64
        Variance (ddof=1) of each latent over ``num_variance_estimate`` rows.
    train_votes, eval_votes : ndarray (K, L) int64
        ``votes[k, l]``: batches with factor ``k`` fixed whose chosen latent was ``l``.
    classifier : ndarray (L,) int64
        The factor each latent votes for (argmax of ``train_votes[:, l]``; 0 for a latent
        that never got a vote, as in disentanglement_lib).
    batch_size, num_train, num_eval : int
    num_variance_estimate : int
        Rows used for the global variances.
    threshold : float
    factor_names, rows_per_value, skipped_values, n_rows
        Provenance, as in :class:`BetaVAEResult`.
    """

    metric: ClassVar[str] = "factor_vae"

    train_accuracy: float
    eval_accuracy: float
    num_active_dims: int
    active: np.ndarray
    global_variances: np.ndarray
    train_votes: np.ndarray
    eval_votes: np.ndarray
    classifier: np.ndarray
    batch_size: int
    num_train: int
    num_eval: int
    num_variance_estimate: int
    threshold: float
    factor_names: tuple
    rows_per_value: tuple
    skipped_values: dict
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {
            "eval_accuracy": float(self.eval_accuracy),
            "train_accuracy": float(self.train_accuracy),
            "num_active_dims": float(self.num_active_dims),
        }


@dataclasses.dataclass(frozen=True, eq=False)
class ZMaxVarianceResult(FactorVAEResult):
    """The Z-max variance score (Kim et al. 2019): fields as :class:`FactorVAEResult`, plus

    Attributes
    ----------
    skipped_combinations : dict of str to int
        Per varied factor, combinations of the other factors with fewer than 2 rows (never
        drawn; 0 on a full grid).
    """

    metric: ClassVar[str] = "z_max_variance"

    skipped_combinations: dict


@dataclasses.dataclass(frozen=True, eq=False)
class IRSResult(MetricResult):
    """The Interventional Robustness Score (Suter et al. 2019) and what backs it.

    Attributes
    ----------
    irs : float
        Mean of the per-latent scores over the active latents, weighted by ``max_deviations``.
    num_active_dims : int
        Latents with non-zero variance over the sample.
    active : ndarray (L,) bool
    irs_matrix : ndarray (L, K) float64
        ``1 - E_v[q_l(|z_l - E[z_l | f_k = v]|)] / max_deviation_l``; NaN rows for inactive
        latents.
    disentanglement_scores : ndarray (L,) float64
        Row maxima of ``irs_matrix`` (NaN for inactive latents).
    parents : ndarray (L,) int64
        Row argmax of ``irs_matrix``: the factor each latent is most robust to (-1 if inactive).
    max_deviations : ndarray (L,) float64
        ``max |z_l - mean(z_l)|`` over the sample.
    num_train : int
        Rows in the sample.
    diff_quantile : float
    num_bins : int or None
        Bins of the histogram discretisation of the factors (None: classes as they are).
    factor_names, rows_per_value, skipped_values, n_rows
        Provenance, as in :class:`BetaVAEResult` (IRS skips nothing: ``skipped_values`` lists
        values with fewer than 2 rows in the data, for information).
    """

    metric: ClassVar[str] = "irs"

    irs: float
    num_active_dims: int
    active: np.ndarray
    irs_matrix: np.ndarray
    disentanglement_scores: np.ndarray
    parents: np.ndarray
    max_deviations: np.ndarray
    num_train: int
    diff_quantile: float
    num_bins: Any
    factor_names: tuple
    rows_per_value: tuple
    skipped_values: dict
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {"irs": float(self.irs), "num_active_dims": float(self.num_active_dims)}


# ============================================================================ inputs


class _Source:
    """Latents to gather rows from (arrays or an open file) and the index over their factors."""

    def __init__(self, index: FactorIndex, factor_names: tuple, latents=None, reader=None):
        self.index = index
        self.factor_names = factor_names
        self.latents = latents
        self.reader = reader
        self.latent_dim = int(latents.shape[1]) if latents is not None else int(reader.latent_dim)

    def take(self, rows: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The latents behind every row array: ``(table (U, L), [positions into table])``.

        From arrays the table is the latents themselves. From a file only the rows drawn are
        read (each once), so memory follows the number of draws, not the file's length.
        """
        if self.latents is not None:
            return self.latents, [np.ascontiguousarray(r, dtype=np.int64) for r in rows]
        n = self.index.n_rows
        mask = np.zeros(n, dtype=bool)
        for r in rows:
            mask[r.ravel()] = True
        needed = np.flatnonzero(mask)
        if 2 * needed.size >= n:  # most rows are needed: one contiguous read is cheaper
            table = _as_table(self.reader.read(fields=["mean"]).mean)
            return table, [np.ascontiguousarray(r, dtype=np.int64) for r in rows]
        remap = np.cumsum(mask, dtype=np.int64) - 1
        table = _as_table(self.reader.read(needed, fields=["mean"]).mean)
        return table, [np.ascontiguousarray(remap[r]) for r in rows]


def _names(factor_names, n_factors: int) -> tuple:
    if factor_names is None:
        return tuple(f"factor_{k}" for k in range(n_factors))
    names = tuple(str(n) for n in factor_names)
    if len(names) != n_factors:
        raise InvalidInputError(
            f"factor_names has {len(names)} entries but there are {n_factors} factors; give one name "
            "per factor column."
        )
    return names


@contextlib.contextmanager
def _open_source(latents, factors, factor_sizes, factor_names, metric: str) -> Iterator[_Source]:
    """Arrays, a path or an open reader -> a :class:`_Source` (a path is closed afterwards)."""
    if isinstance(latents, (str, os.PathLike)) or isinstance(latents, LatentsReader):
        if factors is not None:
            raise InvalidInputError(
                f"{metric}: factors were given together with a latents file; the file already holds "
                "the factor classes. Pass the file alone, or pass both arrays (latents, factors)."
            )
        own = not isinstance(latents, LatentsReader)
        reader = open_latents(latents) if own else latents
        try:
            if factor_sizes is not None and check_factor_sizes(factor_sizes, reader.n_factors) != reader.factor_sizes:
                raise InvalidInputError(
                    f"{metric}: factor_sizes {list(factor_sizes)} disagree with the file's "
                    f"{list(reader.factor_sizes)}; drop factor_sizes (the file's are used)."
                )
            names = reader.factor_names if factor_names is None else _names(factor_names, reader.n_factors)
            index = FactorIndex.cached(reader)
            yield _Source(index, tuple(names), reader=reader)
        finally:
            if own:
                reader.close()
        return
    if factors is None:
        raise InvalidInputError(
            f"{metric}: factors are missing. Pass latents (N, L) and factors (N, K) arrays, or a "
            "latents file (path or fastdci.io.open_latents(...)) alone."
        )
    lat, fac = check_pair(latents, factors, factor_sizes=factor_sizes)
    lat = _as_table(to_numpy(lat))
    index = FactorIndex(fac, factor_sizes)
    yield _Source(index, _names(factor_names, fac.shape[1]), latents=lat)


def _rng(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        raise InvalidInputError(
            "random_state must be None, an int or a numpy.random.Generator; got a legacy "
            "numpy.random.RandomState. Pass an int seed (e.g. random_state=0)."
        )
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"random_state must be None, an int or a numpy.random.Generator; got {random_state!r}."
        ) from exc


def _check_int(value, name: str, minimum: int, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        extra = " or None" if allow_none else ""
        raise InvalidInputError(f"{name} must be an integer >= {minimum}{extra}; got {value!r}.")
    return int(value)


def _check_real(value, name: str, lo: float, hi: float = math.inf, *, lo_open: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a real number; got {value!r}.") from None
    if not math.isfinite(v) or v < lo or v > hi or (lo_open and v == lo):
        lo_s = f"> {lo}" if lo_open else f">= {lo}"
        hi_s = f" and <= {hi}" if math.isfinite(hi) else ""
        raise InvalidInputError(f"{name} must be {lo_s}{hi_s}; got {value!r}.")
    return v


def _provenance(source: _Source, metric: str, *, warn: bool = True, stacklevel: int = 4) -> dict:
    index = source.index
    skipped = index.skipped_values()
    named = {source.factor_names[k]: tuple(int(v) for v in s) for k, s in enumerate(skipped) if s.size}
    if named and warn:
        parts = "; ".join(f"{n}: {list(v) if len(v) <= 8 else list(v[:8]) + ['...']}" for n, v in named.items())
        warnings.warn(
            f"{metric}: {sum(len(v) for v in named.values())} factor value(s) have fewer than "
            f"{index.min_rows} rows and are left out of the draws ({parts}). The rows do not cover the "
            "full factor grid; result.rows_per_value and result.skipped_values record what backed "
            "the score.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return {
        "factor_names": source.factor_names,
        "rows_per_value": index.rows_per_value(),
        "skipped_values": named,
        "n_rows": index.n_rows,
    }


def _warn_unsampleable(source: _Source, kind: str, metric: str, stacklevel: int = 4) -> None:
    bad = np.flatnonzero(~source.index.sampleable(kind))
    if bad.size and bad.size < source.index.n_factors:
        names = [source.factor_names[k] for k in bad]
        warnings.warn(
            f"{metric}: factor(s) {names} have no group of {source.index.min_rows} or more rows to "
            "sample from and are never chosen; the score covers the other factors only.",
            UserWarning,
            stacklevel=stacklevel,
        )


# ============================================================================ FactorVAE / Z-max


def _variance_votes(table, pos, factor_ids, global_var, active, n_factors, pick: str) -> np.ndarray:
    """(K, L) int64 votes: per batch, the active latent of least (or most) normalised variance."""
    L = table.shape[1]
    latent = np.empty(pos.shape[0], np.int64)
    _pick_latent_kernel(table, pos, np.flatnonzero(active).astype(np.int64), global_var, pick == "max", latent)
    return np.bincount(factor_ids * L + latent, minlength=n_factors * L).reshape(n_factors, L).astype(np.int64)


def _variance_stats(source: _Source, rng, *, kind, batch_size, num_train, num_eval, num_variance_estimate,
                    threshold) -> dict:
    """The sufficient statistic of FactorVAE / Z-max: global variances and both vote tables."""
    index = source.index
    K, L = index.n_factors, source.latent_dim
    if num_variance_estimate is None:
        var_rows = np.arange(index.n_rows)
    else:
        var_rows = index.sample_rows(num_variance_estimate, rng)
    train_k = index.draw_factors(num_train, rng, kind)
    sampler = index.sample_fixed if kind == "fixed" else index.sample_others_fixed
    train_rows = sampler(train_k, batch_size, rng)
    eval_k = index.draw_factors(num_eval, rng, kind)
    eval_rows = sampler(eval_k, batch_size, rng)
    table, (var_pos, train_pos, eval_pos) = source.take([var_rows, train_rows, eval_rows])
    global_var = np.var(table[var_pos].astype(np.float64), axis=0, ddof=1)
    # disentanglement_lib keeps sqrt(var) >= threshold; a zero-variance latent is never active
    # here (with threshold 0 disentanglement_lib would divide 0 by 0).
    active = (np.sqrt(global_var) >= threshold) & (global_var > 0)
    pick = "min" if kind == "fixed" else "max"
    if active.any():
        train_votes = _variance_votes(table, train_pos, train_k, global_var, active, K, pick)
        eval_votes = _variance_votes(table, eval_pos, eval_k, global_var, active, K, pick)
    else:
        train_votes = eval_votes = np.zeros((K, L), np.int64)
    return {
        "global_variances": global_var,
        "active": active,
        "train_votes": train_votes,
        "eval_votes": eval_votes,
        "num_variance_estimate": int(var_rows.size),
    }


def _vote_accuracies(train_votes: np.ndarray, eval_votes: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Majority-vote classifier (each latent -> its most voted factor) and its accuracies."""
    classifier = np.argmax(train_votes, axis=0).astype(np.int64)
    cols = np.arange(train_votes.shape[1])
    total_train, total_eval = train_votes.sum(), eval_votes.sum()
    train_acc = float(train_votes[classifier, cols].sum() / total_train) if total_train else 0.0
    eval_acc = float(eval_votes[classifier, cols].sum() / total_eval) if total_eval else 0.0
    return train_acc, eval_acc, classifier


def _variance_finalize(stats: dict, cls, **fields):
    active = stats["active"]
    if active.any():
        train_acc, eval_acc, classifier = _vote_accuracies(stats["train_votes"], stats["eval_votes"])
    else:  # disentanglement_lib's answer when every latent collapsed
        train_acc = eval_acc = 0.0
        classifier = np.zeros(active.shape[0], np.int64)
    return cls(
        train_accuracy=train_acc,
        eval_accuracy=eval_acc,
        num_active_dims=int(active.sum()),
        classifier=classifier,
        **stats,
        **fields,
    )


def _variance_metric(latents, factors, *, kind, metric, cls, factor_sizes, factor_names, batch_size, num_train,
                     num_eval, num_variance_estimate, threshold, random_state):
    batch_size = _check_int(batch_size, "batch_size", 2)
    num_train = _check_int(num_train, "num_train", 1)
    num_eval = _check_int(num_eval, "num_eval", 1)
    num_variance_estimate = _check_int(num_variance_estimate, "num_variance_estimate", 2, allow_none=True)
    threshold = _check_real(threshold, "threshold", 0.0)
    rng = _rng(random_state)
    with _open_source(latents, factors, factor_sizes, factor_names, metric) as source:
        prov = _provenance(source, metric, warn=kind == "fixed")
        extra = {}
        if kind == "others":
            skipped = {name: source.index.skipped_combinations(k) for k, name in enumerate(source.factor_names)}
            if any(skipped.values()):
                warnings.warn(
                    f"{metric}: some combinations of the other factors have fewer than "
                    f"{source.index.min_rows} rows and are left out of the draws (per varied factor: "
                    f"{skipped}). The rows do not cover the full factor grid; "
                    "result.skipped_combinations records it.",
                    UserWarning,
                    stacklevel=3,
                )
            extra["skipped_combinations"] = skipped
        _warn_unsampleable(source, kind, metric)
        stats = _variance_stats(
            source, rng, kind=kind, batch_size=batch_size, num_train=num_train, num_eval=num_eval,
            num_variance_estimate=num_variance_estimate, threshold=threshold,
        )
    return _variance_finalize(
        stats, cls, batch_size=batch_size, num_train=num_train, num_eval=num_eval, threshold=threshold,
        **prov, **extra,
    )


def factor_vae_score(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    batch_size: int = 64,
    num_train: int = 10000,
    num_eval: int = 5000,
    num_variance_estimate: int | None = 10000,
    threshold: float = 0.05,
    random_state: Any = 0,
) -> FactorVAEResult:
    """FactorVAE score (Z-min variance): which latent stays still when one factor is fixed.

    Parameters
    ----------
    latents : array (N, L) float, str, PathLike or LatentsReader
        The codes, one row per data point; or a latents file (path or open reader), whose
        ``/latents/mean`` and ``/factors/classes`` are used.
    factors : array (N, K) int, optional
        Factor classes of each row; required with arrays, refused with a file.
    factor_sizes : sequence of K int, optional
        Classes per factor (default: ``factors.max(axis=0) + 1``; a file's own sizes).
    factor_names : sequence of K str, optional
        Names used in the result and in warnings.
    batch_size : int, default 64
        Rows per batch (disentanglement_lib's ``batch_size``).
    num_train, num_eval : int, default 10000 and 5000
        Batches (votes) to train and to evaluate the majority-vote classifier.
    num_variance_estimate : int or None, default 10000
        Rows, drawn uniformly, behind the global variances; None uses every row.
    threshold : float, default 0.05
        A latent is active when its global standard deviation is at least this
        (disentanglement_lib's ``prune_dims.threshold`` in its study configs).
    random_state : None, int or numpy.random.Generator, default 0
        Seed of every draw. The same seed on the same rows gives the same result, from arrays
        or from a file, whatever its chunking.

    Returns
    -------
    FactorVAEResult
        ``scores()``: ``eval_accuracy`` (the headline), ``train_accuracy``, ``num_active_dims``.

    Notes
    -----
    Definition (Kim & Mnih 2018, as in disentanglement_lib's ``factor_vae.py``): the global
    variance of each latent is estimated on ``num_variance_estimate`` rows (ddof=1); latents
    whose standard deviation is below ``threshold`` are dropped. Each of ``num_train`` points
    draws a factor ``k`` uniformly, a value ``v`` of it uniformly, and ``batch_size`` rows with
    ``f_k = v`` (the other factors uniform); it votes for the active latent whose batch
    variance divided by its global variance is smallest. The classifier maps each latent to
    the factor it got most votes for; accuracy is the fraction of votes it gets right, on the
    training votes and on ``num_eval`` fresh ones.

    Differences from disentanglement_lib: rows are drawn from the rows given instead of
    rendered and encoded (the same distribution on a full grid); ``num_active_dims`` counts
    the active latents (disentanglement_lib returns ``len`` of its boolean mask, i.e. every
    latent); a zero-variance latent is never active (with ``threshold=0``
    disentanglement_lib would divide 0 by 0); the vote tables are indexed by latent, not by
    position among the active latents (the same accuracies). The random streams differ, so
    the numbers agree in distribution, not draw for draw.

    References
    ----------
    H. Kim and A. Mnih, "Disentangling by Factorising", ICML 2018.
    F. Locatello et al., "Challenging Common Assumptions in the Unsupervised Learning of
    Disentangled Representations", ICML 2019 (disentanglement_lib).

    Examples
    --------
    >>> import numpy as np, fastdci
    >>> grid = np.stack(np.meshgrid(*[np.arange(s) for s in (3, 4, 5)], indexing="ij"), -1).reshape(-1, 3)
    >>> codes = grid / grid.max(axis=0) + 0.01 * np.random.default_rng(0).normal(size=grid.shape)
    >>> res = fastdci.factor_vae_score(codes, grid, num_train=500, num_eval=200, batch_size=16)
    >>> res.scores()["eval_accuracy"]
    1.0
    """
    return _variance_metric(
        latents, factors, kind="fixed", metric="factor_vae_score", cls=FactorVAEResult, factor_sizes=factor_sizes,
        factor_names=factor_names, batch_size=batch_size, num_train=num_train, num_eval=num_eval,
        num_variance_estimate=num_variance_estimate, threshold=threshold, random_state=random_state,
    )


def z_max_variance(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    batch_size: int = 64,
    num_train: int = 10000,
    num_eval: int = 5000,
    num_variance_estimate: int | None = 10000,
    threshold: float = 0.05,
    random_state: Any = 0,
) -> ZMaxVarianceResult:
    """Z-max variance score: which latent moves when every factor but one is fixed.

    Parameters
    ----------
    latents, factors, factor_sizes, factor_names, random_state
        As in :func:`factor_vae_score`.
    batch_size : int, default 64
        Rows per batch.
    num_train, num_eval : int, default 10000 and 5000
        Batches (votes) to train and to evaluate the majority-vote classifier.
    num_variance_estimate : int or None, default 10000
        Rows behind the global variances; None uses every row.
    threshold : float, default 0.05
        Minimum global standard deviation of an active latent.

    Returns
    -------
    ZMaxVarianceResult
        ``scores()``: ``eval_accuracy`` (the headline), ``train_accuracy``, ``num_active_dims``.

    Notes
    -----
    Definition ("Z-max Var" in Carbonneau et al.'s review, proposed with RF-VAE by Kim et al.
    2019): the FactorVAE protocol turned around. Each point draws a factor ``k`` uniformly and
    a combination of all the *other* factors uniformly over the grid, then ``batch_size`` rows
    holding that combination (factor ``k`` uniform); it votes for the active latent whose batch
    variance divided by its global variance is *largest*. Majority-vote classifier and
    accuracies as in :func:`factor_vae_score`.

    disentanglement_lib has no implementation. The defaults here are its FactorVAE defaults
    (batch 64, 10,000 and 5,000 votes, 10,000 rows for the variances, threshold 0.05), so the
    two scores are computed alike; the review's implementation uses other sizes (batch 200,
    800 votes each) and optionally rescales the accuracy from [1/K, 1] to [0, 1]; fastdci
    reports the plain accuracy. On a subset of the grid, combinations with fewer than two rows
    are left out (recorded in ``skipped_combinations``).

    References
    ----------
    M. Kim, Y. Wang, P. Sahu and V. Pavlovic, "Relevance Factor VAE: Learning and Identifying
    Disentangled Factors", arXiv:1902.01568, 2019.
    M.-A. Carbonneau, J. Zaidi, J. Boilard and G. Gagnon, "Measuring Disentanglement: A Review
    of Metrics", IEEE TNNLS, 2022.

    Examples
    --------
    >>> import numpy as np, fastdci
    >>> grid = np.stack(np.meshgrid(*[np.arange(s) for s in (3, 4, 5)], indexing="ij"), -1).reshape(-1, 3)
    >>> codes = grid / grid.max(axis=0) + 0.01 * np.random.default_rng(0).normal(size=grid.shape)
    >>> res = fastdci.z_max_variance(codes, grid, num_train=500, num_eval=200, batch_size=16)
    >>> res.scores()["eval_accuracy"]
    1.0
    """
    return _variance_metric(
        latents, factors, kind="others", metric="z_max_variance", cls=ZMaxVarianceResult, factor_sizes=factor_sizes,
        factor_names=factor_names, batch_size=batch_size, num_train=num_train, num_eval=num_eval,
        num_variance_estimate=num_variance_estimate, threshold=threshold, random_state=random_state,
    )


# ============================================================================ BetaVAE


def _beta_vae_features(table, pos1, pos2) -> np.ndarray:
    """(B, L) float64: per batch, the mean absolute difference of the paired codes."""
    out = np.empty((pos1.shape[0], table.shape[1]), np.float64)
    _mean_abs_diff_kernel(table, pos1, pos2, out)
    return out


def _beta_vae_stats(source: _Source, rng, *, batch_size, num_train, num_eval) -> dict:
    """The sufficient statistic of the BetaVAE score: the classifier's points and labels."""
    index = source.index
    train_k = index.draw_factors(num_train, rng)
    t1, t2 = index.sample_pairs(train_k, batch_size, rng)
    eval_k = index.draw_factors(num_eval, rng)
    e1, e2 = index.sample_pairs(eval_k, batch_size, rng)
    table, (t1, t2, e1, e2) = source.take([t1, t2, e1, e2])
    return {
        "train_points": _beta_vae_features(table, t1, t2),
        "train_labels": train_k,
        "eval_points": _beta_vae_features(table, e1, e2),
        "eval_labels": eval_k,
    }


def _beta_vae_finalize(stats: dict, *, C: float, device: str, **fields) -> BetaVAEResult:
    """Fit scikit-learn's ``LogisticRegression(C=C)`` objective on the training points and
    score it on both sets (a single class in training: the classifier is that class)."""
    X, y = stats["train_points"], stats["train_labels"]
    if np.unique(y).size > 1:
        from ..regressors.logistic import MultinomialLogistic

        # standardize=False: the penalty acts on the raw features, as in scikit-learn
        model = MultinomialLogistic(C=C, standardize=False, device=device).fit(X, y[:, None])
        train_acc = float(model.score(X, y[:, None])[0])
        eval_acc = float(model.score(stats["eval_points"], stats["eval_labels"][:, None])[0])
    else:
        train_acc = 1.0
        eval_acc = float(np.mean(stats["eval_labels"] == y[0]))
    K = len(fields["factor_names"])
    return BetaVAEResult(
        train_accuracy=train_acc,
        eval_accuracy=eval_acc,
        C=float(C),
        train_label_counts=np.bincount(stats["train_labels"], minlength=K).astype(np.int64),
        **fields,
    )


def beta_vae_score(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    batch_size: int = 64,
    num_train: int = 10000,
    num_eval: int = 5000,
    C: float = 1.0,
    random_state: Any = 0,
    backend: str = "auto",
) -> BetaVAEResult:
    """BetaVAE score (Z-diff): can a linear classifier tell which factor a pair of batches shares?

    Parameters
    ----------
    latents, factors, factor_sizes, factor_names, random_state
        As in :func:`factor_vae_score`.
    batch_size : int, default 64
        Pairs averaged into one point (disentanglement_lib's ``batch_size``).
    num_train, num_eval : int, default 10000 and 5000
        Points to train and to evaluate the classifier.
    C : float, default 1.0
        Inverse L2 regularisation of the logistic regression (scikit-learn's default, which
        disentanglement_lib uses).
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Where the logistic regression runs (torch); sampling and the per-batch reductions
        run on the host (NumPy and Numba).

    Returns
    -------
    BetaVAEResult
        ``scores()``: ``eval_accuracy`` (the headline) and ``train_accuracy``.

    Notes
    -----
    Definition (Higgins et al. 2017, as in disentanglement_lib's ``beta_vae.py``): each point
    draws a factor ``k`` uniformly and ``batch_size`` pairs of rows that share the value of
    factor ``k`` (each pair its own value, uniform; all other factors uniform and independent
    within and across the pair). The point's features are the mean over the pairs of
    ``|z(x1) - z(x2)|`` (L values), its label ``k``. A multinomial logistic regression
    (scikit-learn's ``LogisticRegression()`` objective: C=1, L2, intercept) is trained on
    ``num_train`` points; the scores are its accuracy on them and on ``num_eval`` fresh
    points.

    Differences from disentanglement_lib: rows are drawn from the rows given instead of
    rendered and encoded (the same distribution on a full grid); the classifier is
    :class:`fastdci.regressors.MultinomialLogistic` (``standardize=False``: the same
    objective) solved to a gradient tolerance of 1e-6, where scikit-learn stops its lbfgs
    at 1e-4 or after 100 iterations (on a hard problem a few predictions differ until it
    converges); the random streams differ, so the numbers agree in distribution, not draw
    for draw.

    References
    ----------
    I. Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained
    Variational Framework", ICLR 2017.

    Examples
    --------
    >>> import numpy as np, fastdci
    >>> grid = np.stack(np.meshgrid(*[np.arange(s) for s in (3, 4, 5)], indexing="ij"), -1).reshape(-1, 3)
    >>> codes = grid / grid.max(axis=0) + 0.01 * np.random.default_rng(0).normal(size=grid.shape)
    >>> res = fastdci.beta_vae_score(codes, grid, num_train=300, num_eval=100, batch_size=16, backend="cpu")
    >>> res.scores()["eval_accuracy"]
    1.0
    """
    batch_size = _check_int(batch_size, "batch_size", 1)
    num_train = _check_int(num_train, "num_train", 1)
    num_eval = _check_int(num_eval, "num_eval", 1)
    C = _check_real(C, "C", 0.0, lo_open=True)
    resolve_device(backend)  # raises now, before any sampling, if CUDA is missing
    rng = _rng(random_state)
    metric = "beta_vae_score"
    with _open_source(latents, factors, factor_sizes, factor_names, metric) as source:
        prov = _provenance(source, metric, stacklevel=3)
        _warn_unsampleable(source, "fixed", metric, stacklevel=3)
        stats = _beta_vae_stats(source, rng, batch_size=batch_size, num_train=num_train, num_eval=num_eval)
    return _beta_vae_finalize(
        stats, C=C, device=backend, batch_size=batch_size, num_train=num_train, num_eval=num_eval, **prov
    )


# ============================================================================ IRS


def _histogram_discretize(values: np.ndarray, num_bins: int) -> np.ndarray:
    """disentanglement_lib's histogram discretiser, column by column: labels 1..num_bins."""
    out = np.empty(values.shape, np.int64)
    for j in range(values.shape[1]):
        edges = np.histogram(values[:, j], num_bins)[1]
        out[:, j] = np.digitize(values[:, j], edges[:-1])
    return out


def _irs_stats(z: np.ndarray, groups: np.ndarray, diff_quantile: float) -> dict:
    """Per latent and factor, the mean over factor values of the quantile of |z - E[z | value]|.

    ``z`` (n, L) float64 over the active latents, ``groups`` (n, K) int labels.
    """
    n, L = z.shape
    K = groups.shape[1]
    cum = np.zeros((L, K))
    for k in range(K):
        order = np.argsort(groups[:, k], kind="stable")
        labels = groups[order, k]
        bounds = np.flatnonzero(labels[1:] != labels[:-1]) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [n]])
        zs = z[order]
        for s, e in zip(starts, ends):
            block = zs[s:e]
            cum[:, k] += np.quantile(np.abs(block - block.mean(axis=0)), diff_quantile, axis=0)
        cum[:, k] /= starts.size
    max_dev = np.max(np.abs(z - z.mean(axis=0)), axis=0)
    return {"cum_deviations": cum, "max_deviations": max_dev}


def _irs_finalize(stats: dict, active: np.ndarray, n_factors: int, **fields) -> IRSResult:
    L = active.shape[0]
    irs_matrix = np.full((L, n_factors), np.nan)
    scores = np.full(L, np.nan)
    parents = np.full(L, -1, np.int64)
    max_dev = np.zeros(L)
    if active.any():
        cum, md = stats["cum_deviations"], stats["max_deviations"]
        m = 1.0 - cum / md[:, None]
        irs_matrix[active] = m
        scores[active] = m.max(axis=1)
        parents[active] = m.argmax(axis=1)
        max_dev[active] = md
        value = float(np.average(m.max(axis=1), weights=md)) if md.sum() > 0 else float(m.max(axis=1).mean())
    else:
        value = 0.0
    return IRSResult(
        irs=value,
        num_active_dims=int(active.sum()),
        active=active,
        irs_matrix=irs_matrix,
        disentanglement_scores=scores,
        parents=parents,
        max_deviations=max_dev,
        **fields,
    )


def irs(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    num_train: int | None = 10000,
    diff_quantile: float = 0.99,
    num_bins: int | None = 20,
    random_state: Any = 0,
) -> IRSResult:
    """Interventional Robustness Score: how little each latent moves when other factors change.

    Parameters
    ----------
    latents, factors, factor_sizes, factor_names, random_state
        As in :func:`factor_vae_score`.
    num_train : int or None, default 10000
        Rows drawn uniformly (with replacement) to compute the score on; None uses every row
        once.
    diff_quantile : float, default 0.99
        Quantile of the deviations taken as the "maximal" deviation (1.0 is the paper's max).
    num_bins : int or None, default 20
        The factor classes are discretised into this many equal-width bins first, as
        disentanglement_lib does (a factor with at most ``num_bins`` classes keeps them
        all; dSprites' orientation, posX and posY are merged into 20 bins). None: use the
        classes as they are.

    Returns
    -------
    IRSResult
        ``scores()``: ``irs`` (the headline) and ``num_active_dims``.

    Notes
    -----
    Definition (Suter et al. 2019, as disentanglement_lib's ``irs.py`` computes it from
    ``num_train`` sampled points): latents with zero variance over the sample are dropped.
    For latent ``l`` and factor ``k``, ``D[l, k]`` is the mean over the values ``v`` of
    factor ``k`` of the ``diff_quantile`` quantile (linear interpolation) of
    ``|z_l - E[z_l | f_k = v]|`` within the rows with ``f_k = v``. With
    ``M_l = max |z_l - E[z_l]|``, ``IRS[l, k] = 1 - D[l, k] / M_l``; each latent scores
    ``max_k IRS[l, k]`` and the score is their mean weighted by ``M_l``.

    Differences from disentanglement_lib: points are drawn from the rows given instead of
    rendered and encoded (the same distribution on a full grid; disentanglement_lib samples
    in batches of 16, which does not change the distribution); ``num_active_dims`` counts the
    active latents (disentanglement_lib returns the *sum of their values*, a slip); the
    arithmetic is float64 whatever the latents' dtype.

    References
    ----------
    R. Suter, D. Miladinovic, B. Schoelkopf and S. Bauer, "Robustly Disentangled Causal
    Mechanisms: Validating Deep Representations for Interventional Robustness", ICML 2019.

    Examples
    --------
    >>> import numpy as np, fastdci
    >>> grid = np.stack(np.meshgrid(*[np.arange(s) for s in (3, 4, 5)], indexing="ij"), -1).reshape(-1, 3)
    >>> res = fastdci.irs(grid / grid.max(axis=0), grid, num_train=None)
    >>> round(res.scores()["irs"], 6)
    1.0
    """
    num_train = _check_int(num_train, "num_train", 2, allow_none=True)
    diff_quantile = _check_real(diff_quantile, "diff_quantile", 0.0, 1.0)
    num_bins = _check_int(num_bins, "num_bins", 1, allow_none=True)
    rng = _rng(random_state)
    metric = "irs"
    with _open_source(latents, factors, factor_sizes, factor_names, metric) as source:
        prov = _provenance(source, metric, warn=False)
        index = source.index
        rows = np.arange(index.n_rows) if num_train is None else index.sample_rows(num_train, rng)
        table, (pos,) = source.take([rows])
        z = table[pos].astype(np.float64)
        f = index.factors[rows]
    groups = _histogram_discretize(f, num_bins) if num_bins is not None else f
    active = z.var(axis=0) > 0
    stats = _irs_stats(z[:, active], groups, diff_quantile)
    return _irs_finalize(
        stats, active, f.shape[1], num_train=int(rows.size), diff_quantile=diff_quantile, num_bins=num_bins, **prov
    )
