"""Procedural dSprites renderer: the 64x64 binary images of the dSprites grid, vectorised.

The geometry was measured from real dSprites frames (Matthey et al. 2017). Pixel ``(row i,
column j)`` has its centre at ``(x, y) = (j + 0.5, i + 0.5)`` and is on iff that centre lies
inside the sprite. The sprite centre is ``(16 + 32 * posX, 16 + 32 * posY)`` with ``posY = 0``
on the top row; ``orientation`` turns the sprite counter-clockwise on screen; every length is
multiplied by ``scale``. At scale 1:

* square: side 19.196 px (nominally 19.2);
* ellipse: semi-axes 12.7659 px (horizontal) and 7.2123 px (vertical) at orientation 0
  (nominally 12.77 and 7.21);
* heart: the polygon through :data:`HEART_VERTICES` = 100 points of the curve
  ``x = 16 sin^3 w``, ``y = 13 cos w - 5 cos 2w - 2 cos 3w - cos 4w`` (``y`` up, lobes up) at
  ``w = 2 pi (k + 1/2) / 100``, the curve scaled to a 19.2122 x 19.1509 px box with its origin
  1.4402 px above the sprite centre (nominally: the curve itself, 19.2 x 19.2 px, 1.45 px).

The nominal figures reproduce 250 of the 320 labelled frames of the dSprites sample animation
pixel for pixel (the misses: 1-4 px on heart rims, and square and ellipse pixels whose centres
sit within 1e-3 px of the edge). The refined figures were fitted to those frames: the square's
half side and the ellipse's axes lie inside the (narrow) intervals where every square and
ellipse frame is exact, and the heart polygon (vertex count, phase, box, offset) was searched
for the most exact heart frames. They reproduce 312 of 320 frames exactly (every square and
ellipse, 184 of 192 hearts), no frame more than 2 px off (tests/data/test_render.py).

Both renderers (:func:`render_numpy` in NumPy, :func:`render_torch` in torch on any device)
compute in float64 with the same operations (the heart's edges as ``numpy.interp`` computes
them), so they give the same pixels. Only a patch of pixels around each sprite is computed.

This module imports neither torch nor anything heavy at import time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidDTypeError, InvalidInputError

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "FACTOR_STRIDES",
    "HEART_PHASE",
    "HEART_VERTICES",
    "IMAGE_SIZE",
    "N_IMAGES",
    "ORIENTATION_VALUES",
    "POSITION_VALUES",
    "SCALE_VALUES",
    "SHAPE_NAMES",
    "SHAPE_VALUES",
    "class_values",
    "heart_polygon",
    "render_numpy",
    "render_torch",
    "render_values",
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

# Geometry at scale 1, in pixels. The nominal figures (square side 19.2 px, ellipse
# semi-axes 12.77 x 7.21 px, heart curve in a 19.2 x 19.2 px box, origin 1.45 px up) were refined
# on the 320 labelled real frames: each constant below lies inside the interval (or, for the
# heart, the region) where every frame of that shape is reproduced best.
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


_CHAINS = _heart_chains(HEART_VERTICES, HEART_PHASE)


def _interp_numpy(v, chain):
    ky, kx = chain[0], chain[1]
    return np.interp(v, ky, kx)


def _torch_chain(torch, chain, device):
    """A chain's knots for :func:`_interp_torch`, plus a uniform-bin table that finds the knot
    interval of a value with one lookup and two comparisons (``torch.searchsorted`` is slow on
    the CPU): bins are narrower than half the closest knot spacing, so a bin and its neighbour
    hold at most one knot between them and a one-bin rounding error is corrected exactly."""
    ky, kx, slope = chain
    width = float(np.diff(ky).min()) / 2.5
    n_bins = int(np.ceil((ky[-1] - ky[0]) / width)) + 1
    edges = ky[0] + width * np.arange(n_bins)
    first = np.clip(np.searchsorted(ky, edges, side="right") - 1, 0, len(ky) - 2)
    f64 = dict(dtype=torch.float64, device=device)
    return (
        torch.as_tensor(ky, **f64),
        torch.as_tensor(kx, **f64),
        torch.as_tensor(slope, **f64),
        float(ky[0]),
        1.0 / width,
        torch.as_tensor(first, dtype=torch.int64, device=device),
    )


def _interp_torch(v, chain):
    """``numpy.interp`` inside the knots, in torch: the knot interval ``j`` with
    ``ky[j] <= v < ky[j + 1]``, then ``slope[j] * (v - ky[j]) + kx[j]`` as NumPy computes it,
    so both give the same floats."""
    import torch

    ky, kx, slope, lo, inv_width, first = chain
    last = ky.shape[0] - 2

    def take(table, index):
        return table.index_select(0, index.reshape(-1)).view(index.shape)

    b = torch.clamp(((v - lo) * inv_width).floor(), 0, first.shape[0] - 1).long()
    j = take(first, b)
    j = j + (take(ky, torch.clamp(j + 1, max=last + 1)) <= v).long()
    j = torch.clamp(j - (take(ky, j) > v).long(), 0, last)
    return take(slope, j) * (v - take(ky, j)) + take(kx, j)


def _inside_square(xp, u, v):
    return (xp.abs(u) <= _SQUARE_HALF) & (xp.abs(v) <= _SQUARE_HALF)


def _inside_ellipse(xp, u, v):
    return (u / _ELLIPSE_A) ** 2 + (v / _ELLIPSE_B) ** 2 <= 1.0


def _inside_heart(xp, u, v, chains):
    outer, inner = chains
    hx = xp.abs(u) / _HEART_SX
    hy = (v - _HEART_ORIGIN_UP) / _HEART_SY
    inside = (hy >= outer[0][0]) & (hy <= outer[0][-1]) & (hx <= xp.interp(hy, outer))
    return inside & ((hy <= inner[0][0]) | (hx >= xp.interp(hy, inner)))


def _inside(xp, shape, u, v, chains):
    """Which points lie inside a sprite of one ``shape``; ``u`` right, ``v`` up, in units of
    scale-1 pixels from the sprite centre, in the sprite's own (unrotated) frame."""
    if shape == 0:
        return _inside_square(xp, u, v)
    if shape == 1:
        return _inside_ellipse(xp, u, v)
    return _inside_heart(xp, u, v, chains)


