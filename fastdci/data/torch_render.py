"""The torch dSprites renderer: the NumPy renderer's pixels, computed on any torch device.

:func:`render_torch` renders factor classes on a device (the training device, so batches
never leave the GPU) with the geometry of :mod:`fastdci.data.shapes` and the same float64
operations as :func:`fastdci.data.render.render_numpy`, so the pixels agree; the heart's
edges are interpolated exactly as ``numpy.interp`` does (:func:`_interp_torch`). torch is
imported on first use, not when this module loads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidDTypeError, InvalidInputError
from .factors import FACTOR_NAMES, FACTOR_SIZES, IMAGE_SIZE, ORIENTATION_VALUES, POSITION_VALUES, SCALE_VALUES, check_classes
from .shapes import CHAINS, REACH, inside, inside_ellipse, inside_heart, inside_square, patch_size

__all__ = ["render_torch"]


def _torch_chain(torch, chain, device):
    """A chain's knots for :func:`_interp_torch`, plus a uniform-bin table that finds the knot
    interval of a value with one lookup and two comparisons (no ``torch.searchsorted``): bins
    are narrower than half the closest knot spacing, so a bin and its neighbour hold at most
    one knot between them and a one-bin rounding error is corrected exactly."""
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
            "chains": tuple(_torch_chain(torch, chain, device) for chain in CHAINS),
        }
    return _TORCH_TABLES[key]


def render_torch(classes: Any, device: Any = "cpu", *, chunk: int = 4096):
    """Render the dSprites images of factor classes in torch, on ``device``.

    Same geometry and the same float64 operations as :func:`fastdci.data.render_numpy`, so the pixels agree;
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
                check_classes(c.cpu().numpy())  # raises with the column and class named
    else:
        c = torch.as_tensor(check_classes(classes), device=device)
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
    reach = max(REACH) * float(SCALE_VALUES.max())
    size = max(patch_size(kind, float(SCALE_VALUES.max())) for kind in range(3))
    steps = torch.arange(size, device=c.device)
    for start in range(0, c.shape[0], chunk):
        cc = c[start : start + chunk]
        ii = torch.arange(start, start + cc.shape[0], device=c.device)
        r0, c0, u, v = _torch_patch(torch, t, cc, reach, steps)
        kind = cc[:, 0][:, None, None]
        patch = torch.where(
            kind == 0,
            inside_square(ops, u, v),
            torch.where(kind == 1, inside_ellipse(ops, u, v), inside_heart(ops, u, v, t["chains"])),
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
        steps = torch.arange(patch_size(kind, scale), device=c.device)
        for start in range(0, count, chunk):
            ii = members[start : start + chunk]
            r0, c0, u, v = _torch_patch(torch, t, c[ii], REACH[kind] * scale, steps)
            patch = inside(ops, kind, u, v, t["chains"])
            _torch_place(torch, flat_out, ii, r0, c0, steps, patch)
