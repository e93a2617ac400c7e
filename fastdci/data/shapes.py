"""The geometry of the three dSprites shapes: which points lie inside a sprite.

Pixel ``(row i, column j)`` has its centre at ``(x, y) = (j + 0.5, i + 0.5)`` and is on iff
that centre lies inside the sprite. The sprite centre is ``(16 + 32 * posX, 16 + 32 * posY)``
with ``posY = 0`` on the top row; ``orientation`` turns the sprite counter-clockwise on
screen; every length is multiplied by ``scale``. At scale 1:

* square: side 19.196 px;
* ellipse: semi-axes 12.7659 px (horizontal) and 7.2123 px (vertical) at orientation 0;
* heart: the polygon through :data:`HEART_VERTICES` = 100 points of the curve
  ``x = 16 sin^3 w``, ``y = 13 cos w - 5 cos 2w - 2 cos 3w - cos 4w`` (``y`` up, lobes up) at
  ``w = 2 pi (k + 1/2) / 100``, the curve scaled to a 19.2122 x 19.1509 px box with its origin
  1.4402 px above the sprite centre.

With these figures the renderers reproduce 312 of the 320 labelled frames of the dSprites
sample animation (Matthey et al. 2017) pixel for pixel (every square and ellipse, 184 of 192
hearts), and no frame is more than 2 px off (tests/data/test_render.py).

The inside tests (:func:`inside` and the per-shape ones) take an array namespace ``xp``
with ``abs`` and ``interp`` (the heart's edges, as ``numpy.interp`` computes them), so the
NumPy and the torch renderer share them. :data:`REACH` and :func:`patch_size` bound the
pixels a sprite can touch. This module loads NumPy only.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError
from .factors import IMAGE_SIZE

__all__ = [
    "CHAINS",
    "HEART_PHASE",
    "HEART_VERTICES",
    "REACH",
    "heart_polygon",
    "inside",
    "inside_ellipse",
    "inside_heart",
    "inside_square",
    "patch_size",
]

# Geometry at scale 1, in pixels. Each constant lies inside the interval (or, for the heart,
# the region) where every labelled real frame of that shape is reproduced best.
_SQUARE_HALF = 9.598  # half the side; with 9.6 some pixel centres sit on the edge (orientations 17, 22)
_ELLIPSE_A = 12.7659  # horizontal semi-axis at orientation 0
_ELLIPSE_B = 7.2123  # vertical semi-axis at orientation 0
_HEART_WIDTH = 19.2122  # the curve's x range [-16, 16] maps to this many px
_HEART_HEIGHT = 19.1509  # the curve's y range [-17, 11.92] maps to this many px
_HEART_ORIGIN_UP = 1.4402  # the curve's origin lies this far above the sprite centre

HEART_VERTICES: int = 100
"""Vertices of the polygon that draws the heart, at ``w = 2 pi (k + HEART_PHASE) / HEART_VERTICES``."""
HEART_PHASE: float = 0.5
"""Offset of the heart polygon's vertices along the curve (0.5: the notch and the tip are flat edges)."""


