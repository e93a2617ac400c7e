"""DCI-ES (Eastwood et al., ICLR 2023): DCI plus explicitness E, the area under each factor's
loss-capacity curve, and size S, from one boosted fit read at every round count.

Definitions, as the authors' code computes them (andreinicolicioiu/DCI-ES, the paper's
official repository, ``metrics/explitcitness.py`` and ``src/simple_gather.py`` at commit
9329dae), for factor :math:`j` with test losses :math:`\\ell_j(c_1), ..., \\ell_j(c_m)` over a
ladder of capacities :math:`c_1 < ... < c_m`:

- the curve is the running minimum, :math:`\\tilde\\ell_j(c_i) = \\min_{i' \\le i} \\ell_j(c_{i'})`
  ("we use the minimum loss achieved until that capacity");
- :math:`\\mathrm{AULCC}_j` is the trapezoidal area between the curve and its own lowest
  loss, :math:`\\int (\\tilde\\ell_j(c) - \\min_c \\tilde\\ell_j)\\,dc`;
- the normaliser is the baseline rectangle :math:`Z_j = (c_m - c_1)\\,\\ell^b_j`, the lowest
  achievable loss :math:`\\ell^*_j` taken as 0 ("this is used in the iclr paper. we assume
  l* = 0");
- :math:`E_j = 1 - 2\\,\\mathrm{AULCC}_j / Z_j` and :math:`E` is the mean over factors.

The authors' losses are ``1 - score`` of their probes: the test error rate for a discrete
factor (baseline :math:`1 - 1/n_j`, hard-coded per data set) and :math:`1 - R^2` for a
continuous one (baseline 1). Their ladders: random-forest depth 1..32 (linear axis), or MLP
parameter counts on a log axis. Size is :math:`S = K / L` (factors over latent dimensions;
1 for a representation with one dimension per factor), from the paper; the authors' code
does not compute it.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import numpy as np

from ...errors import InvalidInputError
from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._common import GBT_DEPTH, fit_shared, held_out, train_test
from .dci import DCIStats, _dci_finalize

_EPS = 1e-15

__all__ = ["DCIESResult", "DCIESStats", "dci_es", "explicitness_from_curve"]


@dataclasses.dataclass(frozen=True, eq=False)
class DCIESResult(MetricResult):
    """DCI-ES: explicitness, size, and DCI's disentanglement, completeness, informativeness.

    Attributes
    ----------
    explicitness : float
        Mean over factors of :attr:`explicitness_per_factor`.
    size : float
        ``n_factors / n_latents``.
    disentanglement, completeness, informativeness_train, informativeness_test : float
        DCI (as :func:`fastdci.dci`) of the fit at the largest capacity.
    explicitness_per_factor : float64 array (K,)
    capacities : int64 array (m,)
        The ladder: boosting rounds 1, 2, ..., ``n_rounds``.
    loss_curves : float64 array (K, m)
        Test loss of each factor after each round count (raw, before the running minimum).
    baseline_losses : float64 array (K,)
        Test loss of the capacity-0 predictor (the training prior, or the training mean).
    importance, disentanglement_per_latent, completeness_per_factor : arrays
        As :class:`~fastdci.metrics.predictors.DCIResult`.
    informativeness_test_per_factor : float64 array (K,)
    n_train, n_test : int
    """

    metric: ClassVar[str] = "dci_es"
    headline: ClassVar[str] = "explicitness"
    score_fields: ClassVar[tuple] = ("explicitness", "size", "disentanglement", "completeness",
                                     "informativeness_train", "informativeness_test")
    count_fields: ClassVar[tuple] = ("n_train", "n_test")
    explicitness: float
    size: float
    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    explicitness_per_factor: np.ndarray
    capacities: np.ndarray
    loss_curves: np.ndarray
    baseline_losses: np.ndarray
    importance: np.ndarray
    disentanglement_per_latent: np.ndarray
    completeness_per_factor: np.ndarray
    informativeness_test_per_factor: np.ndarray
    n_train: int = 0
    n_test: int = 0


@dataclasses.dataclass(frozen=True, eq=False)
class DCIESStats:
    """What DCI-ES finalizes: DCI's statistics and the test loss at every capacity."""

    dci: DCIStats
    capacities: np.ndarray
    loss_curves: np.ndarray
    baseline_losses: np.ndarray
    n_latents: int
    loss: str = "error"


