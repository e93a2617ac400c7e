"""InfoMEC (Hsu et al. 2023, 2024): InfoM, InfoC from the normalised mutual information, InfoE
from a logistic regression.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from ...backend import to_numpy
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._checks import check_factor_entropy, need
from ._counts import InformationStats

__all__ = ["InfoMECResult", "InfoMECStats", "infomec"]

ACTIVE_FRACTION = {"tripod": 10.0, "latent_quantization": 20.0}
"""A latent is active when its spread exceeds the largest spread divided by this number."""


@dataclasses.dataclass(frozen=True, eq=False)
class InfoMECResult(MetricResult):
    """InfoMEC: modularity, explicitness and compactness in information terms.

    Attributes
    ----------
    infom, infoc, infoe : float
        InfoM (modularity), InfoC (compactness), InfoE (explicitness), each in [0, 1].
    normalized_mi : float64 array (L, K)
        ``I(z_l; v_k) / H(v_k)``.
    active : bool array (L,)
        The latents InfoM and InfoC are taken over (see ``convention``).
    modularity_per_latent : float64 array (L,)
        ``max_k / sum_k`` of each latent's normalised MI (NaN for an inactive latent).
    compactness_per_factor : float64 array (K,)
        ``max_l / sum_l`` of each factor's normalised MI over the active latents.
    explicitness_per_factor : float64 array (K,)
        ``1 - cross_entropy / baseline`` per factor.
    cross_entropy : float64 array (K,)
        In-sample log-loss (nats) of the logistic regression of each factor on every latent.
    baseline : float64 array (K,)
        InfoE's denominator per factor (nats): H(v_k) or ln(classes), see ``infoe_baseline``.
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    convention, infoe_baseline : str
    num_active_latents, n_bins, n_rows, n_fit : int
        Active latents; bins per latent; rows counted; rows the regression was fitted on.
    classifier_settings : dict
    """

    metric: ClassVar[str] = "infomec"
    headline: ClassVar[str] = "infom"
    score_fields: ClassVar[tuple] = ("infom", "infoc", "infoe")
    count_fields: ClassVar[tuple] = ("num_active_latents", "n_rows", "n_fit")
    infom: float
    infoc: float
    infoe: float
    normalized_mi: np.ndarray
    active: np.ndarray
    modularity_per_latent: np.ndarray
    compactness_per_factor: np.ndarray
    explicitness_per_factor: np.ndarray
    cross_entropy: np.ndarray
    baseline: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    convention: str
    infoe_baseline: str
    num_active_latents: int
    n_bins: int
    n_rows: int
    n_fit: int
    classifier_settings: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, eq=False)
class InfoMECStats:
    """What InfoMEC is a function of.

    Attributes
    ----------
    information : InformationStats
        The joint counts (every row).
    iqr, latent_range : float64 arrays (L,)
        Each latent's interquartile range (of the fitted rows) and max - min (of every row).
    cross_entropy : float64 array (K,)
        In-sample log-loss (nats) of the regression of each factor on every latent.
    fit_entropy : float64 array (K,)
        H(v_k) in nats of the fitted rows' classes.
    fit_classes : int64 array (K,)
        Classes present in the fitted rows.
    n_fit : int
    classifier_settings : dict
    knn_mutual_info : float64 array (L, K) or None
        With ``mutual_info="knn"``: the nearest-neighbour MI (nats) of the fitted rows, used
        instead of the counts' binned MI.
    """

    information: InformationStats
    iqr: np.ndarray
    latent_range: np.ndarray
    cross_entropy: np.ndarray
    fit_entropy: np.ndarray
    fit_classes: np.ndarray
    n_fit: int
    classifier_settings: dict = dataclasses.field(default_factory=dict)
    knn_mutual_info: np.ndarray | None = None


def knn_mutual_info(host: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(L, K) nats: scikit-learn's ``mutual_info_classif`` (10 neighbours, ``random_state=0``) of
    each standardised latent with each factor, as the authors estimate it."""
    try:
        from sklearn.feature_selection import mutual_info_classif
    except ImportError as exc:
        from ...errors import MissingDependencyError

        raise MissingDependencyError("infomec mutual_info='knn' uses scikit-learn's mutual_info_classif; install "
                                     "scikit-learn or use mutual_info='binned'.") from exc
    x = np.asarray(host, dtype=np.float64)
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return np.array([[mutual_info_classif(z[:, [l]], y[:, k], discrete_features=False, n_neighbors=10,
                                          random_state=0)[0] for k in range(y.shape[1])] for l in range(x.shape[1])])


