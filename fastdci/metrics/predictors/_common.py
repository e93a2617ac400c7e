"""What the predictor metrics share: the train/test rows of a source, the regressor factory, and
the per-factor fit of any scikit-learn style estimator."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..._validation import check_factors
from ...errors import InvalidInputError, MissingDependencyError


def train_test(source, *, test_size: float, random_state: Any, device: str = "cpu", min_classes: int = 1,
               max_train: int | None = None):
    """(train latents, train factors, test latents, test factors) of ``source``.

    The split is the source's (computed once per test size and seed); latents come as NumPy on
    the CPU and as torch tensors on CUDA, factors as integer NumPy.
    """
    x_train, y_train, x_test, y_test = source.train_test(test_size, random_state, device, max_train)
    if min_classes > 1:
        check_factors(y_train, min_classes=min_classes, factor_names=source.factor_names)
    return x_train, y_train, x_test, y_test


def fit_shared(source, model, x, y, split: tuple):
    """``model.fit(x, y)``, or a booster already fitted on the same rows with the same settings.

    A :class:`~fastdci.regressors.GradientBoostedStumps` fit is determined by its parameters
    and its rows, so DCI and DCI-ES on one source share it; ``split`` names the rows (the
    split's test size, seed, row cap and device, and which factor columns ``y`` holds). Any
    other model is fitted as given.
    """
    from ...regressors.stumps import GradientBoostedStumps

    if type(model) is not GradientBoostedStumps:
        return model.fit(x, y)
    key = ("gbt", split, tuple(sorted((k, repr(v)) for k, v in model.get_params().items())))
    return source.shared(key, lambda: model.fit(x, y))


GBT_DEPTH = 3
"""Depth of ``regressor="gbt"``: scikit-learn's ``GradientBoostingClassifier()`` default, which
disentanglement_lib's DCI uses."""


CLASSIFY_ONLY = ("gbt", "stumps", "logistic")
"""The named regressors that only classify (they refuse continuous factors)."""
GBT_OPTIONS = {"n_rounds", "learning_rate", "max_depth", "max_bins", "importance", "criterion", "random_state"}
LASSO_OPTIONS = {"alpha", "tol", "max_iter", "standardize"}


def resolve_by_type(regressor: Any, continuous: bool, options: dict) -> tuple[Any, dict]:
    """The regressor of one factor type and the options that apply to it (``"auto"``: gbt for
    discrete factors, lasso for continuous ones)."""
    if regressor == "auto":
        regressor = "lasso" if continuous else "gbt"
        keep = LASSO_OPTIONS if continuous else GBT_OPTIONS
        options = {k: v for k, v in options.items() if k in keep}
    elif regressor == "random_forest":
        return forest(continuous, options), {}
    return regressor, options


def forest(continuous: bool, options: dict) -> Any:
    """scikit-learn's ``RandomForestRegressor`` (continuous) or ``RandomForestClassifier``
    with ``n_estimators`` trees (default 10, the metrics review's) and ``max_depth``."""
    try:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    except ImportError as exc:
        raise MissingDependencyError(
            "regressor='random_forest' uses scikit-learn's random forests: pip install scikit-learn."
        ) from exc
    cls = RandomForestRegressor if continuous else RandomForestClassifier
    return cls(n_estimators=options.get("n_estimators", 10), max_depth=options.get("max_depth"),
               random_state=options.get("random_state", 0))


def make_regressor(regressor: Any, device: str, options: dict[str, Any]):
    """(estimator, short name) for ``"gbt"`` (depth-3 boosted trees), ``"stumps"`` (depth 1),
    ``"logistic"``, ``"lasso"`` or an estimator instance.

    fastdci's own regressors (:mod:`fastdci.regressors`) are returned as they are: they fit
    every factor at once. Any other instance needs ``fit`` and ``predict`` or ``score``; it is
    wrapped in a :class:`PerFactor`, which fits a clone of it on each factor.
    """
    if isinstance(regressor, str):
        opts = dict(options)
        opts.setdefault("device", device)
        if regressor in ("gbt", "stumps"):
            from ...regressors.stumps import GradientBoostedStumps

            if opts.get("max_depth") is None:
                opts["max_depth"] = GBT_DEPTH if regressor == "gbt" else 1
            return GradientBoostedStumps(**opts), regressor
        if regressor == "logistic":
            from ...regressors.logistic import MultinomialLogistic

            return MultinomialLogistic(**opts), "logistic"
        from ...regressors.linear import Lasso

        return Lasso(**opts), "lasso"
    from ...regressors._base import EstimatorParams

    if isinstance(regressor, EstimatorParams):
        return regressor, type(regressor).__name__
    name = type(regressor).__name__
    if not hasattr(regressor, "fit") or not (hasattr(regressor, "predict") or hasattr(regressor, "score")):
        missing = "fit()" if not hasattr(regressor, "fit") else "predict() or score()"
        raise InvalidInputError(
            f"regressor {name} has no {missing}; pass 'gbt', 'logistic', 'lasso' or a scikit-learn style "
            "estimator with fit(X, y), predict(X) and feature_importances_ or coef_ (e.g. "
            "GradientBoostingClassifier() or LogisticRegression())."
        )
    return PerFactor(regressor), name


def _clone(estimator: Any) -> Any:
    """``sklearn.base.clone`` (unfitted, same parameters); a deep copy without scikit-learn."""
    try:
        from sklearn.base import clone
    except ImportError:  # a duck-typed estimator and no scikit-learn
        return copy.deepcopy(estimator)
    return clone(estimator, safe=False)


def _is_regressor(estimator: Any) -> bool:
    try:
        from sklearn.base import is_regressor
    except ImportError:
        return getattr(estimator, "_estimator_type", None) == "regressor"
    return bool(is_regressor(estimator))


def importance_of(fitted: Any, n_features: int) -> np.ndarray:
    """Per-feature importance (n_features,) of an estimator fitted on one target.

    ``feature_importances_`` when it has one, else ``|coef_|`` summed over its rows (the
    classes of a multinomial classifier; one row for a binary one, none for a regressor's 1-D
    ``coef_``): the rule of fastdci's logistic DCI, ``sum_c |w_c|``. A pipeline is read at its
    final step. Raises when the estimator has neither.
    """
    est = fitted
    for _ in range(2):
        imp = getattr(est, "feature_importances_", None)
        if imp is None:
            coef = getattr(est, "coef_", None)
            if coef is not None:
                imp = np.abs(np.atleast_2d(np.asarray(coef, dtype=np.float64))).sum(axis=0)
        if imp is not None:
            imp = np.abs(np.asarray(imp, dtype=np.float64)).reshape(-1)
            if imp.shape != (n_features,):
                raise InvalidInputError(
                    f"{type(est).__name__}'s importances have shape {imp.shape}; DCI needs one per latent "
                    f"({n_features},). Fit on the latents as they are (no step that changes their number)."
                )
            return imp
        steps = getattr(est, "steps", None)  # a scikit-learn Pipeline: its final estimator
        if not steps:
            break
        est = steps[-1][1]
    raise InvalidInputError(
        f"{type(est).__name__} has neither feature_importances_ nor coef_ after fit; DCI needs an importance "
        "per latent. Use an estimator that has one, e.g. sklearn.ensemble.GradientBoostingClassifier() or "
        "sklearn.linear_model.LogisticRegression()."
    )


class PerFactor:
    """Any scikit-learn style estimator as a batched one: a clone of it per factor.

    ``fit(X, Y)`` fits ``clone(estimator)`` on ``(X, Y[:, k])`` for each factor column k;
    ``feature_importances_`` (L, K) holds :func:`importance_of` of each fit; ``score(X, Y)``
    returns (K,) per-factor scores: the accuracy of ``predict`` for a classifier, ``1 - RMSE /
    std(y)`` for a regressor (the convention of fastdci's lasso), or the estimator's own
    ``score`` when it has no ``predict``. Inputs are host NumPy arrays.
    """

    def __init__(self, estimator: Any):
        self.estimator = estimator

    def fit(self, X: Any, Y: Any) -> "PerFactor":
        X, Y = np.asarray(X), np.asarray(Y)
        self.estimators_, imps = [], []
        for k in range(Y.shape[1]):
            est = _clone(self.estimator).fit(X, Y[:, k])
            imps.append(importance_of(est, X.shape[1]))  # the first factor already tells a missing one
            self.estimators_.append(est)
        self.feature_importances_ = np.stack(imps, axis=1)
        return self

    def score(self, X: Any, Y: Any) -> np.ndarray:
        X, Y = np.asarray(X), np.asarray(Y)
        out = np.empty(Y.shape[1], dtype=np.float64)
        for k, est in enumerate(self.estimators_):
            y = Y[:, k]
            if not hasattr(est, "predict"):
                out[k] = float(est.score(X, y))
            elif _is_regressor(est):
                err = np.asarray(est.predict(X), dtype=np.float64).reshape(-1) - y
                sd = float(np.std(y))
                out[k] = 1.0 - float(np.sqrt(np.mean(err ** 2))) / sd if sd > 0 else np.nan
            else:
                out[k] = float(np.mean(np.asarray(est.predict(X)).reshape(-1) == y))
        return out

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The wrapped estimator's parameters (what the result records)."""
        return self.estimator.get_params(deep=deep) if hasattr(self.estimator, "get_params") else {}


def held_out(latents_test: Any, factors_test: Any) -> tuple | None:
    """The held-out pair, None when neither is given; one without the other raises."""
    if (latents_test is None) != (factors_test is None):
        raise InvalidInputError(
            "give both latents_test and factors_test, or neither (then test_size of the rows are held out)."
        )
    return None if latents_test is None else (latents_test, factors_test)
