"""Batched multi-target estimators in torch (scikit-learn manners: ``fit`` returns self,
learned attributes end in ``_``). Every factor is fitted at once, on CPU or CUDA."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MultinomialLogistic": "fastdci.regressors.logistic",
    "Lasso": "fastdci.regressors.linear",
    "GradientBoostedStumps": "fastdci.regressors.stumps",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastdci.regressors' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