def explicitness_from_curve(capacities: Any, losses: Any, baseline: float, *, convention: str = "authors",
                            log_capacity: bool = True) -> float:
    """E of one factor from its loss-capacity curve (see :func:`dci_es`, Notes).

    Parameters
    ----------
    capacities : array (m,), increasing, m >= 2
    losses : array (m,)
        Test loss at each capacity.
    baseline : float
        Loss of the capacity-0 predictor (> 0).
    convention : {"authors", "absolute"}, default "authors"
    log_capacity : bool, default True
        Integrate over ``ln(capacity)`` (the authors' axis for parameter counts).

    Returns
    -------
    float
    """
    x = np.asarray(capacities, dtype=np.float64)
    y = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    if x.ndim != 1 or x.shape != y.shape or x.size < 2 or np.any(np.diff(x) <= 0):
        raise InvalidInputError("capacities must be an increasing 1-D ladder of at least 2, one loss each.")
    if log_capacity:
        x = np.log(x)
    width = x[-1] - x[0]
    if not baseline > 0:
        return 1.0  # nothing to learn: the prior is already perfect
    if convention == "authors":
        area = np.sum(0.5 * ((y[:-1] - y.min()) + (y[1:] - y.min())) * np.diff(x))
        return float(1.0 - 2.0 * area / (width * baseline))
    y = np.minimum(y, baseline)
    area = np.sum(0.5 * (y[:-1] + y[1:]) * np.diff(x))
    return float(1.0 - area / (width * baseline))


def _dci_es_finalize(stats: DCIESStats, convention: str = "authors") -> DCIESResult:
    """E per factor from the stored curves, S from the shapes, D, C, I from :func:`_dci_finalize`."""
    d = _dci_finalize(stats.dci)
    K = stats.loss_curves.shape[0]
    e = np.array([explicitness_from_curve(stats.capacities, stats.loss_curves[k], stats.baseline_losses[k],
                                          convention=convention) for k in range(K)])
    return DCIESResult(
        explicitness=float(np.mean(e)), size=float(K / stats.n_latents),
        disentanglement=d.disentanglement, completeness=d.completeness,
        informativeness_train=d.informativeness_train, informativeness_test=d.informativeness_test,
        explicitness_per_factor=e, capacities=np.asarray(stats.capacities, dtype=np.int64),
        loss_curves=np.asarray(stats.loss_curves, dtype=np.float64),
        baseline_losses=np.asarray(stats.baseline_losses, dtype=np.float64), importance=d.importance,
        disentanglement_per_latent=d.disentanglement_per_latent, completeness_per_factor=d.completeness_per_factor,
        informativeness_test_per_factor=d.informativeness_test_per_factor, n_train=d.n_train, n_test=d.n_test,
        settings={**d.settings, "loss": stats.loss, "capacity": "boosting rounds 1..n_rounds, log axis"},
    )


