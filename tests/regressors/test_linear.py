"""Lasso (batched over targets) against scikit-learn's Lasso fitted per target."""

from __future__ import annotations

import numpy as np
import pytest

from fastdci.errors import InvalidInputError
from fastdci.regressors import Lasso

torch = pytest.importorskip("torch")
sklearn_lm = pytest.importorskip("sklearn.linear_model")


@pytest.fixture
def problem(rng):
    n = 800
    X = rng.normal(size=(n, 5)) * [1.0, 2.0, 0.5, 3.0, 1.0] + [1.0, -2.0, 0.0, 4.0, 0.0]
    Y = np.stack(
        [2 * X[:, 0] + rng.normal(size=n),
         X[:, 1] - 3 * X[:, 2] + 0.2 * rng.normal(size=n),
         rng.integers(0, 6, n).astype(float)],
        axis=1,
    )
    return X, Y


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2])
def test_matches_sklearn_on_standardised_problem(problem, alpha):
    X, Y = problem
    model = Lasso(alpha=alpha, device="cpu").fit(X, Y)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    for k in range(3):
        ys = (Y[:, k] - Y[:, k].mean()) / Y[:, k].std()
        if alpha == 0.0:
            ref = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        else:
            ref = sklearn_lm.Lasso(alpha=alpha, tol=1e-14, max_iter=100000).fit(Xs, ys).coef_
        np.testing.assert_allclose(model.feature_importances_[:, k], np.abs(ref), atol=1e-8)
    # coef_/intercept_ are on the original scales: predictions equal the standardised model's
    pred = model.predict(X)
    for k in range(3):
        ys_pred = Xs @ (np.sign(model.coef_[k]) * model.feature_importances_[:, k])
        np.testing.assert_allclose(pred[:, k], ys_pred * Y[:, k].std() + Y[:, k].mean(),
                                   atol=1e-8)


def test_matches_sklearn_raw(problem):
    X, Y = problem
    model = Lasso(alpha=0.05, standardize=False, device="cpu").fit(X, Y)
    for k in range(3):
        ref = sklearn_lm.Lasso(alpha=0.05, tol=1e-14, max_iter=100000).fit(X, Y[:, k])
        np.testing.assert_allclose(model.coef_[k], ref.coef_, atol=1e-8)
        assert model.intercept_[k] == pytest.approx(ref.intercept_, abs=1e-8)


def test_no_intercept(problem):
    X, Y = problem
    model = Lasso(alpha=0.05, standardize=False, fit_intercept=False, device="cpu").fit(X, Y)
    for k in range(3):
        ref = sklearn_lm.Lasso(alpha=0.05, fit_intercept=False, tol=1e-14,
                               max_iter=100000).fit(X, Y[:, k])
        np.testing.assert_allclose(model.coef_[k], ref.coef_, atol=1e-8)


def test_score_is_one_minus_nrmse(problem):
    X, Y = problem
    model = Lasso(alpha=0.01, device="cpu").fit(X, Y)
    err = model.predict(X) - Y
    expected = 1 - np.sqrt((err**2).mean(axis=0)) / Y.std(axis=0)
    np.testing.assert_allclose(model.score(X, Y), expected, rtol=1e-12)
    assert model.score(X, Y)[1] > 0.9 and model.score(X, Y)[2] < 0.05


def test_single_target_and_torch(problem):
    X, Y = problem
    a = Lasso(alpha=0.01, device="cpu").fit(X, Y[:, 0])
    b = Lasso(alpha=0.01, device="cpu").fit(torch.from_numpy(X), torch.from_numpy(Y[:, :1]))
    assert a.feature_importances_.shape == (5, 1)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)


def test_errors(problem):
    X, Y = problem
    with pytest.raises(InvalidInputError, match="alpha must be"):
        Lasso(alpha=-1).fit(X, Y)
    with pytest.raises(InvalidInputError, match="not fitted yet"):
        Lasso().predict(X)
    with pytest.raises(InvalidInputError, match="Y has 10 rows"):
        Lasso(device="cpu").fit(X, Y[:10])
    m = Lasso(device="cpu").fit(X, Y)
    with pytest.raises(InvalidInputError, match="fitted on 5"):
        m.predict(X[:, :2])
    with pytest.raises(InvalidInputError, match="fitted on 3"):
        m.score(X, Y[:, :1])


@pytest.mark.cuda
def test_cuda_matches_cpu(problem):
    X, Y = problem
    cpu = Lasso(alpha=0.01, device="cpu").fit(X, Y)
    gpu = Lasso(alpha=0.01, device="cuda").fit(X, Y)
    np.testing.assert_allclose(gpu.coef_, cpu.coef_, rtol=1e-9, atol=1e-12)
