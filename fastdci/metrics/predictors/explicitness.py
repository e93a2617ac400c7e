"""Explicitness (Ridgeway & Zemel 2018): one-vs-rest ROC-AUC of a logistic regression per factor,
as disentanglement_lib computes it."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from ...backend import to_numpy
from ...errors import InvalidInputError
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._common import held_out, train_test

__all__ = ["ExplicitnessResult", "ExplicitnessStats", "explicitness", "roc_auc_per_class"]


@dataclasses.dataclass(frozen=True, eq=False)
class ExplicitnessResult(MetricResult):
    """Explicitness (Ridgeway & Zemel 2018): ROC-AUC of a logistic regression per factor.

    Attributes
    ----------
    explicitness_train, explicitness_test : float
        Mean over factors of the per-factor mean one-vs-rest ROC-AUC.
    per_factor_train, per_factor_test : float64 array (K,)
    n_train, n_test : int
    classifier_settings : dict
    """

    metric: ClassVar[str] = "explicitness"
    headline: ClassVar[str] = "explicitness_test"
    score_fields: ClassVar[tuple] = ("explicitness_test", "explicitness_train")
    count_fields: ClassVar[tuple] = ("n_train", "n_test")
    explicitness_train: float
    explicitness_test: float
    per_factor_train: np.ndarray
    per_factor_test: np.ndarray
    n_train: int = 0
    n_test: int = 0
    classifier_settings: dict = dataclasses.field(default_factory=dict)


def roc_auc_per_class(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """One-vs-rest ROC-AUC of each score column: (C,) float64, NaN where undefined.

    Parameters
    ----------
    labels : int array (N,)
        Class position of each row (0..C-1; other values count as negatives everywhere).
    scores : float array (N, C)
        Score of each class (e.g. its predicted probability).

    Notes
    -----
    The area under the ROC curve equals the Mann-Whitney statistic with ties counted half:
    ``(sum of the positives' mid-ranks - P (P + 1) / 2) / (P Q)`` for P positives and Q
    negatives; it is what ``sklearn.metrics.roc_auc_score`` computes by the trapezoid rule.
    A class with no positive or no negative row has no AUC (NaN).
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    N, C = scores.shape
    out = np.full(C, np.nan)
    for c in range(C):
        pos = labels == c
        P = int(pos.sum())
        Q = N - P
        if P == 0 or Q == 0:
            continue
        col = scores[:, c]
        order = np.argsort(col, kind="mergesort")
        sorted_col = col[order]
        # mid-ranks (1-based) over runs of equal scores
        boundaries = np.flatnonzero(np.diff(sorted_col)) + 1
        starts = np.concatenate([[0], boundaries])
        ends = np.concatenate([boundaries, [N]])
        mid = (starts + ends + 1) / 2.0
        ranks = np.empty(N)
        ranks[order] = np.repeat(mid, ends - starts)
        out[c] = (ranks[pos].sum() - P * (P + 1) / 2.0) / (P * Q)
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class ExplicitnessStats:
    """Per-factor mean one-vs-rest ROC-AUCs on the training and test rows; factors are scored
    independently, so stats of disjoint factor sets :meth:`merge` exactly."""

    per_factor_train: np.ndarray
    per_factor_test: np.ndarray
    n_train: int
    n_test: int
    classifier_settings: dict = dataclasses.field(default_factory=dict)

    def merge(self, other: "ExplicitnessStats") -> "ExplicitnessStats":
        """Both factor sets side by side (``self`` first)."""
        if (other.n_train, other.n_test) != (self.n_train, self.n_test):
            raise InvalidInputError("explicitness stats merge only across factors of the same rows.")
        return dataclasses.replace(self, per_factor_train=np.concatenate([self.per_factor_train, other.per_factor_train]),
                                   per_factor_test=np.concatenate([self.per_factor_test, other.per_factor_test]))


def _explicitness_finalize(stats: ExplicitnessStats) -> ExplicitnessResult:
    """The means over factors."""
    return ExplicitnessResult(
        explicitness_train=float(np.mean(stats.per_factor_train)),
        explicitness_test=float(np.mean(stats.per_factor_test)),
        per_factor_train=stats.per_factor_train, per_factor_test=stats.per_factor_test,
        n_train=int(stats.n_train), n_test=int(stats.n_test), classifier_settings=dict(stats.classifier_settings),
    )


def _review_stats(x, y, x_test, y_test, C: float) -> ExplicitnessStats:
    """The metrics review's explicitness: per factor, one-vs-rest balanced logistic regressions
    on min-max scaled latents; the mean one-vs-rest AUC over classes, mapped to ``2 (AUC - 0.5)``."""
    from ...regressors.ovr_logistic import OneVsRestBalancedLogistic

    x, x_test = np.asarray(to_numpy(x), np.float64), np.asarray(to_numpy(x_test), np.float64)
    lo, span = x.min(axis=0), x.max(axis=0) - x.min(axis=0)
    span = np.where(span > 0, span, 1.0)
    x, x_test = (x - lo) / span, (x_test - lo) / span
    out = np.empty((2, y.shape[1]))
    for k in range(y.shape[1]):
        model = OneVsRestBalancedLogistic(C=C).fit(x, y[:, k])
        for i, (X, Y) in enumerate(((x, y), (x_test, y_test))):
            codes = np.searchsorted(model.classes_, Y[:, k])
            auc = roc_auc_per_class(np.where(np.isin(Y[:, k], model.classes_), codes, -1), model.predict_proba(X))
            out[i, k] = 2.0 * (np.nanmean(auc) - 0.5) if np.any(np.isfinite(auc)) else np.nan
    return ExplicitnessStats(out[0], out[1], n_train=int(x.shape[0]), n_test=int(x_test.shape[0]),
                             classifier_settings={"class": "OneVsRestBalancedLogistic", "C": float(C)})


def _explicitness_stats(source, *, backend: str, random_state: Any, test_size: float = 0.5, C: float = 1.0,
                        classifier: Any = "logistic", convention: str = "disentanglement_lib") -> ExplicitnessStats:
    """Fit the classifier on the training rows; per-factor AUCs on training and test rows."""
    from ...regressors._base import settings_of

    x, y, x_test, y_test = train_test(source, test_size=test_size, random_state=random_state, device=backend,
                                      min_classes=2)
    if convention == "review":
        if not isinstance(classifier, str):
            raise InvalidInputError("explicitness: convention='review' fits its own one-vs-rest logistic "
                                    "regressions; drop classifier or the convention.")
        return _review_stats(x, y, x_test, y_test, C)
    if isinstance(classifier, str):
        from ...regressors.logistic import MultinomialLogistic

        classifier = MultinomialLogistic(C=C, standardize=True, device=backend)
    classifier.fit(x, y)
    from ...regressors._base import ClassEncoding

    encoding = ClassEncoding(tuple(np.asarray(c) for c in classifier.classes_))

    def per_factor(X, Y):
        probs = classifier.predict_proba(X)
        codes = encoding.encode(Y)
        out = np.empty(encoding.n_factors)
        for k in range(encoding.n_factors):
            auc = roc_auc_per_class(codes[:, k], np.asarray(to_numpy(probs[k])))
            out[k] = np.nanmean(auc) if np.any(np.isfinite(auc)) else np.nan
        return out

    return ExplicitnessStats(per_factor(x, y), per_factor(x_test, y_test), n_train=int(x.shape[0]),
                             n_test=int(x_test.shape[0]),
                             classifier_settings={"class": type(classifier).__name__, **settings_of(classifier)})


@metric_function("explicitness")
def explicitness(
    latents: Any,
    factors: Any = None,
    latents_test: Any = None,
    factors_test: Any = None,
    *,
    test_size: float = 0.5,
    random_state: int | None = 0,
    C: float = 1.0,
    classifier: Any = None,
    convention: str = "disentanglement_lib",
    backend: str = "auto",
    factor_types: Any = None,
    factor_bins: int = 20,
) -> ExplicitnessResult:
    """Explicitness (Ridgeway & Zemel 2018) as disentanglement_lib computes it.

    Parameters
    ----------
    latents : array (N, L) float
    factors : array (N, K) int
    latents_test, factors_test : arrays (M, L), (M, K), optional
        Without them ``test_size`` of the rows are held out at random.
    test_size : float, default 0.5
    random_state : int or None, default 0
    C : float, default 1.0
        Inverse regularisation of the logistic regression (scikit-learn's default).
    classifier : estimator, optional
        Replaces the default ``MultinomialLogistic(C=C, standardize=True)``; it needs
        ``fit(X, Y)`` and ``predict_proba(X) -> list of K (N, n_classes_k)``.
    convention : {"disentanglement_lib", "review"}, default "disentanglement_lib"
        ``"review"``: the metrics review's explicitness (its ``impl=1``, ``scale=True``): the
        latents min-max scaled (with the training rows' min and max), per factor one-vs-rest
        L2 logistic regressions with balanced class weights
        (:class:`~fastdci.regressors.ovr_logistic.OneVsRestBalancedLogistic`, scikit-learn's
        one-vs-rest probabilities), the mean one-vs-rest ROC-AUC over classes, reported as
        ``2 (AUC - 0.5)`` so that chance is 0. The review fits and scores all its rows, which
        is ``explicitness_train`` when the training rows are all rows (pass them again as
        held-out rows).
    backend : {"auto", "cpu", "cuda"}, default "auto"
    factor_types : None, "discrete", "continuous" or one per factor, optional
        A continuous factor is scored on its ``factor_bins`` equal-width bins (the metrics
        review's convention for explicitness, with 10 bins); see :mod:`fastdci.io.factor_types`.
    factor_bins : int, default 20

    Returns
    -------
    ExplicitnessResult

    Notes
    -----
    disentanglement_lib (``modularity_explicitness.explicitness_per_factor``) standardises the
    latents with the training mean and standard deviation, fits
    ``sklearn.linear_model.LogisticRegression()`` per factor, and scores the predicted class
    probabilities with ``roc_auc_score`` on binarised labels: the mean over classes of each
    class's one-vs-rest ROC-AUC. The score is the mean over factors, on the training rows and
    on the test rows. Here all factors are fitted at once by
    :class:`~fastdci.regressors.MultinomialLogistic`, which minimises the same objective as
    scikit-learn >= 0.22's default (multinomial, lbfgs) but to a tighter tolerance (``tol``
    1e-6 instead of 1e-4 and no 100-iteration cap), so the AUCs differ from
    disentanglement_lib's in about the third decimal where scikit-learn stopped early. Before
    scikit-learn 0.22 the default was a one-vs-rest liblinear fit, which gives other numbers
    again. A constant latent makes disentanglement_lib divide by a zero standard deviation
    (NaN, and scikit-learn refuses the input); here it is left unscaled and gets no weight.
    A class absent from the scored rows (no positive or no negative) is left out of that
    factor's mean, where scikit-learn would raise.

    References
    ----------
    Ridgeway & Zemel, "Learning deep disentangled embeddings with the F-statistic loss",
    NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> import fastdci
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 3, size=(1000, 2))
    >>> latents = factors + 0.3 * rng.normal(size=(1000, 2))
    >>> res = fastdci.explicitness(latents, factors, backend="cpu")
    >>> res.explicitness_test > 0.9
    True
    """
    return run_metric("explicitness", latents, factors,
                      dict(test_size=test_size, C=C, classifier="logistic" if classifier is None else classifier,
                           convention=convention),
                      backend=backend, random_state=random_state, test=held_out(latents_test, factors_test),
                      factor_types=factor_types, factor_bins=factor_bins)
