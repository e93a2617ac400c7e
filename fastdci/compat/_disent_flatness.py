"""The flatness measures of disent's ``metric_flatness`` (Michlo et al.), in NumPy.

For a traversal ``z_0 .. z_{S-1}`` of one factor (all other factors fixed) and a norm ``p``:
the *width* is the largest distance between two of its points, and the *deltas* are the
``S - 1`` smallest of the ``S`` cyclic neighbour distances ``|z_{i+1 mod S} - z_i|_p`` (the
largest one, normally the wrap-around, is dropped). Per factor, the average width over the
repeats and the average delta over repeats and deltas are kept; the factor's *length* is
``(S - 1) * average delta``. Flatness is the mean over factors with more than one value of
``width / length`` (a factor of length 0 scores 0).
"""

from __future__ import annotations

import numpy as np

__all__ = ["flatness_scores", "traversal_measures"]

_CHUNK = 32  # repeats whose pairwise distances are held at once


def _norm(d: np.ndarray, p: int) -> np.ndarray:
    return np.abs(d).sum(axis=-1) if p == 1 else np.sqrt(np.einsum("...i,...i->...", d, d))


def traversal_measures(z: np.ndarray, ps=(1, 2)) -> dict[int, tuple[float, float]]:
    """``{p: (average width, average delta)}`` of traversals ``z`` (repeats, S, L), S >= 2."""
    z = np.asarray(z, dtype=np.float64)
    R, S = z.shape[:2]
    out = {}
    for p in ps:
        deltas = _norm(np.roll(z, -1, axis=1) - z, p)              # (R, S)
        kept = np.sort(deltas, axis=1)[:, : S - 1]                  # the S-1 smallest
        widths = np.concatenate([
            _norm(z[i:i + _CHUNK, :, None, :] - z[i:i + _CHUNK, None, :, :], p).reshape(-1, S * S).max(axis=1)
            for i in range(0, R, _CHUNK)])
        out[p] = (float(widths.mean()), float(kept.mean()))
    return out


def flatness_scores(measures: list[dict[int, tuple[float, float]] | None], sizes: np.ndarray) -> dict[str, float]:
    """disent's seven ``flatness.*`` numbers from per-factor measures (None for a one-value factor)."""
    active = [k for k, m in enumerate(measures) if m is not None and sizes[k] > 1]
    if not active:
        nan = float("nan")
        return {f"flatness.{k}": nan for k in ("ave_flatness", "ave_flatness_l1", "ave_flatness_l2", "ave_width_l1",
                                               "ave_width_l2", "ave_length_l1", "ave_length_l2")}
    width = {p: np.array([measures[k][p][0] for k in active]) for p in (1, 2)}
    length = {p: np.array([(sizes[k] - 1) * measures[k][p][1] for k in active]) for p in (1, 2)}

    def flat(w: np.ndarray, ln: np.ndarray) -> float:
        zero = ln == 0
        return float(np.mean(np.where(zero, 0.0, w) / np.where(zero, 1.0, ln)))

    return {
        "flatness.ave_flatness": flat(width[2], length[1]),
        "flatness.ave_flatness_l1": flat(width[1], length[1]),
        "flatness.ave_flatness_l2": flat(width[2], length[2]),
        "flatness.ave_width_l1": float(width[1].mean()),
        "flatness.ave_width_l2": float(width[2].mean()),
        "flatness.ave_length_l1": float(length[1].mean()),
        "flatness.ave_length_l2": float(length[2].mean()),
    }
