"""InfoMEC against a plain NumPy / scikit-learn re-statement of the authors' ``compute_infomec``
(kylehkhsu/latent_quantization and kylehkhsu/tripod, ``disentangle/metrics/infomec.py``) and
hand-computed cases.

The re-statement takes the latents binned as disentanglement_lib bins them (np.histogram edges,
np.digitize) as the authors' discrete latents (``mutual_info_score`` of the labels), the
factor entropy as ``mutual_info_score(v, v)``, their two activity rules, and their InfoE:
scikit-learn's unpenalised ``LogisticRegression(class_weight="balanced")`` on standardised
latents, in-sample ``log_loss``, against the same regression on zero inputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, mutual_info_score
from sklearn.preprocessing import StandardScaler

import fastdci
from fastdci.errors import InvalidInputError
from fastdci.metrics.information import infomec

SIZES = (3, 4, 5)


def binned(latents, n_bins=20):
    return np.column_stack([np.digitize(latents[:, j], np.histogram(latents[:, j], n_bins)[1][:-1])
                            for j in range(latents.shape[1])])


def authors_nmi(latents, factors, n_bins=20):
    """(K, L) as the authors lay it out: I(v_k; z_l) / H(v_k)."""
    codes = binned(latents, n_bins)
    K, L = factors.shape[1], latents.shape[1]
    out = np.empty((K, L))
    for k in range(K):
        for l in range(L):
            out[k, l] = mutual_info_score(factors[:, k], codes[:, l])
        out[k] /= mutual_info_score(factors[:, k], factors[:, k])
    return out


def authors_active(latents, convention):
    if convention == "tripod":
        q = np.quantile(latents, q=[0.25, 0.75], axis=0)
        iqr = q[1] - q[0]
        return iqr > np.max(iqr) / 10
    ranges = np.max(latents, axis=0) - np.min(latents, axis=0)
    return ranges > np.max(ranges) / 20


def authors_log_loss(X, y, tol, max_iter):
    model = LogisticRegression(C=np.inf, tol=tol, class_weight="balanced", solver="lbfgs", max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs' ConvergenceWarning at the authors' 100 iterations
        model.fit(X, y)
    return log_loss(y, model.predict_proba(X))


def authors_infoe(latents, factors, tol=1e-4, max_iter=100):
    X = StandardScaler().fit_transform(latents)
    out = []
    for k in range(factors.shape[1]):
        ce = authors_log_loss(X, factors[:, k], tol, max_iter)
        null = authors_log_loss(np.zeros_like(X), factors[:, k], tol, max_iter)
        out.append((null - ce) / null)
    return float(np.mean(out))


def authors_infomec(latents, factors, convention="tripod", n_bins=20, **fit):
    nmi = authors_nmi(latents, factors, n_bins)
    active = authors_active(latents, convention)
    K, La = factors.shape[1], int(active.sum())
    pruned = nmi[:, active]
    infom = (np.mean(np.max(pruned, axis=0) / np.sum(pruned, axis=0)) - 1 / K) / (1 - 1 / K)
    infoc = (np.mean(np.max(pruned, axis=1) / np.sum(pruned, axis=1)) - 1 / La) / (1 - 1 / La)
    return {"infom": infom, "infoc": infoc, "infoe": authors_infoe(latents, factors, **fit),
            "nmi": nmi, "active": active}


def grid(sizes=SIZES, repeat=4):
    g = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, len(sizes))
    return np.repeat(g, repeat, axis=0)


@pytest.fixture(scope="module")
def noisy():
    """Balanced factors (a repeated complete grid), noisy aligned latents, an entangled one, noise."""
    rng = np.random.default_rng(3)
    y = grid()
    n = len(y)
    x = np.column_stack([
        y[:, 0] + 0.6 * rng.normal(size=n),
        y[:, 1] / 3 + 0.4 * rng.normal(size=n),
        y[:, 2] + y[:, 0] + 0.8 * rng.normal(size=n),
        0.5 * rng.normal(size=n),
        0.01 * rng.normal(size=n),  # inactive under both rules
    ])
    return x, y


# ============================================================================ against the re-statement


@pytest.mark.parametrize("convention", ["tripod", "latent_quantization"])
def test_infom_infoc_equal_the_authors_formulas(noisy, convention):
    x, y = noisy
    ref = authors_infomec(x, y, convention, max_iter=10_000, tol=1e-10)
    res = infomec(x, y, convention=convention, backend="cpu")
    np.testing.assert_array_equal(res.active, ref["active"])
    np.testing.assert_allclose(res.normalized_mi, ref["nmi"].T, rtol=0, atol=1e-12)
    assert res.infom == pytest.approx(ref["infom"], abs=1e-12)
    assert res.infoc == pytest.approx(ref["infoc"], abs=1e-12)
    assert res.num_active_latents == int(ref["active"].sum())


def test_infoe_equals_the_unpenalised_balanced_fit_on_balanced_factors(noisy):
    x, y = noisy
    converged = authors_infoe(x, y, tol=1e-10, max_iter=10_000)
    as_published = authors_infoe(x, y)  # the authors' tol 1e-4, 100 iterations
    for baseline in ("entropy", "classes"):
        res = infomec(x, y, infoe_baseline=baseline, backend="cpu")
        assert res.infoe == pytest.approx(converged, abs=1e-5), baseline
        assert res.infoe == pytest.approx(as_published, abs=2e-3), baseline
    # balanced classes: H(v_k) = ln C_k, the two baselines coincide
    res = infomec(x, y, backend="cpu")
    np.testing.assert_allclose(res.baseline, np.log(SIZES), rtol=1e-12)


def test_other_bin_counts_and_quantile_bins(noisy):
    x, y = noisy
    ref = authors_infomec(x, y, n_bins=7, max_iter=10_000, tol=1e-10)
    res = infomec(x, y, n_bins=7, backend="cpu")
    assert (res.infom, res.infoc) == pytest.approx((ref["infom"], ref["infoc"]), abs=1e-12)
    q = infomec(x, y, discretizer="quantile", backend="cpu")
    assert q.settings["discretizer"] == "quantile" and 0 <= q.infom <= 1


def test_unbalanced_factor_uninformative_code_scores_near_zero_with_the_entropy_baseline():
    rng = np.random.default_rng(0)
    n = 6000
    y = np.column_stack([(rng.random(n) < 0.8).astype(int), rng.integers(0, 3, n)])
    x = np.column_stack([rng.normal(size=n), y[:, 1] + 0.3 * rng.normal(size=n)])
    res = infomec(x, y, backend="cpu")
    assert abs(res.explicitness_per_factor[0]) < 1e-3  # the authors' balanced fit: ~0 too
    assert abs(authors_infoe(x[:, :1], y[:, :1], tol=1e-10, max_iter=10_000)) < 1e-3
    classes = infomec(x, y, infoe_baseline="classes", backend="cpu")
    # ln 2 > H(0.8): the class frequencies alone already beat the uniform baseline
    assert classes.explicitness_per_factor[0] == pytest.approx(1 - res.baseline[0] / np.log(2), abs=1e-3)


# ============================================================================ hand-computed cases


def test_perfectly_modular_code():
    y = grid()
    res = infomec(y.astype(float), y, backend="cpu")
    np.testing.assert_allclose(res.normalized_mi, np.eye(3), atol=1e-12)
    assert res.infom == pytest.approx(1.0, abs=1e-12) and res.infoc == pytest.approx(1.0, abs=1e-12)
    assert res.infoe > 0.999  # separable: the fit drives the log-loss towards 0


def test_duplicated_code():
    y = grid((3, 4))
    x = np.column_stack([y[:, 0], y[:, 1], y[:, 0]]).astype(float)
    res = infomec(x, y, backend="cpu")
    assert res.infom == pytest.approx(1.0, abs=1e-12)
    # factor 0 split over two latents (1/2), factor 1 in one (1): (3/4 - 1/3) / (2/3) = 5/8
    assert res.infoc == pytest.approx(5 / 8, abs=1e-12)
    np.testing.assert_allclose(res.compactness_per_factor, [0.5, 1.0], atol=1e-12)


def test_mixed_code():
    y = grid((2, 2), repeat=25)
    x = np.column_stack([2 * y[:, 0] + y[:, 1], y[:, 1]]).astype(float)  # z0 holds both factors
    res = infomec(x, y, backend="cpu")
    np.testing.assert_allclose(res.normalized_mi, [[1, 1], [0, 1]], atol=1e-12)
    assert res.infom == pytest.approx(0.5, abs=1e-12)  # (mean(1/2, 1) - 1/2) / (1 - 1/2)
    assert res.infoc == pytest.approx(0.5, abs=1e-12)
    ref = authors_infomec(x, y, max_iter=10_000, tol=1e-10)
    assert (res.infom, res.infoc) == pytest.approx((ref["infom"], ref["infoc"]), abs=1e-12)


def test_an_outlier_switches_the_range_rule_not_the_quartile_rule(noisy):
    x, y = noisy
    x = x.copy()
    x[0, 4] = 1e3  # the near-constant latent gets one extreme value
    tripod = infomec(x, y, backend="cpu")
    lq = infomec(x, y, convention="latent_quantization", backend="cpu")
    assert list(tripod.active) == [True, True, True, True, False]
    assert list(lq.active) == [False, False, False, False, True]
    assert list(lq.active) == list(authors_active(x, "latent_quantization"))
    assert lq.infoc == 1.0  # one active latent


def test_no_active_latent_scores_zero():
    y = grid((3, 4), repeat=5)
    x = np.zeros((len(y), 3))
    x[:3] = 1.0  # a few values off zero: every interquartile range is 0
    res = infomec(x, y, backend="cpu")
    assert res.num_active_latents == 0 and (res.infom, res.infoc, res.infoe) == (0.0, 0.0, 0.0)


def test_uninformative_active_latent_counts_at_chance():
    y = grid((3, 4), repeat=20)
    rng = np.random.default_rng(1)
    x = np.column_stack([y.astype(float), rng.permutation(np.repeat([0.0, 1.0], len(y) // 2))])
    res = infomec(x, y, backend="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(res.modularity_per_latent).all()


def test_knn_mutual_info_is_the_authors_estimator(noisy):
    from sklearn.feature_selection import mutual_info_classif

    x, y = noisy
    z = StandardScaler().fit_transform(x)
    mi = np.array([[mutual_info_classif(z[:, [l]], y[:, k], discrete_features=False, n_neighbors=10,
                                        random_state=0)[0] for l in range(x.shape[1])] for k in range(y.shape[1])])
    nmi = mi / np.array([mutual_info_score(y[:, k], y[:, k]) for k in range(y.shape[1])])[:, None]
    res = infomec(x, y, mutual_info="knn", backend="cpu")
    np.testing.assert_allclose(res.normalized_mi, nmi.T, rtol=0, atol=1e-12)
    pruned = nmi[:, authors_active(x, "tripod")]
    total = pruned.sum(axis=0)
    assert (total == 0).any()  # the noise latent: the authors' code divides 0 by 0 here (NaN)
    ratio = np.where(total > 0, pruned.max(axis=0) / np.where(total > 0, total, 1), 1 / 3)  # fastdci: chance
    infom = (np.mean(ratio) - 1 / 3) / (1 - 1 / 3)
    assert res.infom == pytest.approx(infom, abs=1e-12) and res.settings["mutual_info"] == "knn"


# ============================================================================ plumbing


def test_max_rows_subsample_is_recorded_and_seeded(noisy):
    x, y = noisy
    a = infomec(x, y, max_rows=120, random_state=5, backend="cpu")
    b = infomec(x, y, max_rows=120, random_state=5, backend="cpu")
    assert a == b and a.n_fit == 120 and a.n_rows == len(y) and a.settings["max_rows"] == 120
    assert infomec(x, y, max_rows=120, random_state=6, backend="cpu").infoe != a.infoe


def test_evaluate_report_and_dict(noisy):
    x, y = noisy
    report = fastdci.evaluate((x, y), "infomec,mig", infomec={"convention": "latent_quantization"}, backend="cpu")
    assert report["infomec"] == infomec(x, y, convention="latent_quantization", backend="cpu")
    flat = report.to_dict(style="disentanglement_lib")
    assert {"infom", "infoc", "infoe"} <= set(flat["infomec"])
    back = fastdci.Report.from_json(report.to_json())
    assert back["infomec"] == report["infomec"]


def test_bad_options_name_the_fix(noisy):
    x, y = noisy
    with pytest.raises(InvalidInputError, match="convention must be one of 'tripod', 'latent_quantization'"):
        infomec(x, y, convention="lq")
    with pytest.raises(InvalidInputError, match="needs at least 2 factors"):
        infomec(x, y[:, :1], backend="cpu")
