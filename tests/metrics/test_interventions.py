"""Intervention metrics: BetaVAE, FactorVAE, Z-max variance, IRS.

References, all written here in plain NumPy:

- disentanglement_lib's sampling loops (``beta_vae.py``, ``factor_vae.py``), one batch at a
  time through a ``sample_factors`` / representation-function pair over the same grid, and the
  Z-max loop of the metrics review; fastdci draws by index from another random stream, so the
  accuracies agree within a tolerance derived from their binomial standard errors;
- disentanglement_lib's ``irs.py`` arithmetic (histogram discretiser, constant-latent drop,
  ``scalable_disentanglement_score``), which fastdci must reproduce exactly on the same rows;
- scikit-learn's ``LogisticRegression`` for the BetaVAE classifier.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fastdci
from fastdci.errors import FastDCIError, InvalidInputError, MissingDependencyError
from fastdci.io import LatentsWriter, open_latents
from fastdci.io.source import LatentsSource
from fastdci.metrics.interventions.beta_vae import _beta_vae_finalize, _beta_vae_stats
from fastdci.metrics.interventions.factor_index import FactorIndex

SIZES = (3, 4, 5, 4, 4)
NAMES = ("shape", "scale", "orientation", "posX", "posY")
K = len(SIZES)
# small runs keep the tests fast; the binomial tolerances below account for their noise
SMALL = dict(batch_size=32, n_train=2000, n_eval=2000)
Z = 4.5  # standard errors allowed between two independent estimates of one accuracy


def make_grid(sizes=SIZES):
    return np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, len(sizes))


@pytest.fixture(scope="module")
def grid():
    return make_grid()


@pytest.fixture(scope="module")
def codes(grid):
    """Representations of every grid point: copy, copy without noise latents, rotated, noise."""
    rng = np.random.default_rng(0)
    scaled = grid / (np.array(SIZES) - 1)
    copy = np.concatenate([scaled + 0.01 * rng.normal(size=grid.shape), rng.normal(size=(len(grid), 3))], 1)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    collapsed = np.concatenate([scaled + 0.01 * rng.normal(size=grid.shape),
                                0.001 * rng.normal(size=(len(grid), 2)), np.full((len(grid), 1), 3.0)], 1)
    return {
        "copy": copy.astype(np.float32),
        "rotated": (copy @ q).astype(np.float32),
        "noise": rng.normal(size=copy.shape).astype(np.float32),
        "collapsed": collapsed.astype(np.float32),
        "exact": scaled.astype(np.float64),
    }


def write_file(path, latents, classes, chunk_rows, names=NAMES, sizes=SIZES):
    with LatentsWriter(path, latent_dim=latents.shape[1], factor_names=names, factor_sizes=sizes,
                       with_logvar=False, chunk_rows=chunk_rows) as w:
        w.append(latents, classes=classes)
    return path


# ============================================================================ references


class GridData:
    """disentanglement_lib's ground-truth data over a full grid, with a lookup encoder."""

    def __init__(self, sizes, latents):
        self.sizes = np.asarray(sizes)
        self.num_factors = len(sizes)
        self.latents = latents
        self.strides = np.cumprod(np.r_[1, self.sizes[:0:-1]])[::-1]

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(s, size=num) for s in self.sizes], axis=1)

    def represent(self, factors):
        return self.latents[factors @ self.strides]


def ref_beta_vae(data, random_state, batch_size, num_train, num_eval):
    from sklearn.linear_model import LogisticRegression

    def sample(num):
        points = np.zeros((num, data.latents.shape[1]))
        labels = np.zeros(num, np.int64)
        for i in range(num):
            index = random_state.randint(data.num_factors)
            f1 = data.sample_factors(batch_size, random_state)
            f2 = data.sample_factors(batch_size, random_state)
            f2[:, index] = f1[:, index]
            points[i] = np.mean(np.abs(data.represent(f1) - data.represent(f2)), axis=0)
            labels[i] = index
        return points, labels

    x, y = sample(num_train)
    model = LogisticRegression(C=1.0, max_iter=10000, tol=1e-8).fit(x, y)
    xe, ye = sample(num_eval)
    return np.mean(model.predict(x) == y), np.mean(model.predict(xe) == ye)


