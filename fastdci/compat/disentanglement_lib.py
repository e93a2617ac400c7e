"""Drop-in replacements for disentanglement_lib's metric functions, computed by fastdci.

disentanglement_lib lays its arrays out codes-first: ``mus`` is ``(num_codes, num_points)``
and ``ys`` is ``(num_factors, num_points)``. The functions here take that layout, return
the same dicts with the same keys, and compute with fastdci (all rows, batched, Numba/torch),
so existing evaluation code can switch by changing an import::

    # from disentanglement_lib.evaluation.metrics import mig, dci
    from fastdci.compat import disentanglement_lib as dlib
    dlib._compute_mig(mus_train, ys_train)          # {"discrete_mig": ...}
    dlib.compute_dci(ground_truth_data, representation_function, random_state)

Both array-level functions (``_compute_mig``, ``_compute_dci``, ``_compute_sap``,
``discrete_mutual_info``, ``discrete_entropy``, ``histogram_discretize``, ``modularity``,
``explicitness_per_factor``) and the ground-truth-data ones (``compute_mig``,
``compute_dci``, ``compute_sap``, ``compute_modularity_explicitness``) are provided; the
latter draw points exactly as disentanglement_lib's ``utils.generate_batch_factor_code``.

Differences: ``_compute_dci`` boosts with fastdci's histogram gradient boosting (depth 3,
100 rounds, learning rate 0.1, as scikit-learn's ``GradientBoostingClassifier()``) and the
current scikit-learn importance rule (``importance="global"``); D and C track scikit-learn's
within the tolerance stated in :func:`fastdci.dci`, not bit for bit (scikit-learn's boosting
is exact-split and draws from NumPy's global RNG). MIG, SAP, modularity and the
mutual-information helpers are exact.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import InvalidInputError

__all__ = [
    "_compute_dci",
    "_compute_mig",
    "_compute_sap",
    "compute_dci",
    "compute_mig",
    "compute_modularity_explicitness",
    "compute_sap",
    "discrete_entropy",
    "discrete_mutual_info",
    "explicitness_per_factor",
    "generate_batch_factor_code",
    "histogram_discretize",
    "modularity",
]


def _points_first(mus: Any, ys: Any, what: str = "mus"):
    """(codes, points) + (factors, points) -> (points, codes) float, (points, factors) int classes."""
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
    return mus.T, _relabel(ys.T)


def _relabel(factors: np.ndarray) -> np.ndarray:
    """Map each factor's values to 0..n-1 (disentanglement_lib accepts any discrete labels)."""
    out = np.empty(factors.shape, dtype=np.int64)
    for k in range(factors.shape[1]):
        _, out[:, k] = np.unique(factors[:, k], return_inverse=True)
    return out


