"""Information-based metrics from discretised latents: MIG, MIG-sup, JEMMIG, DCIMIG, modularity.

Every metric here is a function of one table of int64 counts: ``counts[l, k, c, b]``, the
number of rows whose factor ``k`` has class ``c`` and whose latent ``l`` falls in bin ``b``.
The latents are binned per dimension as disentanglement_lib's ``histogram_discretizer`` does
(``n_bins`` equal-width bins between the column's min and max, ``np.digitize`` semantics, see
:mod:`fastdci.kernels.cpu`), so the mutual-information matrix and MIG / modularity equal
disentanglement_lib's to floating-point precision. One parallel Numba pass counts all (latent,
factor) pairs at once; nothing is subsampled.

Three ways in
-------------
Arrays in memory (NumPy, torch or CuPy; torch/CuPy arrays on a GPU are counted there)::

    res = mig(latents, factors)               # latents (N, L) float, factors (N, K) int
    res.mig, res.mutual_info, res.factor_entropy

Streaming, with the int64 counts as state (chunks from anywhere, mergeable across workers)::

    acc = InformationAccumulator.from_data(latents)       # edges from a min/max pass
    # or InformationAccumulator(edges=...), InformationAccumulator.from_range(mins, maxs)
    for lat, fac in chunks:
        acc.update(lat, fac)
    acc.merge(other_acc)                                   # same edges required
    acc.compute("mig")                                     # or acc.compute() -> all five

A latents file (path or open :class:`fastdci.io.LatentsReader`), read chunk by chunk in two
passes (min/max, then counts), so memory stays bounded by the chunk size whatever N is::

    results = information_from_file("latents.h5")          # dict name -> result
    res = from_file("mig", "latents.h5", normalization="factor")

Chunked and in-memory results are identical bit for bit: the edges come from the same global
min/max, the counts are integers, and the scores are computed from the counts alone.

Each metric is split into statistics (:func:`information_stats`, an
:class:`InformationStats` holding the counts and edges) and a finaliser
(``_mig_finalize`` ...), which the streaming and file paths reuse.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np

from .._validation import check_factors, check_latents
from ..backend import array_namespace, common_namespace, resolve_device, to_numpy
from ..errors import InvalidInputError
from ..kernels import cpu as _cpu
from ._base import MetricResult

__all__ = [
    "DCIMIGResult",
    "InformationAccumulator",
    "InformationStats",
    "JEMMIGResult",
    "METRICS",
    "MIGResult",
    "MIGSupResult",
    "ModularityResult",
    "dcimig",
    "from_file",
    "information_from_file",
    "information_stats",
    "jemmig",
    "mig",
    "mig_sup",
    "modularity",
]

DISCRETIZERS = ("uniform", "quantile")
METRICS = ("mig", "mig_sup", "jemmig", "dcimig", "modularity")


# ============================================================================ validation


def _check_n_bins(n_bins: Any) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise InvalidInputError(
            f"n_bins must be an integer >= 2 (disentanglement_lib uses 20); got {n_bins!r}."
        )
    return int(n_bins)


def _check_discretizer(discretizer: Any) -> str:
    if discretizer not in DISCRETIZERS:
        raise InvalidInputError(
            f"discretizer must be 'uniform' (disentanglement_lib's histogram discretizer) or "
            f"'quantile' (equal-frequency bins); got {discretizer!r}."
        )
    return discretizer


def _float_dtype(dtype) -> np.dtype:
    """float32/float64 stay; other floats become float32, integers float64 (exact)."""
    dt = np.dtype(str(dtype).replace("torch.", ""))
    if dt in (np.float32, np.float64):
        return dt
    return np.dtype(np.float32) if dt.kind == "f" else np.dtype(np.float64)


def _raise_non_finite(latents) -> None:
    check_latents(latents)  # raises with the position of the first bad value
    raise InvalidInputError("latents contain NaN or inf; drop or fix those rows.")  # pragma: no cover


# ============================================================================ statistics


@dataclasses.dataclass(frozen=True, eq=False)
class InformationStats:
    """The sufficient statistic of every information metric: joint counts and the bin edges.

    Attributes
    ----------
    counts : int64 array (L, K, C, B)
        ``counts[l, k, c, b]`` = #rows with factor ``k`` in class ``c`` and latent ``l`` in
        bin ``b``; ``C`` is the largest number of classes over factors (unused classes count 0).
    edges : array (L, B + 1)
        Bin edges per latent, in the latents' dtype.
    discretizer : str
        ``"uniform"`` or ``"quantile"``.
    """

    counts: np.ndarray
    edges: np.ndarray
    discretizer: str = "uniform"

    @property
    def n_bins(self) -> int:
        return int(self.counts.shape[3])

    @property
    def n_rows(self) -> int:
        return int(self.counts[0, 0].sum()) if self.counts.size else 0

    def mutual_info(self) -> np.ndarray:
        """(L, K) float64: I(z_l; v_k) in nats between binned latent l and factor k."""
        return _cpu.mutual_info_matrix(self.counts)

    def factor_entropy(self) -> np.ndarray:
        """(K,) float64: H(v_k) in nats, from the class counts."""
        per_class = self.counts[0].sum(axis=2)  # (K, C)
        return _entropies(per_class)

    def latent_entropy(self) -> np.ndarray:
        """(L,) float64: H(z_l) in nats of the binned latent (0 for a constant latent)."""
        per_bin = self.counts[:, 0].sum(axis=1)  # (L, B)
        return _entropies(per_bin)

    def joint_entropy(self) -> np.ndarray:
        """(L, K) float64: H(z_l, v_k) in nats."""
        L, K = self.counts.shape[:2]
        out = np.empty((L, K), dtype=np.float64)
        for l in range(L):
            for k in range(K):
                out[l, k] = _cpu.joint_entropy_from_counts(self.counts[l, k])
        return out


def _entropies(counts: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each row of class counts, as I(v; v) (disentanglement_lib's way)."""
    n = counts.shape[-1]
    diag = np.zeros(counts.shape + (n,), dtype=np.int64)
    idx = np.arange(n)
    diag[..., idx, idx] = counts
    return _cpu.mutual_info_matrix(diag)


