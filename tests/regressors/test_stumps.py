"""GradientBoostedStumps against a plain-NumPy booster written here and scikit-learn's
GradientBoostingClassifier on inputs where binning is exact; its behaviour, errors and CUDA
trees (disentanglement_lib's DCI numbers: test_stumps_dlib.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fastdci.errors import FastDCIError, InvalidInputError
from fastdci.regressors import GradientBoostedStumps
from fastdci.regressors._base import encode_classes
from fastdci.regressors.stumps import _importances


# ----------------------------------------------------------------------------- references


def reference_booster(Z, Y, n_rounds, depth, lr=0.1):
    """Plain-NumPy multinomial gradient boosting on integer-coded inputs ``Z`` (N, L) whose
    values are their own bins: one booster per factor, one tree per class per round, best
    split by the Friedman MSE gain (latent-major, first strict maximum), Newton leaves
    scaled by (K-1)/K. Returns per factor: raw scores (N, K_k), gains (R, K_k, L)."""
    N, L = Z.shape
    out = []
    for k in range(Y.shape[1]):
        classes, y = np.unique(Y[:, k], return_inverse=True)
        K = classes.size
        prior = np.bincount(y, minlength=K) / N
        F = np.tile(np.log(np.clip(prior, np.finfo(np.float32).eps, 1)), (N, 1))
        gains = np.zeros((n_rounds, K, L))
        onehot = np.eye(K)[y]
        for r in range(n_rounds):
            p = np.exp(F - F.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g, h = p - onehot, p * (1 - p)
            for c in range(K):
                nodes = [np.arange(N)]
                for _ in range(depth):
                    children = []
                    for rows in nodes:
                        best, arg = -np.inf, None
                        G = g[rows, c].sum()
                        for l in range(L):
                            for t in range(int(Z[:, l].max())):
                                left = Z[rows, l] <= t
                                nl = left.sum()
                                if nl == 0 or nl == rows.size:
                                    continue
                                gl = g[rows[left], c].sum()
                                v = gl**2 / nl + (G - gl) ** 2 / (rows.size - nl) - G**2 / rows.size
                                if v > best + 1e-9:
                                    best, arg = v, (l, left)
                        if arg is not None and best > 1e-12 * rows.size:
                            gains[r, c, arg[0]] += best
                            children += [rows[arg[1]], rows[~arg[1]]]
                        else:
                            children += [rows, rows[:0]]
                    nodes = children
                for rows in nodes:
                    if rows.size:
                        F[rows, c] += lr * -(K - 1) / K * g[rows, c].sum() / h[rows, c].sum()
        out.append((F, gains))
    return out


def _integer_code(rng, N=300):
    """Latents with 12 distinct integer values each (bins are exact), 3 factors of 3/2/4
    classes tied to latents 0, 1 and (2 and 0)."""
    Z = rng.integers(0, 12, size=(N, 4)).astype(np.float64)
    noise = rng.integers(0, 2, size=N)
    Y = np.stack(
        [
            np.digitize(Z[:, 0] + noise, [4, 8]),
            (Z[:, 1] > 5).astype(int) ^ (rng.random(N) < 0.1),
            np.digitize(Z[:, 2] + 0.5 * Z[:, 0], [5, 9, 13]),
        ],
        axis=1,
    )
    return Z, Y


# ----------------------------------------------------------------------------- exact agreement


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_matches_numpy_reference_booster(rng, depth):
    Z, Y = _integer_code(rng)
    R = 6
    model = GradientBoostedStumps(n_rounds=R, max_depth=depth, device="cpu").fit(Z, Y)
    ref = reference_booster(Z, Y, R, depth)
    raw = model.decision_function_stacked(Z)
    enc, _ = encode_classes(Y)
    for k, s in enumerate(enc.slices()):
        F_ref, gains = ref[k]
        # float32 gradients in the kernels, float64 here
        np.testing.assert_allclose(raw[:, s], F_ref, atol=2e-5)
        ours = model.trees_.feat[:, :, s]
        # per tree, gains per latent
        per_tree = np.zeros_like(gains)
        for r in range(R):
            for c in range(s.stop - s.start):
                for i in range(ours.shape[1]):
                    f = ours[r, i, c]
                    if f >= 0:
                        per_tree[r, c, f] += model.trees_.gain[r, i, s.start + c]
        np.testing.assert_allclose(per_tree, gains, rtol=1e-4, atol=1e-5)
        total = gains.sum(axis=(0, 1))
        np.testing.assert_allclose(model.feature_importances_[:, k], total / total.sum(), atol=1e-6)


def test_importance_conventions_from_the_same_trees(rng):
    Z, Y = _integer_code(rng)
    g = GradientBoostedStumps(n_rounds=8, max_depth=2, device="cpu", importance="global").fit(Z, Y)
    p = GradientBoostedStumps(n_rounds=8, max_depth=2, device="cpu", importance="per_tree").fit(Z, Y)
    np.testing.assert_array_equal(g.trees_.feat, p.trees_.feat)
    enc, _ = encode_classes(Y)
    tr = g.trees_
    for k, s in enumerate(enc.slices()):
        gsum = np.zeros(Z.shape[1])
        legacy = np.zeros(Z.shape[1])
        for r in range(tr.feat.shape[0]):
            stage = np.zeros(Z.shape[1])
            for c in range(s.start, s.stop):
                tree = np.zeros(Z.shape[1])
                for i in range(tr.feat.shape[1]):
                    if tr.feat[r, i, c] >= 0:
                        tree[tr.feat[r, i, c]] += tr.gain[r, i, c]
                gsum += tree
                if tree.sum() > 0:
                    stage += tree / tree.sum()
            legacy += stage / (s.stop - s.start)
        legacy /= tr.feat.shape[0]
        np.testing.assert_allclose(g.feature_importances_[:, k], gsum / gsum.sum(), rtol=1e-12)
        np.testing.assert_allclose(p.feature_importances_[:, k], legacy, rtol=1e-12)
        assert g.feature_importances_[:, k].sum() == pytest.approx(1.0)


@pytest.mark.slow
def test_tracks_sklearn_gradient_boosting_when_bins_are_exact(rng):
    from sklearn.ensemble import GradientBoostingClassifier

    Z, Y = _integer_code(rng, N=400)
    R = 10
    model = GradientBoostedStumps(n_rounds=R, max_depth=3, device="cpu").fit(Z, Y)
    legacy_model = _importances(model.trees_, encode_classes(Y)[0], Z.shape[1], "per_tree")
    proba = model.predict_proba(Z)
    for k in range(Y.shape[1]):
        sk = GradientBoostingClassifier(n_estimators=R, max_depth=3, random_state=0).fit(Z, Y[:, k])
        np.testing.assert_allclose(model.feature_importances_[:, k], sk.feature_importances_, atol=5e-3)
        if len(sk.classes_) > 2:  # scikit-learn fits one tree of the binomial deviance for 2
            np.testing.assert_allclose(proba[k], sk.predict_proba(Z), atol=5e-3)
            legacy = sum(
                sum(t.feature_importances_ for t in stage) / len(stage) for stage in sk.estimators_
            ) / len(sk.estimators_)
            np.testing.assert_allclose(legacy_model[:, k], legacy, atol=2e-2)
    np.testing.assert_array_equal(model.predict(Z)[:, 0], GradientBoostingClassifier(n_estimators=R, max_depth=3, random_state=0).fit(Z, Y[:, 0]).predict(Z))


@pytest.mark.slow
def test_newton_criterion_matches_hist_gradient_boosting_stumps(rng):
    from sklearn.ensemble import HistGradientBoostingClassifier

    Z, Y = _integer_code(rng, N=500)
    R = 5
    for k in range(Y.shape[1]):
        y = Y[:, k]
        model = GradientBoostedStumps(n_rounds=R, max_depth=1, criterion="newton", device="cpu")
        model.fit(Z, y)
        hgb = HistGradientBoostingClassifier(
            max_iter=R, max_depth=1, learning_rate=0.1, min_samples_leaf=1,
            l2_regularization=0.0, early_stopping=False, max_bins=255,
        ).fit(Z, y)
        # Same second-order gain on the same bins. HistGradientBoosting's multiclass leaves
        # omit the (K-1)/K factor, so only the first round's gradients agree for K > 2; a
        # binary factor (a 2-class softmax with mirrored trees = the binomial deviance)
        # agrees in every round.
        rounds = range(R) if len(hgb.classes_) == 2 else range(1)
        for r in rounds:
            for c, pred in enumerate(hgb._predictors[r]):
                root = pred.nodes[0]
                assert model.trees_.feat[r, 0, c] == root["feature_idx"]
                assert model.trees_.thr[r, 0, c] == root["bin_threshold"]
                assert model.trees_.gain[r, 0, c] == pytest.approx(root["gain"], rel=1e-5)


# ----------------------------------------------------------------------------- behaviour


def test_pure_noise_is_chance_level_on_held_out_rows(rng):
    X = rng.normal(size=(1200, 3))
    Y = rng.integers(0, 4, size=(1200, 1))
    model = GradientBoostedStumps(n_rounds=20, device="cpu").fit(X[:600], Y[:600])
    assert abs(model.score(X[600:], Y[600:])[0] - 0.25) < 0.07


def test_labels_single_class_and_binary_factors(rng):
    X = rng.normal(size=(200, 2))
    Y = np.stack([np.where(X[:, 0] > 0, 7, 3), np.full(200, 5)], axis=1)
    model = GradientBoostedStumps(n_rounds=10, device="cpu").fit(X, Y)
    assert [list(c) for c in model.classes_] == [[3, 7], [5]]
    pred = model.predict(X)
    assert set(np.unique(pred[:, 0])) <= {3, 7} and (pred[:, 1] == 5).all()
    proba = model.predict_proba(X)
    assert proba[0].shape == (200, 2) and proba[1].shape == (200, 1)
    np.testing.assert_allclose(proba[0].sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.feature_importances_[:, 1], [0.0, 0.0])
    assert model.feature_importances_[0, 0] > 0.9
    s = model.score(X, Y)
    assert s.shape == (2,) and s[1] == 1.0
    # mirrored trees of the 2-class softmax
    np.testing.assert_array_equal(model.trees_.feat[:, :, 0], model.trees_.feat[:, :, 1])


def test_torch_engine_gives_the_same_trees_on_cpu(rng):
    Z, Y = _integer_code(rng)
    X = Z + rng.normal(scale=0.1, size=Z.shape)
    for depth, criterion in [(1, "friedman_mse"), (3, "friedman_mse"), (2, "newton")]:
        a = GradientBoostedStumps(n_rounds=5, max_depth=depth, criterion=criterion, device="cpu", max_bins=32)
        a.fit(X, Y)
        b = GradientBoostedStumps(n_rounds=5, max_depth=depth, criterion=criterion, device="cpu", max_bins=32)
        b.device_ = torch.device("cpu")
        enc, codes = encode_classes(Y)
        b.classes_ = list(enc.classes)
        b.n_features_in_ = X.shape[1]
        b._fit_engine(X, codes, enc, "torch")
        np.testing.assert_array_equal(a.trees_.feat, b.trees_.feat)
        np.testing.assert_array_equal(a.trees_.thr, b.trees_.thr)
        np.testing.assert_allclose(a.trees_.values, b.trees_.values, atol=1e-6)
        np.testing.assert_allclose(a.feature_importances_, b.feature_importances_, atol=1e-6)
        for pa, pb in zip(a.bin_thresholds_, b.bin_thresholds_):
            np.testing.assert_array_equal(pa, pb)
        # the torch predictor on the numba-fitted trees
        from fastdci.kernels import torch_boosting

        raw_t = torch_boosting.predict_raw(b._bins_torch(torch.from_numpy(X)), a.trees_, 0.1)
        np.testing.assert_allclose(raw_t.numpy(), a.decision_function_stacked(X), rtol=1e-12)


def test_ranks_drawn_for_many_rounds_at_once_equal_the_draws_per_level():
    """The CPU engine draws the latents' ranks of several rounds in one call; the torch engine
    one level at a time: the same stream, so the same tie-breaks."""
    from fastdci.regressors._stumps_engines import split_ranks

    C, L = 5, 7
    whole = split_ranks(np.random.default_rng(3), 3 * 7, C, L)
    rng = np.random.default_rng(3)
    per_level = [split_ranks(rng, J, C, L) for _ in range(3) for J in (1, 2, 4)]
    np.testing.assert_array_equal(whole, np.concatenate(per_level))


@pytest.mark.parametrize(
    "seed,n,latents,sizes,params,digest",
    [
        (0, 3000, 6, [3, 6, 10], dict(max_depth=3, n_rounds=10), "51d76ae98be81489"),
        (1, 2500, 5, [2, 1, 7], dict(max_depth=2, n_rounds=10, criterion="newton", max_bins=32),
         "185820df4918a080"),
        (2, 2049, 4, [5], dict(max_depth=1, n_rounds=15), "6c7989991fcb8446"),
    ],
)
def test_cpu_fits_are_bit_identical_to_the_recorded_ones(seed, n, latents, sizes, params, digest):
    """The CPU engine's trees (feat, thr, gain, values, init) and importances, bit for bit, as
    recorded before the kernels were restructured: kernel changes must not move a number."""
    import hashlib

    rng = np.random.default_rng(seed)
    Y = np.stack([rng.integers(0, s, n) for s in sizes], 1)
    X = Y / np.maximum(np.array(sizes) - 1, 1) + 0.3 * rng.normal(size=Y.shape)
    X = np.concatenate([X, rng.normal(size=(n, latents - len(sizes)))], 1)
    model = GradientBoostedStumps(device="cpu", **params).fit(X, Y)
    t = model.trees_
    h = hashlib.sha256()
    for a in (t.feat, t.thr, t.gain, t.values, t.init, model.feature_importances_):
        h.update(np.ascontiguousarray(a).tobytes())
    assert h.hexdigest()[:16] == digest


def test_fit_does_not_depend_on_the_numba_thread_count(rng):
    """The parallel kernels only write their own elements and the leaf sums run over fixed
    row blocks (more rows than one block here), so 1 and 2 threads give identical trees."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs at least 2 Numba threads")
    Z, Y = _integer_code(rng, N=5000)
    X = Z + rng.normal(scale=0.3, size=Z.shape)
    before = numba.get_num_threads()
    fits = []
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            fits.append(GradientBoostedStumps(n_rounds=4, max_depth=3, device="cpu").fit(X, Y))
    finally:
        numba.set_num_threads(before)
    a, b = (f.trees_ for f in fits)
    np.testing.assert_array_equal(a.feat, b.feat)
    np.testing.assert_array_equal(a.thr, b.thr)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(fits[0].feature_importances_, fits[1].feature_importances_)


