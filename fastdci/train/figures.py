"""PNG figures of a trained model: reconstructions and latent traversals.

:func:`save_reconstructions` shows dataset images over their reconstructions,
:func:`save_traversals` one row per latent swept over a range; both pick their images with
a seeded generator, so a run's figures are reproducible. PIL is imported on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models import BetaVAE

__all__ = ["save_reconstructions", "save_traversals"]


def _tile(rows: list[np.ndarray], pad: int = 2, scale: int = 2) -> Any:
    """Tile rows of (n, 64, 64) float images in [0, 1] into one grayscale PIL image."""
    from PIL import Image

    h, w = rows[0].shape[1:]
    ncol = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, ncol * (w + pad) + pad), 0.5, dtype=np.float32)
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = im
    img = Image.fromarray((np.clip(grid, 0, 1) * 255).round().astype(np.uint8), mode="L")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def _fixed_indices(n_data: int, n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n_data, size=n, replace=False))


@torch.inference_mode()
def save_reconstructions(model: BetaVAE, dataset, path: str | os.PathLike, *, n: int = 10, seed: int = 0) -> Path:
    """Save ``n`` dataset images (top row) over their reconstructions (bottom row) as PNG.

    The reconstruction decodes the posterior mean and shows ``sigmoid(logits)``.
    """
    device = next(model.parameters()).device
    idx = _fixed_indices(len(dataset), n, seed)
    x = dataset.images_torch(idx, device)
    mean, _ = model.eval().encode(x)
    rec = torch.sigmoid(model.decode(mean)).float()
    path = Path(path)
    _tile([x[:, 0].cpu().numpy(), rec[:, 0].cpu().numpy()]).save(path)
    return path


@torch.inference_mode()
def save_traversals(model: BetaVAE, dataset, path: str | os.PathLike, *, n_values: int = 11,
                    limit: float = 2.5, seed: int = 0) -> Path:
    """Save latent traversals as PNG: row ``l`` varies latent ``l`` over [-limit, limit].

    Starting from the posterior mean of one dataset image (the leftmost column shows the
    image itself), each row sets one latent to ``n_values`` evenly spaced values and decodes.
    Rows are in latent order; a latent that does not change its row is inactive.
    """
    device = next(model.parameters()).device
    idx = _fixed_indices(len(dataset), 1, seed + 1)
    x = dataset.images_torch(idx, device)
    mean, _ = model.eval().encode(x)
    values = torch.linspace(-limit, limit, n_values, device=device)
    rows = []
    for latent in range(model.latent_dim):
        z = mean.repeat(n_values, 1)
        z[:, latent] = values
        ims = torch.sigmoid(model.decode(z)).float()[:, 0].cpu().numpy()
        rows.append(np.concatenate([x[:, 0].float().cpu().numpy(), ims]))
    path = Path(path)
    _tile(rows).save(path)
    return path
