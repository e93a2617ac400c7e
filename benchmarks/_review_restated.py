"""The metrics review's MIG, SAP, explicitness and DCI, restated step by step.

Carbonneau, Zaidi, Boilard & Gagnon, "Measuring disentanglement: a review of metrics"
(TNNLS 2022); their code is ubisoft/ubisoft-laforge-disentanglement-metrics
(``src/metrics/{mig,sap,explicitness,dci}.py`` and ``src/utils.py``, commit 05d5667). It is
not a package and needs ``pyitlib``, so :mod:`benchmarks.test_81_review` runs this
restatement: the same steps, loops and scikit-learn estimators with the same settings, in
the review's argument order ``(factors, codes)`` and with the hyper-parameters of its
``experiments/config.py``. Deviations, each forced by the environment:

- ``pyitlib.discrete_random_variable.information_mutual_normalised(x, y, norm_factor='Y')``
  (plug-in MI of two label vectors over the plug-in entropy of the second) is written with
  NumPy (:func:`normalised_mi`); the ratio does not depend on the logarithm's base.
- ``LogisticRegression(class_weight='balanced', multi_class='ovr')``: scikit-learn 1.7
  removed ``multi_class``; ``OneVsRestClassifier(LogisticRegression(class_weight='balanced'))``
  fits the same binary problems (scikit-learn's ovr path also balanced each masked binary
  label, not the multiclass one) and normalises the probabilities over classes the same way.
- The random forests take no ``random_state`` in the review (its experiments seed NumPy's
  global generator before each call); the caller does the same here.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import Lasso, LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import cross_val_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer, minmax_scale

LASSO_ALPHAS = (0.0001, 0.001, 0.01, 0.1, 0.2, 0.4, 0.8, 1)
FOREST_DEPTHS = (8, 16, 32, 64, 128)
FOREST_FEATURES = (0.2, 0.4, 0.8, 1.0)


def bin_index(x, nb_bins):
    """``utils.get_bin_index``: values in [0, 1] to 1..nb_bins on equal-width edges (1.0 in
    the last bin)."""
    edges = np.linspace(0, 1, nb_bins + 1)[:-1]
    return np.digitize(x, edges, right=False).astype(int)


def _plugin_entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return float(-np.sum(p * np.log(p)))


def normalised_mi(x, y):
    """I(X; Y) / H(Y) of two integer label vectors, by their empirical frequencies."""
    _, xi = np.unique(x, return_inverse=True)
    _, yi = np.unique(y, return_inverse=True)
    joint = np.zeros((xi.max() + 1, yi.max() + 1))
    np.add.at(joint, (xi, yi), 1.0)
    h_x, h_y = _plugin_entropy(joint.sum(axis=1)), _plugin_entropy(joint.sum(axis=0))
    mi = h_x + h_y - _plugin_entropy(joint.ravel())
    return mi / h_y  # pyitlib divides as is (a constant code gives NaN there too)


def _top_two_gap(matrix):
    """Mean over rows (factors) of the highest minus the second highest entry."""
    total = 0.0
    for row in matrix:
        ordered = np.sort(row)
        total += ordered[-1] - ordered[-2]
    return total / matrix.shape[0]


def mig(factors, codes, continuous_factors=True, nb_bins=10):
    """``metrics.mig.mig``: both sides min-max scaled and binned, MI normalised by H(code)."""
    if continuous_factors:
        factors = bin_index(minmax_scale(factors), nb_bins)
    codes = bin_index(minmax_scale(codes), nb_bins)
    scores = np.zeros((factors.shape[1], codes.shape[1]))
    for f in range(factors.shape[1]):
        for c in range(codes.shape[1]):
            scores[f, c] = normalised_mi(factors[:, f], codes[:, c])
    return _top_two_gap(scores)


def sap(factors, codes, continuous_factors=True, nb_bins=10, regression=True):
    """``metrics.sap.sap`` with ``regression=True``: in-sample R2 of a one-code line, clipped
    at 0, per (factor, code); raw factors and codes."""
    assert continuous_factors and regression, "only the review's regression SAP is restated"
    scores = np.zeros((factors.shape[1], codes.shape[1]))
    for f in range(factors.shape[1]):
        for c in range(codes.shape[1]):
            x = codes[:, c].reshape(-1, 1)
            line = LinearRegression().fit(x, factors[:, f].reshape(-1, 1))
            scores[f, c] = max(0, r2_score(factors[:, f], line.predict(x)))
    return _top_two_gap(scores)


def explicitness(factors, codes, continuous_factors=True, nb_bins=10, scale=True, impl=1):
    """``metrics.explicitness.explicitness``, implementation 1: per factor a balanced
    one-vs-rest logistic regression on the min-max scaled codes, fitted and scored on all
    rows by macro ROC-AUC over the classes; the mean AUC mapped from [0.5, 1] to [0, 1]."""
    assert impl == 1, "only implementation 1 (the review's default) is restated"
    if continuous_factors:
        factors = bin_index(minmax_scale(factors), nb_bins)
    codes = minmax_scale(codes)
    auc_sum = 0.0
    for f in range(factors.shape[1]):
        target = factors[:, f]
        indicators = MultiLabelBinarizer().fit_transform(target[:, None])
        model = OneVsRestClassifier(LogisticRegression(class_weight="balanced")).fit(codes, target)
        auc_sum += roc_auc_score(indicators, model.predict_proba(codes))
    score = auc_sum / factors.shape[1]
    return (score - 0.5) * 2 if scale else score


def _lasso_fit(target, codes):
    """Alpha by 10-fold CV mean squared error (first best on ties), then one Lasso on all rows."""
    best_alpha, best_mse = 0, 10e10
    for alpha in LASSO_ALPHAS:
        folds = cross_val_score(Lasso(alpha=alpha, max_iter=5000), codes, target, cv=10,
                                scoring="neg_mean_squared_error")
        if -folds.mean() < best_mse:
            best_alpha, best_mse = alpha, -folds.mean()
    model = Lasso(alpha=best_alpha).fit(codes, target)
    mse = mean_squared_error(model.predict(codes), target)
    return max(1 - 12 * mse, 0), np.ravel(np.abs(model.coef_)), best_alpha


def _forest_fit(target, codes):
    """(max_depth, max_features) by 10-fold CV over 10-tree forests, then one forest on all rows."""
    target = np.ravel(target)
    best, best_mse = (0, 0), 10e10
    for depth in FOREST_DEPTHS:
        for share in FOREST_FEATURES:
            forest = RandomForestRegressor(n_estimators=10, max_depth=depth, max_features=share)
            folds = cross_val_score(forest, codes, target, cv=10, scoring="neg_mean_squared_error")
            if -folds.mean() < best_mse:
                best, best_mse = (depth, share), -folds.mean()
    model = RandomForestRegressor(n_estimators=10, max_depth=best[0], max_features=best[1]).fit(codes, target)
    mse = mean_squared_error(model.predict(codes), target)
    return max(1 - 12 * mse, 0), model.feature_importances_, best


def _one_minus_entropy(weights):
    """1 - entropy of the weights' distribution, logarithm base = their number."""
    h = 0.0
    for p in weights:
        if p:
            h -= p * math.log(p, len(weights))
    return 1 - h


