"""FactorVAE and BetaVAE scores on a full dSprites-sized grid file, beside the reference loop.

Groups (disentanglement_lib's defaults: batch 64, 10,000 train and 5,000 eval points, 10,000
rows for FactorVAE's variances, threshold 0.05; BetaVAE's classifier is
``LogisticRegression()`` in the reference):

- ``factor_vae``: :func:`fastdci.factor_vae_score` through ``fastdci.evaluate`` on the file (reads the
  classes, builds the factor index, draws every batch at once, reads the rows drawn, reduces
  them in one Numba pass) vs the reference-style loop a user would otherwise run: load the
  arrays from the same file, then per batch sample factors with ``RandomState``, look the
  rows up, take the variances (disentanglement_lib's ``factor_vae.py`` with the encoder
  replaced by a row lookup).
- ``beta_vae``: :func:`fastdci.beta_vae_score` vs the same kind of loop around
  disentanglement_lib's ``beta_vae.py`` and scikit-learn's ``LogisticRegression()``.

The latents are synthetic (no model): each factor scaled to [0, 1] plus noise, five pure-noise
latents, under a random rotation, so the scores sit between chance and 1. Both sides' scores
are stored in ``extra_info`` and checked to agree within binomial standard errors.
``FASTDCI_BENCH_THREADS`` sets torch's CPU threads (the BetaVAE classifier).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fastdci
from fastdci.io import LatentsWriter, open_latents

GRID_SIZES = (3, 6, 40, 32, 32)  # dSprites: 737,280 rows
FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
LATENT_DIM = 10
BATCH_SIZE = 64
NUM_TRAIN = 10_000
NUM_EVAL = 5_000
NUM_VARIANCE_ESTIMATE = 10_000
THRESHOLD = 0.05
ROUNDS = 3



@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    """Every factor combination once, in a shuffled row order, written as a latents file."""
    rng = np.random.default_rng(0)
    sizes = np.array(GRID_SIZES)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in GRID_SIZES], indexing="ij"), -1).reshape(-1, len(sizes))
    grid = grid[rng.permutation(len(grid))]
    aligned = grid / (sizes - 1) + 0.05 * rng.normal(size=grid.shape)
    codes = np.concatenate([aligned, rng.normal(size=(len(grid), LATENT_DIM - len(sizes)))], axis=1)
    q, _ = np.linalg.qr(rng.normal(size=(LATENT_DIM, LATENT_DIM)))
    mix = 0.6 * np.eye(LATENT_DIM) + 0.4 * q
    latents = (codes @ mix).astype(np.float32)
    path = tmp_path_factory.mktemp("interventions") / "grid.h5"
    with LatentsWriter(path, latent_dim=LATENT_DIM, factor_names=FACTOR_NAMES, factor_sizes=GRID_SIZES,
                       with_logvar=False) as w:
        w.append(latents, classes=grid)
    return path


# ---------------------------------------------------------------------- the reference loops


def _load(path):
    """What a user of the reference does first: the arrays, and a factors -> row lookup."""
    with open_latents(path) as r:
        chunk = r.read(fields=["mean", "classes"])
        sizes = np.array(r.factor_sizes)
    strides = np.cumprod(np.r_[1, sizes[:0:-1]])[::-1]
    row_of = np.empty(int(np.prod(sizes)), np.int64)
    row_of[chunk.classes.astype(np.int64) @ strides] = np.arange(len(chunk.classes))
    latents = chunk.mean

    def sample_factors(num, random_state):
        return np.stack([random_state.randint(s, size=num) for s in sizes], axis=1)

    def represent(factors):
        return latents[row_of[factors @ strides]]

    return sample_factors, represent, len(sizes)


def reference_factor_vae(path, seed=0):
    sample_factors, represent, n_factors = _load(path)
    rs = np.random.RandomState(seed)
    global_var = np.var(represent(sample_factors(NUM_VARIANCE_ESTIMATE, rs)), axis=0, ddof=1)
    active = np.sqrt(global_var) >= THRESHOLD

    def votes(num):
        v = np.zeros((n_factors, LATENT_DIM), np.int64)
        for _ in range(num):
            k = rs.randint(n_factors)
            f = sample_factors(BATCH_SIZE, rs)
            f[:, k] = f[0, k]
            local = np.var(represent(f), axis=0, ddof=1)
            v[k, np.argmin(local[active] / global_var[active])] += 1
        return v

    train = votes(NUM_TRAIN)
    classifier = np.argmax(train, axis=0)
    cols = np.arange(LATENT_DIM)
    evals = votes(NUM_EVAL)
    return train[classifier, cols].sum() / train.sum(), evals[classifier, cols].sum() / evals.sum()


def reference_beta_vae(path, seed=0):
    from sklearn.linear_model import LogisticRegression

    sample_factors, represent, n_factors = _load(path)
    rs = np.random.RandomState(seed)

    def points(num):
        x = np.zeros((num, LATENT_DIM))
        y = np.zeros(num, np.int64)
        for i in range(num):
            k = rs.randint(n_factors)
            f1 = sample_factors(BATCH_SIZE, rs)
            f2 = sample_factors(BATCH_SIZE, rs)
            f2[:, k] = f1[:, k]
            x[i] = np.mean(np.abs(represent(f1) - represent(f2)), axis=0)
            y[i] = k
        return x, y

    x, y = points(NUM_TRAIN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs may stop at max_iter=100, as in the reference
        model = LogisticRegression(random_state=rs).fit(x, y)
    xe, ye = points(NUM_EVAL)
    return float(np.mean(model.predict(x) == y)), float(model.score(xe, ye))


def _agree(ours, ref, n=NUM_EVAL, z=4.5):
    p = (ours + ref) / 2
    assert abs(ours - ref) <= z * math.sqrt(p * (1 - p) * 2 / n), (ours, ref)


# ---------------------------------------------------------------------- benchmarks


@pytest.fixture(scope="module")
def scores():
    """Eval accuracies per (group, side), to check the two sides agree once both ran."""
    return {}


def _record(scores, group, side, value):
    scores[group, side] = value
    if (group, "fastdci") in scores and (group, "reference") in scores:
        _agree(scores[group, "fastdci"], scores[group, "reference"])


@pytest.mark.benchmark(group="factor_vae")
def test_factor_vae_fastdci(benchmark, grid_file, scores):
    res = benchmark.pedantic(
        lambda: fastdci.evaluate(grid_file, "factor_vae", factor_vae=dict(
            batch_size=BATCH_SIZE, n_train=NUM_TRAIN, n_eval=NUM_EVAL, n_variance_rows=NUM_VARIANCE_ESTIMATE,
            threshold=THRESHOLD))["factor_vae"],
        rounds=ROUNDS, warmup_rounds=1,
    )
    benchmark.extra_info.update(res.scores())
    _record(scores, "factor_vae", "fastdci", res.eval_accuracy)


@pytest.mark.benchmark(group="factor_vae")
def test_factor_vae_reference_loop(benchmark, grid_file, scores):
    train, evals = benchmark.pedantic(lambda: reference_factor_vae(grid_file), rounds=ROUNDS)
    benchmark.extra_info.update(train_accuracy=float(train), eval_accuracy=float(evals))
    _record(scores, "factor_vae", "reference", float(evals))


@pytest.mark.benchmark(group="beta_vae")
def test_beta_vae_fastdci(benchmark, grid_file, scores):
    res = benchmark.pedantic(
        lambda: fastdci.evaluate(grid_file, "beta_vae", backend="cpu", beta_vae=dict(
            batch_size=BATCH_SIZE, n_train=NUM_TRAIN, n_eval=NUM_EVAL))["beta_vae"],
        rounds=ROUNDS, warmup_rounds=1,
    )
    benchmark.extra_info.update(res.scores())
    _record(scores, "beta_vae", "fastdci", res.eval_accuracy)


@pytest.mark.benchmark(group="beta_vae")
def test_beta_vae_reference_loop(benchmark, grid_file, scores):
    train, evals = benchmark.pedantic(lambda: reference_beta_vae(grid_file), rounds=ROUNDS)
    benchmark.extra_info.update(train_accuracy=train, eval_accuracy=evals)
    _record(scores, "beta_vae", "reference", evals)