def _counts_numpy(x: np.ndarray, y: np.ndarray, edges: np.ndarray, n_classes: int, uniform: bool) -> np.ndarray:
    return _cpu.joint_counts(x, y, edges, n_classes, uniform=uniform)


def _edges_for(x, n_bins: int, discretizer: str, on_torch: bool) -> np.ndarray:
    """Edges from the data: min/max pass (uniform) or exact quantiles (quantile)."""
    if discretizer == "quantile":
        host = np.ascontiguousarray(to_numpy(x))
        if _cpu.minmax_columns(host)[2]:
            _raise_non_finite(host)
        return _cpu.quantile_edges(host, n_bins)
    if on_torch:
        from ..kernels import torch_hist

        mn, mx, bad = torch_hist.minmax_columns(x)
    else:
        mn, mx, bad = _cpu.minmax_columns(x)
    if bad:
        _raise_non_finite(x)
    return _cpu.uniform_edges(mn, mx, n_bins, x.dtype if not on_torch else _float_dtype(x.dtype))


def information_stats(
    latents: Any,
    factors: Any,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    edges: np.ndarray | None = None,
    backend: str = "auto",
) -> InformationStats:
    """Bin the latents and count every (latent, factor) joint histogram.

    Parameters
    ----------
    latents : array (N, L), float
        NumPy, torch or CuPy. float32 and float64 are binned in their own precision; other
        floats are cast to float32, integers to float64.
    factors : array (N, K), int
        Class labels, each in ``[0, n_classes)``.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    edges : array (L, n_bins + 1), optional
        Use these edges instead of computing them from the data.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        ``"auto"`` counts where the data lives (NumPy on the CPU with Numba; torch/CuPy arrays
        on their device with torch); ``"cuda"`` moves NumPy inputs to the GPU.

    Returns
    -------
    InformationStats
    """
    n_bins = _check_n_bins(n_bins)
    discretizer = _check_discretizer(discretizer)
    ns = common_namespace(latents, factors)
    latents = check_latents(latents, check_finite=False)
    y = check_factors(factors, n_rows=int(latents.shape[0]))
    n_classes = int(y.max()) + 1 if y.size else 1
    if backend == "auto":
        on_device = ns != "numpy" and _device_of(latents) != "cpu"
    else:
        on_device = resolve_device(backend) == "cuda"
    if on_device:
        import torch

        from ..backend import to_torch
        from ..kernels import torch_hist

        device = latents.device if ns == "torch" and latents.device.type == "cuda" else "cuda"
        dt = _float_dtype(latents.dtype)
        x = to_torch(latents, device=device, dtype=getattr(torch, dt.name))
        if edges is None:
            edges = _edges_for(x, n_bins, discretizer, on_torch=True)
        else:
            edges = _check_edges(edges, x.shape[1], dt)
            if not bool(torch.isfinite(x).all()):
                _raise_non_finite(latents)
        yt = torch.as_tensor(y, device=x.device)
        counts = torch_hist.joint_counts(x, yt, edges, n_classes)
        return InformationStats(counts=counts, edges=edges, discretizer=discretizer)
    x = to_numpy(latents)
    dt = _float_dtype(x.dtype)
    x = np.ascontiguousarray(x, dtype=dt)
    if edges is None:
        edges = _edges_for(x, n_bins, discretizer, on_torch=False)
    else:
        edges = _check_edges(edges, x.shape[1], dt)
        if _cpu.minmax_columns(x)[2]:
            _raise_non_finite(x)
    counts = _counts_numpy(x, y, edges, n_classes, uniform=discretizer == "uniform")
    return InformationStats(counts=counts, edges=edges, discretizer=discretizer)


def _device_of(x) -> str:
    ns = array_namespace(x)
    if ns == "torch":
        return x.device.type
    if ns == "cupy":
        return "cuda"
    return "cpu"


def _check_edges(edges: Any, n_latents: int, dtype) -> np.ndarray:
    e = np.asarray(to_numpy(edges))
    if e.ndim != 2 or e.shape[0] != n_latents or e.shape[1] < 3:
        raise InvalidInputError(
            f"edges must have shape (n_latents, n_bins + 1) = ({n_latents}, n_bins + 1) with "
            f"n_bins >= 2; got {e.shape}. Build them with "
            "fastdci.kernels.cpu.uniform_edges(mins, maxs, n_bins, dtype)."
        )
    if not np.all(np.isfinite(e)) or np.any(np.diff(e, axis=1) < 0):
        raise InvalidInputError("edges must be finite and non-decreasing along each row.")
    return np.ascontiguousarray(e, dtype=dtype)


# ============================================================================ results


