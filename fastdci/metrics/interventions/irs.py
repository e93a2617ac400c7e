"""The Interventional Robustness Score (Suter et al. 2019): how little each latent moves when
the other factors change."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

import numpy as np

from .._base import MetricResult
from ..registry import metric_function, run_metric
from ._common import provenance, rng_of

__all__ = ["IRSResult", "irs"]


@dataclasses.dataclass(frozen=True, eq=False)
class IRSResult(MetricResult):
    """The Interventional Robustness Score (Suter et al. 2019) and what backs it.

    Attributes
    ----------
    irs : float
        Mean of the per-latent scores over the active latents, weighted by ``max_deviations``.
    num_active_dims : int
        Latents with non-zero variance over the sample.
    active : ndarray (L,) bool
    irs_matrix : ndarray (L, K) float64
        ``1 - E_v[q_l(|z_l - E[z_l | f_k = v]|)] / max_deviation_l``; NaN rows for inactive
        latents.
    disentanglement_scores : ndarray (L,) float64
        Row maxima of ``irs_matrix`` (NaN for inactive latents).
    parents : ndarray (L,) int64
        Row argmax of ``irs_matrix``: the factor each latent is most robust to (-1 if inactive).
    max_deviations : ndarray (L,) float64
        ``max |z_l - mean(z_l)|`` over the sample.
    n_train : int
        Rows in the sample.
    diff_quantile : float
    n_bins : int or None
        Bins of the histogram discretisation of the factors (None: classes as they are).
    factor_names, rows_per_value, skipped_values, n_rows
        Provenance, as in :class:`BetaVAEResult` (IRS skips nothing: ``skipped_values`` lists
        values with fewer than 2 rows in the data, for information).
    """

    metric: ClassVar[str] = "irs"
    headline: ClassVar[str] = "irs"
    score_fields: ClassVar[tuple] = ("irs",)
    count_fields: ClassVar[tuple] = ("num_active_dims", "n_rows")

    irs: float
    num_active_dims: int
    active: np.ndarray
    irs_matrix: np.ndarray
    disentanglement_scores: np.ndarray
    parents: np.ndarray
    max_deviations: np.ndarray
    n_train: int
    diff_quantile: float
    n_bins: Any
    factor_names: tuple
    rows_per_value: tuple
    skipped_values: dict
    n_rows: int


def _histogram_discretize(values: np.ndarray, n_bins: int) -> np.ndarray:
    """disentanglement_lib's histogram discretiser, column by column: labels 1..n_bins."""
    out = np.empty(values.shape, np.int64)
    for j in range(values.shape[1]):
        edges = np.histogram(values[:, j], n_bins)[1]
        out[:, j] = np.digitize(values[:, j], edges[:-1])
    return out




def _irs_stats(source, *, backend: str, random_state: Any, n_train: int | None = 10000,
               diff_quantile: float = 0.99, n_bins: int | None = 20) -> dict:
    """Per latent and factor, the mean over factor values of the quantile of |z - E[z | value]|.

    Drawn from ``n_train`` rows (with replacement; None: every row once) of the active latents.
    """
    rng = rng_of(random_state)
    fields = provenance(source, "irs", warn=False)
    index = source.factor_index()
    rows = np.arange(index.n_rows) if n_train is None else index.sample_rows(n_train, rng)
    table, (pos,) = source.take([rows])
    z = table[pos].astype(np.float64)
    f = index.factors[rows]
    groups = _histogram_discretize(f, n_bins) if n_bins is not None else f
    active = z.var(axis=0) > 0
    z = z[:, active]
    n, L = z.shape
    K = groups.shape[1]
    cum = np.zeros((L, K))
    for k in range(K):
        order = np.argsort(groups[:, k], kind="stable")
        labels = groups[order, k]
        bounds = np.flatnonzero(labels[1:] != labels[:-1]) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [n]])
        zs = z[order]
        for s, e in zip(starts, ends):
            block = zs[s:e]
            cum[:, k] += np.quantile(np.abs(block - block.mean(axis=0)), diff_quantile, axis=0)
        cum[:, k] /= starts.size
    max_dev = np.max(np.abs(z - z.mean(axis=0)), axis=0)
    fields.update(n_train=int(rows.size), diff_quantile=diff_quantile, n_bins=n_bins)
    return {"cum_deviations": cum, "max_deviations": max_dev, "active": active, "n_factors": int(f.shape[1]),
            "fields": fields}


