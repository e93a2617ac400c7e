"""The points of disentanglement_lib's BetaVAE and FactorVAE scores, drawn in its order.

Both loops make the reference's calls on ``ground_truth_data`` with the same
``RandomState`` in the same order (the fixed factor, then the batches of factors, then their
observations), and compute the codes of all observations afterwards in big batches.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import InvalidInputError
from ._arrays import Deferred, legacy_random_state, sample
from .utils import obtain_representation

__all__ = ["beta_vae_points", "factor_vae_votes"]


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


def _beta_vae_features(codes: np.ndarray, pairs: list) -> np.ndarray:
    """Per point, the mean absolute difference of its two batches' codes."""
    if not pairs:
        return np.zeros((0, codes.shape[1]))
    first, bs = pairs[0][0].start, pairs[0][0].stop - pairs[0][0].start
    z = codes[first:first + 2 * bs * len(pairs)].reshape(len(pairs), 2, bs, -1)  # drawn pair by pair
    return np.mean(np.abs(z[:, 0] - z[:, 1]), axis=1)


def _factor_vae_votes(codes, factor_ids, batch_size, global_var, active, n_factors) -> np.ndarray:
    z = codes.reshape(len(factor_ids), batch_size, -1)
    local = np.var(z, axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = local[:, active] / global_var[active]
    picked = np.flatnonzero(active)[np.argmin(ratio, axis=1)]  # the first of equal ratios
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


def beta_vae_points(gtd, representation_function: Callable, random_state: Any, batch_size: int, num_train: int,
                    num_eval: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train points, train labels, eval points, eval labels): per point, the mean absolute
    difference of the codes of two batches sharing one factor's value; the label is that factor."""
    bs, n_tr, n_ev = (_check_count(k, v) for k, v in
                      (("batch_size", batch_size), ("num_train", num_train), ("num_eval", num_eval)))
    rs = legacy_random_state(random_state)
    deferred = Deferred(representation_function)
    train_labels, train_pairs = _beta_vae_draw(gtd, deferred, bs, n_tr, rs)
    eval_labels, eval_pairs = _beta_vae_draw(gtd, deferred, bs, n_ev, rs)
    codes = deferred.codes().astype(np.float64)
    return (_beta_vae_features(codes, train_pairs), train_labels, _beta_vae_features(codes, eval_pairs),
            eval_labels)


def factor_vae_votes(gtd, representation_function: Callable, random_state: Any, batch_size: int, num_train: int,
                     num_eval: int, num_variance_estimate: int, threshold: float):
    """(train votes, eval votes, global variances, active): ``votes[k, l]`` counts the batches
    with factor ``k`` fixed whose active code ``l`` has the least variance relative to its
    global variance (ddof 1); a code is active when its standard deviation reaches
    ``threshold`` and is not 0."""
    bs, n_tr, n_ev, n_var = (_check_count(k, v) for k, v in (
        ("batch_size", batch_size), ("num_train", num_train), ("num_eval", num_eval),
        ("num_variance_estimate", num_variance_estimate)))
    if bs < 2:
        raise InvalidInputError("batch_size must be at least 2 (each point is a variance over a batch).")
    rs = legacy_random_state(random_state)
    if hasattr(gtd, "sample_observations"):
        observations = gtd.sample_observations(n_var, rs)
    else:
        observations = sample(gtd, n_var, rs)[1]
    global_var = np.var(obtain_representation(observations, representation_function, 64).T, axis=0, ddof=1)
    active = (np.sqrt(global_var) >= threshold) & (global_var > 0)
    K, L = int(gtd.num_factors), global_var.shape[0]
    if not active.any():
        empty = np.zeros((K, L), np.int64)
        return empty, empty.copy(), global_var, active
    deferred = Deferred(representation_function)
    train_ids = _factor_vae_draw(gtd, deferred, bs, n_tr, rs)
    eval_ids = _factor_vae_draw(gtd, deferred, bs, n_ev, rs)
    codes = deferred.codes().astype(np.float64)
    train_votes = _factor_vae_votes(codes[: n_tr * bs], train_ids, bs, global_var, active, K)
    eval_votes = _factor_vae_votes(codes[n_tr * bs:], eval_ids, bs, global_var, active, K)
    return train_votes, eval_votes, global_var, active
