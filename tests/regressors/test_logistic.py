"""MultinomialLogistic against scikit-learn's LogisticRegression fitted per factor."""

from __future__ import annotations

import numpy as np
import pytest

from fastdci.errors import FastDCIError, InvalidInputError
from fastdci.regressors import MultinomialLogistic

torch = pytest.importorskip("torch")
sklearn_lm = pytest.importorskip("sklearn.linear_model")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture
def problem(rng):
    """Three factors with 2, 3 and 5 classes, partly predictable from 4 latents of mixed scale."""
    n = 600
    X = rng.normal(size=(n, 4)) * [1.0, 3.0, 0.2, 1.0] + [0.0, 5.0, -1.0, 2.0]
    f0 = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    f1 = np.digitize(X[:, 1] + rng.normal(size=n), [4.0, 6.0])
    f2 = np.digitize(X[:, 2] * 5 + X[:, 3] + rng.normal(size=n), [-4, -2.0, 0.0, 1.5])
    Y = np.stack([f0, f1 + 10, f2], axis=1)  # labels need not start at 0
    return X, Y


def _sk_fit(X, y, C=1.0, fit_intercept=True):
    return sklearn_lm.LogisticRegression(
        C=C, fit_intercept=fit_intercept, tol=1e-12, max_iter=100000
    ).fit(X, y)


def _standardise(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _as_sklearn_coef(coef):
    """Our (n_classes, L) rows -> scikit-learn's layout (binary: one row, class 1 minus 0)."""
    return (coef[1] - coef[0])[None] if coef.shape[0] == 2 else coef


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("C", [1.0, 0.05])
def test_coefficients_match_sklearn(problem, C, solver):
    X, Y = problem
    model = MultinomialLogistic(C=C, tol=1e-9, solver=solver, device="cpu").fit(X, Y)
    assert model.converged_.all()
    assert model.solver_ == [solver] * 3
    Xs = _standardise(X)
    scale = X.std(axis=0)
    for k in range(Y.shape[1]):
        ref = _sk_fit(Xs, Y[:, k], C=C)
        ours = _as_sklearn_coef(model.coef_[k] * scale[None, :])  # back to standardised units
        rel = np.abs(ours - ref.coef_).max() / np.abs(ref.coef_).max()
        assert rel < 1e-3, (k, rel)
        np.testing.assert_array_equal(model.classes_[k], ref.classes_)
        np.testing.assert_array_equal(model.predict(X)[:, k], ref.predict(Xs))
        np.testing.assert_allclose(model.predict_proba(X)[k], ref.predict_proba(Xs), atol=1e-5)
        # intercepts: identical logits up to a per-row constant -> compare centred logits
        z = X @ model.coef_[k].T + model.intercept_[k]
        zr = ref.decision_function(Xs)
        if zr.ndim == 1:
            np.testing.assert_allclose(z[:, 1] - z[:, 0], zr, atol=1e-4 * np.abs(zr).max())
        else:
            np.testing.assert_allclose(z, zr, atol=1e-4 * np.abs(zr).max())


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
def test_many_classes_match_sklearn_and_the_torch_path(rng, solver):
    """A 20-class factor takes the fused per-factor kernel (float64, CPU); the float32 fit
    (torch's matrix products) and scikit-learn land on the same coefficients."""
    n = 3000
    X = rng.normal(size=(n, 3))
    Y = np.stack([np.digitize(X[:, 0] + 0.3 * rng.normal(size=n), np.linspace(-1.8, 1.8, 19)),
                  (X[:, 1] > 0).astype(int)], axis=1)
    assert len(np.unique(Y[:, 0])) == 20
    model = MultinomialLogistic(tol=1e-9, solver=solver, device="cpu").fit(X, Y)
    f32 = MultinomialLogistic(tol=1e-5, solver=solver, dtype="float32", device="cpu").fit(X, Y)
    assert model.converged_.all()
    ref = _sk_fit(_standardise(X), Y[:, 0])
    ours = model.coef_[0] * X.std(axis=0)[None, :]
    assert np.abs(ours - ref.coef_).max() / np.abs(ref.coef_).max() < 1e-3
    np.testing.assert_allclose(f32.coef_[0], model.coef_[0], rtol=2e-2, atol=2e-2)


def test_raw_inputs_without_standardising(problem):
    X, Y = problem
    model = MultinomialLogistic(standardize=False, tol=1e-9, device="cpu").fit(X, Y)
    for k in range(Y.shape[1]):
        ref = _sk_fit(X, Y[:, k])
        ours = _as_sklearn_coef(model.coef_[k])
        assert np.abs(ours - ref.coef_).max() / np.abs(ref.coef_).max() < 1e-3


def test_no_intercept(problem):
    X, Y = problem
    model = MultinomialLogistic(fit_intercept=False, standardize=False, tol=1e-9,
                                device="cpu").fit(X, Y[:, 1:])
    for k in range(2):
        ref = _sk_fit(X, Y[:, k + 1], fit_intercept=False)
        assert np.abs(model.coef_[k] - ref.coef_).max() / np.abs(ref.coef_).max() < 1e-3
        np.testing.assert_array_equal(model.intercept_[k], 0.0)


def test_feature_importances_are_abs_standardised_weights(problem):
    X, Y = problem
    model = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y)
    Xs = _standardise(X)
    assert model.feature_importances_.shape == (4, 3)
    for k in range(3):
        ref = _sk_fit(Xs, Y[:, k])
        expected = np.abs(ref.coef_).sum(axis=0)
        if ref.coef_.shape[0] == 1:  # binary: our two rows are -w/2 and w/2
            expected = np.abs(ref.coef_[0])
        np.testing.assert_allclose(model.feature_importances_[:, k], expected, rtol=1e-3,
                                   atol=1e-6)


