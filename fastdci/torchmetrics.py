"""torchmetrics metrics for every fastdci metric, for scoring inside a training loop.

Each class is a ``torchmetrics.Metric``: ``update(latents, factors)`` with one batch
(latents (n, L) float, factors (n, K) int classes; NumPy, torch on any device, or CuPy),
``compute()`` for fastdci's own result (the same frozen result ``fastdci.<name>`` returns),
``reset()`` to start again. Options are the registry's (``fastdci metrics`` lists them),
checked by its one checker; the ``torchmetrics.Metric`` keywords (``sync_on_compute``,
``process_group``, ``compute_on_cpu``, ...) pass through.

- Information metrics (:class:`MIG`, :class:`MIGSup`, :class:`JEMMIG`, :class:`DCIMIG`,
  :class:`Modularity`) keep exact int64 joint counts (``dist_reduce_fx="sum"``): the
  result under DDP equals one process's result on all rows. Their bin edges are fixed
  before the first count (``latent_range=``, ``edges=``, or the first update's min and max,
  agreed across processes); see :class:`InformationMetric`.
- Predictor and intervention metrics (:class:`DCI`, :class:`DCIES`, :class:`SAP`, :class:`Explicitness`,
  :class:`InfoMEC`, :class:`BetaVAE`, :class:`FactorVAE`, :class:`ZMax`, :class:`IRS`) keep the rows (at most
  ``max_rows`` per process) and compute with the core functions; see :class:`RowMetric`.
- :class:`Disentanglement` is several metrics at once, sharing one count table per binning
  and one copy of the rows; ``compute()`` returns a :class:`fastdci.Report`.

``import fastdci`` does not import this module (nor torchmetrics); it needs the
``torchmetrics`` extra.

Examples
--------
>>> import numpy as np
>>> import fastdci
>>> from fastdci.torchmetrics import MIG
>>> rng = np.random.default_rng(0)
>>> factors = rng.integers(0, 4, size=(1000, 2))
>>> latents = factors + 0.1 * rng.normal(size=(1000, 2))
>>> metric = MIG(latent_range=(latents.min(0), latents.max(0)))
>>> for start in range(0, 1000, 250):
...     metric.update(latents[start:start + 250], factors[start:start + 250])
>>> metric.compute().mig == fastdci.mig(latents, factors).mig
True
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

from .errors import MissingDependencyError

try:
    import torchmetrics as _torchmetrics  # noqa: F401
except ImportError as _exc:  # pragma: no cover - the extra is missing
    raise MissingDependencyError(
        "fastdci.torchmetrics needs torchmetrics; install it with pip install 'fastdci[torchmetrics]'."
    ) from _exc

import numpy as np
import torch

from ._tm_common import ResultMetric, split_kwargs
from ._tm_information import InformationCounts
from ._tm_rows import DEFAULT_MAX_ROWS, RowStore
from .errors import FastDCIError
from .metrics.registry import METRICS, resolve_metrics

__all__ = ["DCI", "DCIES", "DCIMIG", "IRS", "JEMMIG", "METRIC_CLASSES", "MIG", "SAP", "BetaVAE", "Disentanglement",
           "Explicitness", "FactorVAE", "InfoMEC", "InformationMetric", "MIGSup", "Modularity", "RowMetric",
           "Unsupervised", "ZMax"]


class InformationMetric(InformationCounts):
    """Base of the information metrics: exact int64 joint counts, summed over batches and processes.

    Parameters
    ----------
    latent_range : (lo, hi), optional
        Uniform bins between ``lo`` and ``hi`` (numbers, or one per latent), fixed before the
        first update: the same binning every epoch.
    edges : array (L, n_bins + 1), optional
        Bin edges of your own (the only choice with ``discretizer="quantile"``).
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Where each batch is counted (``"auto"``: where it lives).
    **options :
        The metric's registry options (``n_bins``, ``discretizer``, ...) and the
        ``torchmetrics.Metric`` keywords.

    Without ``latent_range`` or ``edges``, the bins span the first update's per-latent min
    and max; under DDP that first update is a collective that reduces every process's
    first-batch min and max, so every process counts with the same edges (each process must
    make its first update at the same point, as DDP loops do), and ``reset()`` agrees on new
    ones at the next first update. ``compute()`` returns exactly what ``fastdci.<name>``
    returns on the rows of every process when the edges are those rows' min and max (always,
    for the first-update edges, when no later row falls outside them); a row outside the edges
    is counted in the end bin and ``compute()`` warns in one line naming the latents and the
    ``latent_range`` to pass. ``result.provenance["bin_edges"]`` says where the edges came
    from. The states are described in :class:`fastdci._tm_information.InformationCounts`.
    """

    metric_name: ClassVar[str] = ""

    def __init__(self, *, latent_range: Any = None, edges: Any = None, backend: str = "auto", **options: Any):
        opts, metric_kwargs = split_kwargs(options)
        super().__init__([self.metric_name], {self.metric_name: opts}, latent_range=latent_range, edges=edges,
                         backend=backend, **metric_kwargs)

    def compute(self) -> Any:
        """The metric's result (as ``fastdci.<name>`` returns it, plus ``provenance["bin_edges"]``)."""
        value = self.compute_each()[self.metric_name]
        if isinstance(value, FastDCIError):
            raise value
        return value


