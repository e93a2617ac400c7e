"""MIG (Chen et al. 2018) and MIG-sup (Li et al. 2020): gaps of the binned mutual information.
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
class MIGResult(MetricResult):
    """Mutual Information Gap.

    Attributes
    ----------
    mig : float
        Mean over factors of :attr:`gap_per_factor`.
    gap_per_factor : float64 array (K,)
        Normalised gap between the two latents that share most information with each factor.
    mutual_info : float64 array (L, K)
        I(z_l; v_k) in nats, binned latents.
    factor_entropy : float64 array (K,)
        H(v_k) in nats.
    latent_entropy : float64 array (L,)
        H(z_l) in nats of the binned latents.
    normalization : str
        ``"factor"`` (disentanglement_lib) or ``"latent"``.
    n_bins : int
    n_rows : int
    """

    headline: ClassVar[str] = "mig"
    score_fields: ClassVar[tuple] = ('mig',)
    count_fields: ClassVar[tuple] = ('n_rows',)
    metric: ClassVar[str] = "mig"
    mig: float
    gap_per_factor: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    latent_entropy: np.ndarray
    normalization: str
    n_bins: int
    n_rows: int


@dataclasses.dataclass(frozen=True, eq=False)
class MIGSupResult(MetricResult):
    """MIG-sup (Li et al. 2020).

    Attributes
    ----------
    mig_sup : float
        Mean over latents of :attr:`gap_per_latent`.
    gap_per_latent : float64 array (L,)
        Gap between each latent's two largest normalised MIs: I(z_l; v_k) / H(v_k)
        (``normalization="factor"``) or I(z_l; v_k) / H(z_l) (``"latent"``).
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    latent_entropy : float64 array (L,), nats of the binned latents
    normalization : str
        ``"factor"`` or ``"latent"`` (the metrics review's).
    n_bins, n_rows : int
    """

    headline: ClassVar[str] = "mig_sup"
    score_fields: ClassVar[tuple] = ('mig_sup',)
    count_fields: ClassVar[tuple] = ('n_rows',)
    metric: ClassVar[str] = "mig_sup"
    mig_sup: float
    gap_per_latent: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    latent_entropy: np.ndarray
    normalization: str
    n_bins: int
    n_rows: int


def _check_normalization(normalization: str) -> None:
    if normalization not in ("factor", "latent"):
        raise InvalidInputError(
            f"normalization must be 'factor' (divide by H(factor), disentanglement_lib) or "
            f"'latent' (divide each MI by H(latent), the metrics-review code); got {normalization!r}."
        )


def _by_latent_entropy(m: np.ndarray, hz: np.ndarray) -> np.ndarray:
    """``I(z_l; v_k) / H(z_l)``; 0 for a constant latent (``H(z_l) = 0``)."""
    return np.divide(m, hz[:, None], out=np.zeros_like(m), where=hz[:, None] > 0)


def _mig_finalize(stats: InformationStats, normalization: str = "factor") -> MIGResult:
    _check_normalization(normalization)
    L, K = stats.counts.shape[:2]
    need(L >= 2, f"MIG needs at least 2 latents (the gap is between the top two); got {L}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    hz = stats.latent_entropy()
    if normalization == "factor":
        check_factor_entropy(h, "MIG")
        # disentanglement_lib: sort over latents, (top - second) / H(v), mean over factors
        sorted_m = np.sort(m, axis=0)[::-1]
        gaps = np.divide(sorted_m[0, :] - sorted_m[1, :], h[:])
    else:
        nmi = _by_latent_entropy(m, hz)
        top, second = top2(nmi, axis=0)
        gaps = top - second
    return MIGResult(
        mig=float(np.mean(gaps)), gap_per_factor=gaps, mutual_info=m, factor_entropy=h,
        latent_entropy=hz, normalization=normalization, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


def _mig_sup_finalize(stats: InformationStats, normalization: str = "factor") -> MIGSupResult:
    _check_normalization(normalization)
    L, K = stats.counts.shape[:2]
    need(K >= 2, f"MIG-sup needs at least 2 factors (the gap is between a latent's top two); got {K}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    hz = stats.latent_entropy()
    if normalization == "factor":
        check_factor_entropy(h, "MIG-sup")
        nmi = m / h[None, :]
    else:
        nmi = _by_latent_entropy(m, hz)
    top, second = top2(nmi, axis=1)
    gaps = top - second
    return MIGSupResult(mig_sup=float(np.mean(gaps)), gap_per_latent=gaps, mutual_info=m, factor_entropy=h,
                        latent_entropy=hz, normalization=normalization, n_bins=stats.n_bins, n_rows=stats.n_rows)


@metric_function("mig")
def mig(
    latents: Any,
    factors: Any = None,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    normalization: str = "factor",
    backend: str = "auto",
    factor_types: Any = None,
    factor_bins: int = 20,
) -> MIGResult:
    """Mutual Information Gap (Chen et al. 2018), as disentanglement_lib computes it.

    Parameters
    ----------
    latents : array (N, L), float
        One row per data point (NumPy, torch or CuPy). Needs L >= 2.
    factors : array (N, K), int
        Ground-truth factor classes; every factor must take at least two classes.
    n_bins : int, default 20
        Bins per latent.
    discretizer : {"uniform", "quantile"}, default "uniform"
        ``"uniform"``: disentanglement_lib's histogram discretizer (equal-width bins from each
        latent's min to max). ``"quantile"``: equal-frequency bins.
    normalization : {"factor", "latent"}, default "factor"
        ``"factor"``: divide each factor's gap by its entropy H(v_k) (disentanglement_lib).
        ``"latent"``: divide each MI by the latent's entropy H(z_l) before taking the gap, as the
        metrics-review code of Carbonneau et al. does (``norm_factor='Y'``); a constant latent's
        normalised MI is 0.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Where to count; ``"auto"`` counts where the data lives.
    factor_types : None, "discrete", "continuous" or one per factor, optional
        A continuous factor (real values) is cut into ``factor_bins`` equal-width bins between
        its min and max (the metrics review's rule: ``factor_bins=10, n_bins=10`` reproduces
        its MIG); see :mod:`fastdci.io.factor_types`.
    factor_bins : int, default 20

    Returns
    -------
    MIGResult
        ``.mig`` the score in [0, 1]; ``.mutual_info`` (L, K) nats; ``.factor_entropy`` (K,).

    Notes
    -----
    Each latent is binned into ``n_bins`` equal-width bins; with ``I_lk = I(z_l; v_k)`` the
    discrete mutual information (nats) and ``l1, l2`` the latents with the largest and second
    largest ``I_lk`` for factor ``k``,

    ``MIG = 1/K sum_k (I_{l1 k} - I_{l2 k}) / H(v_k)``.

    This is disentanglement_lib's ``mig._compute_mig`` (``histogram_discretizer``,
    ``discrete_mutual_info``, ``discrete_entropy``): same bins, same labels, and the MI terms
    formed as scikit-learn's ``mutual_info_score`` forms them, so the scores agree to
    floating-point precision. Chen et al. define MIG with I(z; v) estimated from the encoder's
    distribution q(z|x) (a continuous, sampled estimator, and H(v) of the true factor
    distribution); the binned estimate here depends on ``n_bins`` and on outliers (one extreme
    value widens every bin of its latent), as disentanglement_lib's does. A constant latent has
    one bin and MI 0, never NaN.

    References
    ----------
    R. T. Q. Chen, X. Li, R. Grosse, D. Duvenaud, "Isolating Sources of Disentanglement in
    Variational Autoencoders", NeurIPS 2018. F. Locatello et al., "Challenging Common
    Assumptions in the Unsupervised Learning of Disentangled Representations", ICML 2019
    (disentanglement_lib). M.-A. Carbonneau et al., "Measuring Disentanglement: A Review of
    Metrics", IEEE TNNLS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import mig
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors[:, 0], factors[:, 1], rng.normal(size=2000)])
    >>> round(mig(latents, factors).mig, 3)
    0.987
    """
    return run_metric("mig", latents, factors,
                      dict(n_bins=n_bins, discretizer=discretizer, normalization=normalization),
                      backend=backend, factor_types=factor_types, factor_bins=factor_bins)


@metric_function("mig_sup")
def mig_sup(
    latents: Any,
    factors: Any = None,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    normalization: str = "factor",
    backend: str = "auto",
    factor_types: Any = None,
    factor_bins: int = 20,
) -> MIGSupResult:
    """MIG-sup (Li et al. 2020): does each latent describe at most one factor?

    Parameters
    ----------
    latents : array (N, L), float
    factors : array (N, K), int
        Needs K >= 2, every factor with at least two classes.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    normalization : {"factor", "latent"}, default "factor"
        ``"factor"``: divide each MI by the factor's entropy H(v_k), as Li et al. define it.
        ``"latent"``: divide each MI by the latent's entropy H(z_l), as the metrics-review code of
        Carbonneau et al. does (``norm_factor='Y'`` with the code as Y); the same choice as
        :func:`mig`'s ``normalization``. A constant latent's normalised MI is 0.
    backend : {"auto", "cpu", "cuda"}, default "auto"
    factor_types : None, "discrete", "continuous" or one per factor, optional
        A continuous factor (real values) is cut into ``factor_bins`` equal-width bins between
        its min and max (the metrics review's rule: ``factor_bins=10, n_bins=10`` reproduces
        its MIG); see :mod:`fastdci.io.factor_types`.
    factor_bins : int, default 20

    Returns
    -------
    MIGSupResult
        ``.mig_sup`` in [0, 1]; ``.gap_per_latent`` (L,).

    Notes
    -----
    With the normalised mutual information ``J_lk = I(z_l; v_k) / H(v_k)`` (binned as in
    :func:`mig`), and ``k1, k2`` the factors with the largest and second largest ``J_lk`` for
    latent ``l``: ``MIG-sup = 1/L sum_l (J_{l k1} - J_{l k2})``. MIG is the same gap taken over
    latents per factor (completeness); MIG-sup takes it over factors per latent (modularity).
    Li et al. estimate the MI as in MIG; here the binned estimator of :func:`mig` is used, so
    both come from one table of counts. A constant latent scores 0.

    ``normalization="latent"`` takes ``J_lk = I(z_l; v_k) / H(z_l)`` instead: the review's
    ``mig_sup`` (ubisoft-laforge-disentanglement-metrics, ``src/metrics/mig_sup.py``), which bins
    each latent into ``nb_bins`` equal-width bins between its min and max (``minmax_scale``,
    then ``np.digitize`` on ``linspace(0, 1, nb_bins + 1)[:-1]``: the bins used here, up to the
    rounding of a value that lies exactly on a bin edge; its default ``nb_bins=10``) and divides pyitlib's MI by pyitlib's entropy of the code, both in
    bits (the ratio is the same in nats). The two conventions score the same latent
    differently whenever it carries information that is not about the factor in question.
    A latent that holds a binary factor and an 8-class factor jointly (16 values) has
    ``J = (1, 1)`` by factor entropy (gap 0) but ``(1/4, 3/4)`` by its own entropy (gap 0.5); a
    latent that copies a binary factor and spreads each class over 10 bins of noise has gap 1
    by factor entropy but ``ln 2 / ln 20 = 0.23`` by its own. So the review's numbers can be
    lower or higher than these, by 0.5 and more on such latents.

    References
    ----------
    Z. Li, J. V. Murkute, P. K. Gyawali, L. Wang, "Progressive Learning and Disentanglement of
    Hierarchical Representations", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import mig_sup
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = factors + 0.01 * rng.normal(size=(2000, 2))
    >>> round(mig_sup(latents, factors).mig_sup, 3)
    0.999
    """
    return run_metric("mig_sup", latents, factors,
                      dict(n_bins=n_bins, discretizer=discretizer, normalization=normalization), backend=backend,
                      factor_types=factor_types, factor_bins=factor_bins)
