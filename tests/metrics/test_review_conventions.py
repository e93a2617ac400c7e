"""MIG-sup's ``normalization="latent"`` and DCIMIG against plain re-statements of the metrics
review's code (Carbonneau et al., ubisoft-laforge-disentanglement-metrics: ``mig_sup.py``,
``dcimig.py`` and ``utils.py``), written with NumPy in bits as pyitlib computes them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastdci
from fastdci.metrics.information import dcimig, mig_sup


def review_bins(x, nb_bins=10):
    """``minmax_scale`` then ``np.digitize`` on ``linspace(0, 1, nb_bins + 1)[:-1]``, per column."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    scaled = (x - lo) / np.where(hi > lo, hi - lo, 1.0)
    return np.digitize(scaled, np.linspace(0, 1, nb_bins + 1)[:-1], right=False).astype(int)


def entropy_bits(a):
    _, c = np.unique(a, return_counts=True)
    p = c / c.sum()
    return float(-(p * np.log2(p)).sum())


def mi_bits(a, b):
    _, joint = np.unique(np.stack([a, b]), axis=1, return_counts=True)
    p = joint / joint.sum()
    return entropy_bits(a) + entropy_bits(b) + float((p * np.log2(p)).sum())


def review_mig_sup(factors, codes, nb_bins=10):
    """The review's mig_sup with discrete factors: I(v; z) / H(z) per (factor, code), gap per code."""
    z = review_bins(codes, nb_bins)
    gaps = []
    for c in range(z.shape[1]):
        hz = entropy_bits(z[:, c])
        col = sorted(mi_bits(factors[:, f], z[:, c]) / hz for f in range(factors.shape[1]))
        gaps.append(col[-1] - col[-2])
    return float(np.mean(gaps))


def review_dcimig(factors, codes, nb_bins=10):
    z = review_bins(codes, nb_bins)
    K, L = factors.shape[1], z.shape[1]
    mi = np.array([[mi_bits(factors[:, f], z[:, c]) for c in range(L)] for f in range(K)])
    for c in range(L):
        col = np.sort(mi[:, c])
        best = np.argmax(mi[:, c])
        mi[:, c] = 0.0
        mi[best, c] = col[-1] - col[-2]
    return float(mi.max(axis=1).sum() / sum(entropy_bits(factors[:, f]) for f in range(K)))


@pytest.fixture(scope="module")
def code():
    rng = np.random.default_rng(11)
    n = 3000
    y = rng.integers(0, (3, 6, 4), size=(n, 3))
    x = np.column_stack([
        y[:, 0] + 0.3 * rng.normal(size=n),
        y[:, 1] / 5 + 0.1 * rng.normal(size=n),
        y[:, 2] + y[:, 0] + 0.5 * rng.normal(size=n),
        rng.normal(size=n),
    ])
    return x, y


@pytest.mark.parametrize("n_bins", [10, 20])
def test_mig_sup_latent_normalisation_is_the_reviews(code, n_bins):
    x, y = code
    res = mig_sup(x, y, n_bins=n_bins, normalization="latent", backend="cpu")
    assert res.mig_sup == pytest.approx(review_mig_sup(y, x, n_bins), abs=1e-12)
    assert res.normalization == "latent" and res.settings["normalization"] == "latent"
    assert mig_sup(x, y, backend="cpu").normalization == "factor"


@pytest.mark.parametrize("n_bins", [10, 20])
def test_dcimig_equals_the_reviews(code, n_bins):
    """Both of the review's quantities are in bits, so its ratio is fastdci's nats ratio exactly."""
    x, y = code
    assert dcimig(x, y, n_bins=n_bins, backend="cpu").dcimig == pytest.approx(review_dcimig(y, x, n_bins),
                                                                              abs=1e-12)


def test_joint_code_gap_is_zero_by_factor_entropy_and_half_by_its_own():
    g = np.stack(np.meshgrid(np.arange(2), np.arange(8), indexing="ij"), -1).reshape(-1, 2).repeat(10, axis=0)
    z = (8 * g[:, 0] + g[:, 1]).astype(float)  # 16 values: both factors, jointly
    x = np.column_stack([z, g[:, 1].astype(float)])
    by_factor = mig_sup(x, g, n_bins=16, backend="cpu")
    by_latent = mig_sup(x, g, n_bins=16, normalization="latent", backend="cpu")
    assert by_factor.gap_per_latent[0] == pytest.approx(0.0, abs=1e-12)
    assert by_latent.gap_per_latent[0] == pytest.approx(0.5, abs=1e-12)  # 3/4 - 1/4


def test_noisy_copy_gap_is_one_by_factor_entropy_and_ln2_over_ln20_by_its_own():
    g = np.stack(np.meshgrid(np.arange(2), np.arange(4), np.arange(10), indexing="ij"), -1).reshape(-1, 3)
    y = g[:, :2]
    # each class of factor 0 spread evenly over 10 of the 20 bins, independently of factor 1
    x = np.column_stack([10 * g[:, 0] + g[:, 2], g[:, 1]]).astype(float)
    by_factor = mig_sup(x, y, backend="cpu")
    by_latent = mig_sup(x, y, normalization="latent", backend="cpu")
    assert by_factor.gap_per_latent[0] == pytest.approx(1.0, abs=1e-12)
    assert by_latent.gap_per_latent[0] == pytest.approx(math.log(2) / math.log(20), abs=1e-12)


def test_constant_latent_has_no_normalised_information(code):
    x, y = code
    x = x.copy()
    x[:, 3] = 2.0
    res = mig_sup(x, y, normalization="latent", backend="cpu")
    assert res.gap_per_latent[3] == 0.0 and np.isfinite(res.mig_sup)


def test_normalization_through_evaluate_and_torchmetrics(code):
    x, y = code
    report = fastdci.evaluate((x, y), "mig_sup", mig_sup={"normalization": "latent"}, backend="cpu")
    assert report["mig_sup"] == mig_sup(x, y, normalization="latent", backend="cpu")
    tm = pytest.importorskip("fastdci.torchmetrics")
    metric = tm.MIGSup(normalization="latent", latent_range=(x.min(axis=0), x.max(axis=0)))
    for part in np.array_split(np.arange(len(x)), 3):
        metric.update(x[part], y[part])
    assert metric.compute().mig_sup == report["mig_sup"].mig_sup