def ref_variance_metric(data, random_state, batch_size, num_train, num_eval, num_variance_estimate, threshold,
                        mode):
    """FactorVAE (mode 'min', one factor fixed) or Z-max (mode 'max', all others fixed)."""
    global_var = np.var(data.represent(data.sample_factors(num_variance_estimate, random_state)), axis=0, ddof=1)
    active = np.sqrt(global_var) >= threshold

    def votes(num):
        v = np.zeros((data.num_factors, global_var.shape[0]), np.int64)
        for _ in range(num):
            index = random_state.randint(data.num_factors)
            f = data.sample_factors(batch_size, random_state)
            if mode == "min":
                f[:, index] = f[0, index]
            else:
                keep = np.arange(data.num_factors) != index
                f[:, keep] = f[0, keep]
            ratio = np.var(data.represent(f), axis=0, ddof=1)[active] / global_var[active]
            v[index, ratio.argmin() if mode == "min" else ratio.argmax()] += 1
        return v

    train = votes(num_train)
    classifier = np.argmax(train, axis=0)
    cols = np.arange(train.shape[1])
    evals = votes(num_eval)
    return train[classifier, cols].sum() / train.sum(), evals[classifier, cols].sum() / evals.sum()


def ref_irs(factors, latents, diff_quantile=0.99, num_bins=20):
    """disentanglement_lib irs.compute_irs after sampling, in samples-first layout."""
    ys = np.zeros_like(factors)
    for i in range(factors.shape[1]):
        ys[:, i] = np.digitize(factors[:, i], np.histogram(factors[:, i], num_bins)[1][:-1])
    mus = latents[:, latents.var(axis=0) > 0.0]
    num_gen, num_lat = ys.shape[1], mus.shape[1]
    max_deviations = np.max(np.abs(mus - mus.mean(axis=0)), axis=0)
    cum = np.zeros([num_lat, num_gen])
    for i in range(num_gen):
        unique = np.unique(ys[:, i], axis=0)
        for k in range(unique.shape[0]):
            match = ys[:, i] == unique[k]
            e_loc = np.mean(mus[match, :], axis=0)
            cum[:, i] += np.quantile(np.abs(mus[match, :] - e_loc), q=diff_quantile, axis=0)
        cum[:, i] /= unique.shape[0]
    irs_matrix = 1.0 - cum / max_deviations[:, np.newaxis]
    scores = irs_matrix.max(axis=1)
    avg = np.average(scores, weights=max_deviations) if np.sum(max_deviations) > 0 else np.mean(scores)
    return avg, irs_matrix


def binomial_tolerance(p1, n1, p2, n2, z=Z):
    """z standard errors of the difference of two independent accuracies (pooled p)."""
    p = (p1 * n1 + p2 * n2) / (n1 + n2)
    return z * math.sqrt(max(p * (1 - p), 0.0) * (1 / n1 + 1 / n2))


# ============================================================================ known answers


def test_copy_code_scores_one(grid, codes):
    lat = codes["copy"]
    beta = fastdci.beta_vae_score(lat, grid, backend="cpu", **SMALL)
    fvae = fastdci.factor_vae_score(lat, grid, **SMALL)
    assert beta.scores() == {"eval_accuracy": 1.0, "train_accuracy": 1.0}
    assert fvae.eval_accuracy == 1.0 and fvae.train_accuracy == 1.0
    assert fvae.num_active_dims == 8
    # each factor's latent got every vote for that factor
    assert fvae.classifier[:K].tolist() == list(range(K))
    np.testing.assert_array_equal(np.diag(fvae.train_votes[:, :K]), fvae.train_votes.sum(axis=1))
    assert all(isinstance(v, float) for v in (*beta.scores().values(), *fvae.scores().values()))


