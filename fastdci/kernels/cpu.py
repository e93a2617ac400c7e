"""Numba CPU kernels: discretisation, joint histograms, entropy and mutual information.

The information metrics (:mod:`fastdci.metrics.information`) reduce a pair
``(latents (N, L) float, factors (N, K) int)`` to one table of int64 counts
``counts[l, k, c, b]`` = number of rows whose factor ``k`` has class ``c`` and whose latent
``l`` falls in bin ``b``; every score is computed from those counts.

Binning follows disentanglement_lib's ``histogram_discretizer`` exactly:

- edges of latent ``l`` are ``np.histogram(latents[:, l], n_bins)[1]``: ``n_bins + 1``
  evenly spaced values from the column's minimum to its maximum, in the column's dtype (a
  constant column gets ``[v - 0.5, v + 0.5]``). They depend only on (min, max, dtype), so
  :func:`uniform_edges` rebuilds them from a min/max pass with numpy's own routine;
- the label is ``np.digitize(x, edges[:-1])`` (1..n_bins); fastdci's 0-based code is that
  label minus one: ``code = #{i < n_bins : edges[i] <= x} - 1``, compared in the latents'
  dtype, so values sitting on an edge land where numpy puts them. Values below ``edges[0]``
  (possible only with edges given by the caller) go to bin 0, values above ``edges[-1]`` to the
  last bin.

Kernels are module-level ``numba.njit(nogil=True, cache=True)`` functions with explicit
float32/float64 signatures, each over a block of rows; the Python wrappers split the rows into
one block per thread (``numba.config.NUMBA_NUM_THREADS``) and run the blocks in a thread pool,
since the kernels release the GIL. Unlike ``parallel=True`` kernels they cache to disk, so a
new process loads them instead of compiling parfors per dtype.

==========================  =========================================================
``minmax_columns``          per-column min and max, and a count of non-finite values
``joint_counts``            the (L, K, C, B) int64 joint histogram, one parallel pass
``discretize``              the (N, L) int64 codes (for tests and for the torch path)
==========================  =========================================================

The min/max pass stays separate from the counting pass: the edges need every row's min and
max before the first row can be binned (``benchmarks/test_10_kernels.py`` times both passes).
:data:`fastdci.backend.KERNELS` registers the min/max and counting kernels by device.
Entropy and mutual information from the counts are NumPy, in
:mod:`fastdci.metrics.information._entropy`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

__all__ = [
    "discretize",
    "joint_counts",
    "minmax_columns",
    "quantile_edges",
    "uniform_edges",
]


_MIN_BLOCK = 1 << 16  # rows below which one thread does the whole job
_POOL: ThreadPoolExecutor | None = None
_POOL_PID = -1


def _threads() -> int:
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def _blocks(n_rows: int) -> list[tuple[int, int]]:
    """Split ``range(n_rows)`` into one contiguous block per thread (one block when small)."""
    k = max(1, min(_threads(), n_rows // _MIN_BLOCK))
    return [(i * n_rows // k, (i + 1) * n_rows // k) for i in range(k)]


def _run_blocks(fn, n_rows: int, *args) -> list:
    """Run ``fn(*args, r0, r1)`` over row blocks; the kernels release the GIL, so blocks run
    in parallel threads."""
    global _POOL, _POOL_PID
    blocks = _blocks(n_rows)
    if len(blocks) == 1:
        return [fn(*args, 0, n_rows)]
    if _POOL is None or _POOL_PID != os.getpid():  # a forked child has none of the parent's threads
        _POOL = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="fastdci-kernel")
        _POOL_PID = os.getpid()
    futures = [_POOL.submit(fn, *args, r0, r1) for r0, r1 in blocks]
    return [f.result() for f in futures]


def _sigs(template: str) -> list[str]:
    return [template.replace("F", f) for f in ("float32", "float64")]


# ---------------------------------------------------------------------------------------------
# min / max


@numba.njit(
    _sigs("Tuple((F[::1], F[::1], int64))(F[:, ::1], int64, int64)"), nogil=True, cache=True
)
def _minmax_rows(x, r0, r1):
    L = x.shape[1]
    mn = x[r0].copy()
    mx = x[r0].copy()
    nbad = 0
    for i in range(r0, r1):
        for j in range(L):
            v = x[i, j]
            if v < mn[j]:
                mn[j] = v
            if v > mx[j]:
                mx[j] = v
            if not (v - v == 0):  # NaN or +-inf
                nbad += 1
    return mn, mx, nbad


def minmax_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-column minimum and maximum, and the number of non-finite entries, in one pass.

    Parameters
    ----------
    x : ndarray, shape (N, L), float32 or float64, N >= 1

    Returns
    -------
    mins, maxs : ndarray, shape (L,), x's dtype
        Meaningless where the column holds NaN (check ``n_bad`` first).
    n_bad : int
        How many entries are NaN or +-inf.
    """
    x = np.ascontiguousarray(x)
    parts = _run_blocks(_minmax_rows, x.shape[0], x)
    mins = np.min([p[0] for p in parts], axis=0)
    maxs = np.max([p[1] for p in parts], axis=0)
    return mins, maxs, int(sum(p[2] for p in parts))


