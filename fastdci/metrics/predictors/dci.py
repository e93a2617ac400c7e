"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams 2018), as
google-research/disentanglement_lib computes them, from any regressor's importances."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from ...backend import to_numpy
from ...errors import InvalidInputError
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._common import CLASSIFY_ONLY, PerFactor, fit_shared, held_out, make_regressor, resolve_by_type, train_test

__all__ = ["DCIResult", "DCIStats", "completeness_per_factor", "dci", "disentanglement_per_latent"]

_SMOOTH = 1e-11  # disentanglement_lib's additive smoothing of the importance matrix


@dataclasses.dataclass(frozen=True, eq=False)
class DCIResult(MetricResult):
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Attributes
    ----------
    disentanglement, completeness : float
        Importance-weighted means of :attr:`disentanglement_per_latent` and
        :attr:`completeness_per_factor`.
    informativeness_train, informativeness_test : float
        Mean over factors of the regressor's score (accuracy for classifiers; ``1 - NRMSE`` for
        the lasso) on the training and the test rows; NaN when computed from an importance
        matrix alone.
    importance : float64 array (L, K)
        Importance of latent i for factor j.
    disentanglement_per_latent : float64 array (L,)
    completeness_per_factor : float64 array (K,)
    latent_weights : float64 array (L,)
        Each latent's share of the total importance (the weights of D).
    factor_weights : float64 array (K,)
        Each factor's share of the total importance (the weights of C).
    informativeness_train_per_factor, informativeness_test_per_factor : float64 array (K,)
    n_train, n_test : int
        Rows the regressor was fitted on, and scored on.
    regressor : str
        The regressor's class name.
    regressor_settings : dict
        Its parameters (boosting depth, importance convention, C, ...).
    """

    metric: ClassVar[str] = "dci"
    headline: ClassVar[str] = "disentanglement"
    score_fields: ClassVar[tuple] = ("disentanglement", "completeness", "informativeness_train",
                                     "informativeness_test")
    count_fields: ClassVar[tuple] = ("n_train", "n_test")
    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray
    disentanglement_per_latent: np.ndarray
    completeness_per_factor: np.ndarray
    latent_weights: np.ndarray
    factor_weights: np.ndarray
    informativeness_train_per_factor: np.ndarray
    informativeness_test_per_factor: np.ndarray
    n_train: int = 0
    n_test: int = 0
    regressor: str = ""
    regressor_settings: dict = dataclasses.field(default_factory=dict)


def _normalised_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """scipy.stats.entropy(p, base=base) along axis 0 (columns normalised to sum 1)."""
    p = p / np.sum(p, axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    h = np.sum(terms, axis=0)
    if base == 1:
        # one outcome: the entropy is 0 (disentanglement_lib would divide 0 by log(1) = 0)
        return np.zeros_like(h)
    return h / np.log(base)


def disentanglement_per_latent(importance: Any) -> np.ndarray:
    """``1 - H_K(importance[i, :])`` per latent, with disentanglement_lib's +1e-11 smoothing.

    Parameters
    ----------
    importance : array (L, K)
        Non-negative importance of latent i for factor j.

    Returns
    -------
    float64 array (L,)
    """
    R = _check_importance(importance)
    return 1.0 - _normalised_entropy(R.T + _SMOOTH, base=R.shape[1])


def completeness_per_factor(importance: Any) -> np.ndarray:
    """``1 - H_L(importance[:, j])`` per factor, with disentanglement_lib's +1e-11 smoothing.

    Parameters
    ----------
    importance : array (L, K)

    Returns
    -------
    float64 array (K,)
    """
    R = _check_importance(importance)
    return 1.0 - _normalised_entropy(R + _SMOOTH, base=R.shape[0])


def _check_importance(importance: Any) -> np.ndarray:
    R = np.asarray(to_numpy(importance), dtype=np.float64)
    if R.ndim != 2 or R.shape[0] < 1 or R.shape[1] < 1:
        raise InvalidInputError(
            f"importance must be a 2-D (n_latents, n_factors) matrix; got shape {R.shape}."
        )
    if not np.all(np.isfinite(R)) or np.any(R < 0):
        raise InvalidInputError(
            "importance must hold finite non-negative numbers (e.g. |coefficients| or split "
            "gains); take np.abs() of signed weights first."
        )
    return R


@dataclasses.dataclass(frozen=True, eq=False)
class DCIStats:
    """The statistic of DCI: the fitted importances and the per-factor scores.

    Factors are fitted independently, so stats of disjoint factor sets (the same rows, the same
    latents) :meth:`merge` exactly into the stats of all of them.
    """

    importance: np.ndarray
    informativeness_train: np.ndarray | float = np.nan
    informativeness_test: np.ndarray | float = np.nan
    n_train: int = 0
    n_test: int = 0
    regressor: str = ""
    regressor_settings: dict = dataclasses.field(default_factory=dict)

    def merge(self, other: "DCIStats") -> "DCIStats":
        """Both factor sets side by side (columns of ``self`` first)."""
        if other.importance.shape[0] != self.importance.shape[0] or (other.n_train, other.n_test) != (
                self.n_train, self.n_test):
            raise InvalidInputError("DCI stats merge only across factors of the same rows and latents.")
        K1, K2 = self.importance.shape[1], other.importance.shape[1]
        cat = lambda a, b, k1, k2: np.concatenate([np.broadcast_to(a, (k1,)), np.broadcast_to(b, (k2,))])  # noqa
        return dataclasses.replace(
            self, importance=np.concatenate([self.importance, other.importance], axis=1),
            informativeness_train=cat(self.informativeness_train, other.informativeness_train, K1, K2),
            informativeness_test=cat(self.informativeness_test, other.informativeness_test, K1, K2))


def _dci_finalize(stats: DCIStats) -> DCIResult:
    """D, C (and the stats' informativeness) from the importance matrix (L, K).

    The formulas are disentanglement_lib's ``dci.disentanglement`` / ``dci.completeness``: the
    per-latent and per-factor scores above, weighted by each row's (column's) share of the
    total importance; an all-zero matrix gets uniform weights.
    """
    R = _check_importance(stats.importance)
    L, K = R.shape
    d_per = disentanglement_per_latent(R)
    c_per = completeness_per_factor(R)
    W = np.ones_like(R) if R.sum() == 0.0 else R
    latent_w = W.sum(axis=1) / W.sum()
    factor_w = W.sum(axis=0) / W.sum()
    it = np.broadcast_to(np.asarray(stats.informativeness_train, dtype=np.float64), (K,)).copy()
    ie = np.broadcast_to(np.asarray(stats.informativeness_test, dtype=np.float64), (K,)).copy()
    return DCIResult(
        disentanglement=float(np.sum(d_per * latent_w)),
        completeness=float(np.sum(c_per * factor_w)),
        informativeness_train=float(np.mean(it)),
        informativeness_test=float(np.mean(ie)),
        importance=R,
        disentanglement_per_latent=d_per,
        completeness_per_factor=c_per,
        latent_weights=latent_w,
        factor_weights=factor_w,
        informativeness_train_per_factor=it,
        informativeness_test_per_factor=ie,
        n_train=int(stats.n_train),
        n_test=int(stats.n_test),
        regressor=stats.regressor,
        regressor_settings=dict(stats.regressor_settings),
        settings={"regressor": stats.regressor, **({"regressor_settings": dict(stats.regressor_settings)}
                                                   if stats.regressor_settings else {})},
    )


def _dci_stats(source, *, backend: str, random_state: Any, regressor: Any = "auto", test_size: float = 0.5,
               max_train: int | None = None, **regressor_options: Any) -> DCIStats:
    """Fit the regressor on the source's training rows; importances and per-factor scores.

    Discrete and continuous factors are fitted apart (classes, and real values), each with
    its regressor, and their statistics merged back into the factors' order; with both types
    each factor's importance column is scaled to sum 1, so that the two regressors' scales
    do not weigh factors against each other."""
    if isinstance(random_state, int) and "random_state" not in regressor_options and (
            regressor in ("gbt", "stumps", "auto", "random_forest")):
        regressor_options = dict(regressor_options, random_state=random_state)
    cont = source.continuous if source.has_continuous else np.zeros(source.n_factors, bool)
    if cont.any() and isinstance(regressor, str) and regressor in CLASSIFY_ONLY:
        names = [n for n, c in zip(source.factor_names, cont) if c]
        raise InvalidInputError(
            f"dci: regressor {regressor!r} classifies, but factor(s) {names} are continuous; use regressor='auto' "
            "(lasso for them), 'lasso', 'random_forest' or a scikit-learn regressor."
        )
    parts, order = [], []
    for is_cont in (False, True):
        cols = np.flatnonzero(cont == is_cont)
        if cols.size:
            reg, opts = resolve_by_type(regressor, is_cont, regressor_options)
            parts.append(_fit(source, reg, opts, backend, random_state, test_size, max_train, cols, is_cont))
            order.append(cols)
    stats = parts[0] if len(parts) == 1 else parts[0].merge(parts[1])
    if len(parts) == 1:
        return stats
    inverse = np.argsort(np.concatenate(order))
    imp = stats.importance / np.where(stats.importance.sum(axis=0) > 0, stats.importance.sum(axis=0), 1.0)
    return dataclasses.replace(
        stats, importance=imp[:, inverse], informativeness_train=stats.informativeness_train[inverse],
        informativeness_test=stats.informativeness_test[inverse], regressor=f"{parts[0].regressor}+{parts[1].regressor}",
        regressor_settings={"discrete": parts[0].regressor_settings, "continuous": parts[1].regressor_settings})


def _fit(source, regressor, options, backend, random_state, test_size, max_train, cols, values) -> DCIStats:
    """DCI statistics of factor columns ``cols``, fitted on their classes or (``values``) their
    real values."""
    from ...regressors import GradientBoostedStumps
    from ...regressors._base import settings_of

    model, name = make_regressor(regressor, backend, options)
    per_factor = isinstance(model, PerFactor)  # a scikit-learn style estimator: host NumPy rows
    x, y, x_test, y_test = train_test(source, test_size=test_size, random_state=random_state,
                                      device="cpu" if per_factor else backend, max_train=max_train)
    if values:
        y, y_test = source.train_test_values(test_size, random_state, max_train)
    y, y_test = y[:, cols], y_test[:, cols]
    model = fit_shared(source, model, x, y, (test_size, random_state, max_train, backend, tuple(cols), values))
    imp = getattr(model, "feature_importances_", None)
    if imp is None:
        raise InvalidInputError(
            f"{type(model).__name__} has no feature_importances_ after fit; DCI needs an (n_latents, n_factors) "
            "importance matrix."
        )
    imp = np.abs(np.asarray(to_numpy(imp), dtype=np.float64))
    L, K = int(x.shape[1]), int(y.shape[1])
    if imp.shape != (L, K):
        raise InvalidInputError(
            f"{type(model).__name__}.feature_importances_ has shape {imp.shape}; DCI needs (n_latents, "
            f"n_factors) = {(L, K)}."
        )
    fitted = getattr(model, "train_accuracy_", None) if isinstance(model, GradientBoostedStumps) else None
    s_train = np.asarray(model.score(x, y) if fitted is None else fitted, dtype=np.float64).reshape(K)
    s_test = np.asarray(model.score(x_test, y_test), dtype=np.float64).reshape(K)
    described = model.estimator if per_factor else model
    return DCIStats(importance=imp, informativeness_train=s_train, informativeness_test=s_test,
                    n_train=int(x.shape[0]), n_test=int(x_test.shape[0]), regressor=name,
                    regressor_settings={"class": type(described).__name__, **settings_of(described)})


@metric_function("dci")
def dci(
    latents: Any,
    factors: Any = None,
    latents_test: Any = None,
    factors_test: Any = None,
    *,
    regressor: Any = "auto",
    test_size: float = 0.5,
    random_state: int | None = 0,
    max_train: int | None = None,
    backend: str = "auto",
    factor_types: Any = None,
    factor_bins: int = 20,
    **regressor_options: Any,
) -> DCIResult:
    """DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Parameters
    ----------
    latents : array (N, L) float
        Representation (numpy, torch or CuPy), samples first.
    factors : array (N, K)
        Ground-truth factor classes (int), or real values for the continuous factors.
    latents_test, factors_test : arrays (M, L), (M, K), optional
        Held-out rows. Without them ``test_size`` of the rows are held out at random.
    regressor : {"auto", "gbt", "stumps", "logistic", "lasso", "random_forest"} or estimator
        Default ``"auto"``: ``"gbt"`` for discrete factors and ``"lasso"`` for continuous ones
        (Eastwood & Williams' regressor), each factor type fitted apart. Continuous factors
        need a regressor: ``"auto"``, ``"lasso"``, ``"random_forest"`` or a scikit-learn
        regressor; the classifiers (``"gbt"``, ``"stumps"``, ``"logistic"``) refuse them.
        ``"random_forest"``: scikit-learn's ``RandomForestClassifier`` (discrete) or
        ``RandomForestRegressor`` (continuous) per factor, ``n_estimators`` trees (default 10)
        of ``max_depth``, importances from ``feature_importances_`` (the metrics review's
        random-forest DCI; it also tunes ``max_depth`` and ``max_features`` by 10-fold
        cross-validation, which this does not: pass a tuned forest as an instance for that).
        ``"gbt"``: :class:`~fastdci.regressors.GradientBoostedStumps` with depth-3 trees, 100
        rounds, learning rate 0.1 and the current scikit-learn importance rule, the settings of
        disentanglement_lib's ``GradientBoostingClassifier()``, so D and C track its numbers;
        ``"stumps"``: the same booster with depth-1 trees, faster, whose importances are
        less selective on entangled codes (higher D and C there); ``"logistic"``:
        :class:`~fastdci.regressors.MultinomialLogistic`; ``"lasso"``:
        :class:`~fastdci.regressors.Lasso` on the class indices as numbers (the original
        paper's choice for continuous factors). An instance of a fastdci regressor fits every
        factor at once. Any other estimator (scikit-learn's, or one with ``fit`` and ``predict``
        or ``score``) is cloned (``sklearn.base.clone``) and fitted on each factor alone: its
        importances are ``feature_importances_``, else ``|coef_|`` summed over the classes (the
        logistic rule below, on the latents as given: a pipeline with a ``StandardScaler``,
        read at its final step, gives standardised weights); one with neither raises. Its
        informativeness is the accuracy of ``predict`` (``1 - RMSE / std(y)`` for a
        regressor); its own ``random_state`` applies (``random_state`` here seeds only the
        split). ``settings`` records its class name and ``get_params()``.
    test_size : float, default 0.5
        Fraction held out when no test rows are given.
    random_state : int or None, default 0
        Seed of the train/test split and of ``max_train``'s subsample.
    max_train : int, optional
        Fit on at most this many training rows (a uniform random subsample, recorded in
        ``n_train``). By default every training row is used.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Device of the regressor, unless ``device`` is among ``regressor_options``.
    factor_types : None, "discrete", "continuous" or one per factor, optional
        Which factors are real values (see :mod:`fastdci.io.factor_types`); default all
        discrete.
    factor_bins : int, default 20
        Bins of a continuous factor for the metrics that count classes (unused by DCI).
    **regressor_options
        Passed to the regressor's constructor (e.g. ``max_depth=3``, ``importance="per_tree"``,
        ``C=0.5``).

    Returns
    -------
    DCIResult

    Notes
    -----
    With importance matrix :math:`R \\in \\mathbb{R}_{\\ge 0}^{L \\times K}` (+1e-11 smoothing
    for the entropies, as disentanglement_lib), :math:`D_i = 1 - H_K(P_{i\\cdot})` with
    :math:`P_{ij} = R_{ij} / \\sum_k R_{ik}`, weighted by :math:`\\rho_i = \\sum_j R_{ij} /
    \\sum R`; :math:`C_j = 1 - H_L(\\tilde P_{\\cdot j})` weighted by the factor's share. An
    all-zero :math:`R` gets uniform weights (as disentanglement_lib). With one factor
    (one latent) the normalised entropy is 0/0 in disentanglement_lib, giving NaN; here it
    is taken as 0, so D (C) is 1. The importance is the regressor's raw
    ``feature_importances_`` (per-factor columns of scikit-learn's gradient boosting sum to 1;
    the logistic and lasso columns hold ``sum |w|`` on standardised inputs, as in the
    original paper). Informativeness is the mean per-factor accuracy (disentanglement_lib);
    for the lasso it is ``1 - RMSE / std(y)`` per factor.

    On a continuous factor the informativeness is Eastwood & Williams' ``1 - NRMSE`` (root
    mean squared error over the factor's standard deviation) of the regressor's predictions.
    The metrics review instead reports ``max(0, 1 - 12 MSE)`` on min-max scaled factors, on
    the rows it fitted (no held-out rows); its D leaves out every latent after the first
    with zero importance (a ``break`` in its loop) and its C is an unweighted mean.

    Which numbers are reproduced: the default (``"gbt"``: depth 3, ``importance="global"``)
    is disentanglement_lib's DCI run with scikit-learn >= 0.22, which sums gains over all
    trees and normalises once; its published tables used scikit-learn < 0.22, whose
    importances were normalised per tree and then averaged (``importance="per_tree"``). The
    two differ by up to 2x in D and C.

    References
    ----------
    Eastwood & Williams, "A framework for the quantitative evaluation of disentangled
    representations", ICLR 2018. Locatello et al., "Challenging common assumptions in the
    unsupervised learning of disentangled representations", ICML 2019 (disentanglement_lib).

    Examples
    --------
    >>> import numpy as np
    >>> import fastdci
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.concatenate([factors + 0.1 * rng.normal(size=(2000, 2)),
    ...                           rng.normal(size=(2000, 1))], axis=1)
    >>> res = fastdci.dci(latents, factors, regressor="logistic", backend="cpu")
    >>> res.importance.shape
    (3, 2)
    >>> res.disentanglement > 0.8 and res.informativeness_test > 0.9
    True
    """
    return run_metric("dci", latents, factors,
                      dict(regressor=regressor, test_size=test_size, max_train=max_train, **regressor_options),
                      backend=backend, random_state=random_state, test=held_out(latents_test, factors_test),
                      factor_types=factor_types, factor_bins=factor_bins)
