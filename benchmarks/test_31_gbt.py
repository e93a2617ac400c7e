"""Gradient-boosted trees for DCI on the CPU, beside the recipe and LightGBM, in one run.

Groups (every benchmark records its process CPU seconds in ``extra_info["cpu_s"]``, the
issue's unit: all threads of this process; ``wall_s``; the load average before and after):

- ``gbt-dlib-size``: a multinomial booster for each of the five dSprites factors (sizes 3, 6,
  40, 32, 32; 113 class-trees per round) on ``N_TRAIN`` rows of ``N_LATENTS`` latents,
  ``N_ROUNDS`` rounds, learning rate 0.1: ``fastdci-depth1`` / ``fastdci-depth3``
  (:class:`fastdci.regressors.GradientBoostedStumps`, all factors in one fit, 255 bins);
  ``dlib-recipe`` (disentanglement_lib's ``dci._compute_importance_gbt``: one
  ``sklearn.ensemble.GradientBoostingClassifier()`` per factor, depth 3, exact splits);
  ``lightgbm-depth1`` / ``lightgbm-depth3`` (one ``lightgbm.LGBMClassifier`` per factor, same
  rounds, learning rate and depth, ``num_leaves = 2**depth``, 255 bins,
  ``min_child_samples=1``, scikit-learn's leaf minimum), with OpenMP's default threads and
  with ``n_jobs`` = the cores free at the start (the rule fastdci's pool follows, which keeps
  a crowded machine from stalling both).
- ``gbt-dci-mixed``: the whole DCI on disentanglement_lib's "mixed" code with the shape and
  scale factors (``DCI_FACTORS``): :func:`fastdci.dci` with ``regressor="gbt"`` at depth 1
  and 3 against the recipe (fit per factor, importances, train and test accuracy).
- ``gbt-paired``: the ratios that matter taken pair by pair, because this machine's speed drifts
  (up to 2x within minutes): ``PAIRS`` times in turn, the five-factor fastdci fit and LightGBM
  (``n_jobs`` = free cores) at depth 1 and 3, and the mixed-code DCI (fastdci at depth 1 and 3,
  each the median of five runs back to back, then the recipe, which runs for many seconds).
  ``extra_info`` holds every pair's CPU seconds and their ratio; the median ratio is the
  figure to report.
- ``gbt-1M``: the five-factor fit on ``BIG_ROWS`` training rows of the benchmarks' synthetic
  code (each factor in its own latent plus noise, five noise latents): fastdci and LightGBM
  (``n_jobs`` = free cores) at depth 1. The recipe is not run at this size (its exact splits sort every latent, at
  least linear in the rows): 100 times its ``gbt-dlib-size`` CPU time is a lower bound.

Input of the 10,000-row groups: disentanglement_lib's reference codes when
``../shared/reference`` is present (the arrays the reference DCI numbers were computed on),
else the same construction generated here. ``test_dci_matches_recipe`` checks fastdci's
depth-3 D and C on all three reference codes against disentanglement_lib's numbers.

Run: ``python -m pytest benchmarks/test_31_gbt.py --benchmark-only`` (``-k "not 1M"`` skips
the big group; ``FASTDCI_BENCH_GBT_BIG_ROWS`` sets its size).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import scaled

N_TRAIN = 10_000
N_LATENTS = 10
N_ROUNDS = 100
FACTOR_SIZES = np.array([3, 6, 40, 32, 32])
DCI_FACTORS = [0, 1]  # shape and scale
BIG_ROWS = scaled("GBT_BIG_ROWS", 1_000_000)
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
    info = {"load_before": os.getloadavg()[0]}

    def timed():
        t, w = time.process_time(), time.perf_counter()
        out = fn()
        info["cpu_s"] = time.process_time() - t
        info["wall_s"] = time.perf_counter() - w
        return out

    out = benchmark.pedantic(timed, rounds=1, iterations=1, warmup_rounds=0)
    info["load_after"] = os.getloadavg()[0]
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


def _lightgbm(depth, X, Y, threads="default"):
    """One LGBMClassifier per factor; ``threads``: "default" (OpenMP's, all cores) or "free"
    (``n_jobs`` = the cores no other process keeps busy at the start, fastdci's rule)."""
    lgb = pytest.importorskip("lightgbm")
    from fastdci._threads import free_cpus

    n_jobs = free_cpus() if threads == "free" else None
    for k in range(Y.shape[1]):
        lgb.LGBMClassifier(
            n_estimators=N_ROUNDS, learning_rate=0.1, max_depth=depth, num_leaves=2**depth,
            max_bin=255, min_child_samples=1, min_child_weight=1e-12, verbose=-1, n_jobs=n_jobs,
        ).fit(X, Y[:, k])
    return n_jobs


@pytest.mark.parametrize("threads", ["default", "free"])
@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.benchmark(group="gbt-dlib-size")
def test_lightgbm(benchmark, data, depth, threads):
    pytest.importorskip("lightgbm")
    X, Y = data
    benchmark.extra_info["n_jobs"] = _run(benchmark, lambda: _lightgbm(depth, X, Y, threads))


# ----------------------------------------------------------------------------- DCI, mixed code


@pytest.fixture(scope="module")
def mixed():
    path = REFERENCE / "mixed.npz"
    if path.exists():
        z = np.load(path)
        parts = z["latents_train"], z["factors_train"], z["latents_test"], z["factors_test"]
    else:
        X, Y = _synthetic(N_TRAIN + N_TRAIN // 2, seed=1)
        parts = X[:N_TRAIN], Y[:N_TRAIN], X[N_TRAIN:], Y[N_TRAIN:]
    Xtr, Ytr, Xte, Yte = parts
    return Xtr[:N_TRAIN], Ytr[:N_TRAIN, DCI_FACTORS], Xte, Yte[:, DCI_FACTORS]


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.benchmark(group="gbt-dci-mixed")
def test_dci_fastdci(benchmark, mixed, compiled, depth):
    import fastdci

    res = _run(benchmark, lambda: fastdci.dci(*mixed, regressor="gbt", max_depth=depth,
                                              backend="cpu"))
    benchmark.extra_info.update(res.scores())


def _mixed_recipe(mixed):
    """disentanglement_lib's _compute_importance_gbt: (importance matrix, mean train accuracy,
    mean test accuracy)."""
    from sklearn.ensemble import GradientBoostingClassifier

    Xtr, Ytr, Xte, Yte = mixed
    R = np.zeros((Xtr.shape[1], Ytr.shape[1]))
    train_acc, test_acc = [], []
    for k in range(Ytr.shape[1]):
        model = GradientBoostingClassifier()
        model.fit(Xtr, Ytr[:, k])
        R[:, k] = np.abs(model.feature_importances_)
        train_acc.append(np.mean(model.predict(Xtr) == Ytr[:, k]))
        test_acc.append(np.mean(model.predict(Xte) == Yte[:, k]))
    return R, float(np.mean(train_acc)), float(np.mean(test_acc))


@pytest.mark.benchmark(group="gbt-dci-mixed")
def test_dci_recipe(benchmark, mixed):
    R, acc_train, acc = _run(benchmark, lambda: _mixed_recipe(mixed))
    d, c = dlib_dc(R)
    benchmark.extra_info.update({"disentanglement": d, "completeness": c, "informativeness_train": acc_train,
                                 "informativeness": acc})


# ----------------------------------------------------------------------------- paired ratios

PAIRS = 5


def _cpu(fn):
    """(process CPU seconds, wall seconds, result) of one call."""
    t, w = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - t, time.perf_counter() - w, out


def _paired(benchmark, runs, pairs, repeats=1):
    """Run the named callables ``runs`` in turn ``pairs`` times; extra_info gets each name's
    CPU and wall seconds per pair, and ``ratio_<name>``: each pair's CPU ratio of the last
    callable (the baseline) to ``name``, with its median. With ``repeats`` > 1 every callable
    but the baseline runs that many times back to back in each pair, and the pair keeps the
    median of their CPU (and wall) seconds: a callable that takes under a second then samples
    the machine's speed as often as a baseline that runs for many seconds averages it."""
    cpu = {name: [] for name in runs}
    wall = {name: [] for name in runs}
    base = list(runs)[-1]

    def all_pairs():
        for _ in range(pairs):
            for name, fn in runs.items():
                times = [_cpu(fn)[:2] for _ in range(1 if name == base else repeats)]
                cpu[name].append(round(float(np.median([c for c, _ in times])), 3))
                wall[name].append(round(float(np.median([w for _, w in times])), 3))

    benchmark.pedantic(all_pairs, rounds=1, iterations=1, warmup_rounds=0)
    info = {"cpu_s_" + k: v for k, v in cpu.items()} | {"wall_s_" + k: v for k, v in wall.items()}
    for name in list(runs)[:-1]:
        ratios = [b / a for a, b in zip(cpu[name], cpu[base])]
        info["ratio_" + name] = [round(r, 2) for r in ratios]
        info["median_ratio_" + name] = round(float(np.median(ratios)), 2)
    benchmark.extra_info.update(info)


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.benchmark(group="gbt-paired")
def test_paired_lightgbm(benchmark, data, compiled, depth):
    pytest.importorskip("lightgbm")
    X, Y = data
    _paired(benchmark, {"fastdci": lambda: _fastdci(depth, X, Y),
                        "lightgbm": lambda: _lightgbm(depth, X, Y, "free")}, PAIRS)


@pytest.mark.benchmark(group="gbt-paired")
def test_paired_dci_recipe(benchmark, mixed, compiled):
    import fastdci

    def dci(depth):
        return lambda: fastdci.dci(*mixed, regressor="gbt", max_depth=depth, backend="cpu")

    _paired(benchmark, {"fastdci_depth1": dci(1), "fastdci_depth3": dci(3),
                        "recipe": lambda: _mixed_recipe(mixed)}, 3, repeats=5)


# ----------------------------------------------------------------------------- 1M rows


@pytest.fixture(scope="module")
def big():
    return _synthetic(BIG_ROWS, seed=2)


@pytest.mark.benchmark(group="gbt-1M")
def test_big_fastdci(benchmark, big, compiled):
    X, Y = big
    model = _run(benchmark, lambda: _fastdci(1, X, Y))
    d, c = dlib_dc(model.feature_importances_)
    benchmark.extra_info.update({"D": d, "C": c})


@pytest.mark.benchmark(group="gbt-1M")
def test_big_lightgbm(benchmark, big):
    pytest.importorskip("lightgbm")
    X, Y = big
    benchmark.extra_info["n_jobs"] = _run(benchmark, lambda: _lightgbm(1, X, Y, "free"))


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
