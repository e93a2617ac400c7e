"""Modularity (Ridgeway & Zemel 2018), as disentanglement_lib computes it, from the joint counts.
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
class ModularityResult(MetricResult):
    """Modularity (Ridgeway & Zemel 2018) as disentanglement_lib computes it.

    Attributes
    ----------
    modularity : float
        Mean of :attr:`modularity_per_latent` (over informative latents only with
        ``uninformative="drop"``).
    modularity_per_latent : float64 array (L,)
        ``1 - sum_{k != k*} I_lk^2 / ((K - 1) I_lk*^2)``; 0 for a latent with no information.
    informative : bool array (L,)
        Latents whose largest MI is > 0.
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    uninformative : str
    n_bins, n_rows : int
    """

    headline: ClassVar[str] = "modularity"
    score_fields: ClassVar[tuple] = ('modularity',)
    count_fields: ClassVar[tuple] = ('n_rows',)
    metric: ClassVar[str] = "modularity"
    modularity: float
    modularity_per_latent: np.ndarray
    informative: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    uninformative: str
    n_bins: int
    n_rows: int


def _modularity_finalize(stats: InformationStats, uninformative: str = "zero") -> ModularityResult:
    if uninformative not in ("zero", "drop"):
        raise InvalidInputError(
            f"uninformative must be 'zero' (a latent with no information scores 0 and counts in the "
            f"mean, as in disentanglement_lib) or 'drop' (leave it out of the mean); got {uninformative!r}."
        )
    L, K = stats.counts.shape[:2]
    need(K >= 2, f"modularity needs at least 2 factors (it divides by K - 1); got {K}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    # disentanglement_lib's modularity(), with its 0/0 for silent latents resolved to 0 up front
    squared_mi = np.square(m)
    max_squared_mi = np.max(squared_mi, axis=1)
    numerator = np.sum(squared_mi, axis=1) - max_squared_mi
    denominator = max_squared_mi * (squared_mi.shape[1] - 1.0)
    informative = max_squared_mi != 0.0
    delta = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=informative)
    per_latent = 1.0 - delta
    per_latent[~informative] = 0.0
    if uninformative == "zero":
        score = float(np.mean(per_latent))
    else:
        score = float(np.mean(per_latent[informative])) if informative.any() else 0.0
    return ModularityResult(
        modularity=score, modularity_per_latent=per_latent, informative=informative, mutual_info=m,
        factor_entropy=h, uninformative=uninformative, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


@metric_function("modularity")
def modularity(
    latents: Any,
    factors: Any = None,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    uninformative: str = "zero",
    backend: str = "auto",
) -> ModularityResult:
    """Modularity (Ridgeway & Zemel 2018), as disentanglement_lib computes it.

    Parameters
    ----------
    latents : array (N, L), float
    factors : array (N, K), int
        Needs K >= 2.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    uninformative : {"zero", "drop"}, default "zero"
        A latent whose MI with every factor is 0 (a constant latent, say) makes the formula 0/0.
        ``"zero"``: it scores 0 and counts in the mean, which is what disentanglement_lib's
        ``modularity()`` returns (it sets those entries to 0 after the division).
        ``"drop"``: leave such latents out of the mean (0 if all are uninformative).
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    ModularityResult
        ``.modularity`` in [0, 1]; ``.modularity_per_latent`` (L,).

    Notes
    -----
    With ``m_lk = I(z_l; v_k)`` the binned mutual information of :func:`mig` and
    ``k* = argmax_k m_lk``:

    ``delta_l = sum_{k != k*} m_lk^2 / ((K - 1) m_lk*^2)``, ``modularity = mean_l (1 - delta_l)``,

    exactly disentanglement_lib's ``modularity_explicitness.modularity`` on the MI matrix of
    ``compute_modularity_explicitness`` (histogram discretizer, 20 bins). Ridgeway & Zemel use a
    template with only the top factor; disentanglement_lib's form above is the one reproduced.
    disentanglement_lib divides 0 by 0 for a silent latent (a NumPy warning, then 0); here no
    warning is raised and no NaN can appear.

    References
    ----------
    K. Ridgeway, M. C. Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic
    Loss", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import modularity
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors, rng.normal(size=2000)])
    >>> res = modularity(latents, factors)
    >>> res.modularity_per_latent.round(3)  # the noise latent's tiny MI is spread over both
    array([1.   , 1.   , 0.075])
    """
    return run_metric("modularity", latents, factors,
                      dict(n_bins=n_bins, discretizer=discretizer, uninformative=uninformative),
                      backend=backend)
