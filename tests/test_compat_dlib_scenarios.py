"""disentanglement_lib's own metric unit tests (evaluation/metrics/*_test.py), restated.

Every scenario of the reference's tests, with its inputs and its assertions, run against
:mod:`fastdci.compat.disentanglement_lib`: the data set whose observations are its factors,
identity / permuted / zero / duplicated representations, the identity discretiser a gin file
would bind, and the importance and covariance matrices of the helper tests.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastdci.compat import disentanglement_lib as dlib
from fastdci.errors import InvalidInputError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


class IdentityObservations:
    """Ten factors with values 1..10 drawn uniformly; the observations are the factors."""

    num_factors = 10
    factors_num_values = [10] * 10

    def sample_factors(self, num, random_state):
        return random_state.randint(1, 11, size=(num, self.num_factors))

    def sample_observations_from_factors(self, factors, random_state):
        return factors

    def sample(self, num, random_state):
        f = self.sample_factors(num, random_state)
        return f, self.sample_observations_from_factors(f, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


def identity_discretizer(target, num_bins):
    del num_bins
    return target


def as_float(x):
    return np.array(x, dtype=np.float64)


def duplicated(x):
    x = np.array(x, dtype=np.float64)
    return np.hstack([x, x])


def permuting():
    rs = np.random.RandomState(0)

    def fn(x):
        code = np.array(x, dtype=np.float64)
        for i in range(code.shape[0]):
            code[i, :] = rs.permutation(code[i, :])
        return code

    return fn


DATA = IdentityObservations()
DISCRETE = {"num_bins": 10, "discretizer_fn": identity_discretizer}


def rs0():
    return np.random.RandomState(0)


# ------------------------------------------------------------------------------ utils_test
def test_histogram_discretizer():
    target = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]])
    np.testing.assert_array_equal(dlib._histogram_discretize(target, num_bins=3),
                                  [[1, 1, 2, 2, 3, 3], [3, 3, 2, 2, 1, 1]])


def test_discrete_entropy():
    target = np.array([[1, 1, 2, 2, 3, 3], [3, 3, 2, 2, 1, 1]])
    np.testing.assert_allclose(dlib.discrete_entropy(target), [np.log(3), np.log(3)])


def test_discrete_mutual_info():
    xs = np.array([[1, 2, 1, 2], [1, 1, 2, 2]])
    ys = np.array([[1, 2, 1, 2], [2, 2, 1, 1]])
    np.testing.assert_allclose(dlib.discrete_mutual_info(xs, ys), [[np.log(2), 0.0], [0.0, np.log(2)]], atol=1e-15)


def test_split_train_test():
    train, test = dlib.split_train_test(np.zeros([10, 100]), 0.9)
    np.testing.assert_allclose(train, np.zeros([10, 90]))
    np.testing.assert_allclose(test, np.zeros([10, 10]))


# ------------------------------------------------------------------------------ dci_test: importance helpers
DIAG = np.diag(5.0 * np.ones(5))
HELPER_CASES = {
    # name: (matrix, disentanglement, completeness, modularity)
    "diagonal": (DIAG, 1.0, 1.0, 1.0),
    "diagonal_empty_codes": (np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), 1.0, 1.0, 2.0 / 3.0),
    "zero": (np.zeros((10, 10)), 0.0, 0.0, 0.0),
    "redundant_codes": (np.vstack([DIAG, DIAG]), 1.0, 1.0 - np.log(2) / np.log(10), 1.0),
    "missed_factors": (DIAG[:2, :], 1.0, 1.0, 1.0),
    "one_code_two_factors": (np.hstack([DIAG, DIAG]), 1.0 - np.log(2) / np.log(10), 1.0, 1.0 - 1.0 / 9),
}


@pytest.mark.parametrize("case", sorted(HELPER_CASES))
def test_disentanglement_completeness_modularity_of_a_matrix(case):
    m, d, c, mod = HELPER_CASES[case]
    np.testing.assert_allclose(dlib.disentanglement(m), d, atol=1e-7)
    np.testing.assert_allclose(dlib.completeness(m), c, atol=1e-7)
    np.testing.assert_allclose(dlib.modularity(m), mod)


# ------------------------------------------------------------------------------ dci_test: the metric
def test_dci_metric():
    s = dlib.compute_dci(DATA, as_float, rs0(), None, 1000, 1000)
    assert 0.9 <= s["disentanglement"] <= 1.0
    assert 0.9 <= s["completeness"] <= 1.0


def test_dci_bad_metric():
    s = dlib.compute_dci(DATA, permuting(), rs0(), None, 1000, 1000)
    assert 0.0 <= s["disentanglement"] <= 0.2
    assert 0.0 <= s["completeness"] <= 0.2


def test_dci_duplicated_latent_space():
    # tied split gains go to either copy at random, so the copies share the importance
    s = dlib.compute_dci(DATA, duplicated, rs0(), None, 1000, 1000)
    assert 0.9 <= s["disentanglement"] <= 1.0
    target = 1.0 - np.log(2) / np.log(10)
    assert target - 0.1 <= s["completeness"] <= target + 0.1


# ------------------------------------------------------------------------------ mig_test
def test_mig_metric():
    assert 0.9 <= dlib.compute_mig(DATA, lambda x: x, rs0(), None, 3000, **DISCRETE)["discrete_mig"] <= 1.0


def test_mig_bad_metric():
    assert 0.0 <= dlib.compute_mig(DATA, np.zeros_like, rs0(), None, 3000, **DISCRETE)["discrete_mig"] <= 0.2


def test_mig_duplicated_latent_space():
    assert 0.0 <= dlib.compute_mig(DATA, duplicated, rs0(), None, 3000, **DISCRETE)["discrete_mig"] <= 0.1


def test_mig_histogram_default_equals_the_identity_discretizer_on_integer_codes():
    # ten integer values in twenty equal-width bins: each value is its own bin
    a = dlib.compute_mig(DATA, as_float, rs0(), None, 3000)["discrete_mig"]
    b = dlib.compute_mig(DATA, as_float, rs0(), None, 3000, **DISCRETE)["discrete_mig"]
    assert a == pytest.approx(b, abs=1e-12)


# ------------------------------------------------------------------------------ modularity_explicitness_test
def test_modularity_metric():
    s = dlib.compute_modularity_explicitness(DATA, as_float, rs0(), None, 3000, 3000, **DISCRETE)
    assert 0.9 <= s["modularity_score"] <= 1.0
    assert set(s) == {"modularity_score", "explicitness_score_train", "explicitness_score_test"}


def test_modularity_bad_metric():
    s = dlib.compute_modularity_explicitness(DATA, permuting(), rs0(), None, 20000, 20000, **DISCRETE)
    assert 0.0 <= s["modularity_score"] <= 0.2


def test_modularity_duplicated_latent_space():
    s = dlib.compute_modularity_explicitness(DATA, duplicated, rs0(), None, 3000, 3000, **DISCRETE)
    assert 0.9 <= s["modularity_score"] <= 1.0


# ------------------------------------------------------------------------------ sap_score_test
def test_sap_metric():
    s = dlib.compute_sap(DATA, as_float, rs0(), None, 3000, 3000, continuous_factors=True)
    assert 0.9 <= s["SAP_score"] <= 1.0


def test_sap_bad_metric():
    zeros = lambda x: np.zeros_like(x, dtype=np.float64)  # noqa: E731
    s = dlib.compute_sap(DATA, zeros, rs0(), None, 3000, 3000, continuous_factors=True)
    assert 0.0 <= s["SAP_score"] <= 0.2


def test_sap_duplicated_latent_space():
    s = dlib.compute_sap(DATA, duplicated, rs0(), None, 3000, 3000, continuous_factors=True)
    assert 0.0 <= s["SAP_score"] <= 0.2


# ------------------------------------------------------------------------------ beta_vae_test, factor_vae_test
def test_beta_vae_metric():
    s = dlib.compute_beta_vae_sklearn(DATA, lambda x: x, rs0(), None, 5, 2000, 2000)
    assert 0.9 <= s["train_accuracy"] <= 1.0
    assert 0.9 <= s["eval_accuracy"] <= 1.0


def test_factor_vae_metric():
    s = dlib.compute_factor_vae(DATA, lambda x: x, rs0(), None, 5, 3000, 2000, 2500)
    assert 0.9 <= s["train_accuracy"] <= 1.0
    assert 0.9 <= s["eval_accuracy"] <= 1.0


def test_factor_vae_bad_metric():
    s = dlib.compute_factor_vae(DATA, np.zeros_like, rs0(), None, 5, 3000, 2000, 2500)
    assert 0.0 <= s["train_accuracy"] <= 0.2
    assert 0.0 <= s["eval_accuracy"] <= 0.2


# ------------------------------------------------------------------------------ irs_test
def test_irs_metric():
    s = dlib.compute_irs(DATA, as_float, rs0(), None, 0.99, 3000, 3000, **DISCRETE)
    assert 0.9 <= s["IRS"] <= 1.0


def test_irs_bad_metric():
    zeros = lambda x: np.zeros_like(x, dtype=np.float64)  # noqa: E731
    s = dlib.compute_irs(DATA, zeros, rs0(), None, 0.99, 3000, 3000, **DISCRETE)
    assert 0.0 <= s["IRS"] <= 0.1


def test_irs_drop_constant_dims():
    ys = np.random.RandomState(0).normal(0.0, 1.0, (100, 100))
    ys[0, :] = 1.0
    ys[-1, :] = 0.0
    np.testing.assert_array_equal(dlib._drop_constant_dims(ys), ys[1:-1])


# ------------------------------------------------------------------------------ unsupervised_metrics_test
def _kl_gaussians(mean_0, cov_0, mean_1, cov_1, k):
    inv_1 = np.linalg.inv(cov_1)
    d = mean_1 - mean_0
    return 0.5 * (np.trace(inv_1 @ cov_0) + d @ inv_1 @ d - k + np.log(np.linalg.det(cov_1) / np.linalg.det(cov_0)))


def _sqrtm_trace(m):
    w, v = np.linalg.eig(m)
    return np.trace((v * np.sqrt(w.astype(complex))) @ np.linalg.inv(v)).real


def test_gaussian_total_correlation_zero():
    assert -0.01 <= dlib.gaussian_total_correlation(np.diag(np.ones(5))) <= 0.01


def test_gaussian_total_correlation_same():
    cov = np.array([[1, 0.9], [0.9, 1.0]], dtype=np.float32)
    should = _kl_gaussians(np.zeros(2), cov, np.zeros(2), np.diag(np.diag(cov)), 2)
    assert should - 0.01 <= dlib.gaussian_total_correlation(cov) <= should + 0.01


def test_gaussian_wasserstein_correlation_zero():
    assert -0.01 <= dlib.gaussian_wasserstein_correlation(np.diag(np.ones(5))) <= 0.01


def test_gaussian_wasserstein_correlation_same():
    cov = np.array([[1, 0.9], [0.9, 1.0]], dtype=np.float32)
    diag = np.diag(np.diag(cov))
    should = np.trace(cov + diag) - 2 * _sqrtm_trace(cov @ diag)
    assert should - 0.01 <= dlib.gaussian_wasserstein_correlation(cov) <= should + 0.01


def test_unsupervised_metrics_keys_and_values():
    s = dlib.unsupervised_metrics(DATA, as_float, rs0(), None, 2000)
    assert set(s) == {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                      "gaussian_wasserstein_correlation_norm", "mutual_info_score"}
    mus, _ = dlib.generate_batch_factor_code(DATA, as_float, 2000, rs0(), 16)
    cov = np.cov(mus)
    assert s["gaussian_total_correlation"] == pytest.approx(
        _kl_gaussians(np.zeros(10), cov, np.zeros(10), np.diag(np.diag(cov)), 10), abs=1e-9)
    d = dlib.discrete_mutual_info(dlib.histogram_discretize(mus), dlib.histogram_discretize(mus))
    np.fill_diagonal(d, 0)
    assert s["mutual_info_score"] == pytest.approx(d.sum() / 90, abs=1e-12)


# ------------------------------------------------------------------------------ drawing order, random states
def _reference_order_codes(data, fn, n, rs, batch):
    reps, facs = [], []
    i = 0
    while i < n:
        k = min(n - i, batch)
        f = data.sample_factors(k, rs)
        reps.append(fn(data.sample_observations_from_factors(f, rs)))
        facs.append(f)
        i += k
    return np.vstack(reps).T, np.vstack(facs).T


def test_points_are_drawn_in_the_reference_order():
    mus, ys = dlib.generate_batch_factor_code(DATA, as_float, 1000, rs0(), 16)
    ref_mus, ref_ys = _reference_order_codes(DATA, as_float, 1000, rs0(), 16)
    np.testing.assert_array_equal(mus, ref_mus)
    np.testing.assert_array_equal(ys, ref_ys)


def test_an_int_seed_is_a_random_state_and_a_generator_is_refused():
    a = dlib.compute_mig(DATA, as_float, 3, None, 500)
    b = dlib.compute_mig(DATA, as_float, np.random.RandomState(3), None, 500)
    assert a == b
    with pytest.raises(InvalidInputError, match="RandomState"):
        dlib.compute_mig(DATA, as_float, np.random.default_rng(0), None, 500)


def test_fixed_data_variants():
    rs = rs0()
    obs = DATA.sample_factors(600, rs)
    labels = obs.T
    mig = dlib.compute_mig_on_fixed_data(obs, labels, as_float, **DISCRETE)
    assert mig == dlib._compute_mig(as_float(obs).T, labels, **DISCRETE)
    sap = dlib.compute_sap_on_fixed_data(obs, labels, as_float, 0.5, continuous_factors=True)
    assert 0.9 <= sap["SAP_score"] <= 1.0
    with pytest.raises(InvalidInputError, match="labels must be"):
        dlib.compute_mig_on_fixed_data(obs, labels[:, :10], as_float)


def test_beta_vae_and_factor_vae_points_are_the_reference_draws():
    from fastdci.compat.disentanglement_lib._draws import beta_vae_points, factor_vae_votes

    X, y, Xe, ye = beta_vae_points(DATA, as_float, rs0(), 5, 40, 30)
    rs = rs0()
    for points, labels, n in ((X, y, 40), (Xe, ye, 30)):
        for i in range(n):  # the reference's loop: the fixed factor, two batches, their codes
            k = rs.randint(DATA.num_factors)
            f1, f2 = DATA.sample_factors(5, rs), DATA.sample_factors(5, rs)
            f2[:, k] = f1[:, k]
            r1 = as_float(DATA.sample_observations_from_factors(f1, rs))
            r2 = as_float(DATA.sample_observations_from_factors(f2, rs))
            assert labels[i] == k
            np.testing.assert_array_equal(points[i], np.mean(np.abs(r1 - r2), axis=0))
    train, evals, global_var, active = factor_vae_votes(DATA, as_float, rs0(), 5, 40, 30, 500, 0.05)
    assert train.sum() == 40 and evals.sum() == 30 and active.all()
    rs = rs0()
    obs = DATA.sample_observations(500, rs)
    np.testing.assert_allclose(global_var, np.var(as_float(obs), axis=0, ddof=1))
