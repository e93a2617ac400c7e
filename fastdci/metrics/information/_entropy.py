"""Entropy and mutual information (nats) from tables of counts.

The tables are small (``n_classes x n_bins``), so this is NumPy that follows scikit-learn's
``mutual_info_score`` term by term: the numbers agree with it, and with disentanglement_lib's
``discrete_mutual_info`` / ``discrete_entropy``, to the last few ulps.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["entropy_from_counts", "joint_entropy_from_counts", "mutual_info_from_counts", "mutual_info_matrix"]


def mutual_info_from_counts(table: np.ndarray) -> float:
    """Mutual information (nats) of the two variables whose contingency table is ``table``.

    Parameters
    ----------
    table : array_like, shape (R, C), non-negative integers
        ``table[r, c]`` = #rows with first variable ``r`` and second ``c``. Empty rows and
        columns (classes never seen) are ignored.

    Returns
    -------
    float
        ``sum_rc p_rc log(p_rc / (p_r p_c))`` with ``0 log 0 = 0``; 0 when either variable
        takes a single value. The terms are formed and summed as scikit-learn's
        ``mutual_info_score(..., contingency=table)`` does (terms below machine epsilon dropped,
        the sum clipped at 0), so the two agree to rounding.
    """
    t = np.asarray(table, dtype=np.int64)
    pi = t.sum(axis=1)
    pj = t.sum(axis=0)
    pi = pi[pi > 0]
    pj = pj[pj > 0]
    if pi.size <= 1 or pj.size <= 1:
        return 0.0
    rows = t.sum(axis=1)
    cols = t.sum(axis=0)
    nzx, nzy = np.nonzero(t)
    nz = t[nzx, nzy]
    total = int(nz.sum())
    p = nz / total
    outer = rows[nzx].astype(np.int64) * cols[nzy].astype(np.int64)
    log_outer = -np.log(outer) + math.log(total) + math.log(total)
    terms = p * (np.log(nz) - math.log(total)) + p * log_outer
    terms = np.where(np.abs(terms) < np.finfo(np.float64).eps, 0.0, terms)
    return float(max(terms.sum(), 0.0))


def mutual_info_matrix(counts: np.ndarray) -> np.ndarray:
    """Mutual information (nats) of every table in a stack of contingency tables, vectorised.

    Parameters
    ----------
    counts : ndarray, shape (..., R, C), non-negative integers

    Returns
    -------
    ndarray, shape (...), float64
        ``mutual_info_from_counts`` of each (R, C) table: the same terms (scikit-learn's form,
        terms below machine epsilon dropped, clipped at 0), summed per table; equal to it up to
        the order of summation (a few ulps).
    """
    t = np.asarray(counts, dtype=np.int64)
    total = t.sum(axis=(-2, -1))
    rows = t.sum(axis=-1)
    cols = t.sum(axis=-2)
    nz = t > 0
    safe_t = np.where(nz, t, 1)
    safe_total = np.where(total > 0, total, 1).astype(np.float64)
    log_total = np.log(safe_total)[..., None, None]
    outer = rows[..., :, None] * cols[..., None, :]
    p = t / safe_total[..., None, None]
    log_outer = -np.log(np.where(nz, outer, 1)) + log_total + log_total
    terms = p * (np.log(safe_t) - log_total) + p * log_outer
    terms = np.where(nz & (np.abs(terms) >= np.finfo(np.float64).eps), terms, 0.0)
    mi = np.maximum(terms.sum(axis=(-2, -1)), 0.0)
    single = ((rows > 0).sum(axis=-1) <= 1) | ((cols > 0).sum(axis=-1) <= 1)
    return np.where(single, 0.0, mi)


def entropy_from_counts(counts: np.ndarray) -> float:
    """Entropy (nats) of a discrete variable from its class counts (``0 log 0 = 0``).

    Computed as the mutual information of the variable with itself (the diagonal contingency
    table), which is how disentanglement_lib's ``discrete_entropy`` computes it, so factor
    entropies agree with its numbers to rounding.

    Parameters
    ----------
    counts : array_like, shape (C,), non-negative integers

    Returns
    -------
    float
    """
    c = np.asarray(counts, dtype=np.int64)
    c = c[c > 0]
    return mutual_info_from_counts(np.diag(c))


def joint_entropy_from_counts(table: np.ndarray) -> float:
    """Joint entropy (nats) ``-sum p log p`` of a contingency table of counts (``0 log 0 = 0``).

    Parameters
    ----------
    table : array_like, any shape, non-negative integers

    Returns
    -------
    float
    """
    t = np.asarray(table, dtype=np.int64).ravel()
    nz = t[t > 0]
    if nz.size <= 1:
        return 0.0
    total = int(nz.sum())
    p = nz / total
    return float(max(-(p * (np.log(nz) - math.log(total))).sum(), 0.0))
