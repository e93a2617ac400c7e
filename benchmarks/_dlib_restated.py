"""disentanglement_lib's metric code restated for the benchmarks: what a user runs today.

Each function follows the reference's algorithm step by step (its sampling loop with one
representation call per batch, scikit-learn estimators with its settings, its NumPy loops), in
this project's words; disentanglement_lib itself needs TensorFlow 1 and gin, which do not
install on current Python. Codes-first layout, as the reference.
"""

from __future__ import annotations

import numpy as np


def generate(gtd, fn, num_points, rs, batch_size):
    reps, facs = [], []
    done = 0
    while done < num_points:
        n = min(num_points - done, batch_size)
        f = gtd.sample_factors(n, rs)
        reps.append(fn(gtd.sample_observations_from_factors(f, rs)))
        facs.append(f)
        done += n
    return np.vstack(reps).T, np.vstack(facs).T


def histogram_discretize(target, num_bins=20):
    out = np.zeros_like(target)
    for i in range(target.shape[0]):
        out[i] = np.digitize(target[i], np.histogram(target[i], num_bins)[1][:-1])
    return out


def mutual_info(mus, ys):
    from sklearn.metrics import mutual_info_score

    return np.array([[mutual_info_score(ys[j], mus[i]) for j in range(ys.shape[0])] for i in range(mus.shape[0])])


def mig(gtd, fn, rs, num_train=10000, batch_size=16):
    from sklearn.metrics import mutual_info_score

    mus, ys = generate(gtd, fn, num_train, rs, batch_size)
    m = mutual_info(histogram_discretize(mus), ys)
    h = np.array([mutual_info_score(y, y) for y in ys])
    s = np.sort(m, axis=0)[::-1]
    return {"discrete_mig": float(np.mean((s[0] - s[1]) / h))}


def _entropy_rows(p, base):
    from scipy.stats import entropy

    return entropy(p, base=base)


def dci(gtd, fn, rs, num_train=10000, num_test=5000, batch_size=16):
    from sklearn.ensemble import GradientBoostingClassifier

    x_tr, y_tr = generate(gtd, fn, num_train, rs, batch_size)
    x_te, y_te = generate(gtd, fn, num_test, rs, batch_size)
    R = np.zeros((x_tr.shape[0], y_tr.shape[0]))
    acc_tr, acc_te = [], []
    for k in range(y_tr.shape[0]):
        model = GradientBoostingClassifier().fit(x_tr.T, y_tr[k])
        R[:, k] = np.abs(model.feature_importances_)
        acc_tr.append(np.mean(model.predict(x_tr.T) == y_tr[k]))
        acc_te.append(np.mean(model.predict(x_te.T) == y_te[k]))
    d_code = 1.0 - _entropy_rows(R.T + 1e-11, R.shape[1])
    c_fact = 1.0 - _entropy_rows(R + 1e-11, R.shape[0])
    w = R if R.sum() else np.ones_like(R)
    return {"informativeness_train": float(np.mean(acc_tr)), "informativeness_test": float(np.mean(acc_te)),
            "disentanglement": float(np.sum(d_code * w.sum(1) / w.sum())),
            "completeness": float(np.sum(c_fact * w.sum(0) / w.sum()))}


def sap(gtd, fn, rs, num_train=10000, num_test=5000, batch_size=16):
    from sklearn.svm import LinearSVC

    mus, ys = generate(gtd, fn, num_train, rs, batch_size)
    mus_te, ys_te = generate(gtd, fn, num_test, rs, batch_size)
    S = np.zeros((mus.shape[0], ys.shape[0]))
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            clf = LinearSVC(C=0.01, class_weight="balanced").fit(mus[i][:, None], ys[j])
            S[i, j] = np.mean(clf.predict(mus_te[i][:, None]) == ys_te[j])
    s = np.sort(S, axis=0)
    return {"SAP_score": float(np.mean(s[-1] - s[-2]))}


def _beta_vae_batch(gtd, fn, batch_size, n, rs):
    points, labels = None, np.zeros(n, dtype=np.int64)
    for i in range(n):
        k = rs.randint(gtd.num_factors)
        f1 = gtd.sample_factors(batch_size, rs)
        f2 = gtd.sample_factors(batch_size, rs)
        f2[:, k] = f1[:, k]
        r1 = fn(gtd.sample_observations_from_factors(f1, rs))
        r2 = fn(gtd.sample_observations_from_factors(f2, rs))
        v = np.mean(np.abs(r1 - r2), axis=0)
        points = np.zeros((n, v.shape[0])) if points is None else points
        points[i], labels[i] = v, k
    return points, labels


def beta_vae(gtd, fn, rs, batch_size=64, num_train=10000, num_eval=5000):
    from sklearn.linear_model import LogisticRegression

    X, y = _beta_vae_batch(gtd, fn, batch_size, num_train, rs)
    model = LogisticRegression(random_state=rs).fit(X, y)
    Xe, ye = _beta_vae_batch(gtd, fn, batch_size, num_eval, rs)
    return {"train_accuracy": float(np.mean(model.predict(X) == y)), "eval_accuracy": float(model.score(Xe, ye))}


def factor_vae(gtd, fn, rs, batch_size=64, num_train=10000, num_eval=5000, num_variance_estimate=10000,
               threshold=0.05):
    obs = gtd.sample_observations_from_factors(gtd.sample_factors(num_variance_estimate, rs), rs)
    reps = np.vstack([fn(obs[i:i + 64]) for i in range(0, len(obs), 64)])
    global_var = np.var(reps, axis=0, ddof=1)
    active = np.sqrt(global_var) >= threshold

    def votes(n):
        v = np.zeros((gtd.num_factors, global_var.shape[0]), dtype=np.int64)
        for _ in range(n):
            k = rs.randint(gtd.num_factors)
            f = gtd.sample_factors(batch_size, rs)
            f[:, k] = f[0, k]
            local = np.var(fn(gtd.sample_observations_from_factors(f, rs)), axis=0, ddof=1)
            v[k, np.argmin(local[active] / global_var[active])] += 1
        return v

    tr = votes(num_train)
    cls = np.argmax(tr, axis=0)
    cols = np.arange(tr.shape[1])
    ev = votes(num_eval)
    return {"train_accuracy": float(tr[cls, cols].sum() / tr.sum()), "eval_accuracy": float(ev[cls, cols].sum() / ev.sum()),
            "num_active_dims": int(active.sum())}


def unsupervised(gtd, fn, rs, num_train=10000, batch_size=16):
    """``unsupervised_metrics``: the covariance's Gaussian total and Wasserstein correlations
    (``scipy.linalg.sqrtm`` of the product, as the reference) and the mean pairwise MI."""
    import scipy.linalg

    mus, _ = generate(gtd, fn, num_train, rs, batch_size)
    cov = np.cov(mus)
    diag = np.diag(np.diag(cov))
    tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    w = 2 * np.trace(cov) - 2 * np.trace(scipy.linalg.sqrtm(np.matmul(cov, diag)))
    disc = histogram_discretize(mus)
    mi = mutual_info(disc, disc)
    np.fill_diagonal(mi, 0)
    L = mus.shape[0]
    return {"gaussian_total_correlation": tc, "gaussian_wasserstein_correlation": float(np.real(w)),
            "gaussian_wasserstein_correlation_norm": float(np.real(w)) / np.sum(np.diag(cov)),
            "mutual_info_score": np.sum(mi) / (L * L - L)}
