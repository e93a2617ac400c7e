"""dSprites: a procedural renderer faithful to the real images, and a loader of the real file.

>>> from fastdci.data import DSprites, FACTOR_NAMES, FACTOR_SIZES
>>> FACTOR_NAMES, FACTOR_SIZES
(('shape', 'scale', 'orientation', 'posX', 'posY'), (3, 6, 40, 32, 32))

Modules: ``factors`` (the factor grid), ``shapes`` (the sprites' geometry), ``render`` (the
NumPy renderer), ``torch_render`` (the torch renderer), ``npz`` (the real file's format) and
``dsprites`` (the :class:`DSprites` dataset). Importing this package loads NumPy only; torch
is imported by the torch renderer on first use.
"""

from .dsprites import RENDERER_VERSION, DSprites
from .factors import FACTOR_NAMES, FACTOR_SIZES, FACTOR_STRIDES, N_IMAGES, grid_classes
from .npz import REAL_FILE_NAME
from .render import render_numpy
from .torch_render import render_torch

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
