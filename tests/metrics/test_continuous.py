"""Continuous (real-valued) factors: the source's binning, and every metric against an
independent computation (scikit-learn, a NumPy restatement of the metrics review's code)."""

from __future__ import annotations

import numpy as np
import pytest

import fastdci
from fastdci.errors import InvalidDTypeError, InvalidInputError
from fastdci.io import LatentsSource

sklearn = pytest.importorskip("sklearn")
from sklearn.preprocessing import minmax_scale  # noqa: E402

N = 3000


@pytest.fixture(scope="module")
def mixed():
    """Two uniform continuous factors around a 3-class one; latents: factor 2, factor 0,
    the class, each with noise, and a noise latent."""
    rng = np.random.default_rng(3)
    values = rng.uniform(-1.0, 2.0, size=(N, 2))
    classes = rng.integers(0, 3, size=N)
    factors = np.column_stack([values[:, 0], classes, values[:, 1]])
    latents = np.column_stack([values[:, 1], values[:, 0], classes / 2.0, np.zeros(N)])
    latents = latents + 0.1 * rng.normal(size=latents.shape)
    return latents, factors, ["continuous", "discrete", "continuous"]


def review_bins(values, n_bins):
    """The metrics review's rule: minmax_scale then np.digitize on linspace(0, 1, n + 1)[:-1]."""
    return np.digitize(minmax_scale(values), np.linspace(0, 1, n_bins + 1)[:-1], right=False) - 1


def test_continuous_factors_are_binned_by_the_reviews_rule(mixed):
    latents, factors, types = mixed
    # values exactly on interior edges too
    factors = factors.copy()
    factors[:11, 0] = np.linspace(-1.0, 2.0, 11)
    with LatentsSource(latents, factors, factor_types=types, factor_bins=10) as src:
        assert src.factor_sizes == (10, 3, 10)
        np.testing.assert_array_equal(src.factors[:, [0, 2]], review_bins(factors[:, [0, 2]], 10))
        np.testing.assert_array_equal(src.factors[:, 1], factors[:, 1].astype(int))
        np.testing.assert_array_equal(src.factor_values(), factors)
        assert src.continuous.tolist() == [True, False, True]


def test_fractional_factors_without_types_say_how_to_score_them(mixed):
    latents, factors, _ = mixed
    with pytest.raises(InvalidDTypeError, match="factor_types='continuous'"):
        fastdci.mig(latents, factors)
    with pytest.raises(InvalidInputError, match="factor_types has 2 entries but there are 3 factors"):
        fastdci.mig(latents, factors, factor_types=["continuous", "discrete"])
    with pytest.raises(InvalidInputError, match="'discrete' or 'continuous'"):
        fastdci.mig(latents, factors, factor_types="real")


def test_mig_on_continuous_factors_equals_the_reviews_mig(mixed):
    latents, factors, types = mixed
    got = fastdci.mig(latents, factors, factor_types=types, factor_bins=10, n_bins=10, normalization="latent")
    # the review's mig: factors and codes min-max scaled and cut into 10 bins; MI / H(code)
    fb = factors.copy()
    fb[:, [0, 2]] = review_bins(factors[:, [0, 2]], 10)
    codes = review_bins(latents, 10)

    def mi_norm(x, y):
        joint = np.zeros((x.max() + 1, y.max() + 1))
        np.add.at(joint, (x, y), 1)
        p = joint / joint.sum()
        px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
        nz = p > 0
        mi = np.sum(p[nz] * np.log(p[nz] / (px @ py)[nz]))
        hy = -np.sum(py[py > 0] * np.log(py[py > 0]))
        return mi / hy if hy > 0 else 0.0

    m = np.array([[mi_norm(fb[:, f].astype(int), codes[:, c]) for c in range(latents.shape[1])]
                  for f in range(factors.shape[1])])
    top = np.sort(m, axis=1)
    assert got.score == pytest.approx(np.mean(top[:, -1] - top[:, -2]), abs=1e-12)


