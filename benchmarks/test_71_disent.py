"""disent's metric functions beside :mod:`fastdci.compat.disent`, on the same dataset, the same
representation and the same random state, in one run.

disent (``pip install disent``; it needs Python >= 3.12) is imported as it is: each group runs
``disent.metrics.metric_<name>`` and the adapter's function of the same name with disent's
default arguments, each after ``np.random.seed(SEED)``, and checks that both drew the same
points (NumPy's global state is equal afterwards) and that the scores agree: exactly for MIG,
SAP and FactorVAE, to float32 rounding for flatness, within 0.05 for DCI's D and C. Without
disent installed the file skips.

Input: a ``disent.dataset.DisentDataset`` over an ``ArrayGroundTruthData`` holding every point
of a dSprites-shaped grid with smaller position and orientation factors (sizes ``FACTOR_SIZES``,
11,520 points); each observation is its factor vector and its index. The representation is
torch float32: each factor scaled to [0, 1] plus 0.05 noise, and five pure-noise latents (the
noise a fixed table indexed by the point, so both libraries see the same code for a point).

Groups:

- ``disent-<metric>``: the metric end to end (drawing through the dataset, encoding, scoring) at
  disent's defaults (``num_train=10000`` and so on; flatness ``repeats=1024``).
- ``disent-compute``: the array-level ``_compute_mig`` / ``_compute_sap`` on the same drawn
  arrays, without the drawing (DCI's end-to-end time is its computation already).

The adapter's kernels are compiled before the first timed call. Each benchmark records its
process CPU seconds in ``extra_info["cpu_s"]`` and its scores.

Run, in a Python >= 3.12 environment with fastdci and disent installed:
``NUMBA_NUM_THREADS=1 FASTDCI_BENCH_THREADS=1 python -m pytest benchmarks/test_71_disent.py
--benchmark-only``. One thread each: disent's scikit-learn fits are single-threaded, and on a
machine whose cores are busy with other work fastdci's two OpenMP threads wait on each other.
Smaller runs: ``FASTDCI_BENCH_DISENT_TRAIN``, ``_TEST``, ``_FVAE_TRAIN``, ``_FVAE_EVAL``,
``_REPEATS``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from .conftest import scaled

disent_metrics = pytest.importorskip("disent.metrics", reason="disent is not installed (pip install disent, "
                                     "Python >= 3.12)")

FACTOR_SIZES = (3, 6, 10, 8, 8)
NOISE_LATENTS = 5
SEED = 0
NUM_TRAIN = scaled("DISENT_TRAIN", 10_000)
NUM_TEST = scaled("DISENT_TEST", 5_000)
FACTOR_VAE = dict(num_train=scaled("DISENT_FVAE_TRAIN", 10_000), num_eval=scaled("DISENT_FVAE_EVAL", 5_000),
                  num_variance_estimate=10_000)
REPEATS = scaled("DISENT_REPEATS", 1024)

SETTINGS = {
    "dci": dict(num_train=NUM_TRAIN, num_test=NUM_TEST),
    "mig": dict(num_train=NUM_TRAIN),
    "sap": dict(num_train=NUM_TRAIN, num_test=NUM_TEST),
    "factor_vae": FACTOR_VAE,
    "flatness": dict(repeats=REPEATS),
}
_DONE: dict = {}  # (metric, side) -> (scores, global state afterwards)


@pytest.fixture(scope="module")
def setup():
    """(dataset, representation_function) as disent objects."""
    import torch
    from disent.dataset import DisentDataset
    from disent.dataset.data import ArrayGroundTruthData

    K, n = len(FACTOR_SIZES), int(np.prod(FACTOR_SIZES))
    grid = np.stack(np.unravel_index(np.arange(n), FACTOR_SIZES), axis=1)
    obs = np.concatenate([grid, np.arange(n)[:, None]], axis=1).astype(np.float32).reshape(n, 1, 1, K + 1)
    data = ArrayGroundTruthData(obs, factor_names=tuple(f"f{k}" for k in range(K)), factor_sizes=FACTOR_SIZES)
    noise = torch.as_tensor(np.random.default_rng(1).normal(size=(n, K + NOISE_LATENTS)), dtype=torch.float32)
    scale = torch.tensor(FACTOR_SIZES, dtype=torch.float32) - 1

    def encode(x):
        x = torch.as_tensor(x).reshape(len(x), -1)
        i = x[:, K].long()
        return torch.cat([x[:, :K] / scale + 0.05 * noise[i, :K], noise[i, K:]], dim=1)

    dataset = DisentDataset(data)
    _warm(dataset, encode)
    return dataset, encode


def _warm(dataset, encode):
    """Compile the adapter's kernels (and fill its caches) on a few points, untimed."""
    from fastdci.compat import disent as fd

    state = np.random.get_state()
    fd.metric_dci(dataset, encode, num_train=200, num_test=100)
    fd.metric_sap(dataset, encode, num_train=200, num_test=100)
    fd.metric_mig(dataset, encode, num_train=200)
    fd.metric_factor_vae(dataset, encode, num_train=5, num_eval=5, num_variance_estimate=100)
    np.random.set_state(state)


