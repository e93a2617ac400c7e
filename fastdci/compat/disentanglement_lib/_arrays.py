"""Layout, labels and random states of the disentanglement_lib adapter, and its point drawing.

disentanglement_lib lays its arrays out codes-first (``mus`` is ``(num_codes, num_points)``,
``ys`` is ``(num_factors, num_points)``) and draws every point from a ``GroundTruthData``
with a legacy ``np.random.RandomState``. :func:`draw_codes` draws exactly the reference's
points, in its order, but calls the representation function on larger batches.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...errors import InvalidInputError

#: observations gathered before one call of the representation function
REPRESENTATION_BATCH = 4096


def points_first(mus: Any, ys: Any, what: str = "mus") -> tuple[np.ndarray, np.ndarray]:
    """(codes, points) + (factors, points) -> (points, codes) float, (points, factors) int classes."""
    mus, ys = check_pair(mus, ys, what)
    return np.ascontiguousarray(mus.T, dtype=np.float64), relabel(ys.T)


def check_pair(mus: Any, ys: Any, what: str = "mus") -> tuple[np.ndarray, np.ndarray]:
    mus = np.asarray(mus)
    ys = np.asarray(ys)
    if mus.ndim != 2 or ys.ndim != 2:
        raise InvalidInputError(
            f"{what} and ys must be 2-D in disentanglement_lib's layout (num_codes, num_points) and "
            f"(num_factors, num_points); got {mus.shape} and {ys.shape}."
        )
    if mus.shape[1] != ys.shape[1]:
        hint = " (they look points-first: use fastdci's own functions, or pass .T)" if mus.shape[0] == ys.shape[0] else ""
        raise InvalidInputError(
            f"{what} has {mus.shape[1]} points but ys has {ys.shape[1]}; both are (rows, num_points){hint}."
        )
    return mus, ys


def relabel(factors: np.ndarray) -> np.ndarray:
    """Map each column's values to 0..n-1 (disentanglement_lib accepts any discrete labels)."""
    factors = np.asarray(factors)
    out = np.empty(factors.shape, dtype=np.int64)
    for k in range(factors.shape[1]):
        _, out[:, k] = np.unique(factors[:, k], return_inverse=True)
    return out


def relabel_pair(ys_train: np.ndarray, ys_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`relabel` of points-first train and test labels with one mapping."""
    both = relabel(np.concatenate([ys_train, ys_test], axis=0))
    return both[: len(ys_train)], both[len(ys_train):]


def legacy_random_state(random_state: Any) -> np.random.RandomState:
    """disentanglement_lib's samplers call ``randint``: a RandomState, or an int seed for one."""
    if isinstance(random_state, np.random.RandomState):
        return random_state
    if random_state is None or (isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)):
        return np.random.RandomState(random_state)
    raise InvalidInputError(
        f"random_state must be a numpy RandomState (disentanglement_lib's samplers call its randint) or an "
        f"int seed; got {type(random_state).__name__}. Pass np.random.RandomState(0)."
    )


def as_codes(r: Any, n: int) -> np.ndarray:
    """The representation function's output for ``n`` observations as a (n, L) array."""
    try:
        from ...backend import to_numpy

        r = np.asarray(to_numpy(r))
    except Exception:
        r = np.asarray(r)
    if r.ndim != 2 or r.shape[0] != n:
        raise InvalidInputError(
            f"representation_function returned shape {r.shape} for {n} observations; it must return "
            f"(num_observations, num_codes)."
        )
    return r


class Deferred:
    """Observations gathered in drawing order; the representation is computed in big batches.

    ``add(obs)`` returns the slice the batch will occupy in :meth:`codes`.
    """

    def __init__(self, representation_function: Callable):
        self.fn = representation_function
        self.pending: list[np.ndarray] = []
        self.n_pending = 0
        self.done: list[np.ndarray] = []
        self.n = 0

    def add(self, observations: Any) -> slice:
        obs = np.asarray(observations)
        start = self.n
        self.pending.append(obs)
        self.n_pending += len(obs)
        self.n += len(obs)
        if self.n_pending >= REPRESENTATION_BATCH:
            self.flush()
        return slice(start, self.n)

    def flush(self) -> None:
        if self.pending:
            obs = np.concatenate(self.pending, axis=0)
            self.done.append(as_codes(self.fn(obs), len(obs)))
            self.pending, self.n_pending = [], 0

    def codes(self) -> np.ndarray:
        self.flush()
        return np.concatenate(self.done, axis=0) if self.done else np.zeros((0, 0))


def sample(ground_truth_data, n: int, random_state) -> tuple[np.ndarray, Any]:
    """``ground_truth_data.sample`` (factors, then observations of them), as the reference."""
    if hasattr(ground_truth_data, "sample"):
        return ground_truth_data.sample(n, random_state)
    factors = ground_truth_data.sample_factors(n, random_state)
    return factors, ground_truth_data.sample_observations_from_factors(factors, random_state)


def draw_codes(ground_truth_data, representation_function: Callable, num_points: int, random_state,
               batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """disentanglement_lib's ``generate_batch_factor_code``: (codes x points, factors x points).

    The same points as the reference (``batch_size`` factors, then their observations, per
    draw); the representation function sees up to :data:`REPRESENTATION_BATCH` observations
    per call.
    """
    if not isinstance(num_points, (int, np.integer)) or num_points < 1:
        raise InvalidInputError(f"num_points must be a positive integer; got {num_points!r}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive integer; got {batch_size!r}.")
    rs = legacy_random_state(random_state)
    deferred = Deferred(representation_function)
    factors = []
    i = 0
    while i < num_points:
        n = min(num_points - i, batch_size)
        f, obs = sample(ground_truth_data, n, rs)
        factors.append(np.asarray(f))
        deferred.add(obs)
        i += n
    return deferred.codes().T, np.concatenate(factors, axis=0).T
