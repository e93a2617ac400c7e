"""The dSprites factor grid: factor names, sizes, strides and values, and class checking.

The grid has five factors (shape, scale, orientation, posX, posY; the constant colour
factor dropped, as in disentanglement_lib) and :data:`N_IMAGES` rows in the real file's C
order, ``row = sum(class * stride)``. :func:`check_classes` validates an (n, 5) array of
0-based factor classes, :func:`class_values` maps classes to the real file's
``latents_values`` and :func:`grid_classes` lists the classes of a range of rows. This
module loads NumPy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidDTypeError, InvalidInputError

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "FACTOR_STRIDES",
    "IMAGE_SIZE",
    "N_IMAGES",
    "ORIENTATION_VALUES",
    "POSITION_VALUES",
    "SCALE_VALUES",
    "SHAPE_NAMES",
    "SHAPE_VALUES",
    "check_classes",
    "class_values",
    "grid_classes",
]

FACTOR_NAMES: tuple[str, ...] = ("shape", "scale", "orientation", "posX", "posY")
"""Factor names as disentanglement_lib exposes them (the constant colour factor dropped)."""
FACTOR_SIZES: tuple[int, ...] = (3, 6, 40, 32, 32)
"""Number of classes of each factor."""
FACTOR_STRIDES: tuple[int, ...] = (245760, 40960, 1024, 32, 1)
"""Row stride of each factor: row = sum(class * stride), C order as in the real file."""
N_IMAGES: int = 737280
"""Rows of the dSprites grid (3 * 6 * 40 * 32 * 32)."""
IMAGE_SIZE: int = 64
"""Images are IMAGE_SIZE x IMAGE_SIZE pixels."""

SHAPE_NAMES: tuple[str, ...] = ("square", "ellipse", "heart")
SHAPE_VALUES = np.array([1.0, 2.0, 3.0])
"""The real file's values of the shape factor (1 square, 2 ellipse, 3 heart)."""
SCALE_VALUES = np.linspace(0.5, 1.0, 6)
ORIENTATION_VALUES = np.linspace(0.0, 2.0 * np.pi, 40)
"""Orientation in radians; both ends included, so classes 0 and 39 render alike."""
POSITION_VALUES = np.linspace(0.0, 1.0, 32)


def grid_classes(start: int = 0, stop: int = N_IMAGES) -> np.ndarray:
    """Factor classes of rows ``start .. stop - 1`` of the dSprites grid, int64 (n, 5)."""
    rows = np.arange(start, stop, dtype=np.int64)
    return (rows[:, None] // np.asarray(FACTOR_STRIDES)) % np.asarray(FACTOR_SIZES)


def check_classes(classes: Any, name: str = "classes") -> np.ndarray:
    """``classes`` as an int64 (n, 5) array of in-range factor classes (a single row of 5 is
    accepted, integral floats are converted); raise naming the column and class otherwise."""
    arr = np.asarray(classes)
    if arr.ndim == 1 and arr.shape[0] == 5:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise InvalidInputError(
            f"{name} must have shape (n, 5) with columns {list(FACTOR_NAMES)}; got shape {arr.shape}."
            " Drop the colour column of the real file's latents_classes (keep columns 1..5)."
        )
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise InvalidDTypeError(
                f"{name} must hold integer factor classes; got dtype {arr.dtype}. For real-valued "
                "factors use render_values()."
            )
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        low, high = arr.min(axis=0), arr.max(axis=0)
        for k, size in enumerate(FACTOR_SIZES):
            if low[k] < 0 or high[k] >= size:
                bad = int(low[k]) if low[k] < 0 else int(high[k])
                raise InvalidInputError(
                    f"{name} column {k} ({FACTOR_NAMES[k]}) has class {bad}, outside [0, {size}); "
                    f"dSprites classes are 0..size-1 with sizes {list(FACTOR_SIZES)}."
                )
    return arr


def class_values(classes: Any) -> np.ndarray:
    """The real factor values of factor classes, as in the real file's ``latents_values``.

    Parameters
    ----------
    classes : int array, shape (n, 5)
        Columns shape, scale, orientation, posX, posY (0-based classes).

    Returns
    -------
    values : float64 array, shape (n, 5)
        shape in {1, 2, 3}, scale in [0.5, 1], orientation in radians [0, 2 pi], posX and posY
        in [0, 1].

    Examples
    --------
    >>> class_values([[2, 5, 0, 31, 0]]).tolist()
    [[3.0, 1.0, 0.0, 1.0, 0.0]]
    """
    c = check_classes(classes)
    out = np.empty(c.shape, dtype=np.float64)
    for k, table in enumerate((SHAPE_VALUES, SCALE_VALUES, ORIENTATION_VALUES, POSITION_VALUES, POSITION_VALUES)):
        out[:, k] = table[c[:, k]]
    return out
