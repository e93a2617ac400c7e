"""disentanglement_lib's metric entry points on a ``GroundTruthData``, computed by fastdci.

Every ``compute_*(ground_truth_data, representation_function, random_state,
artifact_dir=None, ...)`` takes the reference's arguments with the defaults of its study
configs (``num_train=10000``, ``num_test``/``num_eval=5000``, ``batch_size`` 16 or 64, 20
histogram bins), accepts a legacy ``np.random.RandomState`` (or an int seed for one) and draws
the reference's points in the reference's order, so the same ``random_state`` gives the same
points. The representation function is called on larger batches than ``batch_size`` (the
points are the same). ``ground_truth_data`` needs ``num_factors``, ``sample_factors(n, rs)``
and ``sample_observations_from_factors(factors, rs)`` (and uses ``sample`` /
``sample_observations`` where it has them). The ``*_on_fixed_data`` variants take
observations and codes-first labels.

Differences from the reference, beyond those of :mod:`.metrics`:

* ``compute_beta_vae_sklearn`` fits scikit-learn's ``LogisticRegression()`` objective
  (C = 1, multinomial) with fastdci's solver to convergence; scikit-learn stops after 100
  L-BFGS iterations, so accuracies can differ where its fit had not converged.
* ``num_active_dims`` counts the active codes. The reference returns the length of its
  boolean mask (every code) for FactorVAE and the sum of the active codes' values for IRS.
* ``compute_modularity_explicitness`` leaves a constant code at 0 when it normalises the
  codes; the reference divides 0 by 0 there and its logistic regression refuses the NaNs.
* ``compute_factor_vae`` prunes codes with standard deviation below ``prune_threshold``:
  0.0 is the code's default (gin ``prune_dims.threshold``); the studies bind 0.05. A code of
  zero variance is never active: with threshold 0 the reference keeps it and divides 0 by 0
  (with every code constant it then scores about 1 / num_factors; fastdci scores 0).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...errors import InvalidInputError
from ._arrays import draw_codes, legacy_random_state, relabel_pair
from ._draws import beta_vae_points, factor_vae_votes
from .metrics import (
    _compute_dci,
    _compute_mig,
    _compute_sap,
    _drop_constant_dims,
    modularity,
    scalable_disentanglement_score,
)
from .utils import (
    DEFAULT_NUM_BINS,
    discrete_mutual_info,
    make_discretizer,
    normalize_data,
    obtain_representation,
    split_train_test,
)

__all__ = [
    "compute_beta_vae_sklearn",
    "compute_dci",
    "compute_dci_on_fixed_data",
    "compute_factor_vae",
    "compute_irs",
    "compute_mig",
    "compute_mig_on_fixed_data",
    "compute_modularity_explicitness",
    "compute_sap",
    "compute_sap_on_fixed_data",
]


def _train_test(gtd, fn, random_state, num_train, num_test, batch_size):
    rs = legacy_random_state(random_state)
    mus_train, ys_train = draw_codes(gtd, fn, num_train, rs, batch_size)
    mus_test, ys_test = draw_codes(gtd, fn, num_test, rs, batch_size)
    return mus_train, ys_train, mus_test, ys_test


def compute_mig(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                num_train: int = 10000, batch_size: int = 16, num_bins: int = DEFAULT_NUM_BINS,
                discretizer_fn: Callable | None = None) -> dict:
    """``mig.compute_mig``: ``{"discrete_mig"}`` (``num_bins`` / ``discretizer_fn``: gin's ``discretizer``)."""
    del artifact_dir
    mus, ys = draw_codes(ground_truth_data, representation_function, num_train, random_state, batch_size)
    return _compute_mig(mus, ys, num_bins, discretizer_fn)


def compute_dci(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16) -> dict:
    """``dci.compute_dci``: informativeness_train/test, disentanglement, completeness."""
    del artifact_dir
    return _compute_dci(*_train_test(ground_truth_data, representation_function, random_state, num_train,
                                     num_test, batch_size))


def compute_sap(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                continuous_factors: bool = False) -> dict:
    """``sap_score.compute_sap``: ``{"SAP_score"}``."""
    del artifact_dir
    codes = _train_test(ground_truth_data, representation_function, random_state, num_train, num_test, batch_size)
    return _compute_sap(*codes, bool(continuous_factors))


def _modularity_explicitness(mus_train, ys_train, mus_test, ys_test, num_bins, discretizer_fn) -> dict:
    from ... import explicitness

    mi = discrete_mutual_info(make_discretizer(mus_train, num_bins, discretizer_fn), ys_train)
    mus_train = np.asarray(mus_train, dtype=np.float64)
    std = np.std(mus_train, axis=1)
    std = np.where(std > 0, std, 1.0)  # a constant code stays 0 (the reference divides 0 by 0)
    train_norm, mean, std = normalize_data(mus_train, stddev=std)
    test_norm, _, _ = normalize_data(mus_test, mean, std)
    y_tr, y_te = relabel_pair(np.asarray(ys_train).T, np.asarray(ys_test).T)
    res = explicitness(train_norm.T, y_tr, test_norm.T, y_te)
    return {
        "modularity_score": modularity(mi),
        "explicitness_score_train": res.explicitness_train,
        "explicitness_score_test": res.explicitness_test,
    }


def compute_modularity_explicitness(ground_truth_data, representation_function: Callable, random_state,
                                    artifact_dir=None, num_train: int = 10000, num_test: int = 5000,
                                    batch_size: int = 16, num_bins: int = DEFAULT_NUM_BINS,
                                    discretizer_fn: Callable | None = None) -> dict:
    """``modularity_explicitness.compute_modularity_explicitness``: modularity_score,
    explicitness_score_train/test (codes normalised by the training mean and deviation)."""
    del artifact_dir
    codes = _train_test(ground_truth_data, representation_function, random_state, num_train, num_test, batch_size)
    return _modularity_explicitness(*codes, num_bins, discretizer_fn)


# ------------------------------------------------------------------------------ interventions
def compute_beta_vae_sklearn(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                             batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000) -> dict:
    """``beta_vae.compute_beta_vae_sklearn``: train_accuracy, eval_accuracy."""
    from ...regressors.logistic import MultinomialLogistic

    del artifact_dir
    X, y, Xe, ye = beta_vae_points(ground_truth_data, representation_function, random_state, batch_size, num_train,
                                   num_eval)
    if np.unique(y).size > 1:
        model = MultinomialLogistic(C=1.0, standardize=False, device="cpu").fit(X, y[:, None])
        train_acc = float(model.score(X, y[:, None])[0])
        eval_acc = float(model.score(Xe, ye[:, None])[0])
    else:
        train_acc, eval_acc = 1.0, float(np.mean(ye == y[0]))
    return {"train_accuracy": train_acc, "eval_accuracy": eval_acc}


def compute_factor_vae(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                       batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                       num_variance_estimate: int = 10000, prune_threshold: float = 0.0) -> dict:
    """``factor_vae.compute_factor_vae``: train_accuracy, eval_accuracy, num_active_dims."""
    from ...metrics.interventions.variance import _vote_accuracies

    del artifact_dir
    train_votes, eval_votes, _, active = factor_vae_votes(
        ground_truth_data, representation_function, random_state, batch_size, num_train, num_eval,
        num_variance_estimate, prune_threshold)
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    train_acc, eval_acc, _ = _vote_accuracies(train_votes, eval_votes)
    return {"train_accuracy": train_acc, "eval_accuracy": eval_acc, "num_active_dims": int(active.sum())}


def compute_irs(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                diff_quantile: float = 0.99, num_train: int = 10000, batch_size: int = 16,
                num_bins: int = DEFAULT_NUM_BINS, discretizer_fn: Callable | None = None) -> dict:
    """``irs.compute_irs``: IRS, num_active_dims (factors discretised by gin's ``discretizer``)."""
    del artifact_dir
    mus, ys = draw_codes(ground_truth_data, representation_function, num_train, random_state, batch_size)
    ys_discrete = make_discretizer(ys, num_bins, discretizer_fn)
    active_mus = _drop_constant_dims(mus)
    if not active_mus.any():
        score = 0.0
    else:
        score = scalable_disentanglement_score(ys_discrete.T, active_mus.T, diff_quantile)["avg_score"]
    return {"IRS": float(score), "num_active_dims": int(active_mus.shape[0])}


# ------------------------------------------------------------------------------ fixed data
def _fixed(observations, labels, representation_function, batch_size):
    mus = obtain_representation(observations, representation_function, batch_size)
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != mus.shape[1]:
        raise InvalidInputError(
            f"labels must be (num_factors, num_observations) = (K, {mus.shape[1]}); got {labels.shape}."
        )
    return mus, labels


def compute_mig_on_fixed_data(observations, labels, representation_function: Callable, batch_size: int = 100,
                              num_bins: int = DEFAULT_NUM_BINS, discretizer_fn: Callable | None = None) -> dict:
    """``mig.compute_mig_on_fixed_data``: ``{"discrete_mig"}``."""
    mus, labels = _fixed(observations, labels, representation_function, batch_size)
    return _compute_mig(mus, labels, num_bins, discretizer_fn)


def compute_dci_on_fixed_data(observations, labels, representation_function: Callable, train_percentage: float,
                              batch_size: int = 100) -> dict:
    """``dci.compute_dci_on_fixed_data``: the first ``train_percentage`` of points train."""
    mus, labels = _fixed(observations, labels, representation_function, batch_size)
    mus_train, mus_test = split_train_test(mus, train_percentage)
    ys_train, ys_test = split_train_test(labels, train_percentage)
    return _compute_dci(mus_train, ys_train, mus_test, ys_test)


def compute_sap_on_fixed_data(observations, labels, representation_function: Callable, train_percentage: float,
                              continuous_factors: bool, batch_size: int = 100) -> dict:
    """``sap_score.compute_sap_on_fixed_data``: the first ``train_percentage`` of points train."""
    mus, labels = _fixed(observations, labels, representation_function, batch_size)
    mus_train, mus_test = split_train_test(mus, train_percentage)
    ys_train, ys_test = split_train_test(labels, train_percentage)
    return _compute_sap(mus_train, ys_train, mus_test, ys_test, bool(continuous_factors))
