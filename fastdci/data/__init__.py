"""dSprites: a procedural renderer faithful to the real images, and a loader of the real file.

>>> from fastdci.data import DSprites, FACTOR_NAMES, FACTOR_SIZES
>>> FACTOR_NAMES, FACTOR_SIZES
(('shape', 'scale', 'orientation', 'posX', 'posY'), (3, 6, 40, 32, 32))

Importing this package loads NumPy only; torch is imported by the torch renderer on first use.
"""

from .dsprites import REAL_FILE_NAME, RENDERER_VERSION, DSprites, grid_classes
from .render import FACTOR_NAMES, FACTOR_SIZES, FACTOR_STRIDES, N_IMAGES, render_numpy, render_torch

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "FACTOR_STRIDES",
    "N_IMAGES",
    "REAL_FILE_NAME",
    "RENDERER_VERSION",
    "DSprites",
    "grid_classes",
    "render_numpy",
    "render_torch",
]