def log_loss_per_factor(probs: list, codes: np.ndarray) -> np.ndarray:
    """Mean ``-log p(true class)`` per factor, probabilities clipped to ``[eps, 1 - eps]`` (float64
    eps) as ``sklearn.metrics.log_loss`` clips them.

    Parameters
    ----------
    probs : list of K float arrays (N, C_k)
    codes : int array (N, K)
        Class positions (column of ``probs[k]``) of each row.
    """
    eps = np.finfo(np.float64).eps
    out = np.empty(len(probs), dtype=np.float64)
    rows = np.arange(codes.shape[0])
    for k, p in enumerate(probs):
        p_true = np.clip(np.asarray(to_numpy(p), dtype=np.float64)[rows, codes[:, k]], eps, 1 - eps)
        out[k] = float(-np.mean(np.log(p_true)))
    return out


def _fit_rows(source, backend: str, random_state: Any, max_rows: int | None):
    """(latents on the device, host latents, factors, n) of the rows InfoE is fitted on."""
    n = source.n_rows
    if max_rows is not None and max_rows < n:
        rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        idx = np.sort(rng.choice(n, size=int(max_rows), replace=False))
        x = source.rows(idx, backend)
        return x, np.asarray(to_numpy(x)), source.factors[idx], idx.size
    if source.in_memory:
        host = source.host_latents()
        return (source.on_device() if backend == "cuda" else host), host, source.factors, n
    x = source.rows(np.arange(n), backend)
    return x, np.asarray(to_numpy(x)), source.factors, n


def _infomec_stats(source, *, backend: str, random_state: Any, n_bins: int = 20, discretizer: str = "uniform",
                   mutual_info: str = "binned", C: float = 1e4, max_rows: int | None = None) -> InfoMECStats:
    """The counts (shared with the information metrics), the latents' spreads, and one batched
    logistic regression of every factor on every latent."""
    from ...regressors._base import ClassEncoding, settings_of
    from ...regressors.logistic import MultinomialLogistic
    from ._counts import _entropies

    information = source.information_stats(n_bins, discretizer, backend)
    x, host, y, n_fit = _fit_rows(source, backend, random_state, max_rows)
    q25, q75 = np.quantile(host, [0.25, 0.75], axis=0)
    mins, maxs = source.minmax()
    model = MultinomialLogistic(C=C, standardize=True, device=backend).fit(x, y)
    encoding = ClassEncoding(tuple(np.asarray(c) for c in model.classes_))
    codes = encoding.encode(np.asarray(y))
    cross_entropy = log_loss_per_factor(model.predict_proba(x), codes)
    class_counts = np.zeros((codes.shape[1], max(encoding.n_classes)), dtype=np.int64)
    for k in range(codes.shape[1]):
        class_counts[k, : encoding.n_classes[k]] = np.bincount(codes[:, k], minlength=encoding.n_classes[k])
    return InfoMECStats(
        information=information, iqr=(q75 - q25).astype(np.float64),
        latent_range=(maxs.astype(np.float64) - mins.astype(np.float64)), cross_entropy=cross_entropy,
        fit_entropy=_entropies(class_counts), fit_classes=np.asarray(encoding.n_classes, dtype=np.int64),
        n_fit=int(n_fit), classifier_settings={"class": type(model).__name__, **settings_of(model)},
        knn_mutual_info=knn_mutual_info(host, np.asarray(y)) if mutual_info == "knn" else None,
    )


def _concentration(nmi: np.ndarray, axis: int) -> np.ndarray:
    """``max / sum`` along ``axis``; a slice with no information counts at chance, ``1 / size``."""
    total = nmi.sum(axis=axis)
    chance = 1.0 / nmi.shape[axis]
    return np.divide(nmi.max(axis=axis), total, out=np.full(total.shape, chance), where=total > 0)