def _dci_es_stats(source, *, backend: str, random_state: Any, test_size: float = 0.5, max_train: int | None = None,
                  n_rounds: int = 100, learning_rate: float = 0.1, max_depth: int = GBT_DEPTH, max_bins: int = 255,
                  importance: str = "global", loss: str = "error") -> DCIESStats:
    """One booster on every factor's classes (a continuous factor's bins); its test losses after
    every round, from the fitted trees applied one round at a time."""
    from ...regressors._base import settings_of
    from ...regressors.stumps import GradientBoostedStumps

    seed = random_state if isinstance(random_state, int) else 0
    x, y, xt, yt = train_test(source, test_size=test_size, random_state=random_state, device=backend,
                              max_train=max_train)
    cont = source.continuous if source.has_continuous else np.zeros(source.n_factors, bool)
    v = vt = None
    if cont.any():
        v, vt = source.train_test_values(test_size, random_state, max_train)
    model = GradientBoostedStumps(n_rounds=n_rounds, learning_rate=learning_rate, max_depth=max_depth,
                                  max_bins=max_bins, importance=importance, device=backend, random_state=seed)
    model = fit_shared(source, model, x, y, (test_size, random_state, max_train, backend,
                                             tuple(range(source.n_factors)), False))
    scorer = _Scorer(model, y, v, cont, loss)
    curves, base, last = _staged_losses(model, xt, yt, vt, scorer)
    # on classes only, the fit's own training accuracy is DCI's informativeness (no second prediction)
    train_score = (np.asarray(model.train_accuracy_, dtype=np.float64) if not cont.any()
                   else scorer.informativeness(model.decision_function_stacked(x), y, v))
    dci = DCIStats(importance=np.asarray(model.feature_importances_, dtype=np.float64),
                   informativeness_train=train_score, informativeness_test=last, n_train=int(x.shape[0]),
                   n_test=int(xt.shape[0]), regressor="gbt",
                   regressor_settings={"class": type(model).__name__, **settings_of(model)})
    return DCIESStats(dci=dci, capacities=np.arange(1, n_rounds + 1, dtype=np.int64), loss_curves=curves,
                      baseline_losses=base, n_latents=int(x.shape[1]), loss=loss)


class _Scorer:
    """Per-factor losses of raw scores F (N, C): error rate or cross-entropy on the classes; on a
    continuous factor the squared error of the posterior mean of its values over the variance."""

    def __init__(self, model, y, values, cont, loss):
        self.classes = [np.asarray(c) for c in model.classes_]
        self.offsets = np.concatenate([[0], np.cumsum([c.size for c in self.classes])])
        self.cont, self.loss = cont, loss
        self.means = []  # per factor: the mean training value of each class (continuous only)
        for k, c in enumerate(self.classes):
            if cont[k]:
                pos = np.searchsorted(c, y[:, k])
                sums = np.bincount(pos, weights=values[:, k], minlength=c.size)
                self.means.append(sums / np.maximum(np.bincount(pos, minlength=c.size), 1))
            else:
                self.means.append(None)

    def codes(self, y):
        """Class positions of labels y (N, K); -1 where a label was never seen in training."""
        out = np.empty(y.shape, dtype=np.int64)
        for k, c in enumerate(self.classes):
            pos = np.clip(np.searchsorted(c, y[:, k]), 0, c.size - 1)
            out[:, k] = np.where(c[pos] == y[:, k], pos, -1)
        return out

    def losses(self, F, codes, values):
        out = np.empty(len(self.classes))
        for k in range(len(self.classes)):
            f = F[:, self.offsets[k]:self.offsets[k + 1]]
            if not self.cont[k] and self.loss == "error":  # argmax only: no softmax needed
                out[k] = np.mean(f.argmax(axis=1) != codes[:, k])
                continue
            f = f - f.max(axis=1, keepdims=True)
            logp = f - np.log(np.exp(f).sum(axis=1, keepdims=True))
            if self.cont[k]:
                pred = np.exp(logp) @ self.means[k]
                var = np.var(values[:, k])
                out[k] = np.mean((values[:, k] - pred) ** 2) / var if var > 0 else 0.0
            else:
                # scikit-learn's log_loss clipping; a class never seen in training gets the clip
                lp = np.where(codes[:, k] >= 0, logp[np.arange(len(f)), np.maximum(codes[:, k], 0)], -np.inf)
                out[k] = np.mean(-np.maximum(lp, np.log(_EPS)))
        return out

    def informativeness(self, F, y, values):
        """DCI's informativeness: accuracy (discrete), 1 - RMSE / std (continuous)."""
        codes = self.codes(np.asarray(y))
        saved, self.loss = self.loss, "error"
        try:
            loss = self.losses(np.asarray(F, dtype=np.float64), codes, values)
        finally:
            self.loss = saved
        return np.where(self.cont, 1.0 - np.sqrt(loss), 1.0 - loss)


