"""The metrics review's MIG, SAP, explicitness and DCI beside fastdci's review conventions,
on the same inputs in one run.

The reference side is :mod:`benchmarks._review_restated` (the review's code, restated: it is
not a package and needs ``pyitlib``); the fastdci side is the public API with the review's
conventions (``factor_types="continuous"``, 10 bins, MI over the code's entropy,
``convention="review"``).

Input: the review's synthetic protocol (its ``section5.2_noise.py``): ``N_FACTORS`` continuous
factors drawn uniformly on [0, 1]; ``N_LATENTS`` codes ``(1 - NOISE) * factors @ MIX + NOISE *
uniform noise``, where ``MIX`` gives codes 0-4 one factor each, codes 5-7 a random convex
mixture of all factors, and codes 8-9 are pure uniform noise. ``ROWS`` rows (10,000), and
``FOREST_ROWS`` rows (2,000, the first rows of the same table) for the random-forest DCI, whose
reference tunes 20 forests by 10-fold cross-validation per factor.

Each benchmark runs once (``pedantic``, one round), records process CPU seconds in
``extra_info["cpu_s"]`` and both sides' scores, and, once both sides of a group have run,
checks them: MIG and SAP equal to 1e-9; explicitness within 1e-4 (scikit-learn's lbfgs stops at
tol 1e-4, fastdci's one-vs-rest solver converges further); DCI differs by design (the review
tunes alpha by CV on min-max scaled data and scores ``max(0, 1 - 12 MSE)`` on the rows it
fitted; fastdci holds out half the rows, fixes alpha 0.01 on standardised data and reports
``1 - NRMSE``), so both DCI results are only recorded.

Run: ``python -m pytest benchmarks/test_81_review.py --benchmark-only -p no:cacheprovider``
(``FASTDCI_BENCH_REVIEW_ROWS`` and ``FASTDCI_BENCH_REVIEW_FOREST_ROWS`` override the sizes).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import fastdci

from . import _review_restated as ref
from .conftest import scaled

ROWS = scaled("REVIEW_ROWS", 10_000)
FOREST_ROWS = scaled("REVIEW_FOREST_ROWS", 2_000)
N_FACTORS = 5
N_LATENTS = 10
NOISE = 0.2
N_BINS = 10
SEED = 0
TOLERANCE = {"mig": 1e-9, "sap": 1e-9, "explicitness": 1e-4}
_SCORES: dict = {}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(SEED)
    factors = rng.uniform(0.0, 1.0, size=(ROWS, N_FACTORS))
    mix = np.zeros((N_FACTORS, N_LATENTS))
    mix[:, :N_FACTORS] = np.eye(N_FACTORS)
    mix[:, N_FACTORS:8] = rng.dirichlet(np.ones(N_FACTORS), size=8 - N_FACTORS).T
    latents = (1 - NOISE) * factors @ mix + NOISE * rng.uniform(size=(ROWS, N_LATENTS))
    latents[:, 8:] = rng.uniform(size=(ROWS, N_LATENTS - 8))
    small_x, small_y = latents[:500], factors[:500]  # compile fastdci's kernels before timing
    fastdci.mig(small_x, small_y, factor_types="continuous", factor_bins=N_BINS, n_bins=N_BINS, normalization="latent")
    fastdci.sap(small_x, small_y, factor_types="continuous")
    fastdci.explicitness(small_x, small_y, small_x, small_y, factor_types="continuous", factor_bins=N_BINS,
                         convention="review")
    fastdci.dci(small_x, small_y, factor_types="continuous", regressor="lasso")
    return latents, factors


def _fastdci(name, x, y):
    if name == "mig":
        return lambda: {"score": fastdci.mig(x, y, factor_types="continuous", factor_bins=N_BINS, n_bins=N_BINS,
                                             normalization="latent").score}
    if name == "sap":
        return lambda: {"score": fastdci.sap(x, y, factor_types="continuous").score}
    if name == "explicitness":
        return lambda: {"score": fastdci.explicitness(x, y, x, y, factor_types="continuous", factor_bins=N_BINS,
                                                      convention="review").explicitness_train}
    regressor = name.removeprefix("dci_")
    def run():
        res = fastdci.dci(x, y, factor_types="continuous", regressor=regressor)
        return {k: float(v) for k, v in res.scores().items()}
    return run


def _reference(name, x, y):
    if name in ("mig", "sap", "explicitness"):
        fn = getattr(ref, name)
        return lambda: {"score": float(fn(y, x))}
    model = name.removeprefix("dci_")

    def run():
        np.random.seed(SEED)  # the review's experiments seed NumPy before each metric call
        details: dict = {}
        d, c, i = ref.dci(y, x, model=model, details=details)
        per_factor = details["informativeness_per_factor"]
        return {"disentanglement": d, "completeness": c, "informativeness": i,
                # 1 - 12 MSE on a uniform factor in [0, 1] is R2; 1 - sqrt(1 - R2) is fastdci's 1 - NRMSE
                "informativeness_as_1_minus_nrmse": float(np.mean(1 - np.sqrt(1 - per_factor))),
                "chosen": [p if np.isscalar(p) else list(p) for p in details["chosen"]]}
    return run


@pytest.mark.parametrize("side", ["review", "fastdci"])
@pytest.mark.parametrize("name", ["mig", "sap", "explicitness", "dci_lasso", "dci_random_forest"])
def test_review(benchmark, data, name, side):
    x, y = data
    if name == "dci_random_forest":
        x, y = x[:FOREST_ROWS], y[:FOREST_ROWS]
    benchmark.group = f"review-{name}"
    benchmark.extra_info["rows"] = x.shape[0]
    call = _reference(name, x, y) if side == "review" else _fastdci(name, x, y)
    t0 = time.process_time()
    scores = benchmark.pedantic(call, rounds=1, iterations=1)
    benchmark.extra_info["cpu_s"] = time.process_time() - t0
    benchmark.extra_info["scores"] = scores
    _SCORES[(name, side)] = scores
    other = _SCORES.get((name, "review" if side == "fastdci" else "fastdci"))
    if other is not None and name in TOLERANCE:
        assert scores["score"] == pytest.approx(other["score"], abs=TOLERANCE[name]), name
