"""fastdci: disentanglement metrics over millions of latent vectors, reference-exact.

The public functions are loaded on first use, so ``import fastdci`` imports neither torch,
numba, CuPy nor Dask.

>>> import fastdci
>>> fastdci.__version__ >= "0.1"
True
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import FastDCIError

# public name -> submodule that defines it (imported on first attribute access)
_LAZY = {
    # information-based metrics
    "mig": "fastdci.metrics.information",
    "mig_sup": "fastdci.metrics.information",
    "jemmig": "fastdci.metrics.information",
    "dcimig": "fastdci.metrics.information",
    "modularity": "fastdci.metrics.information",
    # predictor-based metrics
    "dci": "fastdci.metrics.predictors",
    "sap": "fastdci.metrics.predictors",
    "explicitness": "fastdci.metrics.predictors",
    # intervention-based metrics
    "beta_vae_score": "fastdci.metrics.interventions",
    "factor_vae_score": "fastdci.metrics.interventions",
    "z_max_variance": "fastdci.metrics.interventions",
    "irs": "fastdci.metrics.interventions",
    # front door
    "evaluate": "fastdci.evaluation",
    "Report": "fastdci.evaluation",
    # files
    "open_latents": "fastdci.io",
    "LatentsWriter": "fastdci.io",
}

__all__ = ["FastDCIError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastdci' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