def test_z_max_on_copy_code_with_collapsed_latents(grid, codes):
    res = fastdci.z_max_variance(codes["collapsed"], grid, **SMALL)
    assert res.scores() == {"eval_accuracy": 1.0, "train_accuracy": 1.0}
    assert res.counts()["num_active_dims"] == 5
    assert res.active.tolist() == [True] * 5 + [False] * 3
    assert res.classifier[:K].tolist() == list(range(K))
    assert res.skipped_combinations == {n: 0 for n in res.factor_names}
    # pure-noise latents move as much as the varied factor's latent: Z-max cannot tell them apart
    assert fastdci.z_max_variance(codes["copy"], grid, **SMALL).eval_accuracy < 0.8


@pytest.mark.parametrize("metric", ["beta_vae_score", "factor_vae_score", "z_max_variance"])
def test_pure_noise_scores_chance(grid, codes, metric):
    kw = dict(SMALL, backend="cpu") if metric == "beta_vae_score" else SMALL
    res = getattr(fastdci, metric)(codes["noise"], grid, **kw)
    se = math.sqrt(0.2 * 0.8 / SMALL["n_eval"])
    assert abs(res.eval_accuracy - 1 / K) <= Z * se, res.scores()


def test_rotation_drops_scores_far_below_one(grid, codes):
    beta = fastdci.beta_vae_score(codes["rotated"], grid, backend="cpu", **SMALL)
    fvae = fastdci.factor_vae_score(codes["rotated"], grid, **SMALL)
    assert beta.eval_accuracy < 0.8 and fvae.eval_accuracy < 0.8
    # still informative: well above chance
    assert beta.eval_accuracy > 0.3 and fvae.eval_accuracy > 0.3


def test_collapsed_representation_scores_zero_like_disentanglement_lib(grid):
    const = np.ones((len(grid), 3))
    res = fastdci.factor_vae_score(const, grid, **SMALL)
    assert res.scores() == {"eval_accuracy": 0.0, "train_accuracy": 0.0}
    assert res.counts()["num_active_dims"] == 0
    assert res.train_votes.sum() == 0


def test_irs_known_answers(grid, codes):
    exact = np.concatenate([codes["exact"], np.full((len(grid), 1), 2.0)], 1)
    res = fastdci.irs(exact, grid, n_train=None, factor_names=NAMES)
    assert res.irs == pytest.approx(1.0, abs=1e-12)
    assert res.num_active_dims == K and not res.active[-1]
    assert res.parents[:K].tolist() == list(range(K)) and res.parents[-1] == -1
    assert np.isnan(res.irs_matrix[-1]).all()
    assert res.scores() == {"irs": pytest.approx(1.0)} and res.counts()["num_active_dims"] == 5


# ============================================================================ against the references


@pytest.mark.parametrize("code", ["rotated", "copy"])
def test_factor_vae_matches_reference_loop(grid, codes, code):
    lat = codes[code]
    ours = fastdci.factor_vae_score(lat, grid, n_variance_rows=2000, random_state=1, **SMALL)
    ref = ref_variance_metric(GridData(SIZES, lat), np.random.RandomState(0), SMALL["batch_size"],
                              SMALL["n_train"], SMALL["n_eval"], 2000, 0.05, "min")
    n = SMALL["n_eval"]
    assert abs(ours.eval_accuracy - ref[1]) <= binomial_tolerance(ours.eval_accuracy, n, ref[1], n)
    assert abs(ours.train_accuracy - ref[0]) <= binomial_tolerance(ours.train_accuracy, n, ref[0], n)


def test_z_max_matches_reference_loop(grid, codes):
    lat = codes["rotated"]
    ours = fastdci.z_max_variance(lat, grid, n_variance_rows=2000, random_state=1, **SMALL)
    ref = ref_variance_metric(GridData(SIZES, lat), np.random.RandomState(0), SMALL["batch_size"],
                              SMALL["n_train"], SMALL["n_eval"], 2000, 0.05, "max")
    n = SMALL["n_eval"]
    assert abs(ours.eval_accuracy - ref[1]) <= binomial_tolerance(ours.eval_accuracy, n, ref[1], n)
    assert abs(ours.train_accuracy - ref[0]) <= binomial_tolerance(ours.train_accuracy, n, ref[0], n)