def test_dci_on_continuous_factors_equals_scikit_learns_lasso(mixed):
    from sklearn.linear_model import Lasso
    from sklearn.preprocessing import StandardScaler

    latents, factors, types = mixed
    cont = [0, 2]
    rng = np.random.default_rng(0)
    test = rng.random(N) < 0.3
    xtr, xte = latents[~test], latents[test]
    ytr, yte = factors[~test][:, cont], factors[test][:, cont]
    got = fastdci.dci(xtr, ytr, xte, yte, factor_types="continuous", alpha=0.01)
    assert got.settings["regressor"] == "lasso"
    sx = StandardScaler().fit(xtr)
    R, info = [], []
    for k in range(2):
        sy = StandardScaler().fit(ytr[:, k:k + 1])
        model = Lasso(alpha=0.01, tol=1e-12, max_iter=100000).fit(sx.transform(xtr), sy.transform(ytr[:, k:k + 1]).ravel())
        R.append(np.abs(model.coef_))
        pred = sy.inverse_transform(model.predict(sx.transform(xte))[:, None]).ravel()
        info.append(1 - np.sqrt(np.mean((pred - yte[:, k]) ** 2)) / np.std(yte[:, k]))  # 1 - NRMSE
    R = np.array(R).T
    np.testing.assert_allclose(got.importance, R, atol=1e-6)
    np.testing.assert_allclose(got.informativeness_test_per_factor, info, atol=1e-6)
    p = (R + 1e-11) / (R + 1e-11).sum(1, keepdims=True)
    d = 1 + np.sum(p * np.log(p), 1) / np.log(2)
    assert got.disentanglement == pytest.approx(np.sum(d * R.sum(1) / R.sum()), abs=1e-5)


