"""Drop-in replacements for nmichlo/disent's metric functions, computed by fastdci.

The functions take disent's arguments with disent's defaults and return disent's dicts with
its namespaced keys (``dci.disentanglement``, ``mig.discrete_score``, ``sap.score``,
``factor_vae.eval_accuracy``, ``flatness.ave_flatness``, ...), so evaluation code switches by
changing an import::

    # from disent.metrics import metric_dci, metric_mig
    from fastdci.compat.disent import metric_dci, metric_mig
    metric_dci(dataset, representation_function)           # {"dci.disentanglement": ..., ...}
    metric_mig.compute_fast(dataset, representation_function)  # disent's fast settings

Like disent's ``Metric`` objects, each function has ``name``, ``compute`` (itself),
``compute_fast`` (disent's ``fast_kwargs`` applied) and ``unwrap``.

The dataset is duck-typed; disent need not be installed. It needs the methods of disent's
``DisentDataset`` that the metric calls: ``dataset_sample_batch_with_factors(n, mode=)``
(DCI, MIG, SAP); ``dataset_sample_batch(n, mode=)``, ``dataset_batch_from_factors(factors,
mode=)`` and ``gt_data.sample_factors(n)`` (FactorVAE); ``gt_data.factor_sizes`` and
``gt_data.sample_random_factor_traversal(f_idx=)`` too (flatness). ``representation_function``
maps a batch of observations to a ``(batch, num_latents)`` array (NumPy, torch or CuPy).

Same points as disent: every draw goes through the dataset's methods (and, for FactorVAE's
choice of factor, ``np.random.randint``) in disent's order and batch sizes, so from the same
random state (disent's datasets draw from NumPy's global one) the functions score the same
points disent's would. DCI and SAP then advance NumPy's global state by the draws
scikit-learn would have taken (one per boosted tree, one per SVM fit), so a sequence of
metrics keeps drawing what disent's sequence draws. The observations and the
representation function are the caller's; their cost is the same under both libraries.

Where the numbers differ from disent's on the same points:

- DCI: fastdci's histogram gradient boosting with scikit-learn ``GradientBoostingClassifier()``'s
  settings (depth 3, 100 rounds, learning rate 0.1, current importance rule), not
  scikit-learn's exact-split trees: split thresholds are at most 255 quantile bin edges per
  latent, tied gains are broken by a seeded order rather than NumPy's global state, and a
  binary factor is fitted as a two-class softmax. D, C and the informativeness (accuracy)
  follow disent's closely, not bit for bit: the two boosters' importances and predictions
  differ a little (``benchmarks/test_71_disent.py`` checks D and C within 0.05 and the
  accuracies within 0.02 at disent's defaults). Only ``boost_mode="sklearn"`` (disent's
  default) is provided.
- MIG, SAP: equal to floating-point precision (the same 20-bin histograms; the same liblinear
  solver; the same squared correlations for continuous factors).
- FactorVAE: the same votes except where two latents' variance ratios tie to rounding:
  fastdci computes the variances in float64, disent in the representation's dtype. A latent
  whose global variance is 0 never votes here (disent divides 0 by 0 and ``argmin`` then
  picks the NaN). ``factor_vae.num_active_dims`` is disent's number, every latent.
- Flatness: fastdci has no flatness metric in its core; it is computed here in NumPy, in
  float64 (disent: torch, the representation's dtype), so the numbers agree to rounding.
- A factor that takes a single value in the drawn points, a representation with NaN or
  infinite values, or a dataset without the methods above raises
  :class:`~fastdci.errors.InvalidInputError` with one line naming the problem.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from ..errors import InvalidInputError
from . import _disent_data as data

__all__ = ["_compute_dci", "_compute_mig", "_compute_sap", "generate_batch_factor_code", "metric_dci",
           "metric_factor_vae", "metric_flatness", "metric_mig", "metric_sap"]

_GBT = dict(regressor="gbt", n_rounds=100, learning_rate=0.1, max_depth=3, importance="global")
_BOOST_ROUNDS = 100  # scikit-learn's n_estimators, one seeded tree per class (binary: one) per round


def _as_metric(name: str, fast_kwargs: dict) -> Callable:
    """Give a function the attributes of disent's ``Metric``: name, compute, compute_fast, unwrap."""

    def decorate(fn: Callable) -> Callable:
        fn.name = name
        fn.compute = fn
        fn.unwrap = fn
        fn.compute_fast = functools.partial(fn, **fast_kwargs)
        return fn

    return decorate


