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

import dataclasses
from typing import Any, ClassVar

import numpy as np

from ..errors import InvalidInputError
from ._base import MetricResult
from .registry import metric_function, run_metric

__all__ = [
    "UnsupervisedResult",
    "gaussian_total_correlation",
    "gaussian_wasserstein_correlation",
    "unsupervised",
]

_BLOCK_ROWS = 65536  # rows per block of the sums (bounds the pair-index array)


def _check_cov(cov: Any) -> np.ndarray:
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or not np.all(np.isfinite(c)):
        raise InvalidInputError(f"cov must be a finite square covariance matrix; got shape {c.shape}.")
    return c


def gaussian_total_correlation(cov: Any) -> float:
    """Total correlation (nats) of a zero-mean Gaussian with covariance ``cov``.

    A latent of zero variance is left out: a constant is independent of every other latent,
    so it adds nothing to the total correlation (disentanglement_lib's formula gives NaN,
    ``log 0 - log det 0``)."""
    c = _check_cov(cov)
    keep = np.diag(c) > 0
    c = c[np.ix_(keep, keep)]
    if c.size == 0:
        return 0.0
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


# ------------------------------------------------------------------- the registry metric
@dataclasses.dataclass(frozen=True, eq=False)
class UnsupervisedResult(MetricResult):
    """disentanglement_lib's unsupervised scores of a code (no factors used).

    Attributes
    ----------
    gaussian_total_correlation, gaussian_wasserstein_correlation,
    gaussian_wasserstein_correlation_norm, mutual_info_score : float
        As in the module docstring (nats; the Wasserstein scores in squared latent units).
    covariance : float64 array (L, L)
    mutual_info : float64 array (L, L)
        I(z_i; z_j) of the binned latents (0 on the diagonal).
    n_rows : int
    """

    metric: ClassVar[str] = "unsupervised"
    headline: ClassVar[str] = "gaussian_total_correlation"
    score_fields: ClassVar[tuple] = ("gaussian_total_correlation", "gaussian_wasserstein_correlation",
                                     "gaussian_wasserstein_correlation_norm", "mutual_info_score")
    count_fields: ClassVar[tuple] = ("n_rows",)
    gaussian_total_correlation: float
    gaussian_wasserstein_correlation: float
    gaussian_wasserstein_correlation_norm: float
    mutual_info_score: float
    covariance: np.ndarray
    mutual_info: np.ndarray
    n_rows: int = 0


@dataclasses.dataclass(frozen=True, eq=False)
class UnsupervisedStats:
    """Sums over rows, shifted by ``shift`` (L,): ``n``, ``total`` = sum(x - shift) (L,),
    ``cross`` = sum (x - shift)(x - shift)^T (L, L), and ``pairs`` (L, L, B, B) int64 joint
    counts of the binned latents (i < j filled). Parts of the same rows' chunks, with the
    same shift and bins, :meth:`merge` exactly (the counts) or to rounding (the sums)."""

    n: int
    shift: np.ndarray
    total: np.ndarray
    cross: np.ndarray
    pairs: np.ndarray

    def merge(self, other: "UnsupervisedStats") -> "UnsupervisedStats":
        if not np.array_equal(self.shift, other.shift) or self.pairs.shape != other.pairs.shape:
            raise InvalidInputError("unsupervised stats merge only with the same shift and bins.")
        return UnsupervisedStats(self.n + other.n, self.shift, self.total + other.total, self.cross + other.cross,
                                 self.pairs + other.pairs)


def _chunk_stats(x: np.ndarray, shift: np.ndarray, edges: np.ndarray) -> UnsupervisedStats:
    """The sums of one block of rows; every pair's joint counts from one ``bincount``."""
    from ..kernels import cpu

    d = np.asarray(x, dtype=np.float64) - shift
    b = cpu.discretize(np.ascontiguousarray(x), edges).astype(np.int64)
    L, B = x.shape[1], edges.shape[1] - 1
    first, second = np.triu_indices(L, 1)
    cell = (np.arange(first.size) * (B * B))[None, :] + b[:, first] * B + b[:, second]
    counts = np.bincount(cell.ravel(), minlength=first.size * B * B).reshape(first.size, B, B)
    pairs = np.zeros((L, L, B, B), np.int64)
    pairs[first, second] = counts
    return UnsupervisedStats(int(x.shape[0]), shift, d.sum(axis=0), d.T @ d, pairs)


