"""The BetaVAE score (Z-diff, Higgins et al. 2017): can a linear classifier tell which factor a
pair of batches shares?"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

import numpy as np

from ...errors import InvalidInputError
from ...kernels import interventions as _k
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._common import provenance, rng_of, warn_unsampleable

__all__ = ["BetaVAEResult", "beta_vae_score"]


@dataclasses.dataclass(frozen=True, eq=False)
class BetaVAEResult(MetricResult):
    """The BetaVAE score (Higgins et al. 2017) and what backs it.

    Attributes
    ----------
    train_accuracy, eval_accuracy : float
        Accuracy of the linear classifier on its training points and on fresh points.
    batch_size, n_train, n_eval : int
        Pairs per point, training points, evaluation points.
    C : float
        Inverse L2 regularisation strength of the logistic regression.
    train_label_counts : ndarray (K,) int64
        Training points per fixed factor.
    factor_names : tuple of str
    rows_per_value : tuple of K ndarrays
        ``rows_per_value[k][v]``: rows holding value ``v`` of factor ``k``.
    skipped_values : dict of str to tuple of int
        Per factor, the values held by a single row, never drawn (empty on a full grid or a
        complete sub-grid; values no row holds show as 0 in ``rows_per_value``).
    n_rows : int
        Rows the samples were drawn from.
    """

    metric: ClassVar[str] = "beta_vae"
    headline: ClassVar[str] = "eval_accuracy"
    score_fields: ClassVar[tuple] = ("eval_accuracy", "train_accuracy")
    count_fields: ClassVar[tuple] = ("n_rows",)

    train_accuracy: float
    eval_accuracy: float
    batch_size: int
    n_train: int
    n_eval: int
    C: float
    train_label_counts: np.ndarray
    factor_names: tuple
    rows_per_value: tuple
    skipped_values: dict
    n_rows: int


def _beta_vae_features(table, pos1, pos2) -> np.ndarray:
    """(B, L) float64: per batch, the mean absolute difference of the paired codes."""
    out = np.empty((pos1.shape[0], table.shape[1]), np.float64)
    _k.mean_abs_diff(table, pos1, pos2, out)
    return out


def _beta_vae_stats(source, *, backend: str, random_state: Any, batch_size: int = 64, n_train: int = 10000,
                    n_eval: int = 5000) -> dict:
    """The classifier's points and labels (points of several draws concatenate exactly)."""
    rng = rng_of(random_state)
    fields = provenance(source, "beta_vae")
    warn_unsampleable(source, "fixed", "beta_vae")
    index = source.factor_index()
    train_k = index.draw_factors(n_train, rng)
    t1, t2 = index.sample_pairs(train_k, batch_size, rng)
    eval_k = index.draw_factors(n_eval, rng)
    e1, e2 = index.sample_pairs(eval_k, batch_size, rng)
    table, (t1, t2, e1, e2) = source.take([t1, t2, e1, e2])
    table = _k.as_table(table)
    fields.update(batch_size=batch_size, n_train=n_train, n_eval=n_eval)
    return {
        "train_points": _beta_vae_features(table, t1, t2),
        "train_labels": train_k,
        "eval_points": _beta_vae_features(table, e1, e2),
        "eval_labels": eval_k,
        "device": backend,
        "fields": fields,
    }


def _beta_vae_finalize(stats: dict, *, C: float = 1.0) -> BetaVAEResult:
    """Fit scikit-learn's ``LogisticRegression(C=C)`` objective on the training points and
    score it on both sets (a single class in training: the classifier is that class)."""
    X, y = stats["train_points"], stats["train_labels"]
    if np.unique(y).size > 1:
        from ...regressors.logistic import MultinomialLogistic

        # standardize=False: the penalty acts on the raw features, as in scikit-learn
        model = MultinomialLogistic(C=C, standardize=False, device=stats["device"]).fit(X, y[:, None])
        train_acc = float(model.score(X, y[:, None])[0])
        eval_acc = float(model.score(stats["eval_points"], stats["eval_labels"][:, None])[0])
    else:
        train_acc = 1.0
        eval_acc = float(np.mean(stats["eval_labels"] == y[0]))
    fields = stats["fields"]
    K = len(fields["factor_names"])
    return BetaVAEResult(
        train_accuracy=train_acc,
        eval_accuracy=eval_acc,
        C=float(C),
        train_label_counts=np.bincount(stats["train_labels"], minlength=K).astype(np.int64),
        **fields,
    )


@metric_function("beta_vae")
def beta_vae_score(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    batch_size: int = 64,
    n_train: int = 10000,
    n_eval: int = 5000,
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
    n_train, n_eval : int, default 10000 and 5000
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
    ``n_train`` points; the scores are its accuracy on them and on ``n_eval`` fresh
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
    >>> res = fastdci.beta_vae_score(codes, grid, n_train=300, n_eval=100, batch_size=16, backend="cpu")
    >>> res.scores()["eval_accuracy"]
    1.0
    """
    return run_metric("beta_vae", latents, factors,
                      dict(batch_size=batch_size, n_train=n_train, n_eval=n_eval, C=C), backend=backend,
                      random_state=random_state, factor_sizes=factor_sizes, factor_names=factor_names)