# ---------------------------------------------------------------------------------------------
# edges


def uniform_edges(mins: np.ndarray, maxs: np.ndarray, n_bins: int, dtype) -> np.ndarray:
    """The edges ``np.histogram(column, n_bins)`` uses, from each column's (min, max).

    Parameters
    ----------
    mins, maxs : array_like, shape (L,)
        Per-column minimum and maximum.
    n_bins : int
    dtype : float32 or float64
        The latents' dtype: numpy computes the edges in it.

    Raises
    ------
    InvalidInputError
        When a column's range is too narrow for ``n_bins`` distinct edges in ``dtype``.

    Returns
    -------
    ndarray, shape (L, n_bins + 1), ``dtype``
        Row ``l`` equals ``np.histogram_bin_edges(latents[:, l], n_bins)`` bit for bit (numpy's
        edges depend only on the column's min, max and dtype, so they are computed by numpy
        itself from a two-element column holding them).
    """
    dtype = np.dtype(dtype)
    mins = np.asarray(mins, dtype=dtype)
    maxs = np.asarray(maxs, dtype=dtype)
    out = np.empty((mins.shape[0], n_bins + 1), dtype=dtype)
    for j in range(mins.shape[0]):
        try:
            out[j] = np.histogram_bin_edges(np.array([mins[j], maxs[j]], dtype=dtype), n_bins)
        except ValueError as exc:  # numpy: "Too many bins for data range"
            from ..errors import InvalidInputError

            raise InvalidInputError(
                f"latent {j} spans [{mins[j]!r}, {maxs[j]!r}], too narrow for {n_bins} distinct bin "
                f"edges in {dtype} ({exc}); disentanglement_lib's np.histogram fails the same way. "
                "Cast the latents to float64, or use fewer bins."
            ) from exc
    return out


