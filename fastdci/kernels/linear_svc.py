"""Numba kernels of the one-feature linear SVMs behind SAP: liblinear's TRON solver.

The solver reproduces scikit-learn's ``LinearSVC`` (liblinear's ``L2R_L2LOSS_SVC`` primal
trust-region Newton method) step for step; :mod:`fastdci.regressors.linear_svc` states the
contract and wraps these kernels. ``pair_accuracy`` runs one (latent, factor) pair per thread.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["fit_factor", "pair_accuracy"]


@numba.njit(cache=True)
def _fun(w0, w1, x, yb, Cp, Cn):
    f = 0.5 * (w0 * w0 + w1 * w1)
    for i in range(x.shape[0]):
        y = 1.0 if yb[i] else -1.0
        z = y * (w0 * x[i] + w1)
        d = 1.0 - z
        if d > 0.0:
            f += (Cp if yb[i] else Cn) * d * d
    return f


@numba.njit(cache=True)
def _grad_hess(w0, w1, x, yb, Cp, Cn):
    """Gradient and the generalised Hessian's sums over the active set {i: y_i z_i < 1}."""
    g0 = 0.0
    g1 = 0.0
    a = 0.0  # sum C x^2
    b = 0.0  # sum C x
    c = 0.0  # sum C
    for i in range(x.shape[0]):
        y = 1.0 if yb[i] else -1.0
        z = y * (w0 * x[i] + w1)
        if z < 1.0:
            ci = Cp if yb[i] else Cn
            v = ci * y * (z - 1.0)
            g0 += v * x[i]
            g1 += v
            a += ci * x[i] * x[i]
            b += ci * x[i]
            c += ci
    return w0 + 2.0 * g0, w1 + 2.0 * g1, a, b, c


@numba.njit(cache=True)
def _hv(d0, d1, a, b, c):
    return d0 + 2.0 * (a * d0 + b * d1), d1 + 2.0 * (b * d0 + c * d1)


@numba.njit(cache=True)
def _trcg(delta, g0, g1, a, b, c):
    """Truncated conjugate gradient inside the trust region (liblinear's ``trcg``)."""
    s0 = 0.0
    s1 = 0.0
    r0 = -g0
    r1 = -g1
    d0 = r0
    d1 = r1
    cgtol = 0.1 * np.sqrt(g0 * g0 + g1 * g1)
    rTr = r0 * r0 + r1 * r1
    while True:
        if np.sqrt(r0 * r0 + r1 * r1) <= cgtol:
            break
        hd0, hd1 = _hv(d0, d1, a, b, c)
        alpha = rTr / (d0 * hd0 + d1 * hd1)
        s0 += alpha * d0
        s1 += alpha * d1
        if np.sqrt(s0 * s0 + s1 * s1) > delta:
            s0 -= alpha * d0
            s1 -= alpha * d1
            std = s0 * d0 + s1 * d1
            sts = s0 * s0 + s1 * s1
            dtd = d0 * d0 + d1 * d1
            dsq = delta * delta
            rad = np.sqrt(std * std + dtd * (dsq - sts))
            if std >= 0:
                alpha = (dsq - sts) / (std + rad)
            else:
                alpha = (rad - std) / dtd
            s0 += alpha * d0
            s1 += alpha * d1
            r0 -= alpha * hd0
            r1 -= alpha * hd1
            break
        r0 -= alpha * hd0
        r1 -= alpha * hd1
        rnew = r0 * r0 + r1 * r1
        beta = rnew / rTr
        d0 = beta * d0 + r0
        d1 = beta * d1 + r1
        rTr = rnew
    return s0, s1, r0, r1


