"""fastdci.compat.disent: disent's signatures, keys and draws; numbers vs fastdci's core and plain loops."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import fastdci
from fastdci.compat import disent as dis
from fastdci.errors import InvalidInputError

SIZES = (3, 4, 5)


class TinyGroundTruth:
    """disent's ground-truth state space over a small grid; draws from NumPy's global state, as disent."""

    def __init__(self, sizes=SIZES):
        self.factor_sizes = np.array(sizes)
        self.num_factors = len(sizes)

    def sample_factors(self, size=None):
        return np.random.randint(0, self.factor_sizes, size=(size, self.num_factors))

    def sample_random_factor_traversal(self, f_idx):
        base = self.sample_factors(1).repeat(self.factor_sizes[f_idx], axis=0)
        base[:, f_idx] = np.arange(self.factor_sizes[f_idx])
        return base


class TinyDataset:
    """The DisentDataset methods the metrics call; the observation is the factor vector itself."""

    def __init__(self, sizes=SIZES):
        self.gt_data = TinyGroundTruth(sizes)

    def dataset_batch_from_factors(self, factors, mode):
        assert mode == "input"
        return np.asarray(factors, dtype=np.float64)

    def dataset_sample_batch_with_factors(self, num_samples, mode):
        f = self.gt_data.sample_factors(num_samples)
        return self.dataset_batch_from_factors(f, mode), f

    def dataset_sample_batch(self, num_samples, mode):
        g = np.random.Generator(np.random.PCG64(np.random.randint(0, 2**32)))
        idx = g.choice(int(np.prod(self.gt_data.factor_sizes)), size=num_samples, replace=False)
        return self.dataset_batch_from_factors(np.stack(np.unravel_index(idx, self.gt_data.factor_sizes), 1), mode)


SCALE = np.array(SIZES) - 1.0


def noisy_identity(x):
    """Each factor in its own latent, scaled to [0, 1], plus a small deterministic wobble."""
    x = np.asarray(x, dtype=np.float64)
    return x / SCALE + 0.05 * np.sin(7.0 * x @ np.array([1.0, 3.0, 11.0]))[:, None] * np.array([1.0, -1.0, 0.5])


def perfect(x):
    return np.asarray(x, dtype=np.float64) / SCALE


def random_code():
    """Codes independent of the observations (their own generator; NumPy's global state is untouched)."""
    rng = np.random.default_rng(0)
    return lambda x: rng.normal(size=(len(x), 3))


@pytest.fixture
def ds():
    state = np.random.get_state()
    yield TinyDataset()
    np.random.set_state(state)


def test_signatures_defaults_and_metric_attributes():
    sig = {n: {k: p.default for k, p in inspect.signature(getattr(dis, f"metric_{n}")).parameters.items()
               if p.default is not p.empty and p.kind is not p.KEYWORD_ONLY}
           for n in ("dci", "mig", "sap", "factor_vae", "flatness")}
    assert sig["dci"] == dict(num_train=10000, num_test=5000, batch_size=16, boost_mode="sklearn", show_progress=False)
    assert sig["mig"] == dict(num_train=10000, batch_size=16)
    assert sig["sap"] == dict(num_train=10000, num_test=5000, batch_size=16, continuous_factors=False)
    assert sig["factor_vae"] == dict(batch_size=64, num_train=10000, num_eval=5000, num_variance_estimate=10000,
                                     show_progress=False)
    assert sig["flatness"] == dict(repeats=1024, batch_size=64)
    assert dis.metric_mig.name == "mig" and dis.metric_mig.compute is dis.metric_mig
    assert dis.metric_factor_vae.compute_fast.keywords == dict(num_train=700, num_eval=350, num_variance_estimate=1000)


def test_mig_and_sap_keys_draws_and_core(ds):
    np.random.seed(3)
    mig = dis.metric_mig(ds, noisy_identity, num_train=600)
    sap = dis.metric_sap(ds, noisy_identity, num_train=300, num_test=200, batch_size=7)
    after = np.random.get_state()[1].copy()
    assert set(mig) == {"mig.discrete_score"} and set(sap) == {"sap.score"}
    # the same points, drawn by disent's generate_batch_factor_code order from the same state
    np.random.seed(3)
    mus, ys = dis.generate_batch_factor_code(ds, noisy_identity, 600, 16)
    assert mus.shape == (3, 600) and ys.shape == (3, 600)
    assert mig["mig.discrete_score"] == fastdci.mig(mus.T, ys.T, n_bins=20).score
    tr, te = dis.generate_batch_factor_code(ds, noisy_identity, 300, 7), dis.generate_batch_factor_code(
        ds, noisy_identity, 200, 7)
    assert sap["sap.score"] == fastdci.sap(tr[0].T, tr[1].T, te[0].T, te[1].T).score
    assert mig["mig.discrete_score"] > 0.8 and sap["sap.score"] > 0.2
    # the global state is left where scikit-learn's 9 LinearSVC fits would leave it
    np.random.randint(0, 2**31 - 1, size=9)
    np.testing.assert_array_equal(np.random.get_state()[1], after)


def test_sap_global_state_matches_sklearn_loop(ds):
    from sklearn.svm import LinearSVC

    np.random.seed(5)
    x, y = np.random.normal(size=(2, 80)), np.random.randint(0, 3, size=(2, 80))
    dis._compute_sap(x, y, x, y, False)
    ours = np.random.get_state()[1].copy()
    np.random.seed(5)
    x, y = np.random.normal(size=(2, 80)), np.random.randint(0, 3, size=(2, 80))
    for i in range(2):
        for j in range(2):
            LinearSVC(C=0.01, class_weight="balanced").fit(x[i][:, None], y[j])
    np.testing.assert_array_equal(np.random.get_state()[1], ours)


def test_dci_keys_core_and_scenarios(ds):
    np.random.seed(0)
    got = dis.metric_dci(ds, perfect, num_train=300, num_test=150, backend="cpu")
    assert set(got) == {"dci.informativeness_train", "dci.informativeness_test", "dci.disentanglement",
                        "dci.completeness"}
    np.random.seed(0)
    (xt, yt), (xe, ye) = (dis.generate_batch_factor_code(ds, perfect, n, 16) for n in (300, 150))
    core = fastdci.dci(xt.T, yt.T, xe.T, ye.T, regressor="gbt", backend="cpu")
    assert got["dci.disentanglement"] == core.disentanglement and got["dci.completeness"] == core.completeness
    assert got["dci.informativeness_test"] == core.informativeness_test == 1.0
    assert got["dci.disentanglement"] > 0.99
    # each latent twice: still disentangled, no longer complete (C about 1 - log 2 / log 6)
    dup = dis._compute_dci(np.concatenate([xt, xt]), yt, np.concatenate([xe, xe]), ye, backend="cpu")
    assert dup["dci.disentanglement"] > 0.95 and 0.5 < dup["dci.completeness"] < 0.75


def test_scenarios_mig_sap(ds):
    np.random.seed(1)
    good = dis.metric_mig(ds, perfect, num_train=1000)["mig.discrete_score"]
    bad = dis.metric_mig(ds, random_code(), num_train=1000)["mig.discrete_score"]
    dup = dis.metric_mig(ds, lambda x: np.repeat(perfect(x), 2, axis=1), num_train=1000)["mig.discrete_score"]
    assert good > 0.99 and bad < 0.1 and dup < 1e-9
    np.random.seed(2)
    a = dis.metric_sap(ds, noisy_identity, num_train=400, num_test=200)
    np.random.seed(2)
    b = dis.metric_sap(ds, lambda x: noisy_identity(x)[:, ::-1], num_train=400, num_test=200)
    assert a == b  # a permuted code scores the same


def _factor_vae_loop(ds, rep, batch_size, num_train, num_eval, num_var):
    """disent's FactorVAE as plain NumPy loops (np.var, np.argmin), from the current global state."""
    gt = ds.gt_data
    var_obs = ds.dataset_sample_batch(num_var, mode="input")
    gv = np.var(np.concatenate([rep(var_obs[i:i + 64]) for i in range(0, num_var, 64)]), axis=0, ddof=1)
    out = []
    for n in (num_train, num_eval):
        votes = np.zeros((gt.num_factors, gv.size), np.int64)
        for _ in range(n):
            k = np.random.randint(gt.num_factors)
            f = gt.sample_factors(batch_size)
            f[:, k] = f[0, k]
            votes[k, np.argmin(np.var(rep(ds.dataset_batch_from_factors(f, "input")), axis=0, ddof=1) / gv)] += 1
        out.append(votes)
    cls = np.argmax(out[0], axis=0)
    return [v[cls, np.arange(gv.size)].sum() / v.sum() for v in out]


def test_factor_vae_equals_plain_loop_on_the_same_draws(ds):
    np.random.seed(4)
    got = dis.metric_factor_vae(ds, noisy_identity, batch_size=8, num_train=120, num_eval=60, num_variance_estimate=50)
    assert set(got) == {"factor_vae.train_accuracy", "factor_vae.eval_accuracy", "factor_vae.num_active_dims"}
    np.random.seed(4)
    want = _factor_vae_loop(ds, noisy_identity, 8, 120, 60, 50)
    assert [got["factor_vae.train_accuracy"], got["factor_vae.eval_accuracy"]] == pytest.approx(want, abs=1e-12)
    assert got["factor_vae.num_active_dims"] == 3
    np.random.seed(4)
    perm = dis.metric_factor_vae(ds, lambda x: noisy_identity(x)[:, [2, 0, 1]], batch_size=8, num_train=120,
                                 num_eval=60, num_variance_estimate=50)
    assert perm == got
    np.random.seed(4)
    rnd = dis.metric_factor_vae.compute_fast(ds, random_code(), batch_size=8, num_train=150, num_variance_estimate=50)
    assert rnd["factor_vae.eval_accuracy"] < 0.7 < got["factor_vae.eval_accuracy"]


def _flatness_loop(ds, rep, repeats):
    """disent's flatness measures, one traversal at a time, with plain NumPy norms."""
    gt, res = ds.gt_data, {1: ([], []), 2: ([], [])}
    for k, s in enumerate(gt.factor_sizes):
        acc = {1: ([], []), 2: ([], [])}
        for _ in range(repeats):
            z = rep(ds.dataset_batch_from_factors(gt.sample_random_factor_traversal(f_idx=k), "input"))
            for p in (1, 2):
                d = np.linalg.norm(np.roll(z, -1, axis=0) - z, ord=p, axis=1)
                acc[p][0].append(max(np.linalg.norm(a - b, ord=p) for a in z for b in z))
                acc[p][1].extend(np.sort(d)[: s - 1])
        for p in (1, 2):
            res[p][0].append(np.mean(acc[p][0]))
            res[p][1].append((s - 1) * np.mean(acc[p][1]))
    return np.mean(np.array(res[2][0]) / np.array(res[1][1])), np.mean(res[1][0])


def test_flatness_equals_plain_loop_and_scenarios(ds):
    np.random.seed(6)
    got = dis.metric_flatness(ds, noisy_identity, repeats=6, batch_size=3)
    assert set(got) == {f"flatness.{k}" for k in ("ave_flatness", "ave_flatness_l1", "ave_flatness_l2",
                                                  "ave_width_l1", "ave_width_l2", "ave_length_l1", "ave_length_l2")}
    np.random.seed(6)
    flat, width_l1 = _flatness_loop(ds, noisy_identity, 6)
    assert got["flatness.ave_flatness"] == pytest.approx(flat, rel=1e-12)
    assert got["flatness.ave_width_l1"] == pytest.approx(width_l1, rel=1e-12)
    # a linear, axis-aligned code traverses each factor along a straight, evenly spaced line
    assert dis.metric_flatness(ds, perfect, repeats=4)["flatness.ave_flatness"] == pytest.approx(1.0)


def _one_line(excinfo, *words):
    msg = str(excinfo.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_bad_input_is_one_line(ds):
    with pytest.raises(InvalidInputError) as e:
        dis.metric_mig(object(), perfect, num_train=100)
    _one_line(e, "dataset_sample_batch_with_factors", "DisentDataset")
    with pytest.raises(InvalidInputError) as e:
        dis.metric_flatness(TinyDataset.__new__(TinyDataset), perfect)
    _one_line(e, "gt_data")
    with pytest.raises(InvalidInputError) as e:
        dis.metric_dci(ds, perfect, boost_mode="xgboost")
    _one_line(e, "xgboost", "sklearn")
    with pytest.raises(InvalidInputError) as e:
        dis.metric_sap(ds, perfect, num_train=0)
    _one_line(e, "num_train", ">= 2")
    with pytest.raises(InvalidInputError) as e:
        dis.metric_mig(ds, lambda x: perfect(x)[:1], num_train=100)
    _one_line(e, "representation_function", "(batch, num_latents)")
    with pytest.raises(InvalidInputError) as e:
        dis.metric_factor_vae(ds, lambda x: perfect(x) * np.nan, num_train=5, num_eval=5, num_variance_estimate=10)
    _one_line(e, "NaN")
    with pytest.raises(InvalidInputError) as e:
        dis.metric_mig(TinyDataset((1, 4)), lambda x: np.asarray(x, float), num_train=100)
    _one_line(e, "single class")
    with pytest.raises(InvalidInputError) as e:
        dis._compute_mig(np.zeros((3, 10)), np.zeros((2, 9)))
    _one_line(e, "num_points")