def quantile_edges(x: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-frequency edges: the ``i / n_bins`` quantiles of each column (numpy's linear rule).

    Parameters
    ----------
    x : ndarray, shape (N, L), float32 or float64
    n_bins : int

    Returns
    -------
    ndarray, shape (L, n_bins + 1), x's dtype
        Non-decreasing; ties in the data give repeated edges and hence empty bins.
    """
    q = np.linspace(0.0, 1.0, n_bins + 1)
    e = np.quantile(x, q, axis=0).T.astype(x.dtype)
    e = np.maximum.accumulate(e, axis=1)  # rounding to float32 must not break monotonicity
    return np.ascontiguousarray(e)


# ---------------------------------------------------------------------------------------------
# binning


@numba.njit(inline="always")
def _bin_of(v, e, lo, scale, n_bins, uniform):
    """0-based bin of ``v``: #{i < n_bins : e[i] <= v} - 1, clipped to [0, n_bins - 1]."""
    if uniform:
        g = (np.float64(v) - lo) * scale
        if g >= n_bins:
            b = n_bins - 1
        elif g > 0.0:
            b = int(g)
        else:
            b = 0
        # the arithmetic guess is within a bin or so; the edges decide
        while b < n_bins - 1 and v >= e[b + 1]:
            b += 1
        while b > 0 and v < e[b]:
            b -= 1
        return b
    # binary search over e[1:n_bins]
    a = 1
    z = n_bins
    while a < z:
        m = (a + z) >> 1
        if e[m] <= v:
            a = m + 1
        else:
            z = m
    return a - 1


def _edge_params(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = edges[:, 0].astype(np.float64)
    width = edges[:, -1].astype(np.float64) - lo
    n_bins = edges.shape[1] - 1
    scale = np.where(width > 0, n_bins / np.where(width > 0, width, 1.0), 0.0)
    return lo, scale


@numba.njit(
    _sigs("void(F[:, ::1], F[:, ::1], float64[::1], float64[::1], boolean, int64[:, ::1], int64, int64)"),
    nogil=True, cache=True,
)
def _discretize_rows(x, edges, lo, scale, uniform, out, r0, r1):
    L = x.shape[1]
    n_bins = edges.shape[1] - 1
    for i in range(r0, r1):
        for j in range(L):
            out[i, j] = _bin_of(x[i, j], edges[j], lo[j], scale[j], n_bins, uniform)


def discretize(x: np.ndarray, edges: np.ndarray, *, uniform: bool = True) -> np.ndarray:
    """0-based bin codes of every entry: ``np.digitize(x[:, l], edges[l, :-1]) - 1``.

    Parameters
    ----------
    x : ndarray, shape (N, L), float32 or float64
    edges : ndarray, shape (L, n_bins + 1), x's dtype, each row non-decreasing
    uniform : bool, default True
        True when each row of ``edges`` is evenly spaced (a faster arithmetic guess, corrected
        against the edges); False for arbitrary edges (binary search). Both give the same codes.

    Returns
    -------
    ndarray, shape (N, L), int64, values in [0, n_bins)
    """
    x = np.ascontiguousarray(x)
    edges = np.ascontiguousarray(edges, dtype=x.dtype)
    lo, scale = _edge_params(edges)
    out = np.empty(x.shape, dtype=np.int64)
    _run_blocks(_discretize_rows, x.shape[0], x, edges, lo, scale, bool(uniform), out)
    return out


_FLUSH_ROWS = 1 << 30  # int32 partial counts are flushed to int64 at least this often
_BLOCK = 1024  # rows binned before they are counted
_MAX_TABLE = 1 << 28  # cells of one thread's int32 table (1 GiB)


@numba.njit(
    _sigs("int64[::1](F[:, ::1], int64[:, ::1], F[:, ::1], float64[::1], float64[::1], int64, boolean, "
          "int64, int64)"),
    nogil=True, cache=True,
)
def _joint_counts_rows(x, y, edges, lo, scale, n_classes, uniform, r0, r1):
    # Counts rows r0..r1 into a flat int32 table laid out (K, C, L, B), flushed to int64 at
    # least every _FLUSH_ROWS rows: the L x B slab of one (factor, class) is contiguous, so a
    # row touches K small regions of a table that stays in cache. Rows go in blocks of
    # _BLOCK: first every code and slab offset of the block, then the increments (two tight
    # loops, which vectorise better than one loop doing both).
    L = x.shape[1]
    K = y.shape[1]
    B = edges.shape[1] - 1
    slab = L * B
    size = K * n_classes * slab
    out = np.zeros(size, dtype=np.int64)
    h = np.zeros(size, dtype=np.int32)
    # unsigned indices spare Numba's negative-index wraparound check
    codes = np.empty((_BLOCK, L), dtype=np.uintp)
    bases = np.empty((_BLOCK, K), dtype=np.uintp)
    pending = 0
    for s in range(r0, r1, _BLOCK):
        e = min(r1, s + _BLOCK)
        for i in range(s, e):
            for j in range(L):
                codes[i - s, j] = j * B + _bin_of(x[i, j], edges[j], lo[j], scale[j], B, uniform)
            for k in range(K):
                bases[i - s, k] = (k * n_classes + y[i, k]) * slab
        for t in range(e - s):
            for k in range(K):
                base = bases[t, k]
                hk = h[base:base + slab]
                for j in range(L):
                    hk[codes[t, j]] += np.int32(1)
        pending += e - s
        if pending >= _FLUSH_ROWS or e == r1:
            for t in range(size):
                out[t] += h[t]
                h[t] = 0
            pending = 0
    return out


def joint_counts(
    x: np.ndarray, y: np.ndarray, edges: np.ndarray, n_classes: int, *, uniform: bool = True
) -> np.ndarray:
    """Count every (latent, factor) joint histogram in one parallel pass.

    Parameters
    ----------
    x : ndarray, shape (N, L), float32 or float64
        Latents.
    y : ndarray, shape (N, K), int64
        Factor classes, each in ``[0, n_classes)`` (not checked here: validate first).
    edges : ndarray, shape (L, n_bins + 1), x's dtype
        Bin edges per latent (:func:`uniform_edges` or :func:`quantile_edges`).
    n_classes : int
        At least ``y.max() + 1``; every factor's class axis is padded to it.
    uniform : bool, default True
        See :func:`discretize`.

    Returns
    -------
    ndarray, shape (L, K, n_classes, n_bins), int64
        ``counts[l, k, c, b]`` = #rows with ``y[:, k] == c`` and ``x[:, l]`` in bin ``b``.
    """
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y, dtype=np.int64)
    edges = np.ascontiguousarray(edges, dtype=x.dtype)
    lo, scale = _edge_params(edges)
    n = x.shape[0]
    if n == 0:
        return np.zeros((x.shape[1], y.shape[1], int(n_classes), edges.shape[1] - 1), dtype=np.int64)
    L, K, B = x.shape[1], y.shape[1], edges.shape[1] - 1
    if K * int(n_classes) * L * B > _MAX_TABLE:
        from ..errors import InvalidInputError

        raise InvalidInputError(
            f"the joint table would hold {L} latents x {K} factors x {int(n_classes)} classes x {B} bins "
            f"= {L * K * int(n_classes) * B} cells, over the {_MAX_TABLE} this kernel handles; a factor "
            "with that many classes is probably continuous: bin it into fewer classes first."
        )
    parts = _run_blocks(_joint_counts_rows, n, x, y, edges, lo, scale, int(n_classes), bool(uniform))
    out = parts[0]
    for p in parts[1:]:
        out += p
    return np.ascontiguousarray(out.reshape(K, int(n_classes), L, B).transpose(2, 0, 1, 3))
