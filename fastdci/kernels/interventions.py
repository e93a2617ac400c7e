"""Numba kernels of the intervention metrics: per-batch reductions fused with the row gather.

One pass over the rows drawn, no (batches, batch_size, L) temporary. Tables are C-contiguous
(U, L) float32 or float64; ``pos`` (B, n) int64 are positions into the table; sums are float64.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["as_table", "mean_abs_diff", "pick_latent"]

_TABLE_TYPES = ("float32", "float64")


@numba.njit(
    [f"void({t}[:, ::1], int64[:, ::1], int64[::1], float64[::1], boolean, int64[::1])" for t in _TABLE_TYPES],
    cache=True,
)
def pick_latent(table, pos, active, global_var, pick_max, out):
    """out[b] = the active latent whose variance (ddof=1) over rows ``pos[b]``, divided by
    ``global_var``, is smallest (``pick_max`` False) or largest; ties go to the first."""
    n_batches, n = pos.shape
    n_active = active.shape[0]
    sums = np.empty(n_active, np.float64)
    sq = np.empty(n_active, np.float64)
    for b in range(n_batches):
        sums[:] = 0.0
        for i in range(n):
            r = pos[b, i]
            for j in range(n_active):
                sums[j] += table[r, active[j]]
        for j in range(n_active):
            sums[j] /= n
        sq[:] = 0.0
        for i in range(n):
            r = pos[b, i]
            for j in range(n_active):
                d = table[r, active[j]] - sums[j]
                sq[j] += d * d
        best = 0
        best_val = sq[0] / (n - 1) / global_var[active[0]]
        for j in range(1, n_active):
            v = sq[j] / (n - 1) / global_var[active[j]]
            if (v > best_val) if pick_max else (v < best_val):
                best = j
                best_val = v
        out[b] = active[best]


@numba.njit(
    [f"void({t}[:, ::1], int64[:, ::1], int64[:, ::1], float64[:, ::1])" for t in _TABLE_TYPES],
    cache=True,
)
def mean_abs_diff(table, pos1, pos2, out):
    """out[b, l] = mean over i of |table[pos1[b, i], l] - table[pos2[b, i], l]|."""
    n_batches, n = pos1.shape
    n_latents = table.shape[1]
    for b in range(n_batches):
        for l in range(n_latents):
            out[b, l] = 0.0
        for i in range(n):
            r1 = pos1[b, i]
            r2 = pos2[b, i]
            for l in range(n_latents):
                out[b, l] += abs(np.float64(table[r1, l]) - np.float64(table[r2, l]))
        for l in range(n_latents):
            out[b, l] /= n


def as_table(latents: np.ndarray) -> np.ndarray:
    """C-contiguous float32 or float64 (other dtypes become float64) for the kernels."""
    if latents.dtype not in (np.float32, np.float64):
        latents = latents.astype(np.float64)
    return np.ascontiguousarray(latents)
