"""SAP: Separated Attribute Predictability (Kumar et al. 2018), as disentanglement_lib computes it."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from ...backend import to_numpy
from ...errors import InvalidInputError
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ..._validation import check_factors
from ._common import held_out, train_test

__all__ = ["SAPResult", "SAPStats", "sap"]


@dataclasses.dataclass(frozen=True, eq=False)
class SAPResult(MetricResult):
    """Separated Attribute Predictability (Kumar et al. 2018).

    Attributes
    ----------
    sap : float
        Mean over factors of the gap between the best and second-best latent's score.
    score_matrix : float64 array (L, K)
        Test accuracy of a one-latent linear SVM per (latent, factor) (discrete), or the
        squared correlation of latent and factor (continuous).
    gap_per_factor : float64 array (K,)
    continuous : bool
    n_train, n_test : int
        Rows used to fit and to score (continuous: ``n_test`` is 0).
    """

    metric: ClassVar[str] = "sap"
    headline: ClassVar[str] = "sap"
    score_fields: ClassVar[tuple] = ("sap",)
    count_fields: ClassVar[tuple] = ("n_train", "n_test")
    sap: float
    score_matrix: np.ndarray
    gap_per_factor: np.ndarray
    continuous: bool = False
    n_train: int = 0
    n_test: int = 0


@dataclasses.dataclass(frozen=True, eq=False)
class SAPStats:
    """The statistic of SAP: the (L, K) score matrix. Factors are scored independently, so
    stats of disjoint factor sets of the same rows :meth:`merge` exactly."""

    score_matrix: np.ndarray
    continuous: bool = False
    n_train: int = 0
    n_test: int = 0

    def merge(self, other: "SAPStats") -> "SAPStats":
        """Both factor sets side by side (columns of ``self`` first)."""
        if (other.continuous, other.n_train, other.n_test) != (self.continuous, self.n_train, self.n_test):
            raise InvalidInputError("SAP stats merge only across factors of the same rows and settings.")
        return dataclasses.replace(self, score_matrix=np.concatenate([self.score_matrix, other.score_matrix], 1))


def _sap_finalize(stats: SAPStats) -> SAPResult:
    """SAP from the score matrix: mean over factors of best minus second-best latent."""
    S = np.asarray(to_numpy(stats.score_matrix), dtype=np.float64)
    if S.ndim != 2 or S.shape[0] < 2:
        raise InvalidInputError(
            f"SAP needs a (n_latents >= 2, n_factors) score matrix; got shape {S.shape}. With a single latent "
            "there is no second-best latent to compare against."
        )
    top = np.sort(S, axis=0)
    gaps = top[-1, :] - top[-2, :]
    return SAPResult(sap=float(np.mean(gaps)), score_matrix=S, gap_per_factor=gaps,
                     continuous=bool(stats.continuous), n_train=int(stats.n_train), n_test=int(stats.n_test))


def _sap_continuous_matrix(latents: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Squared Pearson correlation per (latent, factor); 0 where the latent's variance <= 1e-12."""
    M = np.asarray(latents, dtype=np.float64)
    Y = np.asarray(factors, dtype=np.float64)
    n = M.shape[0]
    Mc = M - M.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    cov = (Mc.T @ Yc) / (n - 1)
    var_m = np.einsum("ij,ij->j", Mc, Mc) / (n - 1)
    var_y = np.einsum("ij,ij->j", Yc, Yc) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = cov**2 / (var_m[:, None] * var_y[None, :])
    S = np.where(var_m[:, None] > 1e-12, S, 0.0)
    return np.where(var_y[None, :] > 0, S, 0.0)




