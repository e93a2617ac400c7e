"""The DCI-ES authors' pipeline restated (andreinicolicioiu/DCI-ES at 9329dae), for benchmarks.

Their random-forest path: ``src/loss_capacity/train_model_random_forest.py`` fits, per capacity
(``configs/random_forest/config.yaml``: ``max_depth`` 1, 2, 3, 4, 8, 10, ..., 20, 32) and per
factor, a ``RandomForestClassifier`` (discrete) or ``RandomForestRegressor`` (continuous) of 100
trees, and records ``1 - score`` on the test rows (error rate; ``1 - R^2``);
``src/simple_gather.py`` turns each factor's losses over the depths (a linear axis for forests)
into E with ``metrics/explitcitness.py`` against the hard-coded baseline ``1 - 1/n_classes``
(1 for a continuous factor), averages E over factors, and reports D and C (dlib's formulas on
the forests' ``feature_importances_``) of the depth with the best informativeness. Their
Explitcitness class needs the repository's layout and liftoff; this restates its arithmetic.
"""

from __future__ import annotations

import numpy as np

DEPTHS = (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32)


def authors_explicitness(x, y, baseline):
    """metrics/explitcitness.py: running minimum, trapezoids above the curve's minimum, l* = 0."""
    x = np.asarray(x, dtype=np.float64)
    y = np.minimum.accumulate(np.asarray(y, dtype=np.float64))
    area = np.sum((0.5 * (y[:-1] - y.min()) + 0.5 * (y[1:] - y.min())) * (x[1:] - x[:-1]))
    return 1.0 - 2.0 * area / ((x.max() - x.min()) * baseline)


def authors_dci_es(x_train, y_train, x_test, y_test, *, depths=DEPTHS, n_trees=100, seed=0, n_jobs=None):
    """(E, D, C, I, per-factor losses (K, len(depths))) of the authors' forest ladder."""
    from sklearn.ensemble import RandomForestClassifier

    from fastdci.metrics.predictors.dci import completeness_per_factor, disentanglement_per_latent

    K = y_train.shape[1]
    losses = np.empty((K, len(depths)))
    fits = []
    for j, depth in enumerate(depths):
        R = np.zeros((x_train.shape[1], K))
        for k in range(K):
            rf = RandomForestClassifier(n_estimators=n_trees, max_depth=depth, random_state=seed, n_jobs=n_jobs)
            rf.fit(x_train, y_train[:, k])
            losses[k, j] = 1.0 - rf.score(x_test, y_test[:, k])
            R[:, k] = np.abs(rf.feature_importances_)
        fits.append(R)
    baseline = np.array([1.0 - 1.0 / np.unique(y_train[:, k]).size for k in range(K)])
    e = np.mean([authors_explicitness(depths, losses[k], baseline[k]) for k in range(K)])
    info = 1.0 - losses.mean(axis=0)
    best = int(np.argmax(info))
    R = fits[best]
    d = float(np.sum(disentanglement_per_latent(R) * R.sum(axis=1) / R.sum()))
    c = float(np.sum(completeness_per_factor(R) * R.sum(axis=0) / R.sum()))
    return float(e), d, c, float(info[best]), losses