def _unsupervised_stats(source, *, backend: str, random_state: Any, n_bins: int = 20) -> UnsupervisedStats:
    """One pass over the source's rows, in blocks (the file's chunks above the memory budget)."""
    from ..kernels import cpu

    mins, maxs = source.minmax()
    edges = cpu.uniform_edges(mins, maxs, int(n_bins), source.dtype)
    shift = (np.asarray(mins, np.float64) + np.asarray(maxs, np.float64)) / 2.0
    if source.in_memory:
        x = source.host_latents()
        blocks = (x[i:i + _BLOCK_ROWS] for i in range(0, x.shape[0], _BLOCK_ROWS))
    else:
        blocks = (np.ascontiguousarray(c.mean, dtype=source.dtype) for c in source.reader.iter_chunks(fields=["mean"]))
    stats = None
    for block in blocks:
        part = _chunk_stats(block, shift, edges)
        stats = part if stats is None else stats.merge(part)
    return stats


def _unsupervised_finalize(stats: UnsupervisedStats) -> UnsupervisedResult:
    """The four scores from the sums: covariance (ddof 1) and the pairs' mutual information."""
    from .information import _entropy as ent

    n = stats.n
    if n < 2 or stats.total.size < 2:
        raise InvalidInputError(f"the unsupervised scores need at least 2 rows and 2 latents; got {n} rows and "
                                f"{stats.total.size} latents.")
    mean = stats.total / n
    cov = (stats.cross - n * np.outer(mean, mean)) / (n - 1)
    L = cov.shape[0]
    mi = np.zeros((L, L))
    for i in range(L):
        for j in range(i + 1, L):
            mi[i, j] = mi[j, i] = ent.mutual_info_from_counts(stats.pairs[i, j])
    w = gaussian_wasserstein_correlation(cov)
    return UnsupervisedResult(
        gaussian_total_correlation=gaussian_total_correlation(cov), gaussian_wasserstein_correlation=w,
        gaussian_wasserstein_correlation_norm=w / float(np.trace(cov)),
        mutual_info_score=float(mi.sum() / (L * L - L)), covariance=cov, mutual_info=mi, n_rows=n)


@metric_function("unsupervised")
def unsupervised(latents: Any, factors: Any = None, *, n_bins: int = 20, backend: str = "auto") -> UnsupervisedResult:
    """disentanglement_lib's unsupervised scores: Gaussian total correlation, Gaussian
    Wasserstein correlation (and its normalised form) and the mean mutual information
    between binned latents (see the module docstring for the definitions).

    Parameters
    ----------
    latents : array (N, L) float, or a LatentsSource
    factors : array (N, K), optional
        Not used (accepted so that the call matches every other metric's).
    n_bins : int, default 20
        Equal-width bins per latent for the mutual information score.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Accepted on every metric; the sums run on the CPU.

    Returns
    -------
    UnsupervisedResult

    Notes
    -----
    The statistics are sums over rows (shifted by each latent's mid-range) and pair counts,
    so a file above the memory budget is streamed once. The covariance from these sums
    equals ``np.cov`` to rounding, not bit for bit. disentanglement_lib computes the scores
    on 10,000 points drawn from the data set; here every row is used.

    Examples
    --------
    >>> import numpy as np, fastdci
    >>> z = np.random.default_rng(0).normal(size=(5000, 3))
    >>> round(fastdci.unsupervised(z).gaussian_total_correlation, 2)
    0.0
    """
    from ..io.source import LatentsSource

    if factors is None and not isinstance(latents, LatentsSource):
        factors = np.zeros((int(np.shape(latents)[0]), 1), np.int64)  # unused; keeps the source's contract
    return run_metric("unsupervised", latents, factors, dict(n_bins=n_bins), backend=backend)
