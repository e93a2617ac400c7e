"""disentanglement_lib's ``evaluation.metrics.utils``, codes-first, computed by fastdci.

``histogram_discretize`` (also ``_histogram_discretize``), ``make_discretizer``,
``discrete_mutual_info``, ``discrete_entropy``, ``split_train_test``, ``normalize_data``,
``obtain_representation`` and ``generate_batch_factor_code`` take and return what the
reference's functions do. ``make_discretizer`` takes the settings a gin file binds
(``num_bins``, ``discretizer_fn``) as keywords, with the reference configs' defaults.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import InvalidInputError
from ._arrays import as_codes, draw_codes, relabel

__all__ = [
    "discrete_entropy",
    "discrete_mutual_info",
    "generate_batch_factor_code",
    "histogram_discretize",
    "make_discretizer",
    "normalize_data",
    "obtain_representation",
    "split_train_test",
]

DEFAULT_NUM_BINS = 20
"""``discretizer.num_bins`` of every metric config of disentanglement_lib's studies."""


def histogram_discretize(target: Any, num_bins: int = DEFAULT_NUM_BINS) -> np.ndarray:
    """``utils._histogram_discretize``: per code row, labels 1..num_bins of equal-width bins."""
    from ...metrics.unsupervised import binned

    return binned(np.asarray(target).T, int(num_bins)).T + 1


_histogram_discretize = histogram_discretize


def make_discretizer(target: Any, num_bins: int = DEFAULT_NUM_BINS,
                     discretizer_fn: Callable | None = None) -> np.ndarray:
    """``utils.make_discretizer``: ``discretizer_fn(target, num_bins)`` (default: the histogram one)."""
    fn = histogram_discretize if discretizer_fn is None else discretizer_fn
    if not callable(fn):
        raise InvalidInputError(f"discretizer_fn must be a function (target, num_bins) -> labels; got {fn!r}.")
    return np.asarray(fn(target, num_bins))


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    nb = int(b.max()) + 1
    return np.bincount(a * nb + b, minlength=(int(a.max()) + 1) * nb).reshape(-1, nb)


def discrete_mutual_info(mus: Any, ys: Any) -> np.ndarray:
    """MI (nats) between each discrete code row of ``mus`` and each factor row of ``ys``.

    ``(num_codes, num_factors)``, as scikit-learn's ``mutual_info_score`` per pair; ``mus``
    must already be discrete (labels of any kind).
    """
    from ...metrics.information import _entropy as ent

    mus, ys = np.asarray(mus), np.asarray(ys)
    if mus.ndim != 2 or ys.ndim != 2 or mus.shape[1] != ys.shape[1]:
        raise InvalidInputError(
            f"mus and ys must be (num_codes, num_points) and (num_factors, num_points); got {mus.shape} and {ys.shape}."
        )
    codes, factors = relabel(mus.T), relabel(ys.T)
    return np.array([[ent.mutual_info_from_counts(_contingency(codes[:, i], factors[:, j]))
                      for j in range(factors.shape[1])] for i in range(codes.shape[1])]).reshape(
        codes.shape[1], factors.shape[1])


def discrete_entropy(ys: Any) -> np.ndarray:
    """Entropy (nats) of each discrete factor row of ``ys`` (num_factors, num_points)."""
    from ...metrics.information import _entropy as ent

    ys = relabel(np.asarray(ys).T)
    return np.array([ent.entropy_from_counts(np.bincount(ys[:, k])) for k in range(ys.shape[1])])


def split_train_test(observations: Any, train_percentage: float) -> tuple[np.ndarray, np.ndarray]:
    """``utils.split_train_test``: the first ``ceil(n * train_percentage)`` columns, then the rest."""
    observations = np.asarray(observations)
    if not 0.0 <= float(train_percentage) <= 1.0:
        raise InvalidInputError(f"train_percentage must be in [0, 1]; got {train_percentage!r}.")
    n_train = int(np.ceil(observations.shape[1] * train_percentage))
    return observations[:, :n_train], observations[:, n_train:]


def normalize_data(data: Any, mean: Any = None, stddev: Any = None):
    """``utils.normalize_data``: (data - mean) / stddev per code row; returns (data, mean, stddev)."""
    data = np.asarray(data, dtype=np.float64)
    if mean is None:
        mean = np.mean(data, axis=1)
    if stddev is None:
        stddev = np.std(data, axis=1)
    return (data - mean[:, np.newaxis]) / stddev[:, np.newaxis], mean, stddev


def obtain_representation(observations: Any, representation_function: Callable, batch_size: int) -> np.ndarray:
    """``utils.obtain_representation``: codes of ``observations`` in batches, codes-first."""
    observations = np.asarray(observations) if not hasattr(observations, "shape") else observations
    n = observations.shape[0]
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive integer; got {batch_size!r}.")
    parts = [as_codes(representation_function(observations[i:i + batch_size]), min(batch_size, n - i))
             for i in range(0, n, batch_size)]
    return np.concatenate(parts, axis=0).T


def generate_batch_factor_code(ground_truth_data, representation_function: Callable, num_points: int,
                               random_state, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``utils.generate_batch_factor_code``: (codes x points, factors x points), the reference's points."""
    return draw_codes(ground_truth_data, representation_function, num_points, random_state, batch_size)
