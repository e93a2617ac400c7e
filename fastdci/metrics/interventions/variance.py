"""FactorVAE (Z-min variance, Kim & Mnih 2018) and Z-max variance (Kim et al. 2019): which
latent stays still (moves) when one factor (every factor but one) is fixed, by majority vote."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, ClassVar, Sequence

import numpy as np

from ...errors import InvalidInputError
from ...kernels import interventions as _k
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._common import provenance, rng_of, warn_unsampleable

__all__ = ["FactorVAEResult", "VoteStats", "ZMaxVarianceResult", "factor_vae_score", "z_max_variance"]


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
        Variance (ddof=1) of each latent over ``n_variance_rows`` rows.
    train_votes, eval_votes : ndarray (K, L) int64
        ``votes[k, l]``: batches with factor ``k`` fixed whose chosen latent was ``l``.
    classifier : ndarray (L,) int64
        The factor each latent votes for (argmax of ``train_votes[:, l]``; 0 for a latent
        that never got a vote, as in disentanglement_lib).
    batch_size, n_train, n_eval : int
    n_variance_rows : int
        Rows used for the global variances.
    threshold : float
    factor_names, rows_per_value, skipped_values, n_rows
        Provenance, as in :class:`BetaVAEResult`.
    """

    metric: ClassVar[str] = "factor_vae"
    headline: ClassVar[str] = "eval_accuracy"
    score_fields: ClassVar[tuple] = ("eval_accuracy", "train_accuracy")
    count_fields: ClassVar[tuple] = ("num_active_dims", "n_rows")

    train_accuracy: float
    eval_accuracy: float
    num_active_dims: int
    active: np.ndarray
    global_variances: np.ndarray
    train_votes: np.ndarray
    eval_votes: np.ndarray
    classifier: np.ndarray
    batch_size: int
    n_train: int
    n_eval: int
    n_variance_rows: int
    threshold: float
    factor_names: tuple
    rows_per_value: tuple
    skipped_values: dict
    n_rows: int


@dataclasses.dataclass(frozen=True, eq=False)
class ZMaxVarianceResult(FactorVAEResult):
    """The Z-max variance score (Kim et al. 2019): fields as :class:`FactorVAEResult`, plus

    Attributes
    ----------
    skipped_combinations : dict of str to int
        Per varied factor, combinations of the other factors with fewer than 2 rows (never
        drawn; 0 on a full grid).
    """

    metric: ClassVar[str] = "z_max"

    skipped_combinations: dict