def _infomec_finalize(stats: InfoMECStats, convention: str = "tripod",
                      infoe_baseline: str = "entropy") -> InfoMECResult:
    info = stats.information
    L, K = info.counts.shape[:2]
    need(K >= 2, f"InfoM rescales by 1 - 1/K and needs at least 2 factors; got {K}.")
    m = info.mutual_info() if stats.knn_mutual_info is None else stats.knn_mutual_info
    h = info.factor_entropy()
    check_factor_entropy(h, "InfoMEC")
    nmi = m / h[None, :]
    spread = stats.iqr if convention == "tripod" else stats.latent_range
    active = spread > spread.max() / ACTIVE_FRACTION[convention]
    n_active = int(active.sum())
    baseline = stats.fit_entropy if infoe_baseline == "entropy" else np.log(stats.fit_classes.astype(np.float64))
    e_k = (baseline - stats.cross_entropy) / baseline
    per_latent = np.full(L, np.nan)
    if n_active == 0:  # Tripod's rule: no active latent scores 0 throughout
        c_k = np.zeros(K)
        infom = infoc = infoe = 0.0
    else:
        pruned = nmi[active]
        per_latent[active] = _concentration(pruned, axis=1)
        c_k = _concentration(pruned, axis=0)
        infom = (float(np.mean(per_latent[active])) - 1.0 / K) / (1.0 - 1.0 / K)
        infoc = 1.0 if n_active == 1 else (float(np.mean(c_k)) - 1.0 / n_active) / (1.0 - 1.0 / n_active)
        infoe = float(np.mean(e_k))
    return InfoMECResult(
        infom=infom, infoc=infoc, infoe=infoe, normalized_mi=nmi, active=active, modularity_per_latent=per_latent,
        compactness_per_factor=c_k, explicitness_per_factor=e_k, cross_entropy=stats.cross_entropy,
        baseline=baseline, mutual_info=m, factor_entropy=h, convention=convention, infoe_baseline=infoe_baseline,
        num_active_latents=n_active, n_bins=info.n_bins, n_rows=info.n_rows, n_fit=stats.n_fit,
        classifier_settings=dict(stats.classifier_settings),
    )


