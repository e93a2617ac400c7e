"""The NumPy dSprites renderer: 64x64 binary images from factor classes or values, vectorised.

:func:`render_numpy` renders factor classes, :func:`render_values` real-valued factors;
the sprites' geometry is :mod:`fastdci.data.shapes`. Images are grouped by shape and scale
and only a patch of pixels around each sprite is computed, in float64 with the same
operations as the torch renderer (:mod:`fastdci.data.torch_render`), so both give the same
pixels. This module loads NumPy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .factors import IMAGE_SIZE, ORIENTATION_VALUES, POSITION_VALUES, SCALE_VALUES, SHAPE_VALUES, check_classes
from .shapes import CHAINS, REACH, inside, patch_size

__all__ = ["render_numpy", "render_values"]


def _interp_numpy(v, chain):
    ky, kx = chain[0], chain[1]
    return np.interp(v, ky, kx)


class _NumpyOps:
    abs = staticmethod(np.abs)
    interp = staticmethod(_interp_numpy)


def _geometry(shape, scale, orientation, pos_x, pos_y):
    """Per image: (shape index, scale, cos, sin, centre x, centre y), float64 numpy arrays."""
    shape = np.asarray(shape)
    arrays = [np.asarray(a, dtype=np.float64) for a in (scale, orientation, pos_x, pos_y)]
    n = shape.shape[0] if shape.ndim else 1
    shape = np.broadcast_to(shape, (n,)).astype(np.int64)
    scale, orientation, pos_x, pos_y = (np.broadcast_to(a, (n,)) for a in arrays)
    if np.any((shape < 0) | (shape > 2)):
        raise InvalidInputError("shape must be 0 (square), 1 (ellipse) or 2 (heart).")
    if not np.all(np.isfinite(scale) & (scale > 0)):
        raise InvalidInputError("scale must be positive and finite (dSprites uses 0.5..1).")
    centre_x = 16.0 + 32.0 * pos_x
    centre_y = 16.0 + 32.0 * pos_y
    return shape, scale, np.cos(orientation), np.sin(orientation), centre_x, centre_y


def _render_numpy(shape, scale, cos, sin, cx, cy, chunk):
    """Only the pixels of a patch around each sprite are tested (a quarter of the frame or less);
    images are grouped by shape and, within a shape, sorted by scale so patches fit snugly."""
    n = shape.shape[0]
    out = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for kind in range(3):
        chosen = np.flatnonzero(shape == kind)
        chosen = chosen[np.argsort(scale[chosen], kind="stable")]
        for start in range(0, chosen.shape[0], chunk):
            ii = chosen[start : start + chunk]
            reach = REACH[kind] * scale[ii]
            size = patch_size(kind, float(scale[ii].max()))
            steps = np.arange(size)
            r0 = np.clip(np.floor(cy[ii] - reach - 0.5).astype(np.int64), 0, IMAGE_SIZE - size)
            c0 = np.clip(np.floor(cx[ii] - reach - 0.5).astype(np.int64), 0, IMAGE_SIZE - size)
            dx = (c0[:, None] + steps + 0.5) - cx[ii, None]  # (m, size): right, per patch column
            dy = cy[ii, None] - (r0[:, None] + steps + 0.5)  # (m, size): up, per patch row
            c, s, k = cos[ii, None], sin[ii, None], scale[ii, None, None]
            # rotate back by -orientation into the sprite's frame, in units of scale-1 pixels
            u = ((c * dx)[:, None, :] + (s * dy)[:, :, None]) / k
            v = ((c * dy)[:, :, None] - (s * dx)[:, None, :]) / k
            patch = inside(_NumpyOps, kind, u, v, CHAINS)
            for i, r, q, p in zip(ii.tolist(), r0.tolist(), c0.tolist(), patch):
                out[i, r : r + size, q : q + size] = p
    return out


def render_values(shape, scale, orientation, pos_x, pos_y, *, chunk: int = 512):
    """Render sprites from real-valued factors (NumPy).

    Parameters
    ----------
    shape : int array, shape (n,)
        0 square, 1 ellipse, 2 heart.
    scale, orientation, pos_x, pos_y : float arrays, shape (n,) (or scalars, broadcast)
        Scale (1 = the largest dSprites sprite), orientation in radians (counter-clockwise on
        screen), position in [0, 1] (``pos_y = 0`` is the top).
    chunk : int, default 512
        Images computed at once (bounds the temporary memory, about ``chunk`` * 300 KiB).

    Returns
    -------
    images : uint8 array, shape (n, 64, 64), of 0/1

    Examples
    --------
    >>> int(render_values([0], [1.0], [0.0], [0.5], [0.5]).sum())  # a 20 x 20 square
    400
    """
    geo = _geometry(shape, scale, orientation, pos_x, pos_y)
    return _render_numpy(*geo, int(chunk))


def render_numpy(classes: Any, *, chunk: int = 512) -> np.ndarray:
    """Render the dSprites images of factor classes (NumPy, vectorised over images and pixels).

    Parameters
    ----------
    classes : int array, shape (n, 5)
        Columns shape, scale, orientation, posX, posY as 0-based classes (sizes 3, 6, 40, 32,
        32). A single row of 5 is accepted.
    chunk : int, default 512
        Images computed at once.

    Returns
    -------
    images : uint8 array, shape (n, 64, 64), of 0/1
        Row ``i`` is pixel row ``i`` from the top.

    Notes
    -----
    The geometry (:mod:`fastdci.data.shapes`) reproduces 312 of the 320 labelled real dSprites
    frames pixel for pixel; the other 8 are 1-2 pixels off on a heart's rim.

    Examples
    --------
    >>> img = render_numpy([[0, 5, 0, 0, 0]])  # the largest square in the top-left corner
    >>> img.shape, int(img.sum())
    ((1, 64, 64), 400)
    """
    c = check_classes(classes)
    geo = _geometry(SHAPE_VALUES[c[:, 0]] - 1, SCALE_VALUES[c[:, 1]], ORIENTATION_VALUES[c[:, 2]],
                    POSITION_VALUES[c[:, 3]], POSITION_VALUES[c[:, 4]])
    return _render_numpy(*geo, int(chunk))
