"""Invariants every metric shares: range, Python floats, latent permutation, determinism, CPU/CUDA parity."""

from __future__ import annotations

import numpy as np
import pytest

import fastdci
from fastdci.metrics.registry import METRICS

SIZES = (3, 4, 5, 4)
NAMES = ("a", "b", "c", "d")
FAST = {
    "dci": {"regressor": "logistic"},
    # depth-3 trees break gains tied exactly in small nodes by a seeded latent order, which moves
    # E by ~0.003 when the latents are permuted; stumps meet no such ties on this code
    "dci_es": {"n_rounds": 20, "max_depth": 1},
    "beta_vae": {"n_train": 400, "n_eval": 200},
    "factor_vae": {"n_train": 400, "n_eval": 200, "n_variance_rows": 1000},
    "z_max": {"n_train": 400, "n_eval": 200, "n_variance_rows": 1000},
    "irs": {"n_train": 2000},
}
# scores that are counts or accuracies in [0, 1]; num_active_dims is a count of latents, the
# unsupervised scores are nats and squared latent units
UNBOUNDED = {"num_active_dims", "gaussian_total_correlation", "gaussian_wasserstein_correlation", "mutual_info_score"}
BOUNDED = lambda key: key not in UNBOUNDED  # noqa: E731


@pytest.fixture(scope="module")
def code():
    rng = np.random.default_rng(7)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, len(SIZES))
    factors = np.repeat(grid, 3, axis=0)
    aligned = factors / (np.array(SIZES) - 1) + 0.1 * rng.normal(size=factors.shape)
    latents = np.concatenate([aligned, 0.3 * rng.normal(size=(len(factors), 2))], axis=1)
    return latents, factors


def run(name, latents, factors, **extra):
    """The metric's public function (``fastdci.<name>``) with the same call for every metric."""
    spec = METRICS[name]
    fn = getattr(fastdci, spec.public_name)
    opts = dict(FAST.get(name, {}), **extra)
    if spec.family == "intervention":
        opts.update(factor_sizes=SIZES, factor_names=NAMES, random_state=0)
    elif spec.family == "predictor":
        opts.update(random_state=0)
    return fn(latents, factors, **opts)


@pytest.fixture(scope="module")
def results(code):
    return {name: run(name, *code) for name in METRICS}


@pytest.mark.parametrize("name", list(METRICS))
def test_scores_are_python_floats_in_range(results, name):
    scores = results[name].scores()
    assert scores, name
    for key, value in scores.items():
        assert type(value) is float, (name, key, type(value))
        assert np.isfinite(value), (name, key)
        if BOUNDED(key):
            assert -1e-9 <= value <= 1 + 1e-9, (name, key, value)
    assert results[name].score == next(iter(scores.values()))
    assert results[name].score == scores[type(results[name]).headline]
    assert results[name].metric == name  # every result names its registered metric
    for key, value in results[name].counts().items():
        assert type(value) is int and value >= 0, (name, key)
    assert not set(scores) & set(results[name].counts()), name


@pytest.mark.parametrize("name", list(METRICS))
def test_latent_permutation_changes_nothing(code, results, name):
    latents, factors = code
    perm = np.random.default_rng(3).permutation(latents.shape[1])
    permuted = run(name, latents[:, perm], factors).scores()
    # optimisers (logistic, SVC) converge to a tolerance, so allow tiny differences there
    assert permuted == pytest.approx(results[name].scores(), abs=2e-3), name


@pytest.mark.parametrize("name", list(METRICS))
def test_same_seed_same_result(code, results, name):
    assert run(name, *code).scores() == results[name].scores()


@pytest.mark.parametrize("name", list(METRICS))
def test_to_dict_is_json_serialisable(results, name):
    import json

    doc = json.loads(json.dumps(results[name].to_dict()))
    assert doc["metric"] == results[name].metric and doc["scores"] == results[name].scores()
    assert type(results[name]).from_dict(doc) == results[name]


@pytest.mark.parametrize("name", list(METRICS))
def test_results_compare_equal_and_record_their_settings(code, results, name):
    again = run(name, *code)
    assert again == results[name] and not (again != results[name])
    settings = results[name].settings
    for opt in METRICS[name].options:
        if opt.when is None:  # unconditional options are always recorded
            assert opt.name in settings, (name, opt.name)
    assert results[name].provenance["n_rows"] == len(code[0])


@pytest.mark.parametrize("name", list(METRICS))
def test_unknown_option_names_the_closest(code, name):
    from fastdci.errors import InvalidInputError

    opt = METRICS[name].options[0].name
    with pytest.raises(InvalidInputError, match=f"has no option '{opt}x'.*Did you mean '{opt}'"):
        run(name, *code, **{opt + "x": 1})


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_takes_backend_and_torch_input(code, results, name, torch_one_thread):
    import torch

    latents, factors = code
    got = run(name, torch.as_tensor(latents), torch.as_tensor(factors), backend="cpu")
    # the NumPy run under the same torch thread count: a reduction split over other threads
    # may round the last bit differently
    assert got.scores() == run(name, latents, factors).scores(), name


def test_aligned_code_scores_high_and_rotation_lower(code, results):
    latents, factors = code
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(latents.shape[1],) * 2))
    rotated = latents @ q
    # modularity is known to be lenient with entangled codes (each rotated latent still leans
    # on a few factors), and so is FactorVAE's majority vote with only four factors: smaller margins
    for name, margin in (("mig", 0.15), ("dci", 0.15), ("factor_vae", 0.1), ("modularity", 0.05)):
        aligned = results[name].score
        mixed = run(name, rotated, factors).score
        assert aligned > 0.6, (name, aligned)
        assert mixed < aligned - margin, (name, aligned, mixed)


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["mig", "modularity", "dci", "explicitness", "beta_vae"])
def test_cuda_matches_cpu(code, name):
    import torch

    latents, factors = code
    cpu = run(name, latents, factors, backend="cpu")
    if METRICS[name].family == "information":
        gpu = run(name, torch.as_tensor(latents, device="cuda"), torch.as_tensor(factors, device="cuda"))
    else:
        gpu = run(name, latents, factors, backend="cuda")
    assert gpu.scores() == pytest.approx(cpu.scores(), abs=2e-3)


@pytest.mark.parametrize("name", [n for n, s in METRICS.items() if s.family != "unsupervised"])
def test_a_single_class_factor_is_refused_by_every_metric(code, name):
    from fastdci.errors import InvalidInputError

    latents, factors = code
    one = factors.copy()
    one[:, 1] = 0
    with pytest.raises(InvalidInputError, match=r"factor\(s\) \['b'\] take a single class|\['factor_1'\] take"):
        run(name, latents, one, **({} if METRICS[name].family == "intervention" else {}))


@pytest.mark.parametrize("name", list(METRICS))
def test_transposed_arrays_are_refused_by_every_metric(code, name):
    from fastdci.errors import InvalidInputError

    latents, factors = code
    small_l, small_f = latents[:5, :4], factors[:5]  # 5 rows, 4 latents / 4 factors: fine
    with pytest.raises(InvalidInputError, match="looks transposed"):
        run(name, small_l.T, small_f.T)  # 4 "rows" of 5 "latents"
