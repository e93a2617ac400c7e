"""What the predictor metrics share: the train/test rows of a source and the regressor factory."""

from __future__ import annotations

from typing import Any

from ..._validation import check_factors
from ...errors import InvalidInputError


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


GBT_DEPTH = 3
"""Depth of ``regressor="gbt"``: scikit-learn's ``GradientBoostingClassifier()`` default, which
disentanglement_lib's DCI uses."""


def make_regressor(regressor: Any, device: str, options: dict[str, Any]):
    """(estimator, short name) for ``"gbt"`` (depth-3 boosted trees), ``"stumps"`` (depth 1),
    ``"logistic"``, ``"lasso"`` or an estimator instance."""
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
    for attr in ("fit", "score"):
        if not hasattr(regressor, attr):
            raise InvalidInputError(
                f"regressor {regressor!r} has no {attr}() method; pass 'gbt', 'logistic', 'lasso' or an "
                "estimator with fit(X, Y), score(X, Y) and feature_importances_."
            )
    return regressor, type(regressor).__name__


def held_out(latents_test: Any, factors_test: Any) -> tuple | None:
    """The held-out pair, None when neither is given; one without the other raises."""
    if (latents_test is None) != (factors_test is None):
        raise InvalidInputError(
            "give both latents_test and factors_test, or neither (then test_size of the rows are held out)."
        )
    return None if latents_test is None else (latents_test, factors_test)