def _heart_curve(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = 16.0 * np.sin(w) ** 3
    y = 13.0 * np.cos(w) - 5.0 * np.cos(2 * w) - 2.0 * np.cos(3 * w) - np.cos(4 * w)
    return x, y


def _heart_top() -> float:
    """Largest y of the heart curve (at w ~ 0.908), by Newton's method on y'(w) = 0."""
    w = 0.9
    for _ in range(50):
        d1 = -13 * np.sin(w) + 10 * np.sin(2 * w) + 6 * np.sin(3 * w) + 4 * np.sin(4 * w)
        d2 = -13 * np.cos(w) + 20 * np.cos(2 * w) + 18 * np.cos(3 * w) + 16 * np.cos(4 * w)
        w -= d1 / d2
    return float(_heart_curve(np.array(w))[1])


_HEART_SX = _HEART_WIDTH / 32.0  # px per curve unit, horizontally
_HEART_SY = _HEART_HEIGHT / (_heart_top() + 17.0)  # px per curve unit, vertically


def heart_polygon(n_vertices: int = HEART_VERTICES, phase: float = HEART_PHASE) -> np.ndarray:
    """Vertices of the heart polygon in curve units (y up), shape (n_vertices, 2).

    Vertex ``k`` is the point of the curve ``x = 16 sin^3 w``,
    ``y = 13 cos w - 5 cos 2w - 2 cos 3w - cos 4w`` at ``w = 2 pi (k + phase) / n_vertices``.
    The renderer maps ``x`` by ``_HEART_SX`` px per unit and ``y`` by ``_HEART_SY``.

    Examples
    --------
    >>> heart_polygon().shape
    (100, 2)
    """
    w = 2.0 * np.pi * (np.arange(n_vertices) + phase) / n_vertices
    x, y = _heart_curve(w)
    x[np.isclose(np.sin(w), 0.0, atol=1e-12)] = 0.0
    return np.stack([x, y], axis=1)


def _heart_chains(n_vertices: int, phase: float):
    """The right half of the heart polygon as two chains along which y increases.

    Returns ``((outer_y, outer_x, outer_slope), (inner_y, inner_x, inner_slope))`` in curve units:
    the outer chain runs from the lowest vertex up the side to the lobe top, the inner chain
    from the vertex next to the notch up to the lobe top. The polygon is symmetric about x = 0
    (the vertex set is, since x(-w) = -x(w) and y(-w) = y(w)), so a point ``(x, y)`` is inside iff
    ``outer_y[0] <= y <= outer_y[-1]``, ``|x| <= outer(y)`` and, above ``inner_y[0]``,
    ``|x| >= inner(y)``, where ``outer``/``inner`` interpolate linearly between the vertices
    (exactly the polygon's edges). Slopes are precomputed as ``numpy.interp`` does.
    """
    if n_vertices < 8:
        raise InvalidInputError(f"the heart polygon needs at least 8 vertices; got {n_vertices}.")
    w = 2.0 * np.pi * (np.arange(n_vertices) + phase) / n_vertices
    poly = heart_polygon(n_vertices, phase)
    right = (w >= 0.0) & (w <= np.pi)
    x, y = poly[right, 0], poly[right, 1]
    top = int(np.argmax(y))
    chains = []
    for cy, cx in ((y[top:][::-1], x[top:][::-1]), (y[: top + 1], x[: top + 1])):
        cy, cx = np.ascontiguousarray(cy), np.ascontiguousarray(cx)
        if np.any(np.diff(cy) <= 0):  # pragma: no cover - the curve is monotone on each side
            raise InvalidInputError("the heart polygon's half-chains must be monotone in y")
        chains.append((cy, cx, np.diff(cx) / np.diff(cy)))
    return tuple(chains)


CHAINS = _heart_chains(HEART_VERTICES, HEART_PHASE)
"""The heart polygon's two half-chains (see :func:`_heart_chains`), as NumPy knots."""


def inside_square(xp, u, v):
    """Points ``(u, v)`` (sprite frame, scale-1 px) inside the square."""
    return (xp.abs(u) <= _SQUARE_HALF) & (xp.abs(v) <= _SQUARE_HALF)


def inside_ellipse(xp, u, v):
    """Points ``(u, v)`` (sprite frame, scale-1 px) inside the ellipse."""
    return (u / _ELLIPSE_A) ** 2 + (v / _ELLIPSE_B) ** 2 <= 1.0


def inside_heart(xp, u, v, chains):
    """Points ``(u, v)`` (sprite frame, scale-1 px) inside the heart; ``chains`` as ``xp.interp`` takes them."""
    outer, inner = chains
    hx = xp.abs(u) / _HEART_SX
    hy = (v - _HEART_ORIGIN_UP) / _HEART_SY
    inside = (hy >= outer[0][0]) & (hy <= outer[0][-1]) & (hx <= xp.interp(hy, outer))
    return inside & ((hy <= inner[0][0]) | (hx >= xp.interp(hy, inner)))


def inside(xp, shape, u, v, chains):
    """Which points lie inside a sprite of one ``shape``; ``u`` right, ``v`` up, in units of
    scale-1 pixels from the sprite centre, in the sprite's own (unrotated) frame."""
    if shape == 0:
        return inside_square(xp, u, v)
    if shape == 1:
        return inside_ellipse(xp, u, v)
    return inside_heart(xp, u, v, chains)


def _reach() -> tuple[float, float, float]:
    """Largest distance (px, at scale 1) from the sprite centre to any point of each shape."""
    square = _SQUARE_HALF * np.sqrt(2.0)
    ellipse = max(_ELLIPSE_A, _ELLIPSE_B)
    poly = heart_polygon()
    heart = float(np.hypot(poly[:, 0] * _HEART_SX, poly[:, 1] * _HEART_SY + _HEART_ORIGIN_UP).max())
    return (square + 1e-6, ellipse + 1e-6, heart + 1e-6)


REACH = _reach()
"""Per shape (square, ellipse, heart): the largest distance in px from the sprite centre to the
sprite, at scale 1, plus a 1e-6 px margin."""


def patch_size(kind: int, scale: float) -> int:
    """Side of a square patch of pixels that covers a sprite of this shape and scale wherever its
    centre lies: pixel centres must span the centre +- reach, so 2 * reach + 2 pixels suffice."""
    return int(min(IMAGE_SIZE, np.ceil(2.0 * REACH[kind] * scale + 2.0)))
