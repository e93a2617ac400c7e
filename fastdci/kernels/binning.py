"""Bin edges of the batched booster's latents, by scikit-learn's HistGradientBoosting quantile
rule over every row, in plain NumPy. Both boosting paths use them: the Numba kernel
:func:`fastdci.kernels.boosting.apply_bins` bins the latents on the CPU, and
:func:`fastdci.kernels.torch_boosting.bin_thresholds` computes the same edges on a tensor's
device from the same quantile positions (:func:`_quantile_positions`), so the two agree bit for
bit.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bin_thresholds"]


def bin_thresholds(column: np.ndarray, max_bins: int) -> np.ndarray:
    """Quantile bin edges of one latent, by scikit-learn's HistGradientBoosting rule.

    Parameters
    ----------
    column : float array (N,)
        One latent's values (finite).
    max_bins : int
        At most this many bins (2..256), so at most ``max_bins - 1`` thresholds.

    Returns
    -------
    float64 array (T,), T <= max_bins - 1, increasing
        With at most ``max_bins`` distinct values, the midpoints between consecutive
        distinct values; else the ``i / max_bins`` quantiles (i = 1 .. max_bins - 1) of the
        column by NumPy's ``"averaged_inverted_cdf"`` percentile (the sorted value at rank
        ``ceil(N i / max_bins)``, or the mean of two neighbours where that rank is whole).
        This is ``sklearn.ensemble._hist_gradient_boosting.binning._find_binning_thresholds``
        (scikit-learn >= 1.6) without its 200,000-row subsample: every row is used. A value ``x`` falls in bin
        ``searchsorted(thresholds, x, side="left")``: ``x <= t`` goes left.
    """
    col = np.sort(np.asarray(column, dtype=np.float64))
    first = np.empty(col.size, dtype=bool)  # np.unique's values, from the sorted column
    first[:1] = True
    np.not_equal(col[1:], col[:-1], out=first[1:])
    distinct = col[first]
    if distinct.size <= max_bins:
        return (distinct[:-1] + distinct[1:]) * 0.5
    lo, hi, t = _quantile_positions(col.size, max_bins)
    a, b = col[lo], col[hi]
    return b - (b - a) * (1.0 - t)


def _quantile_positions(n: int, max_bins: int):
    """Indices and weights of NumPy's ``"averaged_inverted_cdf"`` percentiles (as NumPy
    computes them, so that the edges agree bit for bit)."""
    quantiles = np.linspace(0, 100, num=max_bins + 1)[1:-1] / 100
    v = n * quantiles - 1
    lo = np.floor(v)
    gamma = v - lo
    t = np.where(gamma == 0, 0.5, 1.0)
    lo = np.clip(lo.astype(np.int64), 0, n - 1)
    hi = np.clip(lo + 1, 0, n - 1)
    return lo, hi, t