def test_fit_threads_follow_the_free_cpus_and_are_restored():
    """The booster runs as many Numba threads as cores are free (fastdci._threads), within the
    count set before, and leaves that count as it found it."""
    import numba

    from fastdci._threads import free_cpus, threads_for_load

    before = numba.get_num_threads()
    assert 1 <= free_cpus() <= (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    with threads_for_load(limit=1) as pool:
        assert numba.get_num_threads() == pool.threads == 1
    with threads_for_load() as pool:
        assert 1 <= pool.refresh() == numba.get_num_threads() <= before
    assert numba.get_num_threads() == before


def test_accepts_torch_inputs_and_records_settings(rng):
    X = torch.from_numpy(rng.normal(size=(100, 2)).astype(np.float32))
    Y = torch.from_numpy((X[:, 0].numpy() > 0).astype(np.int64))
    model = GradientBoostedStumps(n_rounds=3, max_depth=2, importance="per_tree", device="cpu").fit(X, Y)
    assert model.max_depth == 2 and model.importance == "per_tree"
    assert model.feature_importances_.shape == (2, 1)
    assert model.get_params()["criterion"] == "friedman_mse"


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "params,words",
    [
        ({"max_depth": 4}, "max_depth must be 1, 2 or 3"),
        ({"max_depth": 0}, "max_depth must be 1, 2 or 3"),
        ({"n_rounds": 0}, "n_rounds must be a positive integer"),
        ({"learning_rate": -1.0}, "learning_rate must be a positive number"),
        ({"max_bins": 300}, "max_bins must be an integer in [2, 256]"),
        ({"importance": "gain"}, "importance must be 'global'"),
        ({"criterion": "gini"}, "criterion must be 'friedman_mse'"),
        ({"device": "tpu"}, "device must be 'auto', 'cpu' or 'cuda'"),
    ],
)
def test_bad_parameters_raise_with_the_fix(rng, params, words):
    X = rng.normal(size=(20, 2))
    Y = rng.integers(0, 2, size=(20, 1))
    with pytest.raises(InvalidInputError) as err:
        GradientBoostedStumps(**params).fit(X, Y)
    assert words in str(err.value)