def _sap_stats(source, *, backend: str, random_state: Any, test_size: float = 0.5, continuous: bool = False,
               C: float = 0.01) -> SAPStats:
    """The score matrix: squared correlations (continuous factors, or every factor with
    ``continuous``) or one-latent SVM test accuracies (discrete factors)."""
    cont = source.continuous if source.has_continuous else np.zeros(source.n_factors, bool)
    if continuous or cont.all():
        if source.test is not None:
            raise InvalidInputError(
                "the continuous SAP score uses the training rows only; drop latents_test and factors_test, or "
                "set continuous=False."
            )
        S = _sap_continuous_matrix(source.host_latents(), source.factor_values())
        return SAPStats(S, continuous=True, n_train=source.n_rows, n_test=0)
    if source.n_latents < 2:
        raise InvalidInputError("SAP needs at least two latent dimensions; got one.")
    x, y, x_test, y_test = train_test(source, test_size=test_size, random_state=random_state)
    disc = np.flatnonzero(~cont)
    y, y_test = y[:, disc], y_test[:, disc]
    check_factors(y, min_classes=2, factor_names=[source.factor_names[k] for k in disc])
    from ...regressors._base import encode_classes
    from ...regressors.linear_svc import svc_pair_accuracy

    enc, codes = encode_classes(y)
    codes_test = enc.encode(y_test)
    counts = svc_pair_accuracy(to_numpy(x).astype(np.float64), codes, enc.n_classes,
                               to_numpy(x_test).astype(np.float64), codes_test, C=float(C))
    n_test = int(x_test.shape[0])
    S = np.empty((source.n_latents, source.n_factors))
    S[:, disc] = counts / n_test
    if cont.any():  # R^2 of a one-latent least-squares line, on every row (as continuous=True)
        S[:, cont] = _sap_continuous_matrix(source.host_latents(), source.factor_values()[:, cont])
    return SAPStats(S, continuous=False, n_train=int(x.shape[0]), n_test=n_test)


@metric_function("sap")
def sap(
    latents: Any,
    factors: Any = None,
    latents_test: Any = None,
    factors_test: Any = None,
    *,
    continuous: bool = False,
    test_size: float = 0.5,
    random_state: int | None = 0,
    C: float = 0.01,
    backend: str = "auto",
    factor_types: Any = None,
) -> SAPResult:
    """Separated Attribute Predictability (Kumar et al. 2018), as disentanglement_lib.

    Parameters
    ----------
    latents : array (N, L) float
    factors : array (N, K) int
    latents_test, factors_test : arrays (M, L), (M, K), optional
        Held-out rows for the discrete score; without them ``test_size`` of the rows are held
        out at random. The continuous score uses the training rows only.
    continuous : bool, default False
        False: the score of latent i for factor j is the test accuracy of a linear SVM
        (``LinearSVC(C=C, class_weight="balanced")``, one-vs-rest) fitted on latent i alone.
        True: the squared Pearson correlation of latent i and factor j (0 when the latent's
        variance is at most 1e-12).
    test_size : float, default 0.5
    random_state : int or None, default 0
    C : float, default 0.01
        The SVM's inverse regularisation (disentanglement_lib's value).
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Accepted on every metric; the SVMs run on the CPU (Numba) whatever the device.
    factor_types : None, "discrete", "continuous" or one per factor, optional
        A continuous factor (real values) is scored by the R² of a one-latent least-squares
        line, which is the squared correlation above (the metrics review's regression SAP,
        which clips R² at 0, a no-op for a fitted line), on every row; discrete ones as set
        by ``continuous``.

    Returns
    -------
    SAPResult

    Notes
    -----
    SAP is the mean over factors of the difference between the highest and the second highest
    score over latents. The SVMs are trained by a Numba re-implementation of the solver
    scikit-learn's ``LinearSVC`` runs (liblinear's primal trust-region Newton method with its
    stopping rule, penalised intercept and class weighting), one (latent, factor) pair per
    thread, so the score matrix equals disentanglement_lib's exactly, not just
    approximately: an exact optimiser disagrees on the rows near nearly-flat one-vs-rest
    lines. Differences from disentanglement_lib: a factor with a single class raises here
    (scikit-learn raises inside disentanglement_lib too); in the continuous score a constant
    factor scores 0 instead of NaN.

    References
    ----------
    Kumar, Sattigeri & Balakrishnan, "Variational inference of disentangled latent concepts
    from unlabeled observations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> import fastdci
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 3, size=(1000, 2))
    >>> latents = np.concatenate([factors + 0.1 * rng.normal(size=(1000, 2)),
    ...                           rng.normal(size=(1000, 1))], axis=1)
    >>> res = fastdci.sap(latents, factors, continuous=True)
    >>> round(res.sap, 2)
    0.98
    """
    return run_metric("sap", latents, factors, dict(test_size=test_size, continuous=continuous, C=C),
                      backend=backend, random_state=random_state, test=held_out(latents_test, factors_test),
                      factor_types=factor_types)
