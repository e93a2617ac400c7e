"""DCI with a scikit-learn estimator: against a plain per-factor scikit-learn loop that computes
D, C and I by Eastwood & Williams' definition, on the same rows; the recorded settings; the
errors for estimators without importances or methods."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import entropy

import fastdci
from fastdci.errors import FastDCIError, InvalidInputError

sklearn = pytest.importorskip("sklearn")
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

N_TRAIN, N_TEST = 400, 200


@pytest.fixture(scope="module")
def code():
    """Two factors (3 and 4 classes) read by latents 0 and 1, latent 2 a mix, latent 3 noise."""
    rng = np.random.default_rng(3)
    n = N_TRAIN + N_TEST
    y = np.stack([rng.integers(0, 3, n), rng.integers(0, 4, n)], axis=1)
    x = np.stack([y[:, 0] + 0.3 * rng.normal(size=n), y[:, 1] + 0.3 * rng.normal(size=n),
                  y[:, 0] - y[:, 1] + rng.normal(size=n), rng.normal(size=n)], axis=1)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def reference_dci(make, x, y, x_test, y_test, importance):
    """One estimator per factor; D, C weighted by importance shares; I the mean accuracy."""
    L, K = x.shape[1], y.shape[1]
    R = np.zeros((L, K))
    acc_train, acc_test = np.zeros(K), np.zeros(K)
    for k in range(K):
        model = make().fit(x, y[:, k])
        R[:, k] = importance(model)
        acc_train[k] = np.mean(model.predict(x) == y[:, k])
        acc_test[k] = np.mean(model.predict(x_test) == y_test[:, k])
    d = 1.0 - entropy(R.T, base=K)  # per latent: entropy over factors
    c = 1.0 - entropy(R, base=L)  # per factor: entropy over latents
    return {
        "disentanglement": float(np.sum(d * R.sum(axis=1) / R.sum())),
        "completeness": float(np.sum(c * R.sum(axis=0) / R.sum())),
        "informativeness_train": float(acc_train.mean()),
        "informativeness_test": float(acc_test.mean()),
        "importance": R,
    }


def _check(res, ref):
    np.testing.assert_allclose(res.importance, ref["importance"], rtol=1e-12, atol=0)
    for key in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert getattr(res, key) == pytest.approx(ref[key], rel=1e-9, abs=1e-9), key


def test_gradient_boosting_matches_a_sklearn_loop(code):
    make = lambda: GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0)  # noqa: E731
    res = fastdci.dci(*code, regressor=make())
    _check(res, reference_dci(make, *code, importance=lambda m: m.feature_importances_))
    assert (res.n_train, res.n_test) == (N_TRAIN, N_TEST)
    assert res.regressor == "GradientBoostingClassifier"
    assert 0.0 < res.completeness < res.disentanglement < 1.0


def test_logistic_regression_matches_a_sklearn_loop(code):
    make = lambda: LogisticRegression(C=0.5, max_iter=1000)  # noqa: E731
    res = fastdci.dci(*code, regressor=make())
    # the importance rule of regressor="logistic": sum over classes of |coefficient|
    _check(res, reference_dci(make, *code, importance=lambda m: np.abs(m.coef_).sum(axis=0)))


def test_pipeline_is_read_at_its_final_step(code):
    make = lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))  # noqa: E731
    res = fastdci.dci(*code, regressor=make())
    _check(res, reference_dci(make, *code, importance=lambda m: np.abs(m[-1].coef_).sum(axis=0)))


def test_the_estimator_itself_is_not_fitted(code):
    est = GradientBoostingClassifier(n_estimators=5, random_state=0)
    fastdci.dci(*code, regressor=est)
    assert not hasattr(est, "estimators_")


def test_random_split_uses_the_same_rows_as_the_builtin_regressors(code):
    x = np.concatenate([code[0], code[2]])
    y = np.concatenate([code[1], code[3]])
    est = fastdci.dci(x, y, regressor=LogisticRegression(max_iter=1000), test_size=0.25, max_train=300)
    own = fastdci.dci(x, y, regressor="logistic", backend="cpu", test_size=0.25, max_train=300)
    assert (est.n_train, est.n_test) == (own.n_train, own.n_test) == (300, 150)
    assert abs(est.informativeness_test - own.informativeness_test) < 0.05


def test_settings_record_the_estimator_and_serialise(code, tmp_path):
    est = GradientBoostingClassifier(n_estimators=7, max_depth=2, random_state=1)
    res = fastdci.dci(*code, regressor=est)
    assert res.settings["regressor"] == "GradientBoostingClassifier"
    reg = res.settings["regressor_settings"]
    assert reg["class"] == "GradientBoostingClassifier"
    assert {k: reg[k] for k in ("n_estimators", "max_depth", "random_state")} == {
        "n_estimators": 7, "max_depth": 2, "random_state": 1}
    assert set(est.get_params()) <= set(reg)
    json.dumps(res.to_dict())
    with fastdci.LatentsSource(code[0], code[1], test=(code[2], code[3])) as source:
        report = fastdci.evaluate(source, "dci", dci={"regressor": est})
    report.to_json(tmp_path / "r.json")
    back = fastdci.Report.from_json(tmp_path / "r.json")
    assert back["dci"].settings["regressor_settings"]["n_estimators"] == 7
    assert back["dci"].disentanglement == pytest.approx(res.disentanglement)


def test_a_regressor_scores_one_minus_nrmse(code):
    res = fastdci.dci(*code, regressor=Ridge(alpha=1.0))
    x, y, x_test, y_test = code
    for k in range(y.shape[1]):
        m = Ridge(alpha=1.0).fit(x, y[:, k])
        want = 1.0 - np.sqrt(np.mean((m.predict(x_test) - y_test[:, k]) ** 2)) / np.std(y_test[:, k])
        assert res.informativeness_test_per_factor[k] == pytest.approx(want, rel=1e-12)
        np.testing.assert_allclose(res.importance[:, k], np.abs(m.coef_), rtol=1e-12)


def test_estimator_without_importances_is_one_clear_error(code):
    with pytest.raises(FastDCIError, match=r"KNeighborsClassifier has neither feature_importances_ nor coef_.*"
                                           r"GradientBoostingClassifier\(\).*LogisticRegression\(\)"):
        fastdci.dci(*code, regressor=KNeighborsClassifier())


def test_estimator_without_methods_and_options_beside_an_instance(code):
    class FitOnly:
        def fit(self, X, y):
            return self

    with pytest.raises(InvalidInputError, match=r"FitOnly has no predict\(\) or score\(\)"):
        fastdci.dci(*code, regressor=FitOnly())
    with pytest.raises(InvalidInputError, match="must be one of .* or an estimator"):
        fastdci.dci(*code, regressor=object())
    with pytest.raises(InvalidInputError, match="set it on the instance"):
        fastdci.dci(*code, regressor=LogisticRegression(), C=2.0)


@pytest.mark.cuda
def test_cuda_latents_reach_the_estimator_as_host_arrays(code):
    import torch

    est = LogisticRegression(max_iter=1000)
    cpu = fastdci.dci(*code, regressor=est, backend="cpu")
    x, y, x_test, y_test = code
    gpu = fastdci.dci(torch.from_numpy(x).cuda(), y, torch.from_numpy(x_test).cuda(), y_test, regressor=est,
                      backend="cuda")
    np.testing.assert_allclose(gpu.importance, cpu.importance, rtol=1e-10)
    assert gpu.informativeness_test == cpu.informativeness_test
