"""Constants of the latents file format, version 1 (specified in docs/latents-format.md)."""

from __future__ import annotations

FORMAT_NAME = "fastdci.latents"
FORMAT_VERSION = 1

MEAN = "latents/mean"
LOGVAR = "latents/logvar"
CLASSES = "factors/classes"
VALUES = "factors/values"
INDEX = "index"

ROW_DATASETS = (MEAN, LOGVAR, CLASSES, VALUES, INDEX)
REQUIRED_DATASETS = (MEAN, CLASSES, INDEX)

DEFAULT_CHUNK_ROWS = 65536
DEFAULT_COMPRESSION = "auto"


def classes_dtype(factor_sizes):
    """Smallest signed integer dtype that holds every class of every factor."""
    import numpy as np

    top = max(factor_sizes) if len(factor_sizes) else 1
    for dt in (np.int8, np.int16, np.int32):
        if top - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    return np.dtype(np.int64)
