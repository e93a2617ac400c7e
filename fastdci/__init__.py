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

# public name -> submodule that defines it (imported on first attribute access); the metric
# functions come from the registry, which is plain data (no torch, no Numba)
from .metrics.registry import METRICS as _METRICS

_LAZY = {
    **{spec.public_name: spec.function.partition(":")[0] for spec in _METRICS.values()},
    # front door
    "evaluate": "fastdci.evaluation",
    "Report": "fastdci.evaluation",
    # scale-out on Dask (the dask extra)
    "evaluate_many": "fastdci.sweep",
    "information_out_of_core": "fastdci.sweep",
    # data
    "LatentsSource": "fastdci.io.source",
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
