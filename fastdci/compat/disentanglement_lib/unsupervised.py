"""disentanglement_lib's ``unsupervised_metrics`` module, computed by :mod:`fastdci.metrics.unsupervised`."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...metrics.unsupervised import gaussian_total_correlation, gaussian_wasserstein_correlation
from ._arrays import draw_codes
from .utils import DEFAULT_NUM_BINS, discrete_mutual_info, make_discretizer

__all__ = ["gaussian_total_correlation", "gaussian_wasserstein_correlation", "unsupervised_metrics"]


def unsupervised_metrics(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                         num_train: int = 10000, batch_size: int = 16, num_bins: int = DEFAULT_NUM_BINS,
                         discretizer_fn: Callable | None = None) -> dict:
    """``unsupervised_metrics.unsupervised_metrics``: gaussian_total_correlation,
    gaussian_wasserstein_correlation(_norm) and mutual_info_score of the drawn codes."""
    del artifact_dir
    mus, _ = draw_codes(ground_truth_data, representation_function, num_train, random_state, batch_size)
    mus = np.asarray(mus, dtype=np.float64)
    num_codes = mus.shape[0]
    cov = np.cov(mus)
    w = gaussian_wasserstein_correlation(cov)
    discrete = make_discretizer(mus, num_bins, discretizer_fn)
    mi = discrete_mutual_info(discrete, discrete)
    np.fill_diagonal(mi, 0)
    return {
        "gaussian_total_correlation": gaussian_total_correlation(cov),
        "gaussian_wasserstein_correlation": w,
        "gaussian_wasserstein_correlation_norm": w / np.sum(np.diag(cov)),
        "mutual_info_score": float(np.sum(mi) / (num_codes**2 - num_codes)),
    }