def _variance_votes(table, pos, factor_ids, global_var, active, n_factors, pick: str) -> np.ndarray:
    """(K, L) int64 votes: per batch, the active latent of least (or most) normalised variance."""
    L = table.shape[1]
    latent = np.empty(pos.shape[0], np.int64)
    _k.pick_latent(table, pos, np.flatnonzero(active).astype(np.int64), global_var, pick == "max", latent)
    return np.bincount(factor_ids * L + latent, minlength=n_factors * L).reshape(n_factors, L).astype(np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class VoteStats:
    """The statistic of FactorVAE / Z-max: global variances and both vote tables.

    Vote tables of batches drawn with the same global variances add: :meth:`merge` is exact.
    ``fields`` carries the settings and provenance the result records.
    """

    global_variances: np.ndarray
    active: np.ndarray
    train_votes: np.ndarray
    eval_votes: np.ndarray
    fields: dict

    def merge(self, other: "VoteStats") -> "VoteStats":
        """Both vote tables added (the same global variances required)."""
        if not np.array_equal(self.global_variances, other.global_variances):
            raise InvalidInputError("vote tables merge only when drawn with the same global variances.")
        f = dict(self.fields, n_train=self.fields["n_train"] + other.fields["n_train"],
                 n_eval=self.fields["n_eval"] + other.fields["n_eval"])
        return dataclasses.replace(self, train_votes=self.train_votes + other.train_votes,
                                   eval_votes=self.eval_votes + other.eval_votes, fields=f)


def _variance_stats(source, random_state, *, kind, metric, batch_size, n_train, n_eval, n_variance_rows,
                    threshold) -> VoteStats:
    rng = rng_of(random_state)
    fields = provenance(source, metric, warn=kind == "fixed")
    index = source.factor_index()
    if kind == "others":
        skipped = {name: index.skipped_combinations(k) for k, name in enumerate(source.factor_names)}
        if any(skipped.values()):
            warnings.warn(
                f"{metric}: some combinations of the other factors have fewer than {index.min_rows} rows and "
                f"are left out of the draws (per varied factor: {skipped}). The rows do not cover the full "
                "factor grid; result.skipped_combinations records it.",
                UserWarning,
                stacklevel=4,
            )
        fields["skipped_combinations"] = skipped
    warn_unsampleable(source, kind, metric)
    K, L = index.n_factors, source.n_latents
    var_rows = np.arange(index.n_rows) if n_variance_rows is None else index.sample_rows(n_variance_rows, rng)
    train_k = index.draw_factors(n_train, rng, kind)
    sampler = index.sample_fixed if kind == "fixed" else index.sample_others_fixed
    train_rows = sampler(train_k, batch_size, rng)
    eval_k = index.draw_factors(n_eval, rng, kind)
    eval_rows = sampler(eval_k, batch_size, rng)
    table, (var_pos, train_pos, eval_pos) = source.take([var_rows, train_rows, eval_rows])
    table = _k.as_table(table)
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
    fields.update(batch_size=batch_size, n_train=n_train, n_eval=n_eval, threshold=threshold,
                  n_variance_rows=int(var_rows.size))
    return VoteStats(global_var, active, train_votes, eval_votes, fields)


def _factor_vae_stats(source, *, backend: str, random_state: Any, **options) -> VoteStats:
    """Votes of batches with one factor fixed (the others as they fall)."""
    return _variance_stats(source, random_state, kind="fixed", metric="factor_vae", **options)


def _z_max_stats(source, *, backend: str, random_state: Any, **options) -> VoteStats:
    """Votes of batches with every factor fixed but one."""
    return _variance_stats(source, random_state, kind="others", metric="z_max", **options)


def _vote_accuracies(train_votes: np.ndarray, eval_votes: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Majority-vote classifier (each latent -> its most voted factor) and its accuracies."""
    classifier = np.argmax(train_votes, axis=0).astype(np.int64)
    cols = np.arange(train_votes.shape[1])
    total_train, total_eval = train_votes.sum(), eval_votes.sum()
    train_acc = float(train_votes[classifier, cols].sum() / total_train) if total_train else 0.0
    eval_acc = float(eval_votes[classifier, cols].sum() / total_eval) if total_eval else 0.0
    return train_acc, eval_acc, classifier


def _variance_finalize(stats: VoteStats, cls):
    active = stats.active
    if active.any():
        train_acc, eval_acc, classifier = _vote_accuracies(stats.train_votes, stats.eval_votes)
    else:  # disentanglement_lib's answer when every latent collapsed
        train_acc = eval_acc = 0.0
        classifier = np.zeros(active.shape[0], np.int64)
    return cls(train_accuracy=train_acc, eval_accuracy=eval_acc, num_active_dims=int(active.sum()),
               classifier=classifier, global_variances=stats.global_variances, active=active,
               train_votes=stats.train_votes, eval_votes=stats.eval_votes, **stats.fields)


def _factor_vae_finalize(stats: VoteStats) -> "FactorVAEResult":
    """Accuracies of the majority-vote classifier."""
    return _variance_finalize(stats, FactorVAEResult)


def _z_max_finalize(stats: VoteStats) -> "ZMaxVarianceResult":
    """Accuracies of the majority-vote classifier."""
    return _variance_finalize(stats, ZMaxVarianceResult)


@metric_function("factor_vae")
def factor_vae_score(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    batch_size: int = 64,
    n_train: int = 10000,
    n_eval: int = 5000,
    n_variance_rows: int | None = 10000,
    threshold: float = 0.05,
    random_state: Any = 0,
    backend: str = "auto",
) -> FactorVAEResult:
    """FactorVAE score (Z-min variance): which latent stays still when one factor is fixed.

    Parameters
    ----------
    latents : array (N, L) float or LatentsSource
        The codes, one row per data point (NumPy, torch or CuPy); or a
        :class:`~fastdci.io.LatentsSource` (e.g. over a latents file).
    factors : array (N, K) int, optional
        Factor classes of each row; required with arrays, refused with a source.
    factor_sizes : sequence of K int, optional
        Classes per factor (default: ``factors.max(axis=0) + 1``; a source's own sizes).
    factor_names : sequence of K str, optional
        Names used in the result and in warnings.
    batch_size : int, default 64
        Rows per batch (disentanglement_lib's ``batch_size``).
    n_train, n_eval : int, default 10000 and 5000
        Batches (votes) to train and to evaluate the majority-vote classifier.
    n_variance_rows : int or None, default 10000
        Rows, drawn uniformly, behind the global variances; None uses every row.
    threshold : float, default 0.05
        A latent is active when its global standard deviation is at least this
        (disentanglement_lib's ``prune_dims.threshold`` in its study configs).
    random_state : None, int or numpy.random.Generator, default 0
        Seed of every draw. The same seed on the same rows gives the same result, from arrays
        or from a latents file, whatever its chunking.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Accepted on every metric; sampling and the per-batch reductions run on the host.

    Returns
    -------
    FactorVAEResult
        ``scores()``: ``eval_accuracy`` (the headline), ``train_accuracy``, ``num_active_dims``.

    Notes
    -----
    Definition (Kim & Mnih 2018, as in disentanglement_lib's ``factor_vae.py``): the global
    variance of each latent is estimated on ``n_variance_rows`` rows (ddof=1); latents
    whose standard deviation is below ``threshold`` are dropped. Each of ``n_train`` points
    draws a factor ``k`` uniformly, a value ``v`` of it uniformly, and ``batch_size`` rows with
    ``f_k = v`` (the other factors uniform); it votes for the active latent whose batch
    variance divided by its global variance is smallest. The classifier maps each latent to
    the factor it got most votes for; accuracy is the fraction of votes it gets right, on the
    training votes and on ``n_eval`` fresh ones.

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
    >>> res = fastdci.factor_vae_score(codes, grid, n_train=500, n_eval=200, batch_size=16)
    >>> res.scores()["eval_accuracy"]
    1.0
    """
    return run_metric("factor_vae", latents, factors,
                      dict(batch_size=batch_size, n_train=n_train, n_eval=n_eval, n_variance_rows=n_variance_rows, threshold=threshold),
                      backend=backend, random_state=random_state, factor_sizes=factor_sizes,
                      factor_names=factor_names)


@metric_function("z_max")
def z_max_variance(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    batch_size: int = 64,
    n_train: int = 10000,
    n_eval: int = 5000,
    n_variance_rows: int | None = 10000,
    threshold: float = 0.05,
    random_state: Any = 0,
    backend: str = "auto",
) -> ZMaxVarianceResult:
    """Z-max variance score: which latent moves when every factor but one is fixed.

    Parameters
    ----------
    latents, factors, factor_sizes, factor_names, random_state
        As in :func:`factor_vae_score`.
    batch_size : int, default 64
        Rows per batch.
    n_train, n_eval : int, default 10000 and 5000
        Batches (votes) to train and to evaluate the majority-vote classifier.
    n_variance_rows : int or None, default 10000
        Rows behind the global variances; None uses every row.
    threshold : float, default 0.05
        Minimum global standard deviation of an active latent.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Accepted on every metric; sampling and the per-batch reductions run on the host.

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
    >>> res = fastdci.z_max_variance(codes, grid, n_train=500, n_eval=200, batch_size=16)
    >>> res.scores()["eval_accuracy"]
    1.0
    """
    return run_metric("z_max", latents, factors,
                      dict(batch_size=batch_size, n_train=n_train, n_eval=n_eval, n_variance_rows=n_variance_rows, threshold=threshold),
                      backend=backend, random_state=random_state, factor_sizes=factor_sizes,
                      factor_names=factor_names)