@pytest.mark.slow
def test_beta_vae_matches_reference_loop(grid, codes):
    lat = codes["rotated"]
    ours = fastdci.beta_vae_score(lat, grid, random_state=1, backend="cpu", **SMALL)
    ref = ref_beta_vae(GridData(SIZES, lat), np.random.RandomState(0), SMALL["batch_size"],
                       SMALL["n_train"], SMALL["n_eval"])
    n = SMALL["n_eval"]
    assert 0.3 < ref[1] < 0.9  # an informative, imperfect code: the comparison can fail
    assert abs(ours.eval_accuracy - ref[1]) <= binomial_tolerance(ours.eval_accuracy, n, ref[1], n)
    assert abs(ours.train_accuracy - ref[0]) <= binomial_tolerance(ours.train_accuracy, n, ref[0], n)


def test_beta_vae_classifier_matches_scikit_learn(grid, codes):
    from sklearn.linear_model import LogisticRegression

    with LatentsSource(codes["rotated"], grid) as source:
        stats = _beta_vae_stats(source, backend="cpu", random_state=np.random.default_rng(5), **SMALL)
    ours = _beta_vae_finalize(stats, C=1.0)
    model = LogisticRegression(C=1.0, max_iter=10000, tol=1e-10).fit(stats["train_points"], stats["train_labels"])
    train = np.mean(model.predict(stats["train_points"]) == stats["train_labels"])
    evals = np.mean(model.predict(stats["eval_points"]) == stats["eval_labels"])
    # the same convex objective: at most a couple of points on the decision boundary differ
    assert abs(ours.train_accuracy - train) <= 2 / SMALL["n_train"]
    assert abs(ours.eval_accuracy - evals) <= 2 / SMALL["n_eval"]
    assert ours.train_label_counts.sum() == SMALL["n_train"]
    # the features are the batch means of |z1 - z2|: positive, and the fixed factor's
    # direction differs less, so they are not constant
    assert stats["train_points"].shape == (SMALL["n_train"], 8)
    assert np.all(stats["train_points"] > 0)


