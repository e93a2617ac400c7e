"""Predictor-based metrics: DCI (Eastwood & Williams 2018), SAP (Kumar et al. 2018) and
explicitness (Ridgeway & Zemel 2018), as google-research/disentanglement_lib computes them.

Each metric is split into statistics (an importance matrix, a score matrix, per-class
probabilities) and a finaliser that turns those into the frozen result, so the D/C formulas can
be applied to any importance matrix (``_dci_finalize``) and the SAP gap to any score matrix
(``_sap_finalize``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from .._validation import check_factors, check_latents
from ..backend import array_namespace, common_namespace, to_numpy
from ..errors import InvalidInputError
from ._base import MetricResult

__all__ = [
    "DCIResult",
    "SAPResult",
    "ExplicitnessResult",
    "dci",
    "sap",
    "explicitness",
    "disentanglement_per_latent",
    "completeness_per_factor",
    "roc_auc_per_class",
]

_SMOOTH = 1e-11  # disentanglement_lib's additive smoothing of the importance matrix


# ============================================================================= results


@dataclasses.dataclass(frozen=True)
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

    def scores(self) -> dict[str, float]:
        return {
            "disentanglement": float(self.disentanglement),
            "completeness": float(self.completeness),
            "informativeness_train": float(self.informativeness_train),
            "informativeness_test": float(self.informativeness_test),
        }


@dataclasses.dataclass(frozen=True)
class SAPResult(MetricResult):
    """Separated Attribute Predictability (Kumar et al. 2018).

    Attributes
    ----------
    sap : float
        Mean over factors of the gap between the best and second-best latent's score.
    score_matrix : float64 array (L, K)
        Test accuracy of a one-latent linear SVM per (latent, factor) (discrete), or the
        squared correlation of latent and factor (continuous).
    gap_per_factor : float64 array (K,)
    continuous : bool
    n_train, n_test : int
        Rows used to fit and to score (continuous: ``n_test`` is 0).
    """

    metric: ClassVar[str] = "sap"
    sap: float
    score_matrix: np.ndarray
    gap_per_factor: np.ndarray
    continuous: bool = False
    n_train: int = 0
    n_test: int = 0

    def scores(self) -> dict[str, float]:
        return {"sap": float(self.sap)}


@dataclasses.dataclass(frozen=True)
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
    explicitness_train: float
    explicitness_test: float
    per_factor_train: np.ndarray
    per_factor_test: np.ndarray
    n_train: int = 0
    n_test: int = 0
    classifier_settings: dict = dataclasses.field(default_factory=dict)

    def scores(self) -> dict[str, float]:
        return {
            "explicitness_test": float(self.explicitness_test),
            "explicitness_train": float(self.explicitness_train),
        }


# ============================================================================= D and C


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


def _dci_finalize(
    importance: Any,
    informativeness_train: Any = np.nan,
    informativeness_test: Any = np.nan,
    *,
    n_train: int = 0,
    n_test: int = 0,
    regressor: str = "",
    regressor_settings: dict | None = None,
) -> DCIResult:
    """D, C (and the given informativeness) from an importance matrix (L, K).

    ``informativeness_*`` are per-factor scores (K,) or a scalar. The formulas are
    disentanglement_lib's ``dci.disentanglement`` / ``dci.completeness``: the per-latent and
    per-factor scores above, weighted by each row's (column's) share of the total importance;
    an all-zero matrix gets uniform weights.
    """
    R = _check_importance(importance)
    L, K = R.shape
    d_per = disentanglement_per_latent(R)
    c_per = completeness_per_factor(R)
    W = np.ones_like(R) if R.sum() == 0.0 else R
    latent_w = W.sum(axis=1) / W.sum()
    factor_w = W.sum(axis=0) / W.sum()
    it = np.broadcast_to(np.asarray(informativeness_train, dtype=np.float64), (K,)).copy()
    ie = np.broadcast_to(np.asarray(informativeness_test, dtype=np.float64), (K,)).copy()
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
        n_train=int(n_train),
        n_test=int(n_test),
        regressor=regressor,
        regressor_settings=dict(regressor_settings or {}),
    )


# ============================================================================= inputs


def _take(x: Any, idx: np.ndarray):
    ns = array_namespace(x)
    if ns == "torch":
        import torch

        return x[torch.as_tensor(idx, device=x.device)]
    if ns == "cupy":
        import cupy

        return x[cupy.asarray(idx)]
    return np.asarray(x)[idx]


def _split(
    latents: Any,
    factors: Any,
    latents_test: Any,
    factors_test: Any,
    *,
    test_size: float,
    random_state: int | None,
    min_classes: int = 1,
):
    """Validate and return (train latents, train factors (int64), test latents, test factors)."""
    if (latents_test is None) != (factors_test is None):
        raise InvalidInputError(
            "give both latents_test and factors_test, or neither (then test_size of the rows "
            "are held out)."
        )
    common_namespace(latents, latents_test)
    latents = check_latents(latents)
    factors = check_factors(factors, n_rows=int(latents.shape[0]))
    if latents_test is None:
        if not (isinstance(test_size, (int, float)) and 0.0 < test_size < 1.0):
            raise InvalidInputError(
                f"test_size must be a fraction in (0, 1); got {test_size!r}. Or pass "
                "latents_test and factors_test."
            )
        n = int(latents.shape[0])
        n_test = int(round(n * test_size))
        if n_test < 1 or n - n_test < 2:
            raise InvalidInputError(
                f"test_size={test_size} leaves {n - n_test} training and {n_test} test rows of "
                f"{n}; give more rows or another test_size."
            )
        perm = np.random.default_rng(random_state).permutation(n)
        test_idx, train_idx = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        latents_test, factors_test = _take(latents, test_idx), factors[test_idx]
        latents, factors = _take(latents, train_idx), factors[train_idx]
    else:
        latents_test = check_latents(latents_test, "latents_test", min_rows=1)
        factors_test = check_factors(
            factors_test, "factors_test", n_rows=int(latents_test.shape[0])
        )
        if latents_test.shape[1] != latents.shape[1]:
            raise InvalidInputError(
                f"latents_test has {latents_test.shape[1]} latents but latents has "
                f"{latents.shape[1]}; both must come from the same encoder."
            )
        if factors_test.shape[1] != factors.shape[1]:
            raise InvalidInputError(
                f"factors_test has {factors_test.shape[1]} factors but factors has "
                f"{factors.shape[1]}; pass the same factor columns."
            )
    if min_classes > 1:
        check_factors(factors, min_classes=min_classes)
    return latents, factors, latents_test, factors_test


def _make_regressor(regressor: Any, backend: str, options: dict[str, Any]):
    if isinstance(regressor, str):
        name = regressor.lower()
        opts = dict(options)
        opts.setdefault("device", backend)
        if name == "gbt":
            from ..regressors.stumps import GradientBoostedStumps

            return GradientBoostedStumps(**opts), "gbt"
        if name == "logistic":
            from ..regressors.logistic import MultinomialLogistic

            return MultinomialLogistic(**opts), "logistic"
        if name == "lasso":
            from ..regressors.linear import Lasso

            return Lasso(**opts), "lasso"
        raise InvalidInputError(
            f"regressor must be 'gbt', 'logistic', 'lasso' or an estimator with fit/score/"
            f"feature_importances_; got {regressor!r}."
        )
    if options:
        raise InvalidInputError(
            "regressor options were given together with an estimator instance; set them on "
            f"the instance instead: {sorted(options)}."
        )
    for attr in ("fit", "score"):
        if not hasattr(regressor, attr):
            raise InvalidInputError(
                f"regressor {regressor!r} has no {attr}() method; pass 'gbt', 'logistic', "
                "'lasso' or an estimator with fit(X, Y), score(X, Y) and feature_importances_."
            )
    return regressor, type(regressor).__name__


# ============================================================================= DCI


def _dci_stats(latents, factors, latents_test, factors_test, model):
    """Fit ``model`` and return (importance (L, K), train scores (K,), test scores (K,))."""
    model.fit(latents, factors)
    imp = getattr(model, "feature_importances_", None)
    if imp is None:
        raise InvalidInputError(
            f"{type(model).__name__} has no feature_importances_ after fit; DCI needs an "
            "(n_latents, n_factors) importance matrix."
        )
    imp = np.abs(np.asarray(to_numpy(imp), dtype=np.float64))
    L, K = int(latents.shape[1]), int(factors.shape[1])
    if imp.shape != (L, K):
        raise InvalidInputError(
            f"{type(model).__name__}.feature_importances_ has shape {imp.shape}; DCI needs "
            f"(n_latents, n_factors) = {(L, K)}."
        )
    s_train = np.asarray(model.score(latents, factors), dtype=np.float64).reshape(K)
    s_test = np.asarray(model.score(latents_test, factors_test), dtype=np.float64).reshape(K)
    return imp, s_train, s_test


def dci(
    latents: Any,
    factors: Any,
    latents_test: Any = None,
    factors_test: Any = None,
    *,
    regressor: Any = "gbt",
    test_size: float = 0.5,
    random_state: int | None = 0,
    max_train: int | None = None,
    backend: str = "auto",
    **regressor_options: Any,
) -> DCIResult:
    """DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Parameters
    ----------
    latents : array (N, L) float
        Representation (numpy, torch or CuPy), samples first.
    factors : array (N, K) int
        Ground-truth factor classes.
    latents_test, factors_test : arrays (M, L), (M, K), optional
        Held-out rows. Without them ``test_size`` of the rows are held out at random.
    regressor : {"gbt", "logistic", "lasso"} or estimator, default "gbt"
        ``"gbt"``: :class:`~fastdci.regressors.GradientBoostedStumps` (disentanglement_lib's
        choice is scikit-learn's gradient boosting); ``"logistic"``:
        :class:`~fastdci.regressors.MultinomialLogistic`; ``"lasso"``:
        :class:`~fastdci.regressors.Lasso` on the class indices as numbers (the original
        paper's choice for continuous factors). An instance must have ``fit(X, Y)``,
        ``score(X, Y) -> (K,)`` and ``feature_importances_`` (L, K).
    test_size : float, default 0.5
        Fraction held out when no test rows are given.
    random_state : int or None, default 0
        Seed of the train/test split and of ``max_train``'s subsample.
    max_train : int, optional
        Fit on at most this many training rows (a uniform random subsample, recorded in
        ``n_train``). By default every training row is used.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Device of the regressor, unless ``device`` is among ``regressor_options``.
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

    Which numbers are reproduced: disentanglement_lib's published tables used scikit-learn
    < 0.22, whose gradient-boosting importances were normalised per tree and then averaged
    (``importance="per_tree"``, depth-3 trees: ``regressor_options`` ``max_depth=3``);
    scikit-learn >= 0.22 sums gains over all trees and normalises once
    (``importance="global"``). The two differ by up to 2x in D and C.

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
    latents, factors, latents_test, factors_test = _split(
        latents, factors, latents_test, factors_test, test_size=test_size,
        random_state=random_state,
    )
    if max_train is not None:
        if not (isinstance(max_train, (int, np.integer)) and max_train >= 2):
            raise InvalidInputError(f"max_train must be an integer >= 2 or None; got {max_train!r}.")
        n = int(latents.shape[0])
        if max_train < n:
            rng = np.random.default_rng(None if random_state is None else random_state + 1)
            idx = np.sort(rng.choice(n, size=int(max_train), replace=False))
            latents, factors = _take(latents, idx), factors[idx]
    model, name = _make_regressor(regressor, backend, regressor_options)
    imp, s_train, s_test = _dci_stats(latents, factors, latents_test, factors_test, model)
    from ..regressors._base import settings_of

    return _dci_finalize(
        imp,
        s_train,
        s_test,
        n_train=int(latents.shape[0]),
        n_test=int(latents_test.shape[0]),
        regressor=name if isinstance(regressor, str) else type(model).__name__,
        regressor_settings={"class": type(model).__name__, **settings_of(model)},
    )


# ============================================================================= SAP


def _sap_finalize(score_matrix: Any, *, continuous: bool = False, n_train: int = 0,
                  n_test: int = 0) -> SAPResult:
    """SAP from an (L, K) score matrix: mean over factors of best minus second-best latent."""
    S = np.asarray(to_numpy(score_matrix), dtype=np.float64)
    if S.ndim != 2 or S.shape[0] < 2:
        raise InvalidInputError(
            f"SAP needs a (n_latents >= 2, n_factors) score matrix; got shape {S.shape}. With a "
            "single latent there is no second-best latent to compare against."
        )
    top = np.sort(S, axis=0)
    gaps = top[-1, :] - top[-2, :]
    return SAPResult(
        sap=float(np.mean(gaps)),
        score_matrix=S,
        gap_per_factor=gaps,
        continuous=bool(continuous),
        n_train=int(n_train),
        n_test=int(n_test),
    )


def _sap_continuous_matrix(latents: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Squared Pearson correlation per (latent, factor); 0 where the latent's variance <= 1e-12."""
    M = np.asarray(latents, dtype=np.float64)
    Y = np.asarray(factors, dtype=np.float64)
    n = M.shape[0]
    Mc = M - M.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    cov = (Mc.T @ Yc) / (n - 1)
    var_m = np.einsum("ij,ij->j", Mc, Mc) / (n - 1)
    var_y = np.einsum("ij,ij->j", Yc, Yc) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = cov**2 / (var_m[:, None] * var_y[None, :])
    S = np.where(var_m[:, None] > 1e-12, S, 0.0)
    return np.where(var_y[None, :] > 0, S, 0.0)


def sap(
    latents: Any,
    factors: Any,
    latents_test: Any = None,
    factors_test: Any = None,
    *,
    continuous: bool = False,
    test_size: float = 0.5,
    random_state: int | None = 0,
    C: float = 0.01,
) -> SAPResult:
    """Separated Attribute Predictability (Kumar et al. 2018), as disentanglement_lib.

    Parameters
    ----------
    latents : array (N, L) float
    factors : array (N, K) int
    latents_test, factors_test : arrays (M, L), (M, K), optional
        Held-out rows for the discrete score; without them ``test_size`` of the rows are held
        out at random. The continuous score uses the training rows only.
    continuous : bool, default False
        False: the score of latent i for factor j is the test accuracy of a linear SVM
        (``LinearSVC(C=C, class_weight="balanced")``, one-vs-rest) fitted on latent i alone.
        True: the squared Pearson correlation of latent i and factor j (0 when the latent's
        variance is at most 1e-12).
    test_size : float, default 0.5
    random_state : int or None, default 0
    C : float, default 0.01
        The SVM's inverse regularisation (disentanglement_lib's value).

    Returns
    -------
    SAPResult

    Notes
    -----
    SAP is the mean over factors of the difference between the highest and the second highest
    score over latents. The SVMs are trained by a Numba re-implementation of the solver
    scikit-learn's ``LinearSVC`` runs (liblinear's primal trust-region Newton method with its
    stopping rule, penalised intercept and class weighting), one (latent, factor) pair per
    thread, so the score matrix equals disentanglement_lib's exactly, not just
    approximately: an exact optimiser disagrees on the rows near nearly-flat one-vs-rest
    lines. Differences from disentanglement_lib: a factor with a single class raises here
    (scikit-learn raises inside disentanglement_lib too); in the continuous score a constant
    factor scores 0 instead of NaN.

    References
    ----------
    Kumar, Sattigeri & Balakrishnan, "Variational inference of disentangled latent concepts
    from unlabeled observations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> import fastdci
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 3, size=(1000, 2))
    >>> latents = np.concatenate([factors + 0.1 * rng.normal(size=(1000, 2)),
    ...                           rng.normal(size=(1000, 1))], axis=1)
    >>> res = fastdci.sap(latents, factors, continuous=True)
    >>> round(res.sap, 2)
    0.98
    """
    if not (isinstance(C, (int, float)) and C > 0):
        raise InvalidInputError(f"C must be a positive number; got {C!r}.")
    if continuous:
        if latents_test is not None or factors_test is not None:
            raise InvalidInputError(
                "the continuous SAP score uses the training rows only; drop latents_test and "
                "factors_test, or set continuous=False."
            )
        latents = check_latents(latents)
        factors = check_factors(factors, n_rows=int(latents.shape[0]))
        S = _sap_continuous_matrix(to_numpy(latents), factors)
        return _sap_finalize(S, continuous=True, n_train=int(latents.shape[0]), n_test=0)
    latents, factors, latents_test, factors_test = _split(
        latents, factors, latents_test, factors_test, test_size=test_size,
        random_state=random_state, min_classes=2,
    )
    if int(latents.shape[1]) < 2:
        raise InvalidInputError("SAP needs at least two latent dimensions; got one.")
    from ..regressors._base import encode_classes
    from ._linear_svc import svc_pair_accuracy

    enc, codes = encode_classes(factors)
    codes_test = np.full(factors_test.shape, -1, dtype=np.int64)
    for k, cls in enumerate(enc.classes):
        pos = np.searchsorted(cls, factors_test[:, k])
        pos = np.clip(pos, 0, cls.size - 1)
        hit = cls[pos] == factors_test[:, k]
        codes_test[hit, k] = pos[hit]
    counts = svc_pair_accuracy(
        to_numpy(latents).astype(np.float64),
        codes,
        enc.n_classes,
        to_numpy(latents_test).astype(np.float64),
        codes_test,
        C=float(C),
    )
    n_test = int(latents_test.shape[0])
    return _sap_finalize(counts / n_test, continuous=False, n_train=int(latents.shape[0]),
                         n_test=n_test)


# ============================================================================= explicitness


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


def explicitness(
    latents: Any,
    factors: Any,
    latents_test: Any = None,
    factors_test: Any = None,
    *,
    test_size: float = 0.5,
    random_state: int | None = 0,
    C: float = 1.0,
    classifier: Any = None,
    backend: str = "auto",
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
    backend : {"auto", "cpu", "cuda"}, default "auto"

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
    latents, factors, latents_test, factors_test = _split(
        latents, factors, latents_test, factors_test, test_size=test_size,
        random_state=random_state, min_classes=2,
    )
    if classifier is None:
        from ..regressors.logistic import MultinomialLogistic

        classifier = MultinomialLogistic(C=C, standardize=True, device=backend)
    classifier.fit(latents, factors)
    classes = list(classifier.classes_)

    def per_factor(X, Y):
        probs = classifier.predict_proba(X)
        out = np.empty(len(classes))
        for k, cls in enumerate(classes):
            pos = np.searchsorted(cls, Y[:, k])
            pos = np.clip(pos, 0, cls.size - 1)
            codes = np.where(cls[pos] == Y[:, k], pos, -1)
            auc = roc_auc_per_class(codes, np.asarray(probs[k]))
            out[k] = np.nanmean(auc) if np.any(np.isfinite(auc)) else np.nan
        return out

    tr = per_factor(latents, factors)
    te = per_factor(latents_test, factors_test)
    from ..regressors._base import settings_of

    return ExplicitnessResult(
        explicitness_train=float(np.mean(tr)),
        explicitness_test=float(np.mean(te)),
        per_factor_train=tr,
        per_factor_test=te,
        n_train=int(latents.shape[0]),
        n_test=int(latents_test.shape[0]),
        classifier_settings={"class": type(classifier).__name__, **settings_of(classifier)},
    )