@metric_function("infomec")
def infomec(
    latents: Any,
    factors: Any = None,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    convention: str = "tripod",
    infoe_baseline: str = "entropy",
    mutual_info: str = "binned",
    C: float = 1e4,
    max_rows: int | None = None,
    random_state: int | None = 0,
    backend: str = "auto",
) -> InfoMECResult:
    """InfoMEC (Hsu et al. 2023): InfoM, InfoC and InfoE.

    Parameters
    ----------
    latents : array (N, L), float
        NumPy, torch or CuPy.
    factors : array (N, K), int
        Ground-truth factor classes; needs K >= 2, every factor with at least two classes.
    n_bins : int, default 20
        Bins per latent for the mutual information.
    discretizer : {"uniform", "quantile"}, default "uniform"
        ``"uniform"``: equal-width bins between each latent's min and max (as :func:`mig`);
        ``"quantile"``: equal-frequency bins.
    convention : {"tripod", "latent_quantization"}, default "tripod"
        Which latents count as active. ``"tripod"`` (the Tripod code, ICML 2024): interquartile
        range above a tenth of the largest one. ``"latent_quantization"`` (the code of the
        NeurIPS 2023 paper that introduced InfoMEC): range (max - min) above a twentieth of the
        largest one. The default is the authors' later rule: a quartile, unlike the range,
        is not moved by a few extreme values, so one outlier can neither make a noise latent
        active nor, by widening the largest range, switch the others off.
    infoe_baseline : {"entropy", "classes"}, default "entropy"
        InfoE's denominator: ``"entropy"``, H(v_k), the log-loss of the best constant
        prediction; ``"classes"``, ln(C_k), the log-loss of the authors' null model (see Notes).
        The two agree when a factor's classes are equally frequent (a complete factor grid).
    mutual_info : {"binned", "knn"}, default "binned"
        ``"binned"``: the MI of the binned latents, from the joint counts every information
        metric shares. ``"knn"``: the authors' estimator for continuous latents, scikit-learn's
        ``mutual_info_classif`` (10 neighbours, on each standardised latent, ``random_state=0``),
        on the rows InfoE is fitted on; it needs scikit-learn and costs far more.
    C : float, default 1e4
        Inverse L2 regularisation of InfoE's logistic regression on standardised latents
        (scikit-learn's parametrisation; see Notes).
    max_rows : int or None, default None
        Fit InfoE, and take the interquartile ranges, on a seeded uniform subsample of this many
        rows (``random_state``); the mutual information always uses every row.
    random_state : int or None, default 0
        Seed of the ``max_rows`` subsample; unused without it.
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    InfoMECResult
        ``.infom``, ``.infoc``, ``.infoe`` in [0, 1] (``.score`` is InfoM); ``.normalized_mi``
        (L, K); ``.active`` (L,).

    Notes
    -----
    With the normalised mutual information ``J_lk = I(z_l; v_k) / H(v_k)`` (nats over nats; the
    latents binned into ``n_bins`` bins, as :func:`mig` bins them) restricted to the active
    latents ``A`` (``|A| = L_A``):

    - ``InfoM = (mean_{l in A} max_k J_lk / sum_k J_lk - 1/K) / (1 - 1/K)``;
    - ``InfoC = (mean_k max_{l in A} J_lk / sum_{l in A} J_lk - 1/L_A) / (1 - 1/L_A)``;
    - ``InfoE = mean_k (B_k - CE_k) / B_k``, where ``CE_k`` is the in-sample log-loss (nats) of a
      multinomial logistic regression of factor k on all L standardised latents, fitted and
      scored on the same rows, and ``B_k`` the baseline of ``infoe_baseline``.

    This is ``compute_infomec`` of the authors' two codebases (kylehkhsu/latent_quantization
    and kylehkhsu/tripod, ``disentangle/metrics/infomec.py``), which differ only in which
    latents are active (``convention``) and in Tripod scoring 0 throughout when no latent is
    active (done here for both). Differences from their code:

    - **Mutual information.** For continuous latents the authors estimate ``I(z_l; v_k)``
      with scikit-learn's nearest-neighbour ``mutual_info_classif`` (10 neighbours, on the
      standardised latent); here it comes from the binned joint counts every information
      metric shares, so InfoM and InfoC depend on ``n_bins`` as MIG does (``mutual_info="knn"``
      is theirs). The two estimators' small positive biases differ, and for an active latent
      that carries (almost) no information InfoM reads the ratio of those biases: with pure-noise
      latents that pass the activity rule the two InfoM can differ by tenths. A latent that takes
      at most ``n_bins`` evenly spaced values (a quantised code) keeps each value in its own
      bin, which is the authors' discrete-latent estimate (``mutual_info_score`` of the values).
    - **InfoE's regression.** The authors fit scikit-learn's ``LogisticRegression`` without a
      penalty, with ``class_weight="balanced"``, lbfgs, ``tol=1e-4``, at most 100 iterations,
      and score the unweighted log-loss; their null model (zero inputs, balanced weights) is
      the uniform prediction, log-loss ``ln C_k``. fastdci fits
      :class:`~fastdci.regressors.MultinomialLogistic` (unweighted, to ``tol`` 1e-6) with the
      weak penalty ``C``: on data that are not separable it changes the log-loss by less than
      about 1e-5, and where a factor's classes are separable (the unpenalised optimum lies at
      infinite weights, where scikit-learn stops after its 100 iterations) it keeps the fit
      finite, with a log-loss near 0 and InfoE near 1. With equally frequent classes the
      balanced weights are all 1 and both baselines are ``ln C_k = H(v_k)``, so the two fits
      are the same problem; with unequal classes the weighted and unweighted fits differ, and
      ``"entropy"`` keeps an uninformative code at 0 (its best fit is the class frequencies).
    - **Degenerate cases**, where the authors' code divides 0 by 0: an active latent (a
      factor) that shares no information with any factor (active latent) counts at chance,
      ``1/K`` (``1/L_A``), i.e. 0 after the rescaling; with a single active latent InfoC is 1
      (every factor's information lies in that latent).
    - Discrete latents (the authors' ``discrete_latents=True``: one-hot inputs to the
      regression, ``IQR > 0.1`` as the Tripod activity rule) are not a separate mode here.

    References
    ----------
    K. Hsu, W. Dorrell, J. C. R. Whittington, J. Wu, C. Finn, "Disentanglement via Latent
    Quantization", NeurIPS 2023. K. Hsu, J. I. Hamid, K. Burns, C. Finn, J. Wu, "Tripod: Three
    Complementary Inductive Biases for Disentangled Representation Learning", ICML 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import infomec
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors + 0.3 * rng.normal(size=(2000, 2)), 0.01 * rng.normal(size=2000)])
    >>> res = infomec(latents, factors, backend="cpu")
    >>> (round(res.infom, 2), round(res.infoc, 2), res.num_active_latents)
    (0.98, 0.98, 2)
    """
    return run_metric("infomec", latents, factors,
                      dict(n_bins=n_bins, discretizer=discretizer, convention=convention,
                           infoe_baseline=infoe_baseline, mutual_info=mutual_info, C=C, max_rows=max_rows),
                      backend=backend, random_state=random_state)