@numba.njit(cache=True)
def _tron(x, yb, Cp, Cn, eps, max_iter):
    """liblinear's TRON for min 0.5|w|^2 + sum_i C_i max(0, 1 - y_i (w0 x_i + w1))^2."""
    eta0, eta1, eta2 = 1e-4, 0.25, 0.75
    sigma1, sigma2, sigma3 = 0.25, 0.5, 4.0
    w0 = 0.0
    w1 = 0.0
    f = _fun(w0, w1, x, yb, Cp, Cn)
    g0, g1, a, b, c = _grad_hess(w0, w1, x, yb, Cp, Cn)
    delta = np.sqrt(g0 * g0 + g1 * g1)
    gnorm1 = delta
    gnorm = gnorm1
    search = gnorm > eps * gnorm1
    it = 1
    while it <= max_iter and search:
        s0, s1, r0, r1 = _trcg(delta, g0, g1, a, b, c)
        n0 = w0 + s0
        n1 = w1 + s1
        gs = g0 * s0 + g1 * s1
        prered = -0.5 * (gs - (s0 * r0 + s1 * r1))
        fnew = _fun(n0, n1, x, yb, Cp, Cn)
        actred = f - fnew
        snorm = np.sqrt(s0 * s0 + s1 * s1)
        if it == 1:
            delta = min(delta, snorm)
        if fnew - f - gs <= 0:
            alpha = sigma3
        else:
            alpha = max(sigma1, -0.5 * (gs / (fnew - f - gs)))
        if actred < eta0 * prered:
            delta = min(max(alpha, sigma1) * snorm, sigma2 * delta)
        elif actred < eta1 * prered:
            delta = max(sigma1 * delta, min(alpha * snorm, sigma2 * delta))
        elif actred < eta2 * prered:
            delta = max(sigma1 * delta, min(alpha * snorm, sigma3 * delta))
        else:
            delta = max(delta, min(alpha * snorm, sigma3 * delta))
        if actred > eta0 * prered:
            it += 1
            w0 = n0
            w1 = n1
            f = fnew
            g0, g1, a, b, c = _grad_hess(w0, w1, x, yb, Cp, Cn)
            gnorm = np.sqrt(g0 * g0 + g1 * g1)
            if gnorm <= eps * gnorm1:
                break
        if f < -1.0e32:
            break
        if abs(actred) <= 0 and prered <= 0:
            break
        if abs(actred) <= 1.0e-12 * abs(f) and abs(prered) <= 1.0e-12 * abs(f):
            break
    return w0, w1


@numba.njit(cache=True)
def fit_factor(x, y, n_classes, C, tol, max_iter):
    """One-vs-rest TRON fits of one input column against one factor's classes 0..n-1.

    Returns (n_problems, 2) weights (slope, intercept); one problem when n_classes == 2.
    """
    n = x.shape[0]
    counts = np.zeros(n_classes, dtype=np.int64)
    for i in range(n):
        counts[y[i]] += 1
    weight = np.empty(n_classes)
    for k in range(n_classes):
        weight[k] = n / (n_classes * counts[k])
    n_prob = 1 if n_classes == 2 else n_classes
    out = np.zeros((n_prob, 2))
    yb = np.empty(n, dtype=np.bool_)
    for p in range(n_prob):
        cls = 1 if n_classes == 2 else p
        for i in range(n):
            yb[i] = y[i] == cls
        if n_classes == 2:
            Cp = C * weight[1]
            Cn = C * weight[0]
        else:
            Cp = C * weight[p]
            Cn = C
        pos = counts[cls]
        neg = n - pos
        eps = tol * max(min(pos, neg), 1) / n
        w0, w1 = _tron(x, yb, Cp, Cn, eps, max_iter)
        out[p, 0] = w0
        out[p, 1] = w1
    return out


@numba.njit(cache=True)
def _accuracy(weights, n_classes, x_test, y_test):
    correct = 0
    for i in range(x_test.shape[0]):
        if n_classes == 2:
            pred = 1 if weights[0, 0] * x_test[i] + weights[0, 1] > 0 else 0
        else:
            pred = 0
            best = weights[0, 0] * x_test[i] + weights[0, 1]
            for k in range(1, n_classes):
                v = weights[k, 0] * x_test[i] + weights[k, 1]
                if v > best:
                    best = v
                    pred = k
        if pred == y_test[i]:
            correct += 1
    return correct


@numba.njit(parallel=True)
def pair_accuracy(X, Y, n_classes, X_test, Y_test, C, tol, max_iter):
    L = X.shape[1]
    K = Y.shape[1]
    out = np.zeros((L, K), dtype=np.int64)
    for job in numba.prange(L * K):
        i = job // K
        j = job % K
        w = fit_factor(X[:, i].copy(), Y[:, j].copy(), n_classes[j], C, tol, max_iter)
        out[i, j] = _accuracy(w, n_classes[j], X_test[:, i].copy(), Y_test[:, j].copy())
    return out