def _relabel_pair(ys_train: np.ndarray, ys_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = _relabel(np.concatenate([ys_train, ys_test], axis=0))
    return both[: len(ys_train)], both[len(ys_train):]


# ------------------------------------------------------------------------------ utils
def histogram_discretize(target: Any, num_bins: int = 20) -> np.ndarray:
    """disentanglement_lib's ``utils._histogram_discretize``: labels 1..num_bins per code row."""
    from ..kernels import cpu

    x = np.ascontiguousarray(np.asarray(target).T)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    mins, maxs, _ = cpu.minmax_columns(x)
    edges = cpu.uniform_edges(mins, maxs, int(num_bins), x.dtype)
    return cpu.discretize(x, edges).T.astype(np.int64) + 1


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bincount(a * (b.max() + 1) + b, minlength=(a.max() + 1) * (b.max() + 1)).reshape(a.max() + 1, -1)


def discrete_entropy(ys: Any) -> np.ndarray:
    """Entropy (nats) of each discrete factor row of ``ys`` (num_factors, num_points)."""
    from ..metrics.information import _entropy as ent

    ys = _relabel(np.asarray(ys).T)
    return np.array([ent.entropy_from_counts(np.bincount(ys[:, k])) for k in range(ys.shape[1])])


def discrete_mutual_info(mus: Any, ys: Any) -> np.ndarray:
    """MI (nats) between each discretised code row of ``mus`` and each factor row of ``ys``.

    ``mus`` must already be discrete (disentanglement_lib discretises first); the result is
    ``(num_codes, num_factors)``.
    """
    from ..metrics.information import _entropy as ent

    codes = _relabel(np.asarray(mus).T)
    factors = _relabel(np.asarray(ys).T)
    return np.array([[ent.mutual_info_from_counts(_contingency(codes[:, i], factors[:, j]))
                      for j in range(factors.shape[1])] for i in range(codes.shape[1])])


def modularity(mutual_information: Any) -> float:
    """disentanglement_lib's ``modularity_explicitness.modularity`` from an MI matrix (codes x factors).

    A code with no information (an all-zero row) scores 0 instead of disentanglement_lib's 0/0.
    """
    m = np.asarray(mutual_information, dtype=float)
    sq = np.square(m)
    mx = sq.max(axis=1)
    num = sq.sum(axis=1) - mx
    den = mx * (sq.shape[1] - 1.0)
    informative = mx != 0
    delta = np.divide(num, den, out=np.zeros_like(num), where=informative)
    per = np.where(informative, 1.0 - delta, 0.0)
    return float(per.mean())


def explicitness_per_factor(mus_train: Any, y_train: Any, mus_test: Any, y_test: Any) -> tuple[float, float]:
    """Mean one-vs-rest ROC-AUC (train, test) of a logistic regression for one factor."""
    from .. import explicitness

    x_tr, x_te = np.asarray(mus_train).T, np.asarray(mus_test).T
    y_tr, y_te = _relabel_pair(np.asarray(y_train).reshape(-1, 1), np.asarray(y_test).reshape(-1, 1))
    res = explicitness(x_tr, y_tr, x_te, y_te)
    return float(res.per_factor_train[0]), float(res.per_factor_test[0])


# ------------------------------------------------------------------------------ array level
def _compute_mig(mus_train: Any, ys_train: Any) -> dict:
    """``mig._compute_mig``: ``{"discrete_mig": float}`` (20-bin histogram discretizer)."""
    from .. import mig

    x, y = _points_first(mus_train, ys_train, "mus_train")
    return {"discrete_mig": mig(x, y, n_bins=20).score}


def _compute_dci(mus_train: Any, ys_train: Any, mus_test: Any, ys_test: Any) -> dict:
    """``dci._compute_dci``: informativeness_train/test, disentanglement, completeness."""
    from .. import dci

    x_tr, _ = _points_first(mus_train, ys_train, "mus_train")
    x_te, _ = _points_first(mus_test, ys_test, "mus_test")
    y_tr, y_te = _relabel_pair(np.asarray(ys_train).T, np.asarray(ys_test).T)
    res = dci(x_tr, y_tr, x_te, y_te, regressor="gbt", n_rounds=100, learning_rate=0.1, max_depth=3,
              importance="global")
    return {
        "informativeness_train": res.informativeness_train,
        "informativeness_test": res.informativeness_test,
        "disentanglement": res.disentanglement,
        "completeness": res.completeness,
    }


def _compute_sap(mus: Any, ys: Any, mus_test: Any, ys_test: Any, continuous_factors: bool) -> dict:
    """``sap_score._compute_sap``: ``{"SAP_score": float}``."""
    from .. import sap

    x_tr, _ = _points_first(mus, ys, "mus")
    x_te, _ = _points_first(mus_test, ys_test, "mus_test")
    if continuous_factors:
        y_tr, y_te = np.asarray(ys).T, np.asarray(ys_test).T
    else:
        y_tr, y_te = _relabel_pair(np.asarray(ys).T, np.asarray(ys_test).T)
    return {"SAP_score": sap(x_tr, y_tr, x_te, y_te, continuous=bool(continuous_factors)).score}


# ------------------------------------------------------------------------------ ground-truth data
def generate_batch_factor_code(ground_truth_data, representation_function: Callable, num_points: int,
                               random_state: np.random.RandomState, batch_size: int):
    """disentanglement_lib's ``utils.generate_batch_factor_code``: (codes x points, factors x points)."""
    representations, factors = None, None
    i = 0
    while i < num_points:
        n = min(num_points - i, batch_size)
        f = ground_truth_data.sample_factors(n, random_state)
        obs = ground_truth_data.sample_observations_from_factors(f, random_state)
        r = np.asarray(representation_function(obs))
        representations = r if representations is None else np.vstack((representations, r))
        factors = f if factors is None else np.vstack((factors, f))
        i += n
    return np.transpose(representations), np.transpose(factors)


def _train_test_codes(ground_truth_data, representation_function, random_state, num_train, num_test, batch_size):
    """Train points then test points, drawn in that order from one RandomState (as disentanglement_lib)."""
    mus_train, ys_train = generate_batch_factor_code(ground_truth_data, representation_function, num_train,
                                                     random_state, batch_size)
    mus_test, ys_test = generate_batch_factor_code(ground_truth_data, representation_function, num_test,
                                                   random_state, batch_size)
    return mus_train, ys_train, mus_test, ys_test


def compute_mig(ground_truth_data, representation_function, random_state, artifact_dir=None,
                num_train: int = 10000, batch_size: int = 16) -> dict:
    """``mig.compute_mig`` with disentanglement_lib's defaults."""
    del artifact_dir
    mus, ys = generate_batch_factor_code(ground_truth_data, representation_function, num_train, random_state,
                                         batch_size)
    return _compute_mig(mus, ys)


def compute_dci(ground_truth_data, representation_function, random_state, artifact_dir=None,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16) -> dict:
    """``dci.compute_dci`` with disentanglement_lib's defaults."""
    del artifact_dir
    return _compute_dci(*_train_test_codes(ground_truth_data, representation_function, random_state, num_train,
                                           num_test, batch_size))


def compute_sap(ground_truth_data, representation_function, random_state, artifact_dir=None,
                num_train: int = 10000, num_test: int = 5000, batch_size: int = 16,
                continuous_factors: bool = False) -> dict:
    """``sap_score.compute_sap`` with disentanglement_lib's defaults."""
    del artifact_dir
    codes = _train_test_codes(ground_truth_data, representation_function, random_state, num_train, num_test,
                              batch_size)
    return _compute_sap(*codes, continuous_factors)


def compute_modularity_explicitness(ground_truth_data, representation_function, random_state, artifact_dir=None,
                                    num_train: int = 10000, num_test: int = 5000, batch_size: int = 16) -> dict:
    """``modularity_explicitness.compute_modularity_explicitness`` with disentanglement_lib's defaults."""
    from .. import explicitness

    del artifact_dir
    mus_train, ys_train, mus_test, ys_test = _train_test_codes(ground_truth_data, representation_function,
                                                               random_state, num_train, num_test, batch_size)
    discretized = histogram_discretize(mus_train, 20)
    mi = discrete_mutual_info(discretized, ys_train)
    x_tr, x_te = np.asarray(mus_train).T, np.asarray(mus_test).T
    y_tr, y_te = _relabel_pair(np.asarray(ys_train).T, np.asarray(ys_test).T)
    res = explicitness(x_tr, y_tr, x_te, y_te)
    return {
        "modularity_score": modularity(mi),
        "explicitness_score_train": res.explicitness_train,
        "explicitness_score_test": res.explicitness_test,
    }