class _NumpyOps:
    abs = staticmethod(np.abs)
    interp = staticmethod(_interp_numpy)


def _check_classes(classes: Any, name: str = "classes") -> np.ndarray:
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
    c = _check_classes(classes)
    out = np.empty(c.shape, dtype=np.float64)
    for k, table in enumerate((SHAPE_VALUES, SCALE_VALUES, ORIENTATION_VALUES, POSITION_VALUES, POSITION_VALUES)):
        out[:, k] = table[c[:, k]]
    return out


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


def _reach() -> tuple[float, float, float]:
    """Largest distance (px, at scale 1) from the sprite centre to any point of each shape."""
    square = _SQUARE_HALF * np.sqrt(2.0)
    ellipse = max(_ELLIPSE_A, _ELLIPSE_B)
    poly = heart_polygon()
    heart = float(np.hypot(poly[:, 0] * _HEART_SX, poly[:, 1] * _HEART_SY + _HEART_ORIGIN_UP).max())
    return (square + 1e-6, ellipse + 1e-6, heart + 1e-6)


_REACH = _reach()


def _patch_size(kind: int, scale: float) -> int:
    """Side of a square patch of pixels that covers a sprite of this shape and scale wherever its
    centre lies: pixel centres must span the centre +- reach, so 2 * reach + 2 pixels suffice."""
    return int(min(IMAGE_SIZE, np.ceil(2.0 * _REACH[kind] * scale + 2.0)))


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
            reach = _REACH[kind] * scale[ii]
            size = _patch_size(kind, float(scale[ii].max()))
            steps = np.arange(size)
            r0 = np.clip(np.floor(cy[ii] - reach - 0.5).astype(np.int64), 0, IMAGE_SIZE - size)
            c0 = np.clip(np.floor(cx[ii] - reach - 0.5).astype(np.int64), 0, IMAGE_SIZE - size)
            dx = (c0[:, None] + steps + 0.5) - cx[ii, None]  # (m, size): right, per patch column
            dy = cy[ii, None] - (r0[:, None] + steps + 0.5)  # (m, size): up, per patch row
            c, s, k = cos[ii, None], sin[ii, None], scale[ii, None, None]
            # rotate back by -orientation into the sprite's frame, in units of scale-1 pixels
            u = ((c * dx)[:, None, :] + (s * dy)[:, :, None]) / k
            v = ((c * dy)[:, :, None] - (s * dx)[:, None, :]) / k
            patch = _inside(_NumpyOps, kind, u, v, _CHAINS)
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
    The geometry (see the module docstring) reproduces 312 of the 320 labelled real dSprites
    frames pixel for pixel; the other 8 are 1-2 pixels off on a heart's rim.

    Examples
    --------
    >>> img = render_numpy([[0, 5, 0, 0, 0]])  # the largest square in the top-left corner
    >>> img.shape, int(img.sum())
    ((1, 64, 64), 400)
    """
    c = _check_classes(classes)
    geo = _geometry(SHAPE_VALUES[c[:, 0]] - 1, SCALE_VALUES[c[:, 1]], ORIENTATION_VALUES[c[:, 2]],
                    POSITION_VALUES[c[:, 3]], POSITION_VALUES[c[:, 4]])
    return _render_numpy(*geo, int(chunk))


class _TorchOps:
    interp = staticmethod(_interp_torch)

    def __init__(self, torch):
        self.abs = torch.abs


_TORCH_TABLES: dict = {}


def _torch_tables(torch, device):
    key = str(device)
    if key not in _TORCH_TABLES:
        f64 = dict(dtype=torch.float64, device=device)
        _TORCH_TABLES[key] = {
            "scale": torch.as_tensor(SCALE_VALUES, **f64),
            "cos": torch.as_tensor(np.cos(ORIENTATION_VALUES), **f64),
            "sin": torch.as_tensor(np.sin(ORIENTATION_VALUES), **f64),
            "centre": torch.as_tensor(16.0 + 32.0 * POSITION_VALUES, **f64),
            "chains": tuple(_torch_chain(torch, chain, device) for chain in _CHAINS),
        }
    return _TORCH_TABLES[key]


def render_torch(classes: Any, device: Any = "cpu", *, chunk: int = 4096):
    """Render the dSprites images of factor classes in torch, on ``device``.

    Same geometry and the same float64 operations as :func:`render_numpy`, so the pixels agree;
    everything runs on ``device`` (the training device), so rendering never leaves the GPU.

    Parameters
    ----------
    classes : int array or tensor, shape (n, 5)
        Columns shape, scale, orientation, posX, posY as 0-based classes.
    device : str or torch.device, default "cpu"
        Where to render ("cpu", "cuda", "cuda:1", ...).
    chunk : int, default 4096
        Images computed at once (bounds the temporary memory, about ``chunk`` * 300 KiB).

    Returns
    -------
    images : torch.float32 tensor, shape (n, 1, 64, 64), of 0/1, on ``device``

    Examples
    --------
    >>> x = render_torch([[1, 5, 0, 0, 0]])  # the largest ellipse, top-left
    >>> tuple(x.shape), x.dtype, int(x.sum())
    ((1, 1, 64, 64), torch.float32, 288)
    """
    import torch

    device = torch.device(device)
    if isinstance(classes, torch.Tensor):
        if classes.is_floating_point() or classes.dtype == torch.bool:
            raise InvalidDTypeError(
                f"classes must hold integer factor classes; got dtype {classes.dtype}. Convert "
                "with classes.long()."
            )
        if classes.ndim != 2 or classes.shape[1] != 5:
            raise InvalidInputError(
                f"classes must have shape (n, 5) with columns {list(FACTOR_NAMES)}; got shape "
                f"{tuple(classes.shape)}."
            )
        c = classes.to(device=device, dtype=torch.int64)
        if c.numel():
            sizes = torch.as_tensor(FACTOR_SIZES, device=device)
            if bool(((c < 0) | (c >= sizes)).any()):
                _check_classes(c.cpu().numpy())  # raises with the column and class named
    else:
        c = torch.as_tensor(_check_classes(classes), device=device)
    t = _torch_tables(torch, device)
    n = c.shape[0]
    out = torch.zeros((n, IMAGE_SIZE * IMAGE_SIZE), dtype=torch.float32, device=device)
    if n == 0:
        return out.view(0, 1, IMAGE_SIZE, IMAGE_SIZE)
    if device.type == "cpu" and n >= _GROUPED_MIN:
        _render_torch_grouped(torch, c, t, out.view(-1), chunk)
    else:
        _render_torch_single_pass(torch, c, t, out.view(-1), chunk)
    return out.view(n, 1, IMAGE_SIZE, IMAGE_SIZE)


_GROUPED_MIN = 2048
"""From this many images on (on the CPU), images are rendered grouped by shape and scale: less
arithmetic, more (small) operations. Below it, and on GPUs, one pass renders any mix."""


def _torch_patch(torch, t, cc, reach, steps):
    """Per image: the patch origin, and the patch pixels in the sprite's frame (u right, v up)."""
    size = steps.shape[0]
    cx = t["centre"][cc[:, 3]]
    cy = t["centre"][cc[:, 4]]
    r0 = torch.clamp(torch.floor(cy - (reach + 0.5)).long(), 0, IMAGE_SIZE - size)
    c0 = torch.clamp(torch.floor(cx - (reach + 0.5)).long(), 0, IMAGE_SIZE - size)
    dx = (c0[:, None] + steps).to(torch.float64) + 0.5 - cx[:, None]
    dy = cy[:, None] - ((r0[:, None] + steps).to(torch.float64) + 0.5)
    cs = t["cos"][cc[:, 2]][:, None]
    sn = t["sin"][cc[:, 2]][:, None]
    k = t["scale"][cc[:, 1]][:, None, None]
    u = ((cs * dx)[:, None, :] + (sn * dy)[:, :, None]) / k
    v = ((cs * dy)[:, :, None] - (sn * dx)[:, None, :]) / k
    return r0, c0, u, v


