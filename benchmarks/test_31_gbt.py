"""Gradient-boosted trees for DCI at disentanglement_lib's sizes, beside the recipe and LightGBM.

One group, ``gbt-dlib-size``: fit a multinomial booster for each of the five dSprites factors
(sizes 3, 6, 40, 32, 32; 113 class-trees per round) on ``N_TRAIN`` rows of ``N_LATENTS``
latents, ``N_ROUNDS`` rounds, learning rate 0.1:

- ``fastdci-depth1`` / ``fastdci-depth3``: :class:`fastdci.regressors.GradientBoostedStumps`
  (all factors at once, 255 bins) at ``max_depth`` 1 and 3.
- ``dlib-recipe``: disentanglement_lib's ``dci._compute_importance_gbt``: one
  ``sklearn.ensemble.GradientBoostingClassifier()`` per factor (depth 3, exact splits).
- ``lightgbm-depth1`` / ``lightgbm-depth3``: one ``lightgbm.LGBMClassifier`` per factor with
  the same rounds, learning rate, depth (``num_leaves = 2**depth``), 255 bins and
  ``min_child_samples=1`` (scikit-learn's leaf minimum).

Input: disentanglement_lib's reference "aligned" code when ``../shared/reference`` is present
(the same arrays the reference DCI numbers were computed on), else the same construction
generated here. Each benchmark records its process CPU seconds (``extra_info["cpu_s"]``, the
issue's unit: all threads of this process) and, where the importances are fastdci's or the
recipe's, D and C by disentanglement_lib's formulas. ``test_dci_matches_recipe`` checks
fastdci's depth-3 D and C on all three reference codes against disentanglement_lib's numbers.

Run: ``python -m pytest benchmarks/test_31_gbt.py --benchmark-only``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

N_TRAIN = 10_000
N_LATENTS = 10
N_ROUNDS = 100
FACTOR_SIZES = np.array([3, 6, 40, 32, 32])
REFERENCE = Path(os.environ.get("FASTDCI_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "reference"


def _entropy_cols(P, base):
    P = P / P.sum(axis=0, keepdims=True)
    return -(P * np.log(P)).sum(axis=0) / np.log(base)


def dlib_dc(R):
    """disentanglement_lib's (D, C) from an importance matrix R (L, K)."""
    Rs = R + 1e-11
    d = 1 - _entropy_cols(Rs.T, R.shape[1])
    c = 1 - _entropy_cols(Rs, R.shape[0])
    W = R if R.sum() > 0 else np.ones_like(R)
    return float(np.sum(d * W.sum(1) / W.sum())), float(np.sum(c * W.sum(0) / W.sum()))


def _synthetic(n, seed=0):
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, s, n) for s in FACTOR_SIZES], axis=1)
    z = factors / (FACTOR_SIZES - 1) + 0.05 * rng.normal(size=factors.shape)
    latents = np.concatenate([z, rng.normal(size=(n, N_LATENTS - len(FACTOR_SIZES)))], axis=1)
    return latents.astype(np.float32), factors


@pytest.fixture(scope="module")
def data():
    path = REFERENCE / "aligned.npz"
    if path.exists():
        z = np.load(path)
        return z["latents_train"][:N_TRAIN], z["factors_train"][:N_TRAIN]
    return _synthetic(N_TRAIN)


def _run(benchmark, fn):
    info = {}

    def timed():
        t = time.process_time()
        out = fn()
        info["cpu_s"] = time.process_time() - t
        return out

    out = benchmark.pedantic(timed, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(info)
    return out


def _fastdci(depth, X, Y):
    from fastdci.regressors import GradientBoostedStumps

    return GradientBoostedStumps(n_rounds=N_ROUNDS, max_depth=depth, device="cpu").fit(X, Y)


@pytest.fixture(scope="module")
def compiled():
    from fastdci.regressors import GradientBoostedStumps

    rng = np.random.default_rng(0)
    GradientBoostedStumps(n_rounds=2, max_depth=3, device="cpu").fit(
        rng.normal(size=(50, 2)), rng.integers(0, 3, size=(50, 2))
    )


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.benchmark(group="gbt-dlib-size")
def test_fastdci(benchmark, data, compiled, depth):
    X, Y = data
    model = _run(benchmark, lambda: _fastdci(depth, X, Y))
    d, c = dlib_dc(model.feature_importances_)
    benchmark.extra_info.update({"D": d, "C": c, "train_acc": float(model.score(X, Y).mean())})


@pytest.mark.benchmark(group="gbt-dlib-size")
def test_dlib_recipe(benchmark, data):
    from sklearn.ensemble import GradientBoostingClassifier

    X, Y = data

    def recipe():
        R = np.zeros((X.shape[1], Y.shape[1]))
        for k in range(Y.shape[1]):
            model = GradientBoostingClassifier()
            model.fit(X, Y[:, k])
            R[:, k] = np.abs(model.feature_importances_)
        return R

    R = _run(benchmark, recipe)
    d, c = dlib_dc(R)
    benchmark.extra_info.update({"D": d, "C": c})


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.benchmark(group="gbt-dlib-size")
def test_lightgbm(benchmark, data, depth):
    lgb = pytest.importorskip("lightgbm")
    X, Y = data

    def fit():
        for k in range(Y.shape[1]):
            lgb.LGBMClassifier(
                n_estimators=N_ROUNDS, learning_rate=0.1, max_depth=depth, num_leaves=2**depth,
                max_bin=255, min_child_samples=1, min_child_weight=1e-12, verbose=-1,
            ).fit(X, Y[:, k])

    _run(benchmark, fit)


@pytest.mark.parametrize("scenario", ["aligned", "mixed", "nonlinear"])
def test_dci_matches_recipe(scenario, compiled):
    """fastdci's depth-3 global-importance D and C within 0.05 of disentanglement_lib's."""
    if not (REFERENCE / "dlib_reference.json").exists():
        pytest.skip("disentanglement_lib reference numbers not found (set FASTDCI_SHARED)")
    ref = json.loads((REFERENCE / "dlib_reference.json").read_text())["scenarios"][scenario]["dci"]
    z = np.load(REFERENCE / f"{scenario}.npz")
    model = _fastdci(3, z["latents_train"], z["factors_train"])
    d, c = dlib_dc(model.feature_importances_)
    print(
        f"{scenario}: D {d:.4f} (recipe {ref['scores']['disentanglement']:.4f}), "
        f"C {c:.4f} (recipe {ref['scores']['completeness']:.4f})"
    )
    assert abs(d - ref["scores"]["disentanglement"]) < 0.05
    assert abs(c - ref["scores"]["completeness"]) < 0.05
