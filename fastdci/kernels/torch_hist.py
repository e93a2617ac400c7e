"""Torch kernels for the joint histograms, for latents that live on a GPU (or any torch device).

They mirror :mod:`fastdci.kernels.cpu` and return the same numbers: the edges are built on the
host by :func:`fastdci.kernels.cpu.uniform_edges` (numpy's own routine) and moved to the device
in the latents' dtype, so :func:`torch.bucketize` compares in the same precision as
``np.digitize``; the counts come back as the same (L, K, C, B) int64 table. Rows are processed
in blocks so the (rows x L x K) index tensor stays bounded.

==========================  =========================================================
``minmax_columns``          per-column min and max, and the count of non-finite values
``discretize``              (N, L) int64 bin codes
``joint_counts``            (L, K, C, B) int64 joint histogram
==========================  =========================================================
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["discretize", "joint_counts", "minmax_columns"]

_BLOCK_ROWS = 1 << 20


def minmax_columns(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-column min and max (as host NumPy arrays in x's dtype) and the non-finite count.

    Parameters
    ----------
    x : torch.Tensor, shape (N, L), float32 or float64, N >= 1
    """
    bad = int((~torch.isfinite(x)).sum().item())
    mn, mx = torch.aminmax(x, dim=0)
    return mn.cpu().numpy(), mx.cpu().numpy(), bad


def _codes(xb: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
    # inner: (L, n_bins - 1) = edges[:, 1:-1]; code = #{inner <= v}, which is
    # #{edges[:-1] <= v} - 1 clipped at 0 (below-range values go to bin 0)
    cols = [torch.bucketize(xb[:, j].contiguous(), inner[j].contiguous(), right=True) for j in range(xb.shape[1])]
    return torch.stack(cols, dim=1)


def discretize(x: torch.Tensor, edges: np.ndarray) -> torch.Tensor:
    """0-based bin codes, ``np.digitize(x[:, l], edges[l, :-1]) - 1`` (below-range -> 0).

    Parameters
    ----------
    x : torch.Tensor, shape (N, L), float32 or float64
    edges : ndarray, shape (L, n_bins + 1), x's dtype

    Returns
    -------
    torch.Tensor, shape (N, L), int64, on x's device
    """
    inner = torch.as_tensor(np.ascontiguousarray(edges[:, 1:-1]), device=x.device).to(x.dtype)
    return _codes(x, inner)


def joint_counts(x: torch.Tensor, y: torch.Tensor, edges: np.ndarray, n_classes: int, *, uniform: bool = True
                 ) -> np.ndarray:
    """The (L, K, C, B) int64 joint histogram of latents' bins and factor classes.

    Parameters
    ----------
    x : torch.Tensor, shape (N, L), float32 or float64
    y : torch.Tensor, shape (N, K), integer classes in [0, n_classes), same device as x
    edges : ndarray, shape (L, n_bins + 1), x's dtype
    n_classes : int
    uniform : bool, default True
        Accepted for the CPU kernel's signature; bucketize is exact for any edges.

    Returns
    -------
    ndarray, shape (L, K, n_classes, n_bins), int64 (host)
        The same table as :func:`fastdci.kernels.cpu.joint_counts`.
    """
    n, L = x.shape
    K = y.shape[1]
    B = edges.shape[1] - 1
    C = int(n_classes)
    inner = torch.as_tensor(np.ascontiguousarray(edges[:, 1:-1]), device=x.device).to(x.dtype)
    # flat index ((l * K + k) * C + c) * B + b
    lk = (torch.arange(L, device=x.device)[:, None] * K + torch.arange(K, device=x.device)[None, :]) * C
    total = torch.zeros(L * K * C * B, dtype=torch.int64, device=x.device)
    block = max(1, _BLOCK_ROWS // max(1, L * K) * 8)
    for s in range(0, n, block):
        xb = x[s : s + block]
        yb = y[s : s + block].to(torch.int64)
        codes = _codes(xb, inner)  # (n, L)
        idx = ((lk[None, :, :] + yb[:, None, :]) * B + codes[:, :, None]).reshape(-1)
        total += torch.bincount(idx, minlength=L * K * C * B)
    return total.reshape(L, K, C, B).cpu().numpy()