def _run(benchmark, fn):
    cpu = {}

    def timed():
        np.random.seed(SEED)
        t = time.process_time()
        out = fn()
        cpu["cpu_s"] = time.process_time() - t
        return out

    out = benchmark.pedantic(timed, rounds=1, iterations=1)
    benchmark.extra_info.update(cpu)
    return out


def _check(metric: str, got: dict, state: np.ndarray, side: str) -> None:
    _DONE[metric, side] = (got, state)
    other = _DONE.get((metric, "fastdci" if side == "disent" else "disent"))
    if other is None:
        return
    want, want_state = other
    assert set(got) == set(want)
    np.testing.assert_array_equal(state, want_state, err_msg=f"{metric}: the two sides drew different points")
    for key in want:
        if metric == "dci":
            tol = 0.05 if key.endswith(("disentanglement", "completeness")) else 0.02
            assert abs(got[key] - want[key]) <= tol, (key, got[key], want[key])
        elif metric == "flatness":
            assert got[key] == pytest.approx(want[key], rel=1e-5), key
        else:
            assert got[key] == pytest.approx(want[key], abs=1e-12), key


@pytest.mark.parametrize("metric", list(SETTINGS))
@pytest.mark.parametrize("side", ["disent", "fastdci"])
def test_metric(benchmark, setup, metric, side):
    from fastdci.compat import disent as fd

    benchmark.group = f"disent-{metric}"
    fn = getattr(disent_metrics if side == "disent" else fd, f"metric_{metric}")
    dataset, encode = setup
    got = _run(benchmark, lambda: fn(dataset, encode, **SETTINGS[metric]))
    got = {k: float(v) for k, v in got.items()}
    benchmark.extra_info.update(got)
    _check(metric, got, np.random.get_state()[1].copy(), side)


@pytest.fixture(scope="module")
def drawn(setup):
    """Train and test codes drawn once (disent's layout: codes x points, factors x points)."""
    from disent.metrics import utils

    dataset, encode = setup
    np.random.seed(SEED)
    return [utils.generate_batch_factor_code(dataset, encode, n, 16) for n in (NUM_TRAIN, NUM_TEST)]


@pytest.mark.parametrize("metric", ["mig", "sap"])
@pytest.mark.parametrize("side", ["disent", "fastdci"])
def test_compute(benchmark, drawn, metric, side):
    from disent.metrics import _mig, _sap

    from fastdci.compat import disent as fd

    benchmark.group = "disent-compute"
    (mus, ys), (mus_test, ys_test) = drawn
    if metric == "mig":
        fn = _mig._compute_mig if side == "disent" else fd._compute_mig
        got = _run(benchmark, lambda: fn(mus, ys))
    else:
        fn = _sap._compute_sap if side == "disent" else fd._compute_sap
        got = _run(benchmark, lambda: fn(mus, ys, mus_test, ys_test, False))
    got = {k: float(v) for k, v in got.items()}
    benchmark.extra_info.update(got)
    _check(f"compute-{metric}", got, np.random.get_state()[1].copy(), side)