def _codes_first(mus: Any, ys: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """disent's (num_codes, num_points), (num_factors, num_points) -> points first."""
    from ..backend import to_numpy

    mus, ys = np.asarray(to_numpy(mus)), np.asarray(to_numpy(ys))
    if mus.ndim != 2 or ys.ndim != 2 or mus.shape[1] != ys.shape[1]:
        raise InvalidInputError(
            f"{what} and its factors must be disent's (num_codes, num_points) and (num_factors, num_points) "
            f"with the same num_points; got {mus.shape} and {ys.shape}."
        )
    return mus.T, ys.T


def generate_batch_factor_code(dataset: Any, representation_function: Callable, num_points: int, batch_size: int,
                               show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """disent's ``utils.generate_batch_factor_code``: (codes, num_points) and (factors, num_points)."""
    data.check_dataset(dataset, "codes", "generate_batch_factor_code")
    z, f = data.codes(dataset, representation_function, data.check_count("generate_batch_factor_code", "num_points",
                      num_points), data.check_count("generate_batch_factor_code", "batch_size", batch_size),
                      "generate_batch_factor_code")
    return z.T, f.T


# ------------------------------------------------------------------------------ DCI
def _dci_scores(x_tr, y_tr, x_te, y_te, backend: str) -> dict:
    from .. import dci

    res = dci(x_tr, y_tr, x_te, y_te, backend=backend, random_state=0, **_GBT)
    data.skip_global_draws(sum(_BOOST_ROUNDS * (c if c > 2 else 1)
                               for c in (np.unique(y_tr[:, k]).size for k in range(y_tr.shape[1]))))
    return {
        "dci.informativeness_train": res.informativeness_train,
        "dci.informativeness_test": res.informativeness_test,
        "dci.disentanglement": res.disentanglement,
        "dci.completeness": res.completeness,
    }


def _check_boost_mode(boost_mode: str, metric: str) -> None:
    if boost_mode != "sklearn":
        raise InvalidInputError(
            f"{metric}: boost_mode={boost_mode!r} is not provided; fastdci's booster reproduces scikit-learn's "
            "GradientBoostingClassifier (boost_mode='sklearn', disent's default). Use that, or disent's own "
            "metric_dci for xgboost / lightgbm."
        )


def _compute_dci(mus_train: Any, ys_train: Any, mus_test: Any, ys_test: Any, boost_mode: str = "sklearn",
                 show_progress: bool = False, *, backend: str = "auto") -> dict:
    """disent's ``_dci._compute_dci`` on codes-first arrays: the four ``dci.*`` scores."""
    _check_boost_mode(boost_mode, "_compute_dci")
    x_tr, y_tr = _codes_first(mus_train, ys_train, "mus_train")
    x_te, y_te = _codes_first(mus_test, ys_test, "mus_test")
    return _dci_scores(x_tr, y_tr, x_te, y_te, backend)


@_as_metric("dci", dict(num_train=1000, num_test=500))
def metric_dci(dataset: Any, representation_function: Callable, num_train: int = 10000, num_test: int = 5000,
               batch_size: int = 16, boost_mode: str = "sklearn", show_progress: bool = False, *,
               backend: str = "auto") -> dict:
    """disent's ``metric_dci``: DCI (Eastwood & Williams 2018) of boosted-tree importances.

    Draws ``num_train`` then ``num_test`` points (batches of ``batch_size``), fits one booster per
    factor on the training points and scores it on the test points. Returns
    ``dci.informativeness_train`` / ``dci.informativeness_test`` (mean per-factor accuracy),
    ``dci.disentanglement`` and ``dci.completeness``, computed by :func:`fastdci.dci` with the
    booster settings of scikit-learn's ``GradientBoostingClassifier()`` (see the module
    docstring for how they differ from disent's). ``show_progress`` is accepted and ignored;
    ``backend`` (a fastdci addition) chooses the booster's device.
    """
    m = "metric_dci"
    _check_boost_mode(boost_mode, m)
    data.check_dataset(dataset, "codes", m)
    bs = data.check_count(m, "batch_size", batch_size)
    x_tr, y_tr = data.codes(dataset, representation_function, data.check_count(m, "num_train", num_train), bs, m)
    x_te, y_te = data.codes(dataset, representation_function, data.check_count(m, "num_test", num_test), bs, m)
    return _dci_scores(x_tr, y_tr, x_te, y_te, backend)


# ------------------------------------------------------------------------------ MIG
def _mig_scores(x, y, backend: str) -> dict:
    from .. import mig

    return {"mig.discrete_score": mig(x, y, n_bins=20, backend=backend).score}


def _compute_mig(mus_train: Any, ys_train: Any, *, backend: str = "auto") -> dict:
    """disent's ``_mig._compute_mig`` on codes-first arrays: ``{"mig.discrete_score": ...}``."""
    return _mig_scores(*_codes_first(mus_train, ys_train, "mus_train"), backend)


@_as_metric("mig", dict(num_train=2000))
def metric_mig(dataset: Any, representation_function: Callable, num_train: int = 10000, batch_size: int = 16, *,
               backend: str = "auto") -> dict:
    """disent's ``metric_mig``: the Mutual Information Gap (Chen et al. 2018).

    Draws ``num_train`` points, discretises each latent into 20 equal-width bins between its
    minimum and maximum, and returns ``mig.discrete_score``: the mean over factors of the gap
    between the two largest mutual informations with a latent, divided by the factor's
    entropy (:func:`fastdci.mig`, equal to disent's to floating-point precision).
    """
    m = "metric_mig"
    data.check_dataset(dataset, "codes", m)
    x, y = data.codes(dataset, representation_function, data.check_count(m, "num_train", num_train, low=2),
                      data.check_count(m, "batch_size", batch_size), m)
    return _mig_scores(x, y, backend)


# ------------------------------------------------------------------------------ SAP
def _sap_scores(x_tr, y_tr, x_te, y_te, continuous_factors: bool) -> dict:
    from .. import sap

    if continuous_factors:
        return {"sap.score": sap(x_tr, y_tr.astype(np.float64), continuous=True).score}
    score = sap(x_tr, y_tr, x_te, y_te).score
    data.skip_global_draws(x_tr.shape[1] * y_tr.shape[1])
    return {"sap.score": score}


def _compute_sap(mus: Any, ys: Any, mus_test: Any, ys_test: Any, continuous_factors: bool) -> dict:
    """disent's ``_sap._compute_sap`` on codes-first arrays: ``{"sap.score": ...}``."""
    x_tr, y_tr = _codes_first(mus, ys, "mus")
    x_te, y_te = _codes_first(mus_test, ys_test, "mus_test")
    return _sap_scores(x_tr, y_tr, x_te, y_te, bool(continuous_factors))


@_as_metric("sap", dict(num_train=2000, num_test=1000))
def metric_sap(dataset: Any, representation_function: Callable, num_train: int = 10000, num_test: int = 5000,
               batch_size: int = 16, continuous_factors: bool = False) -> dict:
    """disent's ``metric_sap``: the Separated Attribute Predictability (Kumar et al. 2018).

    Draws ``num_train`` then ``num_test`` points. Discrete factors: for each (latent, factor) a
    one-feature ``LinearSVC(C=0.01, class_weight="balanced")`` trained on the training points is
    scored by test accuracy; continuous factors: the squared correlation on the training
    points (the test points are drawn all the same, as disent does). Returns ``sap.score``,
    the mean over factors of the gap between the two best latents (:func:`fastdci.sap`).
    """
    m = "metric_sap"
    data.check_dataset(dataset, "codes", m)
    bs = data.check_count(m, "batch_size", batch_size)
    x_tr, y_tr = data.codes(dataset, representation_function, data.check_count(m, "num_train", num_train, 2), bs, m)
    x_te, y_te = data.codes(dataset, representation_function, data.check_count(m, "num_test", num_test), bs, m)
    return _sap_scores(x_tr, y_tr, x_te, y_te, bool(continuous_factors))


# ------------------------------------------------------------------------------ FactorVAE
@_as_metric("factor_vae", dict(num_train=700, num_eval=350, num_variance_estimate=1000))
def metric_factor_vae(dataset: Any, representation_function: Callable, batch_size: int = 64, num_train: int = 10000,
                      num_eval: int = 5000, num_variance_estimate: int = 10000, show_progress: bool = False) -> dict:
    """disent's ``metric_factor_vae``: the FactorVAE score (Kim & Mnih 2018).

    Estimates each latent's variance (ddof=1) on ``num_variance_estimate`` observations, then
    draws ``num_train`` and ``num_eval`` batches of ``batch_size`` points with one uniformly
    chosen factor fixed; each batch votes for the latent whose batch variance over its global
    variance is smallest. The majority-vote classifier maps each latent to its most voted
    factor. Returns ``factor_vae.train_accuracy``, ``factor_vae.eval_accuracy`` and
    ``factor_vae.num_active_dims`` (disent's: the number of latents, all of which it keeps).
    The votes and accuracies are fastdci's (``pick_latent`` kernel, majority-vote finalizer)
    on the drawn points. ``show_progress`` is accepted and ignored.
    """
    from ..kernels import interventions as kernels
    from ..metrics.interventions.variance import VoteStats, _factor_vae_finalize, _variance_votes

    m = "metric_factor_vae"
    data.check_dataset(dataset, "factor_vae", m)
    bs = data.check_count(m, "batch_size", batch_size, low=2)
    n_var = data.check_count(m, "num_variance_estimate", num_variance_estimate, low=2)
    n = (data.check_count(m, "num_train", num_train), data.check_count(m, "num_eval", num_eval))
    var_codes, phases = data.factor_vae_draws(dataset, representation_function, bs, n_var, n, m)
    K, L = data.num_factors(dataset.gt_data), var_codes.shape[1]
    global_var = np.var(var_codes.astype(np.float64), axis=0, ddof=1)
    active = global_var > 0  # disent's threshold 0 keeps every latent; a constant one cannot be divided by
    votes = []
    for codes, fixed in phases:
        if not active.any():
            votes.append(np.zeros((K, L), np.int64))
            continue
        pos = np.arange(codes.shape[0], dtype=np.int64).reshape(-1, bs)
        votes.append(_variance_votes(kernels.as_table(codes), pos, fixed, global_var, active, K, "min"))
    fields = dict(batch_size=bs, n_train=n[0], n_eval=n[1], threshold=0.0, n_variance_rows=n_var,
                  factor_names=tuple(f"f{k}" for k in range(K)), rows_per_value=(), skipped_values={},
                  n_rows=n_var + (n[0] + n[1]) * bs)
    res = _factor_vae_finalize(VoteStats(global_var, active, votes[0], votes[1], fields))
    return {"factor_vae.train_accuracy": res.train_accuracy, "factor_vae.eval_accuracy": res.eval_accuracy,
            "factor_vae.num_active_dims": L if active.any() else 0}


# ------------------------------------------------------------------------------ flatness
@_as_metric("flatness", dict(repeats=128))
def metric_flatness(dataset: Any, representation_function: Callable, repeats: int = 1024, batch_size: int = 64) -> dict:
    """disent's ``metric_flatness`` (Michlo et al.): how evenly and straight a traversal of each
    factor spreads through the representation.

    For each factor with more than one value, ``repeats`` traversals (all values of the factor,
    the others fixed at a random point) are encoded ``batch_size`` at a time; see
    :mod:`fastdci.compat._disent_flatness` for the width, delta and length of a traversal.
    Returns ``flatness.ave_flatness`` (L2 width over L1 length, the headline),
    ``flatness.ave_flatness_l1``, ``flatness.ave_flatness_l2`` and the average widths and
    lengths under both norms. Computed in NumPy here (fastdci's core has no flatness).
    """
    from ._disent_flatness import flatness_scores, traversal_measures

    m = "metric_flatness"
    data.check_dataset(dataset, "flatness", m)
    repeats = data.check_count(m, "repeats", repeats)
    bs = data.check_count(m, "batch_size", batch_size)
    sizes = data.factor_sizes(dataset.gt_data)
    if np.any(sizes < 1):
        raise InvalidInputError(f"{m}: gt_data.factor_sizes must all be >= 1; got {sizes.tolist()}.")
    measures = []
    for k, size in enumerate(sizes):
        if size == 1:
            dataset.dataset_sample_batch(1, mode="input")  # disent draws one point here (to find the device)
            measures.append(None)
            continue
        measures.append(traversal_measures(data.traversal_codes(dataset, representation_function, k, repeats, bs, m)))
    return flatness_scores(measures, sizes)
