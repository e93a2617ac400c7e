"""One-vs-rest L2 logistic regressions with balanced class weights, every class at once."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = ["OneVsRestBalancedLogistic"]


class OneVsRestBalancedLogistic:
    """One binary logistic regression per class of one factor (one-vs-rest), balanced weights.

    For class c it minimises scikit-learn's ``LogisticRegression(class_weight="balanced")``
    objective on the binary target ``y == c``:

    .. math:: \\tfrac12 \\lVert w_c \\rVert^2 + C \\sum_i s_i \\log(1 + e^{-t_i (x_i w_c + b_c)})

    with ``t_i = ±1``, ``s_i = N / (2 N_pos)`` on the positives and ``N / (2 N_neg)`` on the
    negatives, and an unpenalised intercept. All classes are solved together by Newton's
    method (one ``(L+1) x (L+1)`` system per class and step) to a gradient norm of ``tol``:
    the exact optimum, where scikit-learn's lbfgs stops at its tolerance.

    :meth:`predict_proba` is scikit-learn's one-vs-rest rule: each class's sigmoid, divided by
    their sum over classes (``OneVsRestClassifier`` and ``multi_class="ovr"``); with two
    classes the single binary model's ``(1 - p, p)``.

    Parameters
    ----------
    C : float, default 1.0
    tol : float, default 1e-10
    max_iter : int, default 100

    Attributes
    ----------
    classes_ : int64 array (n_classes,)
    coef_ : float64 array (n_models, L); intercept_ : float64 array (n_models,)
        One model per class (one model for two classes).
    """

    def __init__(self, C: float = 1.0, tol: float = 1e-10, max_iter: int = 100):
        self.C, self.tol, self.max_iter = C, tol, max_iter

    def fit(self, X: np.ndarray, y: np.ndarray) -> "OneVsRestBalancedLogistic":
        X = np.asarray(X, dtype=np.float64)
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        n_cls = self.classes_.size
        if n_cls < 2:
            raise InvalidInputError("one-vs-rest logistic regression needs at least two classes; got one.")
        targets = [1] if n_cls == 2 else range(n_cls)
        T = np.stack([codes.reshape(-1) == c for c in targets], axis=1)  # (N, M) bool
        N, L = X.shape
        Xb = np.concatenate([X, np.ones((N, 1))], axis=1)
        n_pos = T.sum(axis=0)
        S = np.where(T, N / (2.0 * n_pos), N / (2.0 * (N - n_pos)))  # (N, M) balanced weights
        sign = np.where(T, 1.0, -1.0)
        W = np.zeros((T.shape[1], L + 1))
        reg = np.eye(L + 1)
        reg[L, L] = 0.0  # the intercept is not penalised
        for _ in range(self.max_iter):
            m = sign * (Xb @ W.T)  # (N, M) margins
            p = 0.5 * (1.0 + np.tanh(-0.5 * m))  # sigmoid(-m), stable
            grad = W @ reg - self.C * ((S * sign * p).T @ Xb)  # (M, L+1)
            if np.max(np.abs(grad)) <= self.tol:
                break
            d = self.C * S * p * (1.0 - p)  # (N, M)
            H = np.stack([(Xb * d[:, m:m + 1]).T @ Xb for m in range(d.shape[1])]) + reg
            W = W - np.linalg.solve(H, grad[..., None])[..., 0]
        self.coef_, self.intercept_ = W[:, :L], W[:, L]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, n_classes) class probabilities by the one-vs-rest rule above."""
        z = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        p = 0.5 * (1.0 + np.tanh(0.5 * z))
        if self.classes_.size == 2:
            return np.concatenate([1.0 - p, p], axis=1)
        return p / p.sum(axis=1, keepdims=True)