class RowMetric(RowStore):
    """Base of the predictor and intervention metrics: the rows kept, then the core function.

    Parameters
    ----------
    max_rows : int, default 1,000,000
        Rows one process keeps; an update past it raises with the fix (no silent
        subsampling; DCI's ``max_train`` option subsamples its training rows, recorded).
    random_state, backend, factor_sizes, factor_names :
        As ``fastdci.<name>`` takes them.
    **options :
        The metric's registry options and the ``torchmetrics.Metric`` keywords.

    ``compute()`` returns ``fastdci.<name>`` on every row kept; under DDP the rows of every
    process, concatenated in rank order (the predictor metrics' train/test split is a seeded
    permutation of that order).
    """

    metric_name: ClassVar[str] = ""

    def __init__(self, *, max_rows: int = DEFAULT_MAX_ROWS, random_state: Any = 0, backend: str = "auto",
                 factor_sizes: Sequence[int] | None = None, factor_names: Sequence[str] | None = None,
                 **options: Any):
        opts, metric_kwargs = split_kwargs(options)
        super().__init__([self.metric_name], {self.metric_name: opts}, max_rows=max_rows, random_state=random_state,
                         backend=backend, factor_sizes=factor_sizes, factor_names=factor_names, **metric_kwargs)

    def compute(self) -> Any:
        """The metric's result on every row kept, as ``fastdci.<name>`` returns it."""
        return self.compute_one()


# ------------------------------------------------------------------------ information metrics
class MIG(InformationMetric):
    """:func:`fastdci.mig` from exact joint counts; options ``n_bins``, ``discretizer``, ``normalization``."""

    metric_name = "mig"


class MIGSup(InformationMetric):
    """:func:`fastdci.mig_sup` from exact joint counts; options ``n_bins``, ``discretizer``, ``normalization``."""

    metric_name = "mig_sup"


class JEMMIG(InformationMetric):
    """:func:`fastdci.jemmig` from exact joint counts; options ``n_bins``, ``discretizer``."""

    metric_name = "jemmig"


class DCIMIG(InformationMetric):
    """:func:`fastdci.dcimig` from exact joint counts; options ``n_bins``, ``discretizer``."""

    metric_name = "dcimig"


class Modularity(InformationMetric):
    """:func:`fastdci.modularity` from exact joint counts; options ``n_bins``, ``discretizer``, ``uninformative``."""

    metric_name = "modularity"


# ------------------------------------------------------------------------ metrics on the rows
class DCI(RowMetric):
    """:func:`fastdci.dci` on the rows kept; options ``regressor``, ``test_size``, ``max_train``, ..."""

    metric_name = "dci"


class DCIES(RowMetric):
    """:func:`fastdci.dci_es` on the rows kept; options ``test_size``, ``n_rounds``, ``loss``, ``convention``, ..."""

    metric_name = "dci_es"


class SAP(RowMetric):
    """:func:`fastdci.sap` on the rows kept; options ``test_size``, ``continuous``, ``C``."""

    metric_name = "sap"


class Explicitness(RowMetric):
    """:func:`fastdci.explicitness` on the rows kept; options ``test_size``, ``C``, ``classifier``."""

    metric_name = "explicitness"


class InfoMEC(RowMetric):
    """:func:`fastdci.infomec` on the rows kept (InfoE fits a regression on them; InfoM and InfoC
    come from their joint counts); options ``n_bins``, ``convention``, ``infoe_baseline``, ``C``, ..."""

    metric_name = "infomec"


class BetaVAE(RowMetric):
    """:func:`fastdci.beta_vae_score` on the rows kept (they must cover the factor grid)."""

    metric_name = "beta_vae"


class FactorVAE(RowMetric):
    """:func:`fastdci.factor_vae_score` on the rows kept (they must cover the factor grid)."""

    metric_name = "factor_vae"


class ZMax(RowMetric):
    """:func:`fastdci.z_max_variance` on the rows kept (they must cover the factor grid)."""

    metric_name = "z_max"


class IRS(RowMetric):
    """:func:`fastdci.irs` on the rows kept (they must cover the factor grid)."""

    metric_name = "irs"