@dataclasses.dataclass(frozen=True, eq=False)
class MIGResult(MetricResult):
    """Mutual Information Gap.

    Attributes
    ----------
    mig : float
        Mean over factors of :attr:`gap_per_factor`.
    gap_per_factor : float64 array (K,)
        Normalised gap between the two latents that share most information with each factor.
    mutual_info : float64 array (L, K)
        I(z_l; v_k) in nats, binned latents.
    factor_entropy : float64 array (K,)
        H(v_k) in nats.
    latent_entropy : float64 array (L,)
        H(z_l) in nats of the binned latents.
    normalization : str
        ``"factor"`` (disentanglement_lib) or ``"latent"``.
    n_bins : int
    n_rows : int
    """

    metric: ClassVar[str] = "mig"
    mig: float
    gap_per_factor: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    latent_entropy: np.ndarray
    normalization: str
    n_bins: int
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {"mig": float(self.mig)}


@dataclasses.dataclass(frozen=True, eq=False)
class MIGSupResult(MetricResult):
    """MIG-sup (Li et al. 2020).

    Attributes
    ----------
    mig_sup : float
        Mean over latents of :attr:`gap_per_latent`.
    gap_per_latent : float64 array (L,)
        Gap between each latent's two largest normalised MIs I(z_l; v_k) / H(v_k).
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    n_bins, n_rows : int
    """

    metric: ClassVar[str] = "mig_sup"
    mig_sup: float
    gap_per_latent: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    n_bins: int
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {"mig_sup": float(self.mig_sup)}


@dataclasses.dataclass(frozen=True, eq=False)
class JEMMIGResult(MetricResult):
    """Normalised JEMMIG (Do & Tran 2020).

    Attributes
    ----------
    jemmig : float
        Mean over factors of :attr:`score_per_factor`.
    score_per_factor : float64 array (K,)
        ``1 - [H(v, z*) - I(v; z*) + I(v; z')] / [H(v) + log(n_bins)]``.
    top_latent : int64 array (K,)
        z*, the latent with the largest MI with each factor.
    joint_entropy : float64 array (K,)
        H(v_k, z*) in nats.
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    n_bins, n_rows : int
    """

    metric: ClassVar[str] = "jemmig"
    jemmig: float
    score_per_factor: np.ndarray
    top_latent: np.ndarray
    joint_entropy: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    n_bins: int
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {"jemmig": float(self.jemmig)}


@dataclasses.dataclass(frozen=True, eq=False)
class DCIMIGResult(MetricResult):
    """DCIMIG (Sepliarskaia et al. 2019).

    Attributes
    ----------
    dcimig : float
        ``sum_k gap_per_factor[k] / sum_k H(v_k)``.
    gap_per_latent : float64 array (L,)
        Each latent's gap (nats) between its two largest MIs over factors.
    top_factor : int64 array (L,)
        The factor each latent shares most information with.
    gap_per_factor : float64 array (K,)
        The largest gap among latents whose top factor is k (0 if none).
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    n_bins, n_rows : int
    """

    metric: ClassVar[str] = "dcimig"
    dcimig: float
    gap_per_latent: np.ndarray
    top_factor: np.ndarray
    gap_per_factor: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    n_bins: int
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {"dcimig": float(self.dcimig)}


@dataclasses.dataclass(frozen=True, eq=False)
class ModularityResult(MetricResult):
    """Modularity (Ridgeway & Zemel 2018) as disentanglement_lib computes it.

    Attributes
    ----------
    modularity : float
        Mean of :attr:`modularity_per_latent` (over informative latents only with
        ``uninformative="drop"``).
    modularity_per_latent : float64 array (L,)
        ``1 - sum_{k != k*} I_lk^2 / ((K - 1) I_lk*^2)``; 0 for a latent with no information.
    informative : bool array (L,)
        Latents whose largest MI is > 0.
    mutual_info : float64 array (L, K), nats
    factor_entropy : float64 array (K,), nats
    uninformative : str
    n_bins, n_rows : int
    """

    metric: ClassVar[str] = "modularity"
    modularity: float
    modularity_per_latent: np.ndarray
    informative: np.ndarray
    mutual_info: np.ndarray
    factor_entropy: np.ndarray
    uninformative: str
    n_bins: int
    n_rows: int

    def scores(self) -> dict[str, float]:
        return {"modularity": float(self.modularity)}


# ============================================================================ finalisers


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise InvalidInputError(message)


def _check_factor_entropy(h: np.ndarray, metric: str) -> None:
    zero = np.flatnonzero(h <= 0)
    if zero.size:
        raise InvalidInputError(
            f"{metric} divides by each factor's entropy, but factor column(s) {zero.tolist()} take a "
            "single class in these rows (entropy 0). Drop those columns or evaluate on rows where "
            "every factor varies."
        )


