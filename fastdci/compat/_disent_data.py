"""Points drawn from a disent-style dataset in disent's order, for :mod:`fastdci.compat.disent`.

The dataset is duck-typed: any object with the methods of disent's ``DisentDataset`` that a
metric calls (listed in :data:`NEEDS`) works; disent itself is not imported. Every draw goes
through the dataset's own methods, in the order and with the batch sizes disent's metrics
use, so the dataset's random state (NumPy's global one, for disent's datasets) yields the
same points as a run of disent's function from the same state.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..backend import to_numpy
from ..errors import InvalidInputError

__all__ = ["NEEDS", "check_count", "check_dataset", "codes", "factor_sizes", "factor_vae_draws",
           "numpy_codes", "num_factors", "skip_global_draws", "traversal_codes"]

NEEDS = {
    "codes": ("dataset_sample_batch_with_factors",),
    "factor_vae": ("dataset_sample_batch", "dataset_batch_from_factors", "gt_data.sample_factors"),
    "flatness": ("dataset_sample_batch", "dataset_batch_from_factors", "gt_data.factor_sizes",
                 "gt_data.sample_random_factor_traversal"),
}
"""What each kind of metric calls on the dataset (``gt_data.x``: ``dataset.gt_data.x``)."""


def check_dataset(dataset: Any, kind: str, metric: str) -> None:
    """Raise one line naming the first missing method when ``dataset`` lacks what ``kind`` calls."""
    for need in NEEDS[kind]:
        obj = dataset
        for part in need.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise InvalidInputError(
                    f"{metric}: the dataset ({type(dataset).__name__}) has no {need}; pass a "
                    f"disent.dataset.DisentDataset over ground-truth data, or an object with "
                    f"{', '.join(NEEDS[kind])}."
                )


def check_count(metric: str, name: str, value: Any, low: int = 1) -> int:
    """``value`` as an int >= ``low``, else one line naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidInputError(f"{metric}: {name} must be an integer >= {low}; got {value!r}.")
    return int(value)


def numpy_codes(z: Any, n: int, metric: str) -> np.ndarray:
    """The representation of ``n`` observations as a finite float NumPy array (n, L)."""
    z = to_numpy(z)
    if z.ndim != 2 or z.shape[0] != n:
        raise InvalidInputError(
            f"{metric}: representation_function returned shape {z.shape} for a batch of {n} observations; "
            f"it must return one row per observation, (batch, num_latents)."
        )
    if z.dtype.kind not in "fc":
        z = z.astype(np.float64)
    if not np.all(np.isfinite(z)):
        raise InvalidInputError(
            f"{metric}: representation_function returned NaN or infinite values; check the model "
            "(or drop the latents that diverged) before scoring it."
        )
    return z


def codes(dataset: Any, representation_function: Callable, num_points: int, batch_size: int,
          metric: str) -> tuple[np.ndarray, np.ndarray]:
    """disent's ``utils.generate_batch_factor_code``, points first: (num_points, L), (num_points, K).

    Batches of ``batch_size`` (the last one smaller) from
    ``dataset.dataset_sample_batch_with_factors(n, mode="input")``.
    """
    reps, facs = [], []
    i = 0
    while i < num_points:
        n = min(num_points - i, batch_size)
        obs, f = dataset.dataset_sample_batch_with_factors(n, mode="input")
        reps.append(numpy_codes(representation_function(obs), n, metric))
        f = np.asarray(to_numpy(f))
        if f.ndim != 2 or f.shape[0] != n:
            raise InvalidInputError(
                f"{metric}: dataset_sample_batch_with_factors returned factors of shape {f.shape} for {n} "
                "points; they must be (points, num_factors)."
            )
        facs.append(f)
        i += n
    return np.concatenate(reps, axis=0), np.concatenate(facs, axis=0).astype(np.int64)


def _encode_in_chunks(obs: Any, representation_function: Callable, chunk: int, metric: str) -> np.ndarray:
    """disent's ``utils.obtain_representation``, points first."""
    n = len(obs)
    return np.concatenate([numpy_codes(representation_function(obs[i:i + chunk]), min(chunk, n - i), metric)
                           for i in range(0, n, chunk)], axis=0)


def num_factors(gt: Any) -> int:
    return int(getattr(gt, "num_factors", None) or len(gt.factor_sizes))


def factor_sizes(gt: Any) -> np.ndarray:
    return np.asarray(gt.factor_sizes, dtype=np.int64).reshape(-1)


def factor_vae_draws(dataset: Any, representation_function: Callable, batch_size: int, num_variance: int,
                     num_points: tuple[int, int], metric: str):
    """disent's FactorVAE draws: the variance rows, then each phase's batches with one factor fixed.

    Returns ``(variance_codes (num_variance, L), [(codes (n*batch_size, L), fixed factor (n,)) per
    phase])``. The variance observations come from ``dataset.dataset_sample_batch`` and are encoded
    64 at a time; each batch draws its factor with ``np.random.randint(num_factors)`` (NumPy's
    global state, as disent), then ``gt_data.sample_factors(batch_size)`` with that factor set to
    the first row's value, encoded through ``dataset_batch_from_factors``.
    """
    gt = dataset.gt_data
    K = num_factors(gt)
    var_obs = dataset.dataset_sample_batch(num_variance, mode="input")
    var_codes = _encode_in_chunks(var_obs, representation_function, 64, metric)
    phases = []
    for n in num_points:
        fixed = np.empty(n, np.int64)
        reps = []
        for b in range(n):
            k = np.random.randint(K)
            f = np.array(gt.sample_factors(batch_size))
            f[:, k] = f[0, k]
            obs = dataset.dataset_batch_from_factors(f, mode="input")
            reps.append(numpy_codes(representation_function(obs), batch_size, metric))
            fixed[b] = k
        phases.append((np.concatenate(reps, axis=0), fixed))
    return var_codes, phases


def traversal_codes(dataset: Any, representation_function: Callable, f_idx: int, repeats: int, batch_size: int,
                    metric: str) -> np.ndarray:
    """(repeats, factor_size, L): each repeat a traversal of factor ``f_idx`` from a random base point.

    As disent's flatness: ``gt_data.sample_random_factor_traversal(f_idx=f_idx)`` per repeat,
    encoded ``batch_size`` rows at a time before the next traversal is drawn.
    """
    gt = dataset.gt_data
    out = []
    for _ in range(repeats):
        f = np.asarray(gt.sample_random_factor_traversal(f_idx=f_idx))
        out.append(np.concatenate([
            numpy_codes(representation_function(dataset.dataset_batch_from_factors(f[i:i + batch_size], mode="input")),
                        min(batch_size, len(f) - i), metric) for i in range(0, len(f), batch_size)], axis=0))
    return np.stack(out)


def skip_global_draws(n: int) -> None:
    """Advance NumPy's global random state by ``n`` draws of ``randint(0, 2**31 - 1)``.

    scikit-learn seeds every tree of a ``GradientBoostingClassifier()`` and every
    ``LinearSVC`` fit with one such draw from the global state when ``random_state`` is None,
    as disent's DCI and SAP leave it; skipping the same draws leaves the state where disent's
    call leaves it, so the next metric draws the same points.
    """
    if n > 0:
        np.random.randint(0, 2**31 - 1, size=int(n))
