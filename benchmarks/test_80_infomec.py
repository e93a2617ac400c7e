"""InfoMEC: fastdci vs the authors' ``compute_infomec`` restated, on the same inputs in one run.

Inputs are dSprites-shaped: ``N_LATENTS`` = 10 float32 latents (five tied to a factor plus noise,
five pure noise) and five factors with dSprites' sizes (3, 6, 40, 32, 32), ``ROWS`` rows. The
group pairs

- ``fastdci``: :func:`fastdci.infomec` end to end (counts, quartiles, one batched logistic
  regression of every factor, the finaliser), 20 bins, Tripod's activity rule;
- ``authors-ksg``: the authors' continuous-latent path as they run it (kylehkhsu/tripod,
  ``disentangle/metrics/infomec.py``, restated): each latent standardised, scikit-learn's
  ``mutual_info_classif`` (10 neighbours) for every (factor, latent) pair, divided by the
  factor's ``mutual_info_score`` entropy; interquartile-range activity; InfoE from an unpenalised
  ``LogisticRegression(class_weight="balanced")`` (lbfgs, tol 1e-4, 100 iterations) per factor
  on the standardised latents against the same fit on zero inputs, in-sample ``log_loss``;
- ``authors-binned``: the same code on its discrete-latent MI path (``mutual_info_score`` of
  labels) fed the bins fastdci uses, so InfoM and InfoC must equal fastdci's (asserted to 1e-9)
  and InfoE agree to the tolerance of the authors' 100-iteration fit.

Run: ``python -m pytest benchmarks/test_80_infomec.py --benchmark-only``
(``FASTDCI_BENCH_INFOMEC_ROWS`` overrides the size).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.feature_selection import mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, mutual_info_score
from sklearn.preprocessing import StandardScaler

import fastdci

from .conftest import scaled

ROWS = scaled("INFOMEC_ROWS", 20_000)
N_LATENTS = 10
FACTOR_SIZES = (3, 6, 40, 32, 32)
N_BINS = 20


def _log_loss_of_fit(X, y):
    """The authors' logistic regression: no penalty, balanced classes, lbfgs to 1e-4 / 100 steps."""
    model = LogisticRegression(C=np.inf, tol=1e-4, class_weight="balanced", solver="lbfgs", max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return log_loss(y, model.predict_proba(X))


def _mi_continuous(x, y):
    """(K, L): the authors' nearest-neighbour MI of each standardised latent with each factor."""
    z = StandardScaler().fit_transform(x)
    return np.array([[mutual_info_classif(z[:, [l]], y[:, k], discrete_features=False, n_neighbors=10,
                                          random_state=0)[0] for l in range(x.shape[1])]
                     for k in range(y.shape[1])])


def _mi_binned(x, y, n_bins=N_BINS):
    codes = np.column_stack([np.digitize(x[:, l], np.histogram(x[:, l], n_bins)[1][:-1])
                             for l in range(x.shape[1])])
    return np.array([[mutual_info_score(y[:, k], codes[:, l]) for l in range(x.shape[1])]
                     for k in range(y.shape[1])])


def authors_infomec(x, y, mutual_info):
    """compute_infomec restated: normalised MI, Tripod's activity rule, InfoM, InfoC, InfoE."""
    nmi = mutual_info(x, y)
    nmi /= np.array([mutual_info_score(y[:, k], y[:, k]) for k in range(y.shape[1])])[:, None]
    q25, q75 = np.quantile(x, [0.25, 0.75], axis=0)
    active = (q75 - q25) > np.max(q75 - q25) / 10
    K, La = y.shape[1], int(active.sum())
    pruned = nmi[:, active]
    infom = (np.mean(pruned.max(axis=0) / pruned.sum(axis=0)) - 1 / K) / (1 - 1 / K)
    infoc = (np.mean(pruned.max(axis=1) / pruned.sum(axis=1)) - 1 / La) / (1 - 1 / La)
    z = StandardScaler().fit_transform(x)
    per_factor = []
    for k in range(K):
        null = _log_loss_of_fit(np.zeros_like(z), y[:, k])
        per_factor.append((null - _log_loss_of_fit(z, y[:, k])) / null)
    return {"infom": float(infom), "infoc": float(infoc), "infoe": float(np.mean(per_factor))}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, FACTOR_SIZES, size=(ROWS, len(FACTOR_SIZES)))
    x = rng.normal(size=(ROWS, N_LATENTS)).astype(np.float32)
    x[:, : len(FACTOR_SIZES)] *= np.float32(0.05)
    x[:, : len(FACTOR_SIZES)] += (y / np.array(FACTOR_SIZES)).astype(np.float32)
    fastdci.infomec(x[:2000], y[:2000], backend="cpu")  # kernels compiled / loaded from cache before timing
    return x, y


def test_infomec_fastdci(benchmark, data):
    x, y = data
    benchmark.group = "infomec"
    benchmark.extra_info["rows"] = x.shape[0]
    res = benchmark.pedantic(fastdci.infomec, args=(x, y), kwargs={"backend": "cpu"}, rounds=3, iterations=1,
                             warmup_rounds=1)
    benchmark.extra_info.update(res.scores())


def test_infomec_authors_ksg(benchmark, data):
    x, y = data
    benchmark.group = "infomec"
    benchmark.extra_info["rows"] = x.shape[0]
    ref = benchmark.pedantic(authors_infomec, args=(x.astype(np.float64), y, _mi_continuous), rounds=1,
                             iterations=1)
    benchmark.extra_info.update(ref)


def test_infomec_authors_binned(benchmark, data):
    x, y = data
    benchmark.group = "infomec"
    benchmark.extra_info["rows"] = x.shape[0]
    ref = benchmark.pedantic(authors_infomec, args=(x, y, _mi_binned), rounds=1, iterations=1)
    benchmark.extra_info.update(ref)
    ours = fastdci.infomec(x, y, backend="cpu")
    assert abs(ours.infom - ref["infom"]) < 1e-9 and abs(ours.infoc - ref["infoc"]) < 1e-9
    assert abs(ours.infoe - ref["infoe"]) < 5e-3