def _torch_place(torch, flat_out, ii, r0, c0, steps, patch):
    """Write the patches of images ``ii`` into the flat (n * 64 * 64) output, in one scatter."""
    at = (ii * (IMAGE_SIZE * IMAGE_SIZE))[:, None, None] + (
        (r0[:, None] + steps)[:, :, None] * IMAGE_SIZE + (c0[:, None] + steps)[:, None, :]
    )
    flat_out.scatter_(0, at.reshape(-1), patch.reshape(-1).to(torch.float32))


def _render_torch_single_pass(torch, c, t, flat_out, chunk):
    ops = _TorchOps(torch)
    reach = max(_REACH) * float(SCALE_VALUES.max())
    size = max(_patch_size(kind, float(SCALE_VALUES.max())) for kind in range(3))
    steps = torch.arange(size, device=c.device)
    for start in range(0, c.shape[0], chunk):
        cc = c[start : start + chunk]
        ii = torch.arange(start, start + cc.shape[0], device=c.device)
        r0, c0, u, v = _torch_patch(torch, t, cc, reach, steps)
        kind = cc[:, 0][:, None, None]
        patch = torch.where(
            kind == 0,
            _inside_square(ops, u, v),
            torch.where(kind == 1, _inside_ellipse(ops, u, v), _inside_heart(ops, u, v, t["chains"])),
        )
        _torch_place(torch, flat_out, ii, r0, c0, steps, patch)


def _render_torch_grouped(torch, c, t, flat_out, chunk):
    ops = _TorchOps(torch)
    group = c[:, 0] * len(SCALE_VALUES) + c[:, 1]  # (shape, scale class): one patch size each
    order = torch.argsort(group, stable=True)
    counts = torch.bincount(group, minlength=3 * len(SCALE_VALUES)).tolist()
    begin = 0
    for g, count in enumerate(counts):
        members = order[begin : begin + count]
        begin += count
        kind, scale_k = divmod(g, len(SCALE_VALUES))
        scale = float(SCALE_VALUES[scale_k])
        steps = torch.arange(_patch_size(kind, scale), device=c.device)
        for start in range(0, count, chunk):
            ii = members[start : start + chunk]
            r0, c0, u, v = _torch_patch(torch, t, c[ii], _REACH[kind] * scale, steps)
            patch = _inside(ops, kind, u, v, t["chains"])
            _torch_place(torch, flat_out, ii, r0, c0, steps, patch)
