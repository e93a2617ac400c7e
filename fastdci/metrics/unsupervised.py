r"""disentanglement_lib's unsupervised scores of a code: Gaussian total correlation, Gaussian
Wasserstein correlation and the mean mutual information between latents.

With :math:`\Sigma` the covariance of the latents (``np.cov``, ddof 1) and :math:`D` its
diagonal:

* Gaussian total correlation: :math:`\mathrm{KL}(N(0, \Sigma) \,\|\, N(0, D))
  = \tfrac12 (\sum_i \log \Sigma_{ii} - \log\det\Sigma)` (nats).
* Gaussian Wasserstein correlation: the squared 2-Wasserstein distance between the same two
  Gaussians, :math:`2\,\mathrm{tr}\,\Sigma - 2\,\mathrm{tr}\,(\Sigma D)^{1/2}`; its ``_norm``
  divides by :math:`\mathrm{tr}\,\Sigma`. The trace of the square root is computed from the
  eigenvalues of the symmetric :math:`D^{1/2} \Sigma D^{1/2}`, which has the eigenvalues of
  :math:`\Sigma D` (the reference takes ``scipy.linalg.sqrtm`` of the unsymmetric product).
* Mutual information score: each latent cut into ``n_bins`` equal-width bins (as the
  reference's histogram discretiser), the mean of :math:`I(z_i; z_j)` over ordered pairs
  :math:`i \ne j` (nats).

Reference: Locatello et al., "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations", ICML 2019 (disentanglement_lib's ``unsupervised_metrics``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = [
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation",
    "latent_mutual_info_score",
    "unsupervised_scores",
]


def _check_cov(cov: Any) -> np.ndarray:
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or not np.all(np.isfinite(c)):
        raise InvalidInputError(f"cov must be a finite square covariance matrix; got shape {c.shape}.")
    return c


def gaussian_total_correlation(cov: Any) -> float:
    """Total correlation (nats) of a zero-mean Gaussian with covariance ``cov``."""
    c = _check_cov(cov)
    return float(0.5 * (np.sum(np.log(np.diag(c))) - np.linalg.slogdet(c)[1]))


def gaussian_wasserstein_correlation(cov: Any) -> float:
    """Squared 2-Wasserstein distance between ``N(0, cov)`` and ``N(0, diag(cov))``."""
    c = _check_cov(cov)
    s = np.sqrt(np.clip(np.diag(c), 0.0, None))
    eig = np.linalg.eigvalsh(s[:, None] * c * s[None, :])
    return float(2.0 * np.trace(c) - 2.0 * np.sum(np.sqrt(np.clip(eig, 0.0, None))))


def binned(latents: Any, n_bins: int) -> np.ndarray:
    """(N, L) int64 bin labels 0..n_bins-1 of equal-width bins per column (float32 input keeps
    float32 edges), as disentanglement_lib's histogram discretiser (which labels 1..n_bins)."""
    from ..kernels import cpu

    x = np.ascontiguousarray(latents)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    mins, maxs, _ = cpu.minmax_columns(x)
    return cpu.discretize(x, cpu.uniform_edges(mins, maxs, int(n_bins), x.dtype)).astype(np.int64)


def latent_mutual_info_score(latents: Any, n_bins: int = 20) -> float:
    """Mean mutual information (nats) between distinct binned latents of ``latents`` (N, L)."""
    from .information import _entropy as ent

    z = np.asarray(latents)
    if z.ndim != 2 or z.shape[1] < 2:
        raise InvalidInputError(f"latents must be (N, L) with at least 2 latents; got shape {z.shape}.")
    b = binned(z, n_bins)
    L = b.shape[1]
    total = 0.0
    for i in range(L):
        for j in range(i + 1, L):
            joint = np.bincount(b[:, i] * n_bins + b[:, j], minlength=n_bins * n_bins).reshape(n_bins, n_bins)
            total += 2.0 * ent.mutual_info_from_counts(joint)
    return float(total / (L * L - L))


def unsupervised_scores(latents: Any, n_bins: int = 20) -> dict:
    """All four scores of ``latents`` (N, L) under disentanglement_lib's key names."""
    z = np.asarray(latents, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2:
        raise InvalidInputError(f"latents must be (N, L) with at least 2 rows; got shape {z.shape}.")
    cov = np.cov(z.T)
    w = gaussian_wasserstein_correlation(cov)
    return {
        "gaussian_total_correlation": gaussian_total_correlation(cov),
        "gaussian_wasserstein_correlation": w,
        "gaussian_wasserstein_correlation_norm": w / float(np.sum(np.diag(cov))),
        "mutual_info_score": latent_mutual_info_score(z, n_bins),
    }