def test_dci_with_both_types_fits_each_apart_and_keeps_the_factor_order(mixed):
    latents, factors, types = mixed
    both = fastdci.dci(latents, factors, factor_types=types, regressor="auto")
    cont = fastdci.dci(latents, factors[:, [0, 2]], factor_types="continuous", regressor="lasso")
    disc = fastdci.dci(latents, factors[:, [1]].astype(int), regressor="gbt")
    norm = lambda r: r / r.sum(axis=0, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(both.importance[:, [0, 2]], norm(cont.importance), rtol=1e-12)
    np.testing.assert_allclose(both.importance[:, [1]], norm(disc.importance), rtol=1e-12)
    np.testing.assert_allclose(both.informativeness_test_per_factor[[0, 2]], cont.informativeness_test_per_factor)
    assert both.informativeness_test_per_factor[1] == disc.informativeness_test_per_factor[0]
    assert both.settings["regressor"] == "gbt+lasso"
    assert np.argmax(both.importance[:, 0]) == 1 and np.argmax(both.importance[:, 2]) == 0
    with pytest.raises(InvalidInputError, match="classifies, but factor.*continuous"):
        fastdci.dci(latents, factors, factor_types=types, regressor="gbt")


def test_random_forest_dci_equals_scikit_learns_forests(mixed):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    latents, factors, types = mixed
    got = fastdci.dci(latents, factors, latents, factors, factor_types=types, regressor="random_forest",
                      n_estimators=5, max_depth=6)
    imp = np.empty((4, 3))
    for k in range(3):
        cls = RandomForestClassifier if k == 1 else RandomForestRegressor
        y = factors[:, k].astype(int) if k == 1 else factors[:, k]
        imp[:, k] = cls(n_estimators=5, max_depth=6, random_state=0).fit(latents, y).feature_importances_
    np.testing.assert_allclose(got.importance, imp / imp.sum(0), rtol=1e-12)


def test_sap_scores_continuous_factors_by_r2_of_a_one_latent_line(mixed):
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    latents, factors, types = mixed
    got = fastdci.sap(latents, factors, factor_types=types)
    for k in (0, 2):
        for i in range(4):
            fit = LinearRegression().fit(latents[:, i:i + 1], factors[:, k])
            r2 = max(0.0, r2_score(factors[:, k], fit.predict(latents[:, i:i + 1])))
            assert got.score_matrix[i, k] == pytest.approx(r2, abs=1e-9)
    disc = fastdci.sap(latents, factors[:, [1]].astype(int))
    np.testing.assert_array_equal(got.score_matrix[:, 1], disc.score_matrix[:, 0])


def test_explicitness_review_convention_equals_scikit_learn_one_vs_rest(mixed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer

    latents, factors, types = mixed
    got = fastdci.explicitness(latents, factors, latents, factors, factor_types=types, factor_bins=10,
                               convention="review")
    # the review's explicitness (impl 1, scale=True) on all rows, factors binned by its rule
    fb = factors.copy()
    fb[:, [0, 2]] = review_bins(factors[:, [0, 2]], 10)
    codes, total = minmax_scale(latents), 0.0
    for k in range(3):
        y = fb[:, k].astype(int)
        labels = MultiLabelBinarizer().fit_transform(y[:, None])
        clf = OneVsRestClassifier(LogisticRegression(class_weight="balanced", tol=1e-8, max_iter=10000))
        total += roc_auc_score(labels, clf.fit(codes, y).predict_proba(codes))
    assert got.explicitness_train == pytest.approx((total / 3 - 0.5) * 2, abs=1e-6)


def test_held_out_continuous_factors_use_the_training_bins(mixed):
    latents, factors, types = mixed
    with LatentsSource(latents[:2000], factors[:2000], factor_types=types, factor_bins=10,
                       test=(latents[2000:], factors[2000:])) as src:
        edges_from = src._bins
        want = edges_from.classes(factors[2000:, [0, 2]])
        np.testing.assert_array_equal(src.test[1][:, [0, 2]], want)
        _, test_values = src.train_test_values(0.5, 0)
        np.testing.assert_array_equal(test_values, factors[2000:])


def test_grid_metrics_refuse_continuous_factors_and_evaluate_skips_them(mixed):
    latents, factors, types = mixed
    with pytest.raises(InvalidInputError, match="continuous; evaluate it on the factors' classes"):
        fastdci.irs(LatentsSource(latents, factors, factor_types=types))
    rep = fastdci.evaluate((latents, factors), "mig,sap,beta_vae,factor_vae", factor_types=types)
    assert set(rep) == {"mig", "sap"}
    assert "continuous" in rep.skipped["beta_vae"]
    assert rep.provenance["factor_types"] == types


def test_a_files_values_are_its_continuous_factors(tmp_path, mixed):
    from fastdci.io import LatentsWriter

    latents, factors, types = mixed
    classes = np.column_stack([review_bins(factors[:, [0]], 4)[:, 0], factors[:, 1].astype(int),
                               review_bins(factors[:, [2]], 4)[:, 0]])
    path = tmp_path / "values.h5"
    with LatentsWriter(path, latent_dim=4, factor_names=["a", "b", "c"], factor_sizes=[4, 3, 4],
                       with_logvar=False, with_values=True) as w:
        w.append(latents.astype(np.float32), classes=classes, values=factors.astype(np.float32))
    got = fastdci.evaluate(str(path), "dci,mig", factor_types=types)
    want = fastdci.evaluate((latents.astype(np.float32), factors.astype(np.float32).astype(np.float64)),
                            "dci,mig", factor_types=types)
    assert got["dci"].scores() == want["dci"].scores() and got["mig"].scores() == want["mig"].scores()
    nov = tmp_path / "novalues.h5"
    with LatentsWriter(nov, latent_dim=4, factor_names=["a", "b", "c"], factor_sizes=[4, 3, 4],
                       with_logvar=False) as w:
        w.append(latents.astype(np.float32), classes=classes)
    with pytest.raises(InvalidInputError, match="stores no /factors/values"):
        fastdci.evaluate(str(nov), "mig", factor_types="continuous")


def test_factor_types_with_a_source_or_a_model_is_refused_not_ignored(mixed):
    latents, factors, types = mixed
    with LatentsSource(latents, factors, factor_types=types) as src:
        with pytest.raises(InvalidInputError, match="build it with LatentsSource"):
            fastdci.evaluate(src, "mig", factor_types=types)
        assert fastdci.evaluate(src, "mig")["mig"].score == fastdci.mig(latents, factors, factor_types=types).score
