"""The booster's softmax (:mod:`fastdci.regressors.stumps`): per factor, the multinomial
deviance's float32 gradients and hessians from float64 raw scores on the stacked class axis of
:mod:`fastdci.kernels.boosting` (factor ``k`` owns columns ``offsets[k]:offsets[k + 1]``), over
all rows (:func:`softmax_gradients`) or over a group of up to four rows (:func:`softmax_rows`,
which the fused round end of :mod:`fastdci.kernels.boosting_trees` calls while the rows are in
cache)."""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from .fast_exp import exp_nonpositive

__all__ = ["ROWS", "softmax_gradients", "softmax_rows"]

ROWS = 4  # rows per group of softmax_rows
_SOFTMAX_BLOCK = 256  # rows per parallel task of softmax_gradients (a multiple of ROWS)


@numba.njit(inline="always")
def softmax_rows(F, codes, offsets, n0, nr, mcol, icol, G, H):  # pragma: no cover - compiled
    """Rows ``n0 .. n0 + nr - 1`` (``1 <= nr <= ROWS``) of :func:`softmax_gradients`.

    Each factor's maximum and sum run in class order, as a loop per row and factor would,
    but for four rows side by side, so that four independent chains hide the latency of each
    compare and add (a group of fewer rows repeats its last row in the spare chains, whose
    results are not used). The maximum and ``1 / sum`` are then spread over the factor's
    columns (``mcol`` (ROWS, C) float64, ``icol`` (ROWS, C) float32 scratch), so that the
    exponentials and the ``p``, ``h``, ``g`` loops run over all ``C`` classes of a row at
    once: one loop over the group's ``nr * C`` contiguous floats (which vectorises where a
    row's classes are too few to); elementwise, so the same floats.
    """
    C = F.shape[1]
    K = codes.shape[1]
    last = n0 + nr - 1
    n1 = min(n0 + 1, last)
    n2 = min(n0 + 2, last)
    n3 = min(n0 + 3, last)
    for k in range(K):
        a = offsets[k]
        b = offsets[k + 1]
        m0 = F[n0, a]
        m1 = F[n1, a]
        m2 = F[n2, a]
        m3 = F[n3, a]
        for c in range(a + 1, b):  # the first strict maximum, as `if F[n, c] > m`
            v0 = F[n0, c]
            v1 = F[n1, c]
            v2 = F[n2, c]
            v3 = F[n3, c]
            m0 = v0 if v0 > m0 else m0
            m1 = v1 if v1 > m1 else m1
            m2 = v2 if v2 > m2 else m2
            m3 = v3 if v3 > m3 else m3
        for c in range(a, b):
            mcol[0, c] = m0
            mcol[1, c] = m1
            mcol[2, c] = m2
            mcol[3, c] = m3
    # the group's rows are contiguous: one loop over their nr * C floats (vectorises for few classes)
    Ff = F.reshape(F.size)[n0 * C : (n0 + nr) * C]
    Gf = G.reshape(G.size)[n0 * C : (n0 + nr) * C]
    mf = mcol.reshape(ROWS * C)
    for m in range(nr * C):
        Gf[m] = exp_nonpositive(numba.float32(Ff[m] - mf[m]))
    for k in range(K):
        a = offsets[k]
        b = offsets[k + 1]
        s0 = numba.float32(0.0)
        s1 = numba.float32(0.0)
        s2 = numba.float32(0.0)
        s3 = numba.float32(0.0)
        for c in range(a, b):
            s0 += G[n0, c]
            s1 += G[n1, c]
            s2 += G[n2, c]
            s3 += G[n3, c]
        i0 = numba.float32(1.0) / s0
        i1 = numba.float32(1.0) / s1
        i2 = numba.float32(1.0) / s2
        i3 = numba.float32(1.0) / s3
        for c in range(a, b):
            icol[0, c] = i0
            icol[1, c] = i1
            icol[2, c] = i2
            icol[3, c] = i3
    Hf = H.reshape(H.size)[n0 * C : (n0 + nr) * C]
    jf = icol.reshape(ROWS * C)
    for m in range(nr * C):
        p = Gf[m] * jf[m]
        Hf[m] = p * (numba.float32(1.0) - p)
        Gf[m] = p
    for r in range(nr):
        n = n0 + r
        for k in range(K):
            y = offsets[k] + codes[n, k]
            G[n, y] = G[n, y] - numba.float32(1.0)


@numba.njit(
    numba.void(numba.float64[:, ::1], numba.int64[:, ::1], numba.int64[::1],
               numba.float32[:, ::1], numba.float32[:, ::1]),
    parallel=True,
    cache=True,
)
def softmax_gradients(F, codes, offsets, G, H):  # pragma: no cover - compiled
    """Softmax per factor and the multinomial deviance's gradient and hessian.

    ``F`` (N, C) float64 raw scores; ``codes`` (N, K) class positions within each factor;
    ``offsets`` (K + 1,). Writes float32 ``G[n, c] = p - y`` and ``H[n, c] = p (1 - p)``
    where ``p`` is the softmax of ``F[n, offsets[k]:offsets[k + 1]]`` (exponentials in
    float32 after subtracting the factor's maximum, by
    :func:`fastdci.kernels.fast_exp.exp_nonpositive`; the sum in class order) and ``y`` the
    one-hot target. Every row's values depend on that row alone.
    """
    N, C = F.shape
    n_blocks = (N + _SOFTMAX_BLOCK - 1) // _SOFTMAX_BLOCK
    for blk in prange(n_blocks):
        mcol = np.empty((ROWS, C))
        icol = np.empty((ROWS, C), dtype=np.float32)
        hi = min(N, (blk + 1) * _SOFTMAX_BLOCK)
        for n0 in range(blk * _SOFTMAX_BLOCK, hi, ROWS):
            softmax_rows(F, codes, offsets, n0, min(ROWS, hi - n0), mcol, icol, G, H)