def test_single_factor_and_1d_targets(problem):
    X, Y = problem
    a = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y[:, 2])
    b = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y[:, 2:3])
    assert a.feature_importances_.shape == (4, 1)
    np.testing.assert_allclose(a.coef_[0], b.coef_[0], rtol=1e-10)
    assert a.predict(X).shape == (len(X), 1)
    assert a.score(X, Y[:, 2]).shape == (1,)


def test_batched_equals_separate_fits(problem):
    X, Y = problem
    joint = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y)
    for k in range(3):
        alone = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y[:, k])
        np.testing.assert_allclose(joint.coef_[k], alone.coef_[0], rtol=1e-5, atol=1e-8)


def test_score_is_per_factor_accuracy(problem):
    X, Y = problem
    model = MultinomialLogistic(device="cpu").fit(X, Y)
    pred = model.predict(X)
    np.testing.assert_allclose(model.score(X, Y), (pred == Y).mean(axis=0))
    probs = model.predict_proba(X)
    assert [p.shape for p in probs] == [(600, 2), (600, 3), (600, 5)]
    for p in probs:
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert set(np.unique(pred[:, 1])) <= {10, 11, 12}


def test_warm_start_stages_reach_the_same_fit(rng):
    n = 4000
    X = rng.normal(size=(n, 3))
    Y = np.stack([np.digitize(X[:, 0] + rng.normal(size=n), [-1, 0, 1]),
                  (X[:, 1] > 0).astype(int)], axis=1)
    a = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y)
    b = MultinomialLogistic(tol=1e-9, warm_start_rows=100, device="cpu").fit(X, Y)
    for k in range(2):
        np.testing.assert_allclose(b.coef_[k], a.coef_[k], rtol=1e-5, atol=1e-7)


def test_subset_hessian_equals_autograd_hessian(rng):
    """The (P*C)^2 Hessian formula against torch.autograd on the mean cross-entropy."""
    from fastdci.regressors._logistic_solvers import SubsetHessian

    X1 = torch.from_numpy(np.c_[rng.normal(size=(50, 3)), np.ones(50)])
    y = torch.from_numpy(rng.integers(0, 4, 50))
    theta = torch.from_numpy(rng.normal(size=(4, 4)))

    def mean_ce(t):
        return torch.nn.functional.cross_entropy(X1 @ t.reshape(4, 4), y)

    ref = torch.autograd.functional.hessian(mean_ce, theta.reshape(-1))
    np.testing.assert_allclose(SubsetHessian(X1, rows=50)(theta).numpy(), ref.numpy(),
                               rtol=1e-10, atol=1e-12)
    assert SubsetHessian(X1, rows=20).X.shape == (20, 4)  # a fixed subset when rows < N


def test_newton_on_a_row_subset_reaches_the_lbfgs_fit(rng):
    """With the Hessian from 300 of 5,000 rows, Newton still converges to the full-data optimum."""
    n = 5000
    X = rng.normal(size=(n, 3)) * [1.0, 2.0, 0.5]
    Y = np.stack([np.digitize(X[:, 0] + 0.7 * rng.normal(size=n), [-1, 0, 1]),
                  (X[:, 1] + rng.normal(size=n) > 0).astype(int),
                  np.digitize(X[:, 2] - 0.3 * X[:, 0] + 0.2 * rng.normal(size=n),
                              np.linspace(-1, 1, 7))], axis=1)
    a = MultinomialLogistic(tol=1e-9, solver="lbfgs", device="cpu").fit(X, Y)
    b = MultinomialLogistic(tol=1e-9, solver="newton", hessian_rows=300, device="cpu").fit(X, Y)
    assert a.converged_.all() and b.converged_.all()
    for k in range(3):
        np.testing.assert_allclose(b.coef_[k], a.coef_[k], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.intercept_[k].sum(), 0.0, atol=1e-8)
    assert (b.n_iter_ < a.n_iter_).all()


