"""One-feature linear SVMs exactly as scikit-learn's ``LinearSVC`` trains them (Numba).

SAP (Kumar et al. 2018, as disentanglement_lib computes it) fits
``sklearn.svm.LinearSVC(C=0.01, class_weight="balanced")`` on every (latent, factor) pair: one
input column, one-vs-rest over the factor's classes. Its score is an accuracy, i.e. a count of
predictions, and many of those one-vs-rest lines are nearly flat, so which class wins near a
crossing depends on where the solver *stopped*, not only on the optimum. An exact optimiser
would disagree with scikit-learn on a few rows. So this module reproduces the solver itself:
liblinear's primal trust-region Newton method (TRON, Lin, Weng & Keerthi 2008; the
``L2R_L2LOSS_SVC`` solver that ``LinearSVC(dual="auto")`` picks when rows outnumber features)
with the same starting point, trust-region updates, conjugate-gradient inner solver, stopping
rule (``||g|| <= tol * max(min(n_pos, n_neg), 1) / n * ||g_0||``), the intercept as a penalised
extra feature of value ``intercept_scaling = 1``, and liblinear's class weighting (the positive
class of each one-vs-rest problem gets ``C * weight_c``, the rest keep ``C``). Every problem
has two unknowns, so each Hessian-vector product is a 2x2 product of running sums.
"""

from __future__ import annotations

import numpy as np

from ..kernels import linear_svc as _k

__all__ = ["fit_ovr_svc_1d", "svc_pair_accuracy"]


def fit_ovr_svc_1d(x, y, n_classes: int, C: float = 0.01, tol: float = 1e-4, max_iter: int = 1000):
    """Weights (slope, intercept) of ``LinearSVC(C, class_weight="balanced")`` on one column.

    ``y`` holds class positions 0..n_classes-1 (all present). Returns (n_problems, 2).
    """
    return _k.fit_factor(
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.int64),
        int(n_classes),
        float(C),
        float(tol),
        int(max_iter),
    )


def svc_pair_accuracy(X, Y, n_classes, X_test, Y_test, *, C=0.01, tol=1e-4, max_iter=1000):
    """Test-set correct-prediction counts (L, K) int64 of one SVM per (latent, factor).

    ``X`` (N, L) and ``X_test`` float64; ``Y`` (N, K) and ``Y_test`` int64 class positions
    (train classes 0..n_classes[k]-1, all present in ``Y``; test classes outside never match).
    """
    return _k.pair_accuracy(
        np.ascontiguousarray(X, dtype=np.float64),
        np.ascontiguousarray(Y, dtype=np.int64),
        np.asarray(n_classes, dtype=np.int64),
        np.ascontiguousarray(X_test, dtype=np.float64),
        np.ascontiguousarray(Y_test, dtype=np.int64),
        float(C),
        float(tol),
        int(max_iter),
    )
