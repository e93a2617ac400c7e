"""The unsupervised metric (disentanglement_lib's unsupervised scores) against a direct NumPy /
SciPy / scikit-learn computation, streamed and in memory."""

from __future__ import annotations

import numpy as np
import pytest

import fastdci


def reference(z: np.ndarray, n_bins: int = 20) -> dict:
    """disentanglement_lib's formulas: np.cov, scipy's sqrtm of the product, pairwise MI."""
    scipy_linalg = pytest.importorskip("scipy.linalg")
    metrics = pytest.importorskip("sklearn.metrics")
    cov = np.cov(z.T.astype(np.float64))
    tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    w = 2 * np.trace(cov) - 2 * np.trace(scipy_linalg.sqrtm(cov @ np.diag(np.diag(cov)))).real
    codes = np.stack([np.digitize(c, np.histogram(c, n_bins)[1][:-1]) for c in z.T])
    L = z.shape[1]
    mi = sum(metrics.mutual_info_score(codes[i], codes[j]) for i in range(L) for j in range(L) if i != j)
    return {"gaussian_total_correlation": tc, "gaussian_wasserstein_correlation": w,
            "gaussian_wasserstein_correlation_norm": w / np.trace(cov), "mutual_info_score": mi / (L * L - L)}


@pytest.fixture(scope="module")
def code():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(4000, 4)) @ np.array([[1, 0.5, 0, 0], [0, 1, 0, 0], [0, 0.3, 1, 0], [0, 0, 0, 2]])
    return z.astype(np.float32)


def test_scores_equal_the_reference_formulas(code):
    got = fastdci.unsupervised(code)
    want = reference(code)
    for k, v in want.items():
        assert getattr(got, k) == pytest.approx(v, rel=1e-9, abs=1e-12), k
    assert got.n_rows == 4000 and got.covariance.shape == (4, 4)


def test_a_file_above_the_memory_budget_is_streamed_to_the_same_scores(tmp_path, code):
    from fastdci.io import LatentsSource, LatentsWriter

    path = tmp_path / "z.h5"
    with LatentsWriter(path, latent_dim=4, factor_names=["f"], factor_sizes=[2], with_logvar=False,
                       chunk_rows=512) as w:
        w.append(code, classes=(np.arange(4000) % 2)[:, None])
    with LatentsSource(path, memory_budget=1000) as src:
        assert not src.in_memory
        streamed = fastdci.unsupervised(src)
    direct = fastdci.unsupervised(code)
    assert streamed.mutual_info_score == direct.mutual_info_score  # exact counts
    for k in ("gaussian_total_correlation", "gaussian_wasserstein_correlation"):
        assert getattr(streamed, k) == pytest.approx(getattr(direct, k), rel=1e-9)


def test_a_constant_latent_adds_no_total_correlation(code):
    with_constant = np.column_stack([code, np.full(len(code), 3.0, np.float32)])
    got = fastdci.unsupervised(with_constant).gaussian_total_correlation
    assert np.isfinite(got)  # disentanglement_lib's formula gives NaN here
    assert got == pytest.approx(fastdci.unsupervised(code).gaussian_total_correlation, rel=1e-9)


def test_evaluate_reports_it_under_disentanglement_libs_keys(code):
    factors = (np.arange(len(code)) % 3)[:, None]
    rep = fastdci.evaluate((code, factors), "unsupervised")
    keys = rep.to_dict("disentanglement_lib")["unsupervised"]
    assert set(keys) >= {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                         "gaussian_wasserstein_correlation_norm", "mutual_info_score"}
    assert "random_state" not in rep["unsupervised"].settings
