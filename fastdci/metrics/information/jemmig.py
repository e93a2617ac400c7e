"""Normalised JEMMIG (Do & Tran 2020) from the joint counts.
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
from . import _entropy
from ._checks import check_factor_entropy, need, top2


@dataclasses.dataclass(frozen=True, eq=False)
class JEMMIGResult(MetricResult):
    """Normalised JEMMIG (Do & Tran 2020).

    Attributes
    ----------
    jemmig : float
        Mean over factors of :attr:`score_per_factor`.
    score_per_factor : float64 array (K,)
        ``1 - [H(v, z*) - I(v; z*) + I(v; z')] / [H(v) + log(n_bins)]``.
    top_latent : int64 array (K,)
        z*, the latent with the largest MI with each factor.
    joint_entropy : float64 array (K,)
        H(v_k, z*) in nats.
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    n_bins, n_rows : int
    """

    headline: ClassVar[str] = "jemmig"
    score_fields: ClassVar[tuple] = ('jemmig',)
    count_fields: ClassVar[tuple] = ('n_rows',)
    metric: ClassVar[str] = "jemmig"
    jemmig: float
    score_per_factor: np.ndarray
    top_latent: np.ndarray
    joint_entropy: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    n_bins: int
    n_rows: int


def _jemmig_finalize(stats: InformationStats) -> JEMMIGResult:
    L, K = stats.counts.shape[:2]
    need(L >= 2, f"JEMMIG needs at least 2 latents (it uses the top two per factor); got {L}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    top_latent = np.argmax(m, axis=0)
    top, second = top2(m, axis=0)
    joint = np.array(
        [_entropy.joint_entropy_from_counts(stats.counts[top_latent[k], k]) for k in range(K)], dtype=np.float64
    )
    scores = 1.0 - (joint - top + second) / (h + math.log(stats.n_bins))
    return JEMMIGResult(
        jemmig=float(np.mean(scores)), score_per_factor=scores, top_latent=top_latent.astype(np.int64),
        joint_entropy=joint, mutual_info=m, factor_entropy=h, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


@metric_function("jemmig")
def jemmig(
    latents: Any, factors: Any = None, *, n_bins: int = 20, discretizer: str = "uniform", backend: str = "auto"
) -> JEMMIGResult:
    """Normalised JEMMIG (Do & Tran 2020): joint entropy minus mutual information gap.

    Parameters
    ----------
    latents : array (N, L), float
        Needs L >= 2.
    factors : array (N, K), int
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    JEMMIGResult
        ``.jemmig`` (higher is better, at most 1); ``.score_per_factor`` (K,).

    Notes
    -----
    For factor ``v_k`` let ``z*`` and ``z'`` be the latents with the largest and second largest
    I(z; v_k) (binned latents, nats). Then

    ``JEMMIG_k = H(v_k, z*) - I(v_k; z*) + I(v_k; z')``, normalised as
    ``1 - JEMMIG_k / (H(v_k) + log n_bins)``, and the score is the mean over factors.

    ``H(v, z*) - I(v; z*) = H(v | z*) + H(z* | v)``: low when z* and v determine each other;
    ``+ I(v; z')`` penalises a second latent that also describes v. ``H(v) + log(n_bins)``
    bounds ``H(v, z*)``, so each term lies in [0, 1] up to the ``I(v; z')`` penalty. This is the
    binned form of Do & Tran (who normalise with the number of bins) as the metrics-review code
    of Carbonneau et al. computes it, in nats instead of bits (the normalised score is the same).

    References
    ----------
    K. Do, T. Tran, "Theory and Evaluation Metrics for Learning Disentangled Representations",
    ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import jemmig
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors, rng.normal(size=2000)])
    >>> round(jemmig(latents, factors, n_bins=4).jemmig, 3)
    0.999
    """
    return run_metric("jemmig", latents, factors, dict(n_bins=n_bins, discretizer=discretizer),
                      backend=backend)
