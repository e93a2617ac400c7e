"""Per-row pieces of the logistic fit's softmax shared by :mod:`fastdci.kernels.logistic_objective`
and :mod:`fastdci.kernels.softmax_residual` (inlined into both): a row's maximum and its sum,
each over four independent chains, and the running product of the rows' sums whose logarithm
gives their summed ``log``."""

from __future__ import annotations

import math

import numba

__all__ = ["LN2", "log_product_step", "row_max", "row_sum"]

LN2 = math.log(2.0)


@numba.njit(inline="always")
def row_max(z):  # pragma: no cover - compiled
    """The maximum of ``z`` (1-D, non-empty) over four chains ``c % 4`` (exact, whatever the
    order), which hide the latency of each compare."""
    C = z.shape[0]
    C4 = C - C % 4
    m0 = z[0]
    m1 = m0
    m2 = m0
    m3 = m0
    for c in range(0, C4, 4):
        m0 = max(m0, z[c])
        m1 = max(m1, z[c + 1])
        m2 = max(m2, z[c + 2])
        m3 = max(m3, z[c + 3])
    for c in range(C4, C):
        m0 = max(m0, z[c])
    return max(max(m0, m1), max(m2, m3))


@numba.njit(inline="always")
def row_sum(z):  # pragma: no cover - compiled
    """The sum of ``z`` (1-D) as four interleaved partial sums ``c % 4``, added pairwise at the
    end: ``(s0 + s1) + (s2 + s3)``."""
    C = z.shape[0]
    C4 = C - C % 4
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for c in range(0, C4, 4):
        s0 += z[c]
        s1 += z[c + 1]
        s2 += z[c + 2]
        s3 += z[c + 3]
    for c in range(C4, C):
        s0 += z[c]
    return (s0 + s1) + (s2 + s3)


@numba.njit(inline="always")
def log_product_step(prod, exps, s, i):  # pragma: no cover - compiled
    """Multiply row ``i``'s sum ``s`` (in [1, C]) into the running product ``prod * 2**exps``;
    every sixteenth row the product's binary exponent moves into ``exps`` (exact), so it
    stays in range. The summed ``log`` is ``log(mantissa) + (exps + e) * LN2`` of the final
    ``math.frexp(prod)``. Returns the new ``(prod, exps)``."""
    prod *= s
    if (i & 15) == 15:
        prod, e = math.frexp(prod)
        exps += e
    return prod, exps