def _irs_finalize(stats: dict) -> IRSResult:
    """The IRS matrix, per-latent scores and their weighted mean."""
    active, n_factors = stats["active"], stats["n_factors"]
    L = active.shape[0]
    irs_matrix = np.full((L, n_factors), np.nan)
    scores = np.full(L, np.nan)
    parents = np.full(L, -1, np.int64)
    max_dev = np.zeros(L)
    if active.any():
        cum, md = stats["cum_deviations"], stats["max_deviations"]
        m = 1.0 - cum / md[:, None]
        irs_matrix[active] = m
        scores[active] = m.max(axis=1)
        parents[active] = m.argmax(axis=1)
        max_dev[active] = md
        value = float(np.average(m.max(axis=1), weights=md)) if md.sum() > 0 else float(m.max(axis=1).mean())
    else:
        value = 0.0
    return IRSResult(
        irs=value,
        num_active_dims=int(active.sum()),
        active=active,
        irs_matrix=irs_matrix,
        disentanglement_scores=scores,
        parents=parents,
        max_deviations=max_dev,
        **stats["fields"],
    )


@metric_function("irs")
def irs(
    latents: Any,
    factors: Any = None,
    *,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    n_train: int | None = 10000,
    diff_quantile: float = 0.99,
    n_bins: int | None = 20,
    random_state: Any = 0,
    backend: str = "auto",
) -> IRSResult:
    """Interventional Robustness Score: how little each latent moves when other factors change.

    Parameters
    ----------
    latents, factors, factor_sizes, factor_names, random_state
        As in :func:`factor_vae_score`.
    n_train : int or None, default 10000
        Rows drawn uniformly (with replacement) to compute the score on; None uses every row
        once.
    diff_quantile : float, default 0.99
        Quantile of the deviations taken as the "maximal" deviation (1.0 is the paper's max).
    n_bins : int or None, default 20
        The factor classes are discretised into this many equal-width bins first, as
        disentanglement_lib does (a factor with at most ``n_bins`` classes keeps them
        all; dSprites' orientation, posX and posY are merged into 20 bins). None: use the
        classes as they are.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Accepted on every metric; IRS runs on the host.

    Returns
    -------
    IRSResult
        ``scores()``: ``irs`` (the headline) and ``num_active_dims``.

    Notes
    -----
    Definition (Suter et al. 2019, as disentanglement_lib's ``irs.py`` computes it from
    ``n_train`` sampled points): latents with zero variance over the sample are dropped.
    For latent ``l`` and factor ``k``, ``D[l, k]`` is the mean over the values ``v`` of
    factor ``k`` of the ``diff_quantile`` quantile (linear interpolation) of
    ``|z_l - E[z_l | f_k = v]|`` within the rows with ``f_k = v``. With
    ``M_l = max |z_l - E[z_l]|``, ``IRS[l, k] = 1 - D[l, k] / M_l``; each latent scores
    ``max_k IRS[l, k]`` and the score is their mean weighted by ``M_l``.

    Differences from disentanglement_lib: points are drawn from the rows given instead of
    rendered and encoded (the same distribution on a full grid; disentanglement_lib samples
    in batches of 16, which does not change the distribution); ``num_active_dims`` counts the
    active latents (disentanglement_lib returns the *sum of their values*, a slip); the
    arithmetic is float64 whatever the latents' dtype.

    References
    ----------
    R. Suter, D. Miladinovic, B. Schoelkopf and S. Bauer, "Robustly Disentangled Causal
    Mechanisms: Validating Deep Representations for Interventional Robustness", ICML 2019.

    Examples
    --------
    >>> import numpy as np, fastdci
    >>> grid = np.stack(np.meshgrid(*[np.arange(s) for s in (3, 4, 5)], indexing="ij"), -1).reshape(-1, 3)
    >>> res = fastdci.irs(grid / grid.max(axis=0), grid, n_train=None)
    >>> round(res.scores()["irs"], 6)
    1.0
    """
    return run_metric("irs", latents, factors,
                      dict(n_train=n_train, diff_quantile=diff_quantile, n_bins=n_bins), backend=backend,
                      random_state=random_state, factor_sizes=factor_sizes, factor_names=factor_names)
