"""disentanglement_lib's metric entry points beside :mod:`fastdci.compat.disentanglement_lib`,
on the same data set, representation and random state, in one run.

The reference side is :mod:`benchmarks._dlib_restated` (its algorithms with scikit-learn, as
a user runs them today); the fastdci side is the adapter, called as a script calls the
reference. Both draw the same points from ``np.random.RandomState(SEED)`` at the reference's
study defaults (10,000 train / 5,000 test points; BetaVAE and FactorVAE batches of 64).

Input: a data set of every point of a grid of ``FACTOR_SIZES`` (11,520 points); the
representation scales each factor to [0, 1], adds 0.05 noise, and appends ``NOISE_LATENTS``
pure-noise latents (a fixed table indexed by the point, so both sides see the same codes).

Each benchmark runs once (``pedantic``, one round: the reference takes tens of seconds) and
records process CPU seconds in ``extra_info["cpu_s"]`` and its scores; the test checks the two
sides agree (exactly for MIG, SAP and FactorVAE; within 0.05 for DCI and BetaVAE, whose
regressors differ in solver, not objective).

Run: ``python -m pytest benchmarks/test_70_dlib.py --benchmark-only``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from . import _dlib_restated as ref

FACTOR_SIZES = (3, 6, 10, 8, 8)
NOISE_LATENTS = 5
SEED = 0
TOLERANCE = {"mig": 1e-12, "sap": 1e-12, "factor_vae": 1e-12, "dci": 0.05, "beta_vae": 0.05, "unsupervised": 1e-9}
_SCORES: dict = {}


class Grid:
    num_factors = len(FACTOR_SIZES)

    def sample_factors(self, num, rs):
        return np.stack([rs.randint(s, size=num) for s in FACTOR_SIZES], axis=1)

    def sample_observations_from_factors(self, factors, rs):
        return np.ravel_multi_index(tuple(np.asarray(factors).T), FACTOR_SIZES)


_N = int(np.prod(FACTOR_SIZES))
_GRID = np.stack(np.unravel_index(np.arange(_N), FACTOR_SIZES), axis=1)
_NOISE = np.random.default_rng(1).normal(size=(_N, len(FACTOR_SIZES) + NOISE_LATENTS))
_CODES = np.concatenate([_GRID / (np.array(FACTOR_SIZES) - 1) + 0.05 * _NOISE[:, :5], _NOISE[:, 5:]], axis=1)


def representation(rows):
    return _CODES[np.asarray(rows)]


def _adapter(name):
    from fastdci.compat import disentanglement_lib as dlib

    fn = {"mig": dlib.compute_mig, "dci": dlib.compute_dci, "sap": dlib.compute_sap,
          "beta_vae": dlib.compute_beta_vae_sklearn,
          "factor_vae": lambda g, f, rs: dlib.compute_factor_vae(g, f, rs, prune_threshold=0.05),
          "unsupervised": dlib.unsupervised_metrics}[name]
    return lambda: fn(Grid(), representation, np.random.RandomState(SEED))


def _reference(name):
    fn = getattr(ref, name)
    return lambda: fn(Grid(), representation, np.random.RandomState(SEED))


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile every kernel the adapter uses before the first timed call."""
    from fastdci.compat import disentanglement_lib as dlib

    rs = np.random.RandomState(1)
    dlib.compute_mig(Grid(), representation, rs, num_train=500)
    dlib.compute_dci(Grid(), representation, rs, num_train=500, num_test=200)
    dlib.compute_sap(Grid(), representation, rs, num_train=500, num_test=200)
    dlib.compute_beta_vae_sklearn(Grid(), representation, rs, num_train=50, num_eval=20)
    dlib.compute_factor_vae(Grid(), representation, rs, num_train=50, num_eval=20, num_variance_estimate=500)


@pytest.mark.parametrize("side", ["reference", "fastdci"])
@pytest.mark.parametrize("name", ["mig", "dci", "sap", "beta_vae", "factor_vae", "unsupervised"])
def test_dlib(benchmark, name, side):
    benchmark.group = f"dlib-{name}"
    call = _reference(name) if side == "reference" else _adapter(name)
    t0 = time.process_time()
    scores = benchmark.pedantic(call, rounds=1, iterations=1)
    benchmark.extra_info["cpu_s"] = time.process_time() - t0
    benchmark.extra_info["scores"] = {k: float(v) for k, v in scores.items()}
    _SCORES[(name, side)] = scores
    other = _SCORES.get((name, "reference" if side == "fastdci" else "fastdci"))
    if other is not None:
        for k, v in scores.items():
            assert v == pytest.approx(other[k], abs=TOLERANCE[name]), (name, k)