def test_near_separable_factor_converges_with_both_solvers(rng):
    """Classes 0.5 apart with noise 0.05: the objective is near zero and must not stall."""
    n = 20000
    y = rng.integers(0, 3, n)
    X = np.c_[y / 2 + 0.05 * rng.normal(size=n), rng.normal(size=n)]
    ref = _sk_fit(_standardise(X), y)
    for solver in ("newton", "lbfgs"):
        model = MultinomialLogistic(tol=1e-7, solver=solver, device="cpu").fit(X, y)
        assert model.converged_.all(), solver
        ours = model.coef_[0] * X.std(axis=0)[None, :]
        assert np.abs(ours - ref.coef_).max() / np.abs(ref.coef_).max() < 1e-3, solver


def test_auto_solver_by_cost():
    from fastdci.regressors._logistic_solvers import choose_solvers

    # 11 inputs+intercept: Newton once the rows outweigh the subset Hessian's cost
    assert choose_solvers("auto", 10_000, 11, (2, 40), 16384) == ["newton", "lbfgs"]
    assert choose_solvers("auto", 1_000_000, 11, (3, 40), 16384) == ["newton", "newton"]
    assert choose_solvers("auto", 10**8, 65, (40,), 16384) == ["lbfgs"]  # 2600 parameters
    assert choose_solvers("lbfgs", 10**8, 11, (3,), 16384) == ["lbfgs"]


def test_float32_and_torch_inputs(problem):
    X, Y = problem
    ref = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y)
    m32 = MultinomialLogistic(tol=1e-4, dtype="float32", device="cpu").fit(X, Y)
    for k in range(3):
        assert np.abs(m32.coef_[k] - ref.coef_[k]).max() / np.abs(ref.coef_[k]).max() < 1e-2
    mt = MultinomialLogistic(tol=1e-9, device="cpu").fit(torch.from_numpy(X), torch.from_numpy(Y))
    np.testing.assert_allclose(mt.coef_[2], ref.coef_[2], rtol=1e-10)
    assert isinstance(mt.predict(torch.from_numpy(X)), np.ndarray)


def test_params_and_repr():
    m = MultinomialLogistic(C=0.5)
    assert m.get_params()["C"] == 0.5
    assert "C=0.5" in repr(m)
    m.set_params(tol=1e-3)
    assert m.tol == 1e-3
    with pytest.raises(InvalidInputError, match="no parameter 'bogus'"):
        m.set_params(bogus=1)


def test_errors(problem):
    X, Y = problem
    with pytest.raises(InvalidInputError, match="not fitted yet"):
        MultinomialLogistic().predict(X)
    with pytest.raises(InvalidInputError, match="C must be a positive"):
        MultinomialLogistic(C=0).fit(X, Y)
    with pytest.raises(InvalidInputError, match="dtype must be"):
        MultinomialLogistic(dtype="float16").fit(X, Y)
    with pytest.raises(InvalidInputError, match="solver must be"):
        MultinomialLogistic(solver="sgd").fit(X, Y)
    with pytest.raises(InvalidInputError, match="hessian_rows must be"):
        MultinomialLogistic(hessian_rows=0).fit(X, Y)
    with pytest.raises(InvalidInputError, match="device must be"):
        MultinomialLogistic(device="tpu").fit(X, Y)
    bad = Y.copy()
    bad[:, 1] = 3
    with pytest.raises(InvalidInputError, match="only 1 distinct value"):
        MultinomialLogistic(device="cpu").fit(X, bad)
    with pytest.raises(InvalidInputError, match="Y has 500 rows"):
        MultinomialLogistic(device="cpu").fit(X, Y[:500])
    model = MultinomialLogistic(device="cpu").fit(X, Y)
    with pytest.raises(InvalidInputError, match="fitted on 4"):
        model.predict(X[:, :3])
    with pytest.raises(InvalidInputError, match="fitted on 3"):
        model.score(X, Y[:, :2])
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(FastDCIError, match="NaN"):
        MultinomialLogistic(device="cpu").fit(Xn, Y)


@pytest.mark.cuda
def test_cuda_matches_cpu(problem):
    X, Y = problem
    cpu = MultinomialLogistic(tol=1e-9, device="cpu").fit(X, Y)
    gpu = MultinomialLogistic(tol=1e-9, device="cuda").fit(X, Y)
    assert gpu.device_.type == "cuda"
    for k in range(3):
        np.testing.assert_allclose(gpu.coef_[k], cpu.coef_[k], rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(gpu.predict(X), cpu.predict(X))
    g = MultinomialLogistic(tol=1e-9, device="auto").fit(torch.from_numpy(X).cuda(), Y)
    assert g.device_.type == "cuda"