def _top2(m: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.sort(m, axis=axis)
    if axis == 0:
        return s[-1], s[-2]
    return s[:, -1], s[:, -2]


def _mig_finalize(stats: InformationStats, normalization: str = "factor") -> MIGResult:
    if normalization not in ("factor", "latent"):
        raise InvalidInputError(
            f"normalization must be 'factor' (divide the gap by H(factor), disentanglement_lib) or "
            f"'latent' (divide each MI by H(latent), the metrics-review code); got {normalization!r}."
        )
    L, K = stats.counts.shape[:2]
    _need(L >= 2, f"MIG needs at least 2 latents (the gap is between the top two); got {L}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    hz = stats.latent_entropy()
    if normalization == "factor":
        _check_factor_entropy(h, "MIG")
        # disentanglement_lib: sort over latents, (top - second) / H(v), mean over factors
        sorted_m = np.sort(m, axis=0)[::-1]
        gaps = np.divide(sorted_m[0, :] - sorted_m[1, :], h[:])
    else:
        nmi = np.divide(m, hz[:, None], out=np.zeros_like(m), where=hz[:, None] > 0)
        top, second = _top2(nmi, axis=0)
        gaps = top - second
    return MIGResult(
        mig=float(np.mean(gaps)), gap_per_factor=gaps, mutual_info=m, factor_entropy=h,
        latent_entropy=hz, normalization=normalization, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


def _mig_sup_finalize(stats: InformationStats) -> MIGSupResult:
    L, K = stats.counts.shape[:2]
    _need(K >= 2, f"MIG-sup needs at least 2 factors (the gap is between a latent's top two); got {K}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    _check_factor_entropy(h, "MIG-sup")
    nmi = m / h[None, :]
    top, second = _top2(nmi, axis=1)
    gaps = top - second
    return MIGSupResult(mig_sup=float(np.mean(gaps)), gap_per_latent=gaps, mutual_info=m, factor_entropy=h,
                        n_bins=stats.n_bins, n_rows=stats.n_rows)


def _jemmig_finalize(stats: InformationStats) -> JEMMIGResult:
    L, K = stats.counts.shape[:2]
    _need(L >= 2, f"JEMMIG needs at least 2 latents (it uses the top two per factor); got {L}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    top_latent = np.argmax(m, axis=0)
    top, second = _top2(m, axis=0)
    joint = np.array(
        [_cpu.joint_entropy_from_counts(stats.counts[top_latent[k], k]) for k in range(K)], dtype=np.float64
    )
    scores = 1.0 - (joint - top + second) / (h + math.log(stats.n_bins))
    return JEMMIGResult(
        jemmig=float(np.mean(scores)), score_per_factor=scores, top_latent=top_latent.astype(np.int64),
        joint_entropy=joint, mutual_info=m, factor_entropy=h, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


def _dcimig_finalize(stats: InformationStats) -> DCIMIGResult:
    L, K = stats.counts.shape[:2]
    _need(K >= 2, f"DCIMIG needs at least 2 factors (each latent's gap is between its top two); got {K}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    _need(h.sum() > 0, "DCIMIG divides by the factors' total entropy, which is 0: every factor takes a single "
                       "class in these rows. Evaluate on rows where the factors vary.")
    top_factor = np.argmax(m, axis=1)
    top, second = _top2(m, axis=1)
    gap_l = top - second
    gap_k = np.zeros(K, dtype=np.float64)
    for l in range(L):
        gap_k[top_factor[l]] = max(gap_k[top_factor[l]], gap_l[l])
    return DCIMIGResult(
        dcimig=float(gap_k.sum() / h.sum()), gap_per_latent=gap_l, top_factor=top_factor.astype(np.int64),
        gap_per_factor=gap_k, mutual_info=m, factor_entropy=h, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


def _modularity_finalize(stats: InformationStats, uninformative: str = "zero") -> ModularityResult:
    if uninformative not in ("zero", "drop"):
        raise InvalidInputError(
            f"uninformative must be 'zero' (a latent with no information scores 0 and counts in the "
            f"mean, as in disentanglement_lib) or 'drop' (leave it out of the mean); got {uninformative!r}."
        )
    L, K = stats.counts.shape[:2]
    _need(K >= 2, f"modularity needs at least 2 factors (it divides by K - 1); got {K}.")
    m = stats.mutual_info()
    h = stats.factor_entropy()
    # disentanglement_lib's modularity(), with its 0/0 for silent latents resolved to 0 up front
    squared_mi = np.square(m)
    max_squared_mi = np.max(squared_mi, axis=1)
    numerator = np.sum(squared_mi, axis=1) - max_squared_mi
    denominator = max_squared_mi * (squared_mi.shape[1] - 1.0)
    informative = max_squared_mi != 0.0
    delta = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=informative)
    per_latent = 1.0 - delta
    per_latent[~informative] = 0.0
    if uninformative == "zero":
        score = float(np.mean(per_latent))
    else:
        score = float(np.mean(per_latent[informative])) if informative.any() else 0.0
    return ModularityResult(
        modularity=score, modularity_per_latent=per_latent, informative=informative, mutual_info=m,
        factor_entropy=h, uninformative=uninformative, n_bins=stats.n_bins, n_rows=stats.n_rows,
    )


_FINALIZERS = {
    "mig": _mig_finalize,
    "mig_sup": _mig_sup_finalize,
    "jemmig": _jemmig_finalize,
    "dcimig": _dcimig_finalize,
    "modularity": _modularity_finalize,
}


def _finalize(metric: str, stats: InformationStats, **options) -> MetricResult:
    if metric not in _FINALIZERS:
        raise InvalidInputError(f"unknown information metric {metric!r}; choose from {', '.join(METRICS)}.")
    try:
        return _FINALIZERS[metric](stats, **options)
    except TypeError as exc:
        raise InvalidInputError(f"bad option for {metric}: {exc}") from exc


# ============================================================================ public functions


def mig(
    latents: Any,
    factors: Any,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    normalization: str = "factor",
    backend: str = "auto",
) -> MIGResult:
    """Mutual Information Gap (Chen et al. 2018), as disentanglement_lib computes it.

    Parameters
    ----------
    latents : array (N, L), float
        One row per data point (NumPy, torch or CuPy). Needs L >= 2.
    factors : array (N, K), int
        Ground-truth factor classes; every factor must take at least two classes.
    n_bins : int, default 20
        Bins per latent.
    discretizer : {"uniform", "quantile"}, default "uniform"
        ``"uniform"``: disentanglement_lib's histogram discretizer (equal-width bins from each
        latent's min to max). ``"quantile"``: equal-frequency bins.
    normalization : {"factor", "latent"}, default "factor"
        ``"factor"``: divide each factor's gap by its entropy H(v_k) (disentanglement_lib).
        ``"latent"``: divide each MI by the latent's entropy H(z_l) before taking the gap, as the
        metrics-review code of Carbonneau et al. does (``norm_factor='Y'``); a constant latent's
        normalised MI is 0.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Where to count; ``"auto"`` counts where the data lives.

    Returns
    -------
    MIGResult
        ``.mig`` the score in [0, 1]; ``.mutual_info`` (L, K) nats; ``.factor_entropy`` (K,).

    Notes
    -----
    Each latent is binned into ``n_bins`` equal-width bins; with ``I_lk = I(z_l; v_k)`` the
    discrete mutual information (nats) and ``l1, l2`` the latents with the largest and second
    largest ``I_lk`` for factor ``k``,

    ``MIG = 1/K sum_k (I_{l1 k} - I_{l2 k}) / H(v_k)``.

    This is disentanglement_lib's ``mig._compute_mig`` (``histogram_discretizer``,
    ``discrete_mutual_info``, ``discrete_entropy``): same bins, same labels, and the MI terms
    formed as scikit-learn's ``mutual_info_score`` forms them, so the scores agree to
    floating-point precision. Chen et al. define MIG with I(z; v) estimated from the encoder's
    distribution q(z|x) (a continuous, sampled estimator, and H(v) of the true factor
    distribution); the binned estimate here depends on ``n_bins`` and on outliers (one extreme
    value widens every bin of its latent), as disentanglement_lib's does. A constant latent has
    one bin and MI 0, never NaN.

    References
    ----------
    R. T. Q. Chen, X. Li, R. Grosse, D. Duvenaud, "Isolating Sources of Disentanglement in
    Variational Autoencoders", NeurIPS 2018. F. Locatello et al., "Challenging Common
    Assumptions in the Unsupervised Learning of Disentangled Representations", ICML 2019
    (disentanglement_lib). M.-A. Carbonneau et al., "Measuring Disentanglement: A Review of
    Metrics", IEEE TNNLS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import mig
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors[:, 0], factors[:, 1], rng.normal(size=2000)])
    >>> round(mig(latents, factors).mig, 3)
    0.987
    """
    stats = information_stats(latents, factors, n_bins=n_bins, discretizer=discretizer, backend=backend)
    return _mig_finalize(stats, normalization)


def mig_sup(
    latents: Any, factors: Any, *, n_bins: int = 20, discretizer: str = "uniform", backend: str = "auto"
) -> MIGSupResult:
    """MIG-sup (Li et al. 2020): does each latent describe at most one factor?

    Parameters
    ----------
    latents : array (N, L), float
    factors : array (N, K), int
        Needs K >= 2, every factor with at least two classes.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    MIGSupResult
        ``.mig_sup`` in [0, 1]; ``.gap_per_latent`` (L,).

    Notes
    -----
    With the normalised mutual information ``J_lk = I(z_l; v_k) / H(v_k)`` (binned as in
    :func:`mig`), and ``k1, k2`` the factors with the largest and second largest ``J_lk`` for
    latent ``l``: ``MIG-sup = 1/L sum_l (J_{l k1} - J_{l k2})``. MIG is the same gap taken over
    latents per factor (completeness); MIG-sup takes it over factors per latent (modularity).
    Li et al. estimate the MI as in MIG; here the binned estimator of :func:`mig` is used, so
    both come from one table of counts. A constant latent scores 0.

    References
    ----------
    Z. Li, J. V. Murkute, P. K. Gyawali, L. Wang, "Progressive Learning and Disentanglement of
    Hierarchical Representations", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import mig_sup
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = factors + 0.01 * rng.normal(size=(2000, 2))
    >>> round(mig_sup(latents, factors).mig_sup, 3)
    0.999
    """
    stats = information_stats(latents, factors, n_bins=n_bins, discretizer=discretizer, backend=backend)
    return _mig_sup_finalize(stats)


def jemmig(
    latents: Any, factors: Any, *, n_bins: int = 20, discretizer: str = "uniform", backend: str = "auto"
) -> JEMMIGResult:
    """Normalised JEMMIG (Do & Tran 2020): joint entropy minus mutual information gap.

    Parameters
    ----------
    latents : array (N, L), float
        Needs L >= 2.
    factors : array (N, K), int
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    JEMMIGResult
        ``.jemmig`` (higher is better, at most 1); ``.score_per_factor`` (K,).

    Notes
    -----
    For factor ``v_k`` let ``z*`` and ``z'`` be the latents with the largest and second largest
    I(z; v_k) (binned latents, nats). Then

    ``JEMMIG_k = H(v_k, z*) - I(v_k; z*) + I(v_k; z')``, normalised as
    ``1 - JEMMIG_k / (H(v_k) + log n_bins)``, and the score is the mean over factors.

    ``H(v, z*) - I(v; z*) = H(v | z*) + H(z* | v)``: low when z* and v determine each other;
    ``+ I(v; z')`` penalises a second latent that also describes v. ``H(v) + log(n_bins)``
    bounds ``H(v, z*)``, so each term lies in [0, 1] up to the ``I(v; z')`` penalty. This is the
    binned form of Do & Tran (who normalise with the number of bins) as the metrics-review code
    of Carbonneau et al. computes it, in nats instead of bits (the normalised score is the same).

    References
    ----------
    K. Do, T. Tran, "Theory and Evaluation Metrics for Learning Disentangled Representations",
    ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import jemmig
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors, rng.normal(size=2000)])
    >>> round(jemmig(latents, factors, n_bins=4).jemmig, 3)
    0.999
    """
    stats = information_stats(latents, factors, n_bins=n_bins, discretizer=discretizer, backend=backend)
    return _jemmig_finalize(stats)


def dcimig(
    latents: Any, factors: Any, *, n_bins: int = 20, discretizer: str = "uniform", backend: str = "auto"
) -> DCIMIGResult:
    """DCIMIG (Sepliarskaia et al. 2019): MIG made to credit each latent to one factor.

    Parameters
    ----------
    latents : array (N, L), float
    factors : array (N, K), int
        Needs K >= 2.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    DCIMIGResult
        ``.dcimig`` in [0, 1].

    Notes
    -----
    For each latent ``z_l``: its top factor ``k_l = argmax_k I(z_l; v_k)`` and gap
    ``D_l = I(z_l; v_{k_l}) - max_{k != k_l} I(z_l; v_k)``. For each factor,
    ``D_k = max {D_l : k_l = k}`` (0 when no latent has k on top). Then
    ``DCIMIG = sum_k D_k / sum_k H(v_k)``.

    MI is binned as in :func:`mig` (nats) and the entropies are in nats too. The metrics-review
    code of Carbonneau et al. divides MI in nats by entropies in bits (pyitlib's default base);
    that mixes units, so its scores are ``ln 2`` times these.

    References
    ----------
    A. Sepliarskaia, J. Kiseleva, M. de Rijke, "How to Not Measure Disentanglement",
    arXiv:1910.05587 (2019).

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import dcimig
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors, rng.normal(size=2000)])
    >>> round(dcimig(latents, factors).dcimig, 3)
    0.999
    """
    stats = information_stats(latents, factors, n_bins=n_bins, discretizer=discretizer, backend=backend)
    return _dcimig_finalize(stats)


def modularity(
    latents: Any,
    factors: Any,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    uninformative: str = "zero",
    backend: str = "auto",
) -> ModularityResult:
    """Modularity (Ridgeway & Zemel 2018), as disentanglement_lib computes it.

    Parameters
    ----------
    latents : array (N, L), float
    factors : array (N, K), int
        Needs K >= 2.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    uninformative : {"zero", "drop"}, default "zero"
        A latent whose MI with every factor is 0 (a constant latent, say) makes the formula 0/0.
        ``"zero"``: it scores 0 and counts in the mean, which is what disentanglement_lib's
        ``modularity()`` returns (it sets those entries to 0 after the division).
        ``"drop"``: leave such latents out of the mean (0 if all are uninformative).
    backend : {"auto", "cpu", "cuda"}, default "auto"

    Returns
    -------
    ModularityResult
        ``.modularity`` in [0, 1]; ``.modularity_per_latent`` (L,).

    Notes
    -----
    With ``m_lk = I(z_l; v_k)`` the binned mutual information of :func:`mig` and
    ``k* = argmax_k m_lk``:

    ``delta_l = sum_{k != k*} m_lk^2 / ((K - 1) m_lk*^2)``, ``modularity = mean_l (1 - delta_l)``,

    exactly disentanglement_lib's ``modularity_explicitness.modularity`` on the MI matrix of
    ``compute_modularity_explicitness`` (histogram discretizer, 20 bins). Ridgeway & Zemel use a
    template with only the top factor; disentanglement_lib's form above is the one reproduced.
    disentanglement_lib divides 0 by 0 for a silent latent (a NumPy warning, then 0); here no
    warning is raised and no NaN can appear.

    References
    ----------
    K. Ridgeway, M. C. Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic
    Loss", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import modularity
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = np.column_stack([factors, rng.normal(size=2000)])
    >>> res = modularity(latents, factors)
    >>> res.modularity_per_latent.round(3)  # the noise latent's tiny MI is spread over both
    array([1.   , 1.   , 0.075])
    """
    stats = information_stats(latents, factors, n_bins=n_bins, discretizer=discretizer, backend=backend)
    return _modularity_finalize(stats, uninformative)


# ============================================================================ streaming


class InformationAccumulator:
    """Streaming counts for the information metrics: ``update``, ``merge``, ``compute``.

    The state is the int64 table ``counts[l, k, c, b]``; the bin edges are fixed before the
    first update (given, or from a min/max pass with :meth:`from_data`/:meth:`from_range`).
    Chunks may come in any order and from several workers: counts add, so the result equals the
    in-memory one bit for bit.

    Parameters
    ----------
    edges : array (L, n_bins + 1)
        Bin edges per latent, in the latents' dtype (chunks are cast to it). Values outside
        ``[edges[l, 0], edges[l, -1]]`` go to the first or last bin.
    discretizer : {"uniform", "quantile"}, default "uniform"
        Only a label for the result and a hint for the kernel (evenly spaced edges).
    n_classes : int, optional
        Classes per factor axis; grows by itself when a chunk holds a larger class.

    Examples
    --------
    >>> import numpy as np
    >>> from fastdci.metrics.information import InformationAccumulator, mig
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=(1000, 2)); x = y + rng.normal(size=(1000, 2))
    >>> acc = InformationAccumulator.from_data(x)
    >>> for s in range(0, 1000, 300):
    ...     _ = acc.update(x[s:s + 300], y[s:s + 300])
    >>> acc.compute("mig").mig == mig(x, y).mig
    True
    """

    def __init__(self, edges: Any, *, discretizer: str = "uniform", n_classes: int | None = None):
        self.discretizer = _check_discretizer(discretizer)
        e = np.asarray(to_numpy(edges))
        if e.dtype not in (np.float32, np.float64):
            e = e.astype(np.float64)
        self.edges = _check_edges(e, e.shape[0] if e.ndim == 2 else -1, e.dtype)
        self.n_latents = int(self.edges.shape[0])
        self.n_bins = int(self.edges.shape[1]) - 1
        self._n_classes = int(n_classes) if n_classes is not None else 1
        self._counts: np.ndarray | None = None

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_range(cls, mins: Any, maxs: Any, *, n_bins: int = 20, dtype=np.float32,
                   n_classes: int | None = None) -> "InformationAccumulator":
        """Uniform edges from per-latent min and max (disentanglement_lib's histogram edges)."""
        n_bins = _check_n_bins(n_bins)
        edges = _cpu.uniform_edges(np.asarray(mins), np.asarray(maxs), n_bins, _float_dtype(np.dtype(dtype)))
        return cls(edges, n_classes=n_classes)

    @classmethod
    def from_data(
        cls,
        latents: Any,
        *,
        n_bins: int = 20,
        discretizer: str = "uniform",
        chunk_rows: int | None = None,
        n_classes: int | None = None,
        quantile_rows: int = 1_000_000,
        random_state: int = 0,
    ) -> "InformationAccumulator":
        """Edges from a first pass over an array, a latents file path or a LatentsReader.

        For ``"uniform"`` the pass is a min/max scan (chunk by chunk for files). For
        ``"quantile"`` arrays use every row; files use every row when they hold at most
        ``quantile_rows`` rows, else a uniform sample of that many rows (seeded by
        ``random_state``), so its edges are estimates there.
        """
        n_bins = _check_n_bins(n_bins)
        discretizer = _check_discretizer(discretizer)
        reader, owned = _as_reader(latents)
        if reader is None:
            x = check_latents(latents, check_finite=False)
            x = to_numpy(x)
            x = np.ascontiguousarray(x, dtype=_float_dtype(x.dtype))
            edges = _edges_for(x, n_bins, discretizer, on_torch=False)
            return cls(edges, discretizer=discretizer, n_classes=n_classes)
        try:
            if n_classes is None:
                n_classes = max(reader.factor_sizes) if reader.factor_sizes else None
            if discretizer == "quantile":
                if reader.n_rows <= quantile_rows:
                    x = reader.read(fields=["mean"]).mean
                else:
                    x = reader.sample(quantile_rows, random_state, fields=["mean"]).mean
                x = np.ascontiguousarray(x, dtype=_float_dtype(x.dtype))
                return cls(_cpu.quantile_edges(x, n_bins), discretizer=discretizer, n_classes=n_classes)
            mins = maxs = None
            dtype = None
            for chunk in reader.iter_chunks(chunk_rows, fields=["mean"]):
                x = np.ascontiguousarray(chunk.mean, dtype=_float_dtype(chunk.mean.dtype))
                if x.shape[0] == 0:
                    continue
                mn, mx, bad = _cpu.minmax_columns(x)
                if bad:
                    _raise_non_finite(x)
                dtype = x.dtype
                mins = mn if mins is None else np.minimum(mins, mn)
                maxs = mx if maxs is None else np.maximum(maxs, mx)
            if mins is None:
                raise InvalidInputError(f"{reader.path} holds no rows; nothing to compute.")
            return cls(_cpu.uniform_edges(mins, maxs, n_bins, dtype), discretizer=discretizer, n_classes=n_classes)
        finally:
            if owned:
                reader.close()

    # -- accumulation ---------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        """Rows counted so far."""
        return 0 if self._counts is None else int(self._counts[0, 0].sum())

    def _grow(self, n_classes: int, n_factors: int) -> None:
        if self._counts is None:
            self._n_classes = max(self._n_classes, n_classes)
            self._counts = np.zeros((self.n_latents, n_factors, self._n_classes, self.n_bins), dtype=np.int64)
            return
        if n_factors != self._counts.shape[1]:
            raise InvalidInputError(
                f"this chunk has {n_factors} factor columns but earlier chunks had {self._counts.shape[1]}; "
                "every chunk needs the same factor columns in the same order."
            )
        if n_classes > self._counts.shape[2]:
            pad = n_classes - self._counts.shape[2]
            self._counts = np.pad(self._counts, ((0, 0), (0, 0), (0, pad), (0, 0)))
            self._n_classes = n_classes

    def update(self, latents: Any, factors: Any) -> "InformationAccumulator":
        """Count one chunk of rows (latents (n, L) float, factors (n, K) int); returns self."""
        common_namespace(latents, factors)
        latents = check_latents(latents, min_rows=1, check_finite=False)
        if int(latents.shape[1]) != self.n_latents:
            raise InvalidInputError(
                f"this chunk has {int(latents.shape[1])} latents but the edges are for {self.n_latents}; "
                "give every chunk the same latent columns."
            )
        y = check_factors(factors, n_rows=int(latents.shape[0]))
        x = np.ascontiguousarray(to_numpy(latents), dtype=self.edges.dtype)
        if _cpu.minmax_columns(x)[2]:
            _raise_non_finite(x)
        self._grow(int(y.max()) + 1 if y.size else 1, int(y.shape[1]))
        n_classes = self._counts.shape[2]
        self._counts += _cpu.joint_counts(x, y, self.edges, n_classes, uniform=self.discretizer == "uniform")
        return self

    def update_counts(self, counts: np.ndarray) -> "InformationAccumulator":
        """Add a precomputed (L, K, C, B) int64 table counted with the same edges; returns self."""
        c = np.asarray(counts)
        if c.ndim != 4 or c.shape[0] != self.n_latents or c.shape[3] != self.n_bins or c.dtype.kind not in "iu":
            raise InvalidInputError(
                f"counts must be an integer array of shape ({self.n_latents}, K, C, {self.n_bins}); "
                f"got {c.dtype} {c.shape}."
            )
        self._grow(int(c.shape[2]), int(c.shape[1]))
        if c.shape[2] < self._counts.shape[2]:
            c = np.pad(c, ((0, 0), (0, 0), (0, self._counts.shape[2] - c.shape[2]), (0, 0)))
        self._counts += c.astype(np.int64, copy=False)
        return self

    def merge(self, other: "InformationAccumulator") -> "InformationAccumulator":
        """Add another accumulator's counts (same edges required); returns self."""
        if not isinstance(other, InformationAccumulator):
            raise InvalidInputError(f"merge takes an InformationAccumulator; got {type(other).__name__}.")
        if other.edges.shape != self.edges.shape or not np.array_equal(other.edges, self.edges):
            raise InvalidInputError(
                "cannot merge accumulators with different bin edges: their counts are not comparable. "
                "Build both from the same edges (e.g. InformationAccumulator(acc.edges))."
            )
        if other._counts is not None:
            self.update_counts(other._counts)
        return self

    def stats(self) -> InformationStats:
        """The counts so far as an :class:`InformationStats`."""
        if self._counts is None or self.n_rows == 0:
            raise InvalidInputError("no rows counted yet; call update(latents, factors) first.")
        return InformationStats(counts=self._counts.copy(), edges=self.edges, discretizer=self.discretizer)

    def compute(self, metric: str | Sequence[str] | None = None, **options) -> Any:
        """Finalise: one metric's result, or a dict name -> result for several (all by default).

        ``options`` go to the metric's finaliser (``normalization`` for MIG, ``uninformative``
        for modularity); with several metrics, each takes the options it knows.
        """
        stats = self.stats()
        if isinstance(metric, str):
            return _finalize(metric, stats, **options)
        names = METRICS if metric is None else tuple(metric)
        return {name: _finalize(name, stats, **_options_for(name, options)) for name in names}


_OPTION_NAMES = {"mig": ("normalization",), "modularity": ("uninformative",)}


def _options_for(metric: str, options: dict) -> dict:
    return {k: v for k, v in options.items() if k in _OPTION_NAMES.get(metric, ())}


# ============================================================================ files


def _as_reader(source: Any):
    """(reader, owned) for a path or an open LatentsReader; (None, False) for arrays."""
    from ..io import LatentsReader, open_latents

    if isinstance(source, LatentsReader):
        return source, False
    if isinstance(source, (str, os.PathLike)):
        return open_latents(source), True
    return None, False


def information_from_file(
    source: Any,
    metrics: str | Iterable[str] | None = None,
    *,
    n_bins: int = 20,
    discretizer: str = "uniform",
    chunk_rows: int | None = None,
    allow_incomplete: bool = False,
    quantile_rows: int = 1_000_000,
    random_state: int = 0,
    **options,
) -> Any:
    """Information metrics of a latents file, read chunk by chunk (bounded memory).

    Parameters
    ----------
    source : str, PathLike or LatentsReader
        A latents file (``/latents/mean`` and ``/factors/classes`` are used).
    metrics : str or iterable of str, optional
        Names from ``METRICS``; one name returns that result, several (default: all) a dict.
    n_bins : int, default 20
    discretizer : {"uniform", "quantile"}, default "uniform"
    chunk_rows : int, optional
        Rows per read (default: the file's HDF5 chunk size). Memory is O(chunk_rows x (L + K)).
    allow_incomplete : bool, default False
        Accept a file whose writer never finished (when ``source`` is a path).
    quantile_rows : int, default 1_000_000
        See :meth:`InformationAccumulator.from_data`.
    random_state : int, default 0
    **options
        ``normalization`` (MIG), ``uninformative`` (modularity).

    Returns
    -------
    MetricResult or dict of str -> MetricResult
        Identical to the in-memory functions on the file's arrays (uniform discretizer, or
        quantile with at most ``quantile_rows`` rows).
    """
    from ..io import LatentsReader, open_latents

    if isinstance(source, LatentsReader):
        reader, owned = source, False
    elif isinstance(source, (str, os.PathLike)):
        reader, owned = open_latents(source, allow_incomplete=allow_incomplete), True
    else:
        raise InvalidInputError(
            f"source must be a latents file path or a fastdci.io.LatentsReader; got {type(source).__name__}. "
            "For arrays call the metric functions (mig(latents, factors), ...)."
        )
    try:
        acc = InformationAccumulator.from_data(
            reader, n_bins=n_bins, discretizer=discretizer, chunk_rows=chunk_rows,
            quantile_rows=quantile_rows, random_state=random_state,
        )
        for chunk in reader.iter_chunks(chunk_rows, fields=["mean", "classes"]):
            if len(chunk):
                acc.update(chunk.mean, chunk.classes)
        return acc.compute(metrics, **options)
    finally:
        if owned:
            reader.close()


def from_file(metric: str, source: Any, **options) -> MetricResult:
    """One information metric of a latents file, streamed: ``from_file("mig", "latents.h5")``.

    A thin wrapper over :func:`information_from_file` with one metric name; options as there.
    """
    if metric not in METRICS:
        raise InvalidInputError(f"unknown information metric {metric!r}; choose from {', '.join(METRICS)}.")
    return information_from_file(source, metric, **options)
