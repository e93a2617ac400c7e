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
  0.0 is the code's default (gin ``prune_dims.threshold``); the studies bind 0.05.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import InvalidInputError
from ._arrays import Deferred, draw_codes, legacy_random_state, relabel_pair, sample
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
def _check_count(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise InvalidInputError(f"{name} must be a positive integer; got {v!r}.")
    return int(v)


def _beta_vae_draw(gtd, deferred: Deferred, batch_size: int, num_points: int, rs) -> tuple[np.ndarray, list]:
    labels = np.zeros(num_points, dtype=np.int64)
    pairs = []
    for i in range(num_points):
        index = rs.randint(gtd.num_factors)
        f1 = np.array(gtd.sample_factors(batch_size, rs))
        f2 = np.array(gtd.sample_factors(batch_size, rs))
        f2[:, index] = f1[:, index]
        s1 = deferred.add(gtd.sample_observations_from_factors(f1, rs))
        s2 = deferred.add(gtd.sample_observations_from_factors(f2, rs))
        labels[i] = index
        pairs.append((s1, s2))
    return labels, pairs


def _beta_vae_points(codes: np.ndarray, pairs: list) -> np.ndarray:
    return np.stack([np.mean(np.abs(codes[s1] - codes[s2]), axis=0) for s1, s2 in pairs])


def compute_beta_vae_sklearn(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                             batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000) -> dict:
    """``beta_vae.compute_beta_vae_sklearn``: train_accuracy, eval_accuracy."""
    from ...regressors.logistic import MultinomialLogistic

    del artifact_dir
    bs, n_tr, n_ev = (_check_count(k, v) for k, v in
                      (("batch_size", batch_size), ("num_train", num_train), ("num_eval", num_eval)))
    rs = legacy_random_state(random_state)
    deferred = Deferred(representation_function)
    train_labels, train_pairs = _beta_vae_draw(ground_truth_data, deferred, bs, n_tr, rs)
    eval_labels, eval_pairs = _beta_vae_draw(ground_truth_data, deferred, bs, n_ev, rs)
    codes = deferred.codes().astype(np.float64)
    X, Xe = _beta_vae_points(codes, train_pairs), _beta_vae_points(codes, eval_pairs)
    if np.unique(train_labels).size > 1:
        model = MultinomialLogistic(C=1.0, standardize=False, device="cpu").fit(X, train_labels[:, None])
        train_acc = float(model.score(X, train_labels[:, None])[0])
        eval_acc = float(model.score(Xe, eval_labels[:, None])[0])
    else:
        train_acc, eval_acc = 1.0, float(np.mean(eval_labels == train_labels[0]))
    return {"train_accuracy": train_acc, "eval_accuracy": eval_acc}


def _factor_vae_votes(codes, factor_ids, batch_size, global_var, active, n_factors) -> np.ndarray:
    z = codes.reshape(len(factor_ids), batch_size, -1)
    local = np.var(z, axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = local[:, active] / global_var[active]
    picked = np.argmin(ratio, axis=1)  # position among the active codes, as the reference
    votes = np.zeros((n_factors, codes.shape[1]), dtype=np.int64)
    np.add.at(votes, (factor_ids, picked), 1)
    return votes


def _factor_vae_draw(gtd, deferred: Deferred, batch_size: int, num_points: int, rs) -> np.ndarray:
    ids = np.zeros(num_points, dtype=np.int64)
    for i in range(num_points):
        k = rs.randint(gtd.num_factors)
        f = np.array(gtd.sample_factors(batch_size, rs))
        f[:, k] = f[0, k]
        deferred.add(gtd.sample_observations_from_factors(f, rs))
        ids[i] = k
    return ids


def compute_factor_vae(ground_truth_data, representation_function: Callable, random_state, artifact_dir=None,
                       batch_size: int = 64, num_train: int = 10000, num_eval: int = 5000,
                       num_variance_estimate: int = 10000, prune_threshold: float = 0.0) -> dict:
    """``factor_vae.compute_factor_vae``: train_accuracy, eval_accuracy, num_active_dims."""
    from ...metrics.interventions.variance import _vote_accuracies

    del artifact_dir
    bs, n_tr, n_ev, n_var = (_check_count(k, v) for k, v in (
        ("batch_size", batch_size), ("num_train", num_train), ("num_eval", num_eval),
        ("num_variance_estimate", num_variance_estimate)))
    if bs < 2:
        raise InvalidInputError("batch_size must be at least 2 (each point is a variance over a batch).")
    rs = legacy_random_state(random_state)
    if hasattr(ground_truth_data, "sample_observations"):
        observations = ground_truth_data.sample_observations(n_var, rs)
    else:
        observations = sample(ground_truth_data, n_var, rs)[1]
    global_var = np.var(obtain_representation(observations, representation_function, 64).T, axis=0, ddof=1)
    active = np.sqrt(global_var) >= prune_threshold
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    deferred = Deferred(representation_function)
    train_ids = _factor_vae_draw(ground_truth_data, deferred, bs, n_tr, rs)
    eval_ids = _factor_vae_draw(ground_truth_data, deferred, bs, n_ev, rs)
    codes = deferred.codes().astype(np.float64)
    K = int(ground_truth_data.num_factors)
    train_votes = _factor_vae_votes(codes[: n_tr * bs], train_ids, bs, global_var, active, K)
    eval_votes = _factor_vae_votes(codes[n_tr * bs:], eval_ids, bs, global_var, active, K)
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