def _staged_losses(model, xt, yt, vt, scorer):
    """(K, R) test losses after rounds 1..R, (K,) at round 0, and DCI's test informativeness.

    The fitted ensemble ``model.trees_`` is applied one round at a time: a shallow copy of the
    model holding round r's trees (zero initial scores) gives that round's contribution through
    the public ``decision_function_stacked``, added to the running scores."""
    trees = model.trees_
    R = trees.feat.shape[0]
    codes = scorer.codes(np.asarray(yt))
    F = np.broadcast_to(np.asarray(trees.init, dtype=np.float64), (xt.shape[0], trees.init.size)).copy()
    base = scorer.losses(F, codes, vt)
    curves = np.empty((base.size, R))
    one = copy.copy(model)
    for r in range(R):
        one.trees_ = dataclasses.replace(trees, feat=trees.feat[r:r + 1], thr=trees.thr[r:r + 1],
                                         gain=trees.gain[r:r + 1], values=trees.values[r:r + 1],
                                         init=np.zeros_like(trees.init))
        F += one.decision_function_stacked(xt)
        curves[:, r] = scorer.losses(F, codes, vt)
    return curves, base, scorer.informativeness(F, yt, vt)


@metric_function("dci_es")
def dci_es(
    latents: Any,
    factors: Any = None,
    latents_test: Any = None,
    factors_test: Any = None,
    *,
    test_size: float = 0.5,
    max_train: int | None = None,
    n_rounds: int = 100,
    learning_rate: float = 0.1,
    max_depth: int = GBT_DEPTH,
    max_bins: int = 255,
    importance: str = "global",
    loss: str = "error",
    convention: str = "authors",
    random_state: int | None = 0,
    backend: str = "auto",
    factor_types: Any = None,
    factor_bins: int = 20,
) -> DCIESResult:
    """DCI-ES (Eastwood et al. 2023): explicitness E and size S beside D, C and I.

    Parameters
    ----------
    latents : array (N, L) float
        Representation (numpy, torch or CuPy), samples first.
    factors : array (N, K)
        Ground-truth factor classes (int), or real values for the continuous factors.
    latents_test, factors_test : arrays (M, L), (M, K), optional
        Held-out rows; without them ``test_size`` of the rows are held out at random.
    test_size : float, default 0.5
    max_train : int, optional
        Fit on at most this many training rows (a recorded random subsample).
    n_rounds : int, default 100
        Boosting rounds: the largest capacity of the ladder (at least 2).
    learning_rate, max_depth, max_bins, importance
        Of the booster, :class:`~fastdci.regressors.GradientBoostedStumps` (defaults: DCI's
        ``regressor="gbt"``, scikit-learn's ``GradientBoostingClassifier()``).
    loss : {"error", "cross_entropy"}, default "error"
        A discrete factor's loss: the test error rate (the authors' ``1 - accuracy``) or the
        cross-entropy of the predicted class probabilities (clipped at 1e-15).
    convention : {"authors", "absolute"}, default "authors"
        How a curve becomes E (see Notes).
    random_state : int or None, default 0
        Seed of the split, the subsample and the booster's tie-breaking.
    backend : {"auto", "cpu", "cuda"}, default "auto"
    factor_types : None, "discrete", "continuous" or one per factor, optional
        Which factors are real values (see :mod:`fastdci.io.factor_types`).
    factor_bins : int, default 20
        Bins of a continuous factor: the classes the booster fits.

    Returns
    -------
    DCIESResult

    Notes
    -----
    **Capacity ladder.** Capacity is the number of boosting rounds, :math:`c = 1, 2, ...,`
    ``n_rounds`` (each round adds one depth-``max_depth`` tree per class, so parameters grow
    linearly with it), integrated over :math:`\\ln c`, as the authors integrate their MLP ladder
    over the log of its parameter count. One fit of ``n_rounds`` gives every rung: the model
    after :math:`c` rounds is the first :math:`c` rounds of the fitted ensemble, applied round
    by round to the test rows, so the whole curve costs one fit and one prediction.

    **Losses** (test rows). Discrete factor: the error rate (or cross-entropy) of the booster's
    class probabilities. Continuous factor: the booster fits its ``factor_bins`` bins; the
    prediction is the posterior mean of the training values of each bin, and the loss is the
    squared error over the test variance, :math:`1 - R^2`, the authors' regression loss.
    The baseline :math:`\\ell^b_j` is the loss after 0 rounds: the training prior's mode
    (error), the prior itself (cross-entropy), or the training mean (continuous).

    **E.** With :math:`\\tilde\\ell_j` the running minimum of factor :math:`j`'s losses over the
    ladder and :math:`x = \\ln c`: ``convention="authors"`` (andreinicolicioiu/DCI-ES,
    ``metrics/explitcitness.py``) is :math:`E_j = 1 - 2\\int(\\tilde\\ell_j - \\min\\tilde\\ell_j)dx /
    ((x_m - x_1)\\ell^b_j)` (trapezoids), in [-1, 1]: 1 when the lowest loss is reached at the
    first rung, 0 for a straight decline from the baseline, and also 1 for a curve that never
    leaves the baseline (pure noise), so read it beside I. ``"absolute"`` measures the area
    down to :math:`\\ell^* = 0` (the authors' normaliser's assumption) instead:
    :math:`E_j = 1 - \\int\\min(\\tilde\\ell_j, \\ell^b_j)dx / ((x_m - x_1)\\ell^b_j)`, in [0, 1],
    1 for a code read perfectly at the first rung, 0 for noise. :math:`E` is the mean over
    factors. **S** :math:`= K / L`. D, C and I are DCI's (:func:`fastdci.dci` with
    ``regressor="gbt"``) from the same fit at ``n_rounds``; on a continuous factor I is
    :math:`1 - \\sqrt{1 - R^2}` (``1 - RMSE / std``).

    **Differences from the authors' code.** They train a separate probe per capacity (MLPs
    by width, random forests by depth 1..32, with per-probe hyperparameters) and fit a
    regressor to continuous factors; here the probes are the prefixes of one boosted
    ensemble and continuous factors are classified into bins. Their baseline is hard-coded
    per data set as :math:`1 - 1/n_j` (discrete) and 1 (continuous); here it is measured
    (equal for balanced classes, and within sampling noise of 1). They report D and C of the
    probe with the best informativeness; here of the largest capacity. Size is not in their
    code; :math:`S = K / L` follows the paper's definition as stated above. As in
    :func:`fastdci.dci`, depth-3 trees break exactly tied split gains (in nodes of a few rows)
    by a seeded order of the latents, so permuting the latents can move E by ~0.003.

    References
    ----------
    C. Eastwood, A. L. Nicolicioiu, J. von Kügelgen, A. Kekić, F. Träuble, A. Dittadi and
    B. Schölkopf, "DCI-ES: An extended disentanglement framework with connections to
    identifiability", ICLR 2023; code: github.com/andreinicolicioiu/DCI-ES. C. Eastwood and
    C. K. I. Williams, "A framework for the quantitative evaluation of disentangled
    representations", ICLR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> import fastdci
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 3, size=(1000, 2))
    >>> latents = np.concatenate([factors + 0.05 * rng.normal(size=(1000, 2)),
    ...                           rng.normal(size=(1000, 1))], axis=1)
    >>> res = fastdci.dci_es(latents, factors, n_rounds=10, backend="cpu")
    >>> res.loss_curves.shape, round(res.size, 3)
    ((2, 10), 0.667)
    >>> res.explicitness > 0.9
    True
    """
    return run_metric("dci_es", latents, factors,
                      dict(test_size=test_size, max_train=max_train, n_rounds=n_rounds, learning_rate=learning_rate,
                           max_depth=max_depth, max_bins=max_bins, importance=importance, loss=loss,
                           convention=convention),
                      backend=backend, random_state=random_state, test=held_out(latents_test, factors_test),
                      factor_types=factor_types, factor_bins=factor_bins)