def dci(factors, codes, continuous_factors=True, model="lasso", details=None):
    """``metrics.dci.dci``: (disentanglement, completeness, informativeness). Both sides
    min-max scaled; per factor a CV-tuned lasso or random forest fitted and scored in-sample,
    informativeness ``max(1 - 12 MSE, 0)``. As in the review, the disentanglement loop stops
    at the first code with zero total importance (``break``), and completeness is the
    unweighted mean over factors. ``details``, a dict, receives the importance matrix and the
    chosen hyper-parameters."""
    assert continuous_factors, "the review's DCI takes continuous factors only"
    fit = {"lasso": _lasso_fit, "random_forest": _forest_fit}[model]
    factors, codes = minmax_scale(factors), minmax_scale(codes)
    n_f, n_c = factors.shape[1], codes.shape[1]
    weights, info, chosen = np.zeros((n_f, n_c)), np.zeros(n_f), []
    for f in range(n_f):
        info[f], weights[f], param = fit(factors[:, f].reshape(-1, 1), codes)
        chosen.append(param)
    rho, disent = np.zeros(n_c), np.zeros(n_c)
    for c in range(n_c):
        rho[c] = weights[:, c].sum()
        if rho[c] == 0:
            break  # the review's loop ends here; later codes keep D = 0 and rho = 0
        disent[c] = _one_minus_entropy(weights[:, c] / rho[c])
    rho = rho / rho.sum() if rho.sum() else rho * 0
    comp = np.zeros(n_f)
    for f in range(n_f):
        total = weights[f].sum()
        share = weights[f] / total if total != 0 else np.full(n_c, 1.0 / n_c)
        comp[f] = _one_minus_entropy(share)
    if details is not None:
        details.update(importance=weights, chosen=chosen, informativeness_per_factor=info)
    return float(disent @ rho), float(comp.mean()), float(info.mean())