class Unsupervised(RowMetric):
    """:func:`fastdci.unsupervised` on the rows kept (factors optional: they are not used)."""

    metric_name = "unsupervised"

    def update(self, latents: Any, factors: Any = None) -> None:
        """Keep one batch of latents (n, L); ``factors`` may be omitted."""
        super().update(latents, np.zeros((int(np.shape(latents)[0]), 1), np.int64) if factors is None else factors)


METRIC_CLASSES: dict[str, type] = {cls.metric_name: cls for cls in (
    MIG, MIGSup, JEMMIG, DCIMIG, Modularity, DCI, DCIES, SAP, Explicitness, InfoMEC, BetaVAE, FactorVAE, ZMax, IRS,
    Unsupervised)}
"""Registry name -> class, one per metric of :data:`fastdci.metrics.registry.METRICS`."""


# ------------------------------------------------------------------------ several at once
class Disentanglement(ResultMetric):
    """Several fastdci metrics fed the same batches; ``compute()`` returns a :class:`fastdci.Report`.

    Parameters
    ----------
    metrics : str or sequence of str, default "all"
        Metric names, family names (``information``, ``predictor``, ``intervention``) or
        ``"all"``, as :func:`fastdci.evaluate` takes them.
    latent_range, edges : optional
        The information metrics' bin edges (see :class:`MIG`); without them the first
        update's min and max (agreed across processes).
    max_rows : int, default 1,000,000
        Rows one process keeps for the predictor and intervention metrics (an update past it raises).
    random_state, backend, factor_sizes, factor_names :
        As :func:`fastdci.evaluate` takes them.
    **options :
        Per-metric option dicts, e.g. ``dci={"regressor": "logistic"}``, ``mig={"n_bins": 30}``,
        plus ``torchmetrics.Metric`` keywords.

    The information metrics of one binning share one count table; the other metrics share
    one copy of the rows (kept only when one of them is asked for). As in
    :func:`fastdci.evaluate`, an intervention metric whose rows do not cover the factor grid
    is in ``report.skipped``, and a metric that raised a fastdci error is in ``report.failed``.
    """

    def __init__(self, metrics: str | Sequence[str] = "all", *, latent_range: Any = None, edges: Any = None,
                 max_rows: int = DEFAULT_MAX_ROWS, random_state: Any = 0, backend: str = "auto",
                 factor_sizes: Sequence[int] | None = None, factor_names: Sequence[str] | None = None,
                 **options: Any):
        from .evaluation import check_metric_options

        opts, metric_kwargs = split_kwargs(options)
        super().__init__(**metric_kwargs)
        self._names = resolve_metrics(metrics)
        checked = check_metric_options(self._names, opts)
        info = [n for n in self._names if METRICS[n].family == "information"]
        rows = [n for n in self._names if METRICS[n].family != "information"]
        groups: dict[tuple, list[str]] = {}
        for n in info:
            groups.setdefault((checked[n]["n_bins"], checked[n]["discretizer"]), []).append(n)
        self.information = torch.nn.ModuleList([
            InformationCounts(names, {n: opts.get(n, {}) for n in names}, latent_range=latent_range, edges=edges,
                              backend=backend, **metric_kwargs) for names in groups.values()])
        self.rows = None if not rows else RowStore(
            rows, {n: opts[n] for n in rows if n in opts}, max_rows=max_rows, random_state=random_state,
            backend=backend, factor_sizes=factor_sizes, factor_names=factor_names, **metric_kwargs)

    def update(self, latents: Any, factors: Any) -> None:
        """Feed one batch to every metric (latents (n, L) float, factors (n, K) int classes)."""
        for part in self._parts():
            part.update(latents, factors)

    def compute(self) -> Any:
        """A :class:`fastdci.Report`: results in the order asked for, plus skipped, failed and provenance."""
        from .evaluation import Report

        results: dict[str, Any] = {}
        failed: dict[str, str] = {}
        skipped: dict[str, str] = {}
        provenance: dict[str, Any] = {"source": type(self).__name__}
        for counts in self.information:
            for name, value in counts.compute().items():
                if isinstance(value, FastDCIError):
                    failed[name] = str(value)
                else:
                    results[name] = value
                    provenance["rows"] = value.n_rows
            provenance["bin_edges"] = counts.bin_edges
        if self.rows is not None:
            report = self.rows.compute()
            results.update(report.results)
            skipped.update(report.skipped)
            failed.update(report.failed)
            provenance = {**report.provenance, **provenance, "rows": report.provenance["rows"]}
        ordered = {n: results[n] for n in self._names if n in results}
        return Report(results=ordered, skipped=skipped, failed=failed, provenance=provenance)

    def reset(self) -> None:
        """Forget every batch (and the first-update bin edges) of every metric."""
        super().reset()
        for part in self._parts():
            part.reset()

    def _parts(self) -> list:
        return [*self.information, *([self.rows] if self.rows is not None else [])]
