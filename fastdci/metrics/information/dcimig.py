"""DCIMIG (Sepliarskaia et al. 2019) from the joint counts.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import dataclasses

from ...errors import InvalidInputError
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._counts import InformationStats
from ._checks import check_factor_entropy, need, top2


@dataclasses.dataclass(frozen=True, eq=False)
class DCIMIGResult(MetricResult):
    """DCIMIG (Sepliarskaia et al. 2019).

    Attributes
    ----------
    dcimig : float
        ``sum_k gap_per_factor[k] / sum_k H(v_k)``.
    gap_per_latent : float64 array (L,)
        Each latent's gap (nats) between its two largest MIs over factors.
    top_factor : int64 array (L,)
        The factor each latent shares most information with.
    gap_per_factor : float64 array (K,)
        The largest gap among latents whose top factor is k (0 if none).
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    n_bins, n_rows : int
    """

    headline: ClassVar[str] = "dcimig"
    score_fields: ClassVar[tuple] = ('dcimig',)
    count_fields: ClassVar[tuple] = ('n_rows',)
    metric: ClassVar[str] = "dcimig"
    dcimig: float
    gap_per_latent: np.ndarray
    top_factor: np.ndarray
    gap_per_factor: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    n_bins: int
    n_rows: int


def _dcimig_finalize(stats: InformationStats) -> DCIMIGResult:
    L, K = stats.counts.shape[:2]
    need(K >= 2, f"DCIMIG needs at least 2 factors (each latent's gap is between its top two); got {K}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    need(h.sum() > 0, "DCIMIG divides by the factors' total entropy, which is 0: every factor takes a single "
                       "class in these rows. Evaluate on rows where the factors vary.")
    top_factor = np.argmax(m, axis=1)
    top, second = top2(m, axis=1)
    gap_l = top - second
    gap_k = np.zeros(K, dtype=np.float64)
    for l in range(L):
        gap_k[top_factor[l]] = max(gap_k[top_factor[l]], gap_l[l])
    return DCIMIGResult(
        dcimig=float(gap_k.sum() / h.sum()), gap_per_latent=gap_l, top_factor=top_factor.astype(np.int64),
        gap_per_factor=gap_k, mutual_info=m, factor_entropy=h, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


@metric_function("dcimig")
def dcimig(
    latents: Any, factors: Any = None, *, n_bins: int = 20, discretizer: str = "uniform", backend: str = "auto"
) -> DCIMIGResult:
    """DCIMIG (Sepliarskaia et al. 2019): MIG made to credit each latent to one factor.

    Parameters
    ----------
    latents : array (N, L), float
    factors : array (N, K), int
        Needs K >= 2.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    DCIMIGResult
        ``.dcimig`` in [0, 1].

    Notes
    -----
    For each latent ``z_l``: its top factor ``k_l = argmax_k I(z_l; v_k)`` and gap
    ``D_l = I(z_l; v_{k_l}) - max_{k != k_l} I(z_l; v_k)``. For each factor,
    ``D_k = max {D_l : k_l = k}`` (0 when no latent has k on top). Then
    ``DCIMIG = sum_k D_k / sum_k H(v_k)``.

    MI is binned as in :func:`mig` (nats) and the entropies are in nats too. The metrics-review
    code of Carbonneau et al. (ubisoft-laforge-disentanglement-metrics, ``src/metrics/dcimig.py``)
    takes both from pyitlib in bits (``information_mutual`` and ``entropy``, base 2): the ratio
    has no unit, and its bins (``minmax_scale``, then ``np.digitize`` on
    ``linspace(0, 1, nb_bins + 1)[:-1]``) are the ones used here, so with ``n_bins`` equal to its
    ``nb_bins`` (default 10) its score equals this one.

    References
    ----------
    A. Sepliarskaia, J. Kiseleva, M. de Rijke, "How to Not Measure Disentanglement",
    arXiv:1910.05587 (2019).

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import dcimig
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors, rng.normal(size=2000)])
    >>> round(dcimig(latents, factors).dcimig, 3)
    0.999
    """
    return run_metric("dcimig", latents, factors, dict(n_bins=n_bins, discretizer=discretizer),
                      backend=backend)