def test_bad_inputs_raise(rng):
    model = GradientBoostedStumps(n_rounds=2, device="cpu")
    with pytest.raises(InvalidInputError, match="not fitted yet"):
        model.predict(np.zeros((3, 2)))
    X = rng.normal(size=(30, 2))
    with pytest.raises(InvalidInputError, match="NaN"):
        model.fit(np.where(X > 1.5, np.nan, X), rng.integers(0, 2, size=(30, 1)))
    with pytest.raises(FastDCIError, match="integer class labels"):
        model.fit(X, rng.normal(size=(30, 1)))
    with pytest.raises(InvalidInputError, match="rows but latents have"):
        model.fit(X, rng.integers(0, 2, size=(29, 1)))
    model.fit(X, rng.integers(0, 2, size=(30, 1)))
    with pytest.raises(InvalidInputError, match="fitted on 2"):
        model.predict(np.zeros((3, 3)))


# ----------------------------------------------------------------------------- CUDA


@pytest.mark.cuda
def test_cuda_fit_gives_the_cpu_trees(rng):
    Z, Y = _integer_code(rng, N=2000)
    X = Z + rng.normal(scale=0.1, size=Z.shape)
    for depth in (1, 3):
        cpu = GradientBoostedStumps(n_rounds=10, max_depth=depth, device="cpu").fit(X, Y)
        gpu = GradientBoostedStumps(n_rounds=10, max_depth=depth, device="cuda").fit(X, Y)
        assert gpu.device_.type == "cuda"
        np.testing.assert_array_equal(cpu.trees_.feat, gpu.trees_.feat)
        np.testing.assert_array_equal(cpu.trees_.thr, gpu.trees_.thr)
        np.testing.assert_allclose(cpu.feature_importances_, gpu.feature_importances_, atol=1e-5)
        np.testing.assert_array_equal(cpu.predict(X), gpu.predict(X))
        Xt = torch.from_numpy(X).cuda()
        np.testing.assert_allclose(gpu.predict_proba(Xt)[0], cpu.predict_proba(X)[0], atol=1e-5)