@pytest.mark.parametrize("num_bins", [20, 3, None])
def test_irs_matches_reference_exactly(grid, codes, num_bins):
    rng = np.random.default_rng(4)
    rows = rng.integers(0, len(grid), 1500)
    lat = codes["rotated"].astype(np.float64)[rows]
    lat[:, 2] = 0.5  # a constant latent, dropped
    f = grid[rows]
    ours = fastdci.irs(lat, f, n_train=None, n_bins=num_bins)
    # num_bins=None keeps the classes: as many bins as it takes to separate them
    ref, matrix = ref_irs(f, lat, 0.99, num_bins if num_bins is not None else 1000)
    assert ours.irs == pytest.approx(ref, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(ours.irs_matrix[ours.active], matrix, rtol=1e-12, atol=1e-12)
    assert ours.num_active_dims == 7


def test_irs_samples_rows_uniformly(grid, codes):
    # IRS over num_train draws is IRS of the drawn rows
    res = fastdci.irs(codes["rotated"], grid, n_train=3000, random_state=3)
    rows = FactorIndex(grid).sample_rows(3000, np.random.default_rng(3))
    ref, _ = ref_irs(grid[rows], codes["rotated"].astype(np.float64)[rows])
    assert res.irs == pytest.approx(ref, rel=1e-12)
    assert res.n_train == 3000


# ============================================================================ reproducibility, files


def _same(a, b):
    da, db = a.to_dict(), b.to_dict()
    assert da.keys() == db.keys()
    for key in da:
        np.testing.assert_array_equal(np.asarray(da[key], dtype=object), np.asarray(db[key], dtype=object),
                                      err_msg=key)


@pytest.mark.parametrize("metric", ["beta_vae_score", "factor_vae_score", "z_max_variance", "irs"])
def test_same_seed_same_result_from_arrays_and_files(tmp_path, grid, codes, metric):
    fn = getattr(fastdci, metric)
    kw = {"n_train": 500} if metric == "irs" else dict(batch_size=16, n_train=300, n_eval=200)
    if metric == "beta_vae_score":
        kw["backend"] = "cpu"
    lat = codes["rotated"]
    a = fn(lat, grid, factor_names=NAMES, random_state=11, **kw)
    b = fn(lat, grid, factor_names=NAMES, random_state=11, **kw)
    _same(a, b)
    c = fn(lat, grid, factor_names=NAMES, random_state=12, **kw)
    assert a.to_dict() != c.to_dict()
    # the same rows in files chunked differently: the same result, path or open reader
    p1 = write_file(tmp_path / "a.h5", lat, grid, chunk_rows=7)
    p2 = write_file(tmp_path / "b.h5", lat, grid, chunk_rows=500)
    with LatentsSource(p1) as source:
        _same(a, fn(source, random_state=11, **kw))
    with open_latents(p2) as reader:
        _same(a, fn(LatentsSource(reader), random_state=11, **kw))
    with pytest.raises(InvalidInputError, match="not a file.*fastdci.evaluate"):
        fn(p1, random_state=11, **kw)


def test_torch_inputs_give_the_numpy_result(grid, codes):
    import torch

    kw = dict(batch_size=16, n_train=300, n_eval=200, random_state=2)
    a = fastdci.factor_vae_score(codes["rotated"], grid, **kw)
    b = fastdci.factor_vae_score(torch.from_numpy(codes["rotated"]), torch.from_numpy(grid), **kw)
    _same(a, b)


def test_source_index_is_built_once(tmp_path, grid, codes):
    path = write_file(tmp_path / "g.h5", codes["copy"], grid, chunk_rows=100)
    with LatentsSource(path) as source:
        fastdci.factor_vae_score(source, batch_size=8, n_train=50, n_eval=50)
        index = source.factor_index()
        fastdci.z_max_variance(source, batch_size=8, n_train=50, n_eval=50)
        assert source.factor_index() is index


def test_result_provenance_on_full_grid(grid, codes):
    res = fastdci.factor_vae_score(codes["copy"], grid, factor_names=NAMES, **SMALL)
    assert res.factor_names == NAMES
    assert res.skipped_values == {}
    assert res.n_rows == len(grid)
    for k, s in enumerate(SIZES):
        np.testing.assert_array_equal(res.rows_per_value[k], np.full(s, len(grid) // s))
    d = res.to_dict()
    assert d["metric"] == "factor_vae" and d["scores"]["eval_accuracy"] == 1.0
    assert d["n_variance_rows"] == 10000


def test_subset_of_the_grid_skips_thin_values_with_a_warning(grid, codes):
    # posX value 3 loses every row, shape value 2 keeps a single row
    one = np.flatnonzero((grid[:, 0] == 2) & (grid[:, 3] != 3))[0]
    keep = ((grid[:, 3] != 3) & (grid[:, 0] != 2)) | (np.arange(len(grid)) == one)
    lat, f = codes["copy"][keep], grid[keep]
    for metric in (fastdci.factor_vae_score, fastdci.beta_vae_score):
        kw = dict(SMALL, backend="cpu") if metric is fastdci.beta_vae_score else SMALL
        with pytest.warns(UserWarning, match=r"1 factor value\(s\) are held by fewer than 2 rows") as rec:
            res = metric(lat, f, factor_sizes=SIZES, factor_names=NAMES, **kw)
        assert "shape: [2]" in str(rec[0].message) and "posX" not in str(rec[0].message)
        assert res.skipped_values == {"shape": (2,)}  # posX value 3 is absent: not drawn, not "skipped"
        assert res.rows_per_value[0][2] == 1 and res.rows_per_value[3][3] == 0
        assert res.n_rows == int(keep.sum())
        assert res.eval_accuracy == 1.0  # the remaining values still identify the factors
    with pytest.warns(UserWarning, match="combinations of the other factors"):
        zres = fastdci.z_max_variance(lat, f, factor_sizes=SIZES, **SMALL)
    assert zres.skipped_combinations["factor_3"] > 0


def test_complete_sub_grid_draws_without_warnings(grid, codes):
    keep = grid[:, 2] % 2 == 0  # every second orientation, as the demo's lattice
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for metric in (fastdci.factor_vae_score, fastdci.z_max_variance):
            res = metric(codes["copy"][keep], grid[keep], factor_sizes=SIZES, **SMALL)
            assert res.skipped_values == {}
    assert res.skipped_combinations == {n: 0 for n in res.factor_names}


def test_random_subsample_still_scores(grid, codes):
    rows = np.random.default_rng(0).choice(len(grid), 600, replace=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every value keeps rows: no warning
        res = fastdci.factor_vae_score(codes["copy"][rows], grid[rows], factor_sizes=SIZES, **SMALL)
    assert res.eval_accuracy == 1.0 and res.n_rows == 600


# ============================================================================ errors


def test_errors_name_the_problem_and_the_fix(tmp_path, grid, codes):
    lat = codes["copy"]
    with pytest.raises(InvalidInputError, match="factors are missing"):
        fastdci.factor_vae_score(lat)
    path = write_file(tmp_path / "e.h5", lat, grid, chunk_rows=100)
    with pytest.raises(InvalidInputError, match="file already holds the factor classes"):
        LatentsSource(path, grid)
    with pytest.raises(InvalidInputError, match=r"disagree with the file's \[3, 4, 5, 4, 4\]"):
        LatentsSource(path, factor_sizes=(3, 4, 5, 4, 5))
    with pytest.raises(InvalidInputError, match="option batch_size must be an integer >= 2; got 1"):
        fastdci.factor_vae_score(lat, grid, batch_size=1)
    with pytest.raises(InvalidInputError, match="option n_train must be an integer >= 1"):
        fastdci.beta_vae_score(lat, grid, n_train=0)
    with pytest.raises(InvalidInputError, match="option n_variance_rows must be an integer >= 2"):
        fastdci.z_max_variance(lat, grid, n_variance_rows=1.5)
    with pytest.raises(InvalidInputError, match="threshold must be >= 0.0"):
        fastdci.factor_vae_score(lat, grid, threshold=-1)
    with pytest.raises(InvalidInputError, match="C must be > 0.0"):
        fastdci.beta_vae_score(lat, grid, C=0)
    with pytest.raises(InvalidInputError, match="diff_quantile must be >= 0.0 and <= 1.0"):
        fastdci.irs(lat, grid, diff_quantile=1.5)
    with pytest.raises(InvalidInputError, match="Pass an int seed"):
        fastdci.irs(lat, grid, random_state=np.random.RandomState(0))
    with pytest.raises(InvalidInputError, match="factor_names has 2 entries but there are 5 factors"):
        fastdci.irs(lat, grid, factor_names=["a", "b"])
    with pytest.raises(InvalidInputError, match="factors has 10 rows but latents have"):
        fastdci.irs(lat, grid[:10])
    with pytest.raises(FastDCIError, match=r"classes must lie in \[0, 3\)"):
        fastdci.factor_vae_score(lat, grid, factor_sizes=(3, 4, 5, 4, 3))
    with pytest.raises(InvalidInputError, match="2 rows for 8 latents, which looks transposed"):
        fastdci.factor_vae_score(lat[:2], grid[[0, 959]])  # too few rows (FactorIndex's own refusal of
        # a grid it cannot sample is tested in test_factor_index.py)


def test_cuda_backend_without_gpu_raises(grid, codes):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(MissingDependencyError, match="backend='cpu'"):
        fastdci.beta_vae_score(codes["copy"], grid, backend="cuda", **SMALL)


@pytest.mark.cuda
def test_beta_vae_on_cuda_matches_cpu(grid, codes):
    kw = dict(SMALL, random_state=3)
    cpu = fastdci.beta_vae_score(codes["rotated"], grid, backend="cpu", **kw)
    gpu = fastdci.beta_vae_score(codes["rotated"], grid, backend="cuda", **kw)
    assert abs(cpu.eval_accuracy - gpu.eval_accuracy) <= 2 / SMALL["n_eval"]
    assert abs(cpu.train_accuracy - gpu.train_accuracy) <= 2 / SMALL["n_train"]
