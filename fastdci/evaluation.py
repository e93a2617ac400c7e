"""``fastdci.evaluate``: every metric on a latents file (or arrays), one :class:`Report`.

The information metrics stream the file chunk by chunk; the predictor metrics split the rows
into train and test halves (all rows unless an explicit ``max_train`` is given); the
intervention metrics draw "one factor fixed" batches by row index, and are skipped with a
stated reason when the rows do not cover the factor grid well enough.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ._version import __version__
from .errors import FastDCIError, InvalidInputError

__all__ = ["METRICS", "MetricSpec", "Report", "evaluate"]


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    """How :func:`evaluate` runs one metric and names its numbers in other libraries.

    ``dlib`` maps fastdci's score keys to disentanglement_lib's result keys (under the
    metric's name in disentanglement_lib); ``disent`` maps them to the ``disent`` library's
    flat keys.
    """

    name: str
    family: str  # "information" | "predictor" | "intervention"
    module: str
    function: str
    dlib_name: str
    dlib: Mapping[str, str]
    disent: Mapping[str, str]
    needs_grid: bool = False


METRICS: dict[str, MetricSpec] = {
    s.name: s
    for s in [
        MetricSpec("mig", "information", "fastdci.metrics.information", "mig", "mig",
                   {"mig": "discrete_mig"}, {"mig": "mig.discrete_score"}),
        MetricSpec("mig_sup", "information", "fastdci.metrics.information", "mig_sup", "mig_sup",
                   {"mig_sup": "mig_sup"}, {"mig_sup": "mig_sup.score"}),
        MetricSpec("jemmig", "information", "fastdci.metrics.information", "jemmig", "jemmig",
                   {"jemmig": "jemmig"}, {"jemmig": "jemmig.score"}),
        MetricSpec("dcimig", "information", "fastdci.metrics.information", "dcimig", "dcimig",
                   {"dcimig": "dcimig"}, {"dcimig": "dcimig.score"}),
        MetricSpec("modularity", "information", "fastdci.metrics.information", "modularity",
                   "modularity_explicitness", {"modularity": "modularity_score"},
                   {"modularity": "modularity.score"}),
        MetricSpec("dci", "predictor", "fastdci.metrics.predictors", "dci", "dci",
                   {"disentanglement": "disentanglement", "completeness": "completeness",
                    "informativeness_train": "informativeness_train",
                    "informativeness_test": "informativeness_test"},
                   {"disentanglement": "dci.disentanglement", "completeness": "dci.completeness",
                    "informativeness_train": "dci.informativeness_train",
                    "informativeness_test": "dci.informativeness_test"}),
        MetricSpec("sap", "predictor", "fastdci.metrics.predictors", "sap", "sap",
                   {"sap": "SAP_score"}, {"sap": "sap.score"}),
        MetricSpec("explicitness", "predictor", "fastdci.metrics.predictors", "explicitness",
                   "modularity_explicitness",
                   {"explicitness_train": "explicitness_score_train", "explicitness_test": "explicitness_score_test"},
                   {"explicitness_train": "explicitness.train", "explicitness_test": "explicitness.test"}),
        MetricSpec("beta_vae", "intervention", "fastdci.metrics.interventions", "beta_vae_score", "beta_vae_sklearn",
                   {"train_accuracy": "train_accuracy", "eval_accuracy": "eval_accuracy"},
                   {"train_accuracy": "beta_vae.train_accuracy", "eval_accuracy": "beta_vae.eval_accuracy"},
                   needs_grid=True),
        MetricSpec("factor_vae", "intervention", "fastdci.metrics.interventions", "factor_vae_score",
                   "factor_vae_metric",
                   {"train_accuracy": "train_accuracy", "eval_accuracy": "eval_accuracy",
                    "num_active_dims": "num_active_dims"},
                   {"train_accuracy": "factor_vae.train_accuracy", "eval_accuracy": "factor_vae.eval_accuracy",
                    "num_active_dims": "factor_vae.num_active_dims"},
                   needs_grid=True),
        MetricSpec("z_max", "intervention", "fastdci.metrics.interventions", "z_max_variance", "z_max_variance",
                   {"train_accuracy": "train_accuracy", "eval_accuracy": "eval_accuracy",
                    "num_active_dims": "num_active_dims"},
                   {"train_accuracy": "z_max.train_accuracy", "eval_accuracy": "z_max.eval_accuracy",
                    "num_active_dims": "z_max.num_active_dims"},
                   needs_grid=True),
        MetricSpec("irs", "intervention", "fastdci.metrics.interventions", "irs", "irs",
                   {"irs": "IRS", "num_active_dims": "num_active_dims"},
                   {"irs": "irs.score", "num_active_dims": "irs.num_active_dims"}, needs_grid=True),
    ]
}

FAMILIES = ("information", "predictor", "intervention")


def _resolve_metrics(metrics: str | Sequence[str]) -> list[str]:
    if isinstance(metrics, str):
        items = [m.strip() for m in metrics.split(",") if m.strip()]
    else:
        items = list(metrics)
    out: list[str] = []
    for m in items:
        if m == "all":
            out += list(METRICS)
        elif m in FAMILIES:
            out += [n for n, s in METRICS.items() if s.family == m]
        elif m in METRICS:
            out.append(m)
        else:
            raise InvalidInputError(
                f"unknown metric {m!r}; choose from {', '.join(METRICS)}, a family "
                f"({', '.join(FAMILIES)}) or 'all'."
            )
    return list(dict.fromkeys(out))


# ------------------------------------------------------------------------------- the source
class _Source:
    """What evaluate reads: a latents file (path or open reader) or a pair of arrays."""

    def __init__(self, source: Any, factor_sizes=None, factor_names=None):
        from .io import LatentsReader, open_latents

        self._own = False
        self.reader = None
        self.path: str | None = None
        self._arrays = None
        if isinstance(source, (str, os.PathLike)):
            self.reader = open_latents(source)
            self._own = True
        elif isinstance(source, LatentsReader):
            self.reader = source
        elif isinstance(source, (tuple, list)) and len(source) == 2:
            from ._validation import check_pair

            latents, factors = check_pair(*source)
            self._arrays = (latents, factors)
        else:
            raise InvalidInputError(
                "source must be a latents file path, an open LatentsReader, or a (latents, factors) pair; "
                f"got {type(source).__name__}."
            )
        if self.reader is not None:
            self.path = str(self.reader.path)
            self.n_rows = self.reader.n_rows
            self.factor_names = self.reader.factor_names
            self.factor_sizes = self.reader.factor_sizes
        else:
            factors = self._arrays[1]
            self.n_rows = int(factors.shape[0])
            k = factors.shape[1]
            self.factor_names = tuple(factor_names) if factor_names is not None else tuple(
                f"factor_{i}" for i in range(k))
            self.factor_sizes = tuple(int(s) for s in factor_sizes) if factor_sizes is not None else tuple(
                int(m) + 1 for m in np.asarray(factors).max(axis=0))

    def arrays(self):
        """(latents (N, L) float32, factors (N, K) int) in memory, read once."""
        if self._arrays is None:
            chunk = self.reader.read(fields=["mean", "classes"])
            self._arrays = (chunk.mean, chunk.classes)
        return self._arrays

    def metric_input(self):
        """What the file-aware metrics take: the open reader, or the arrays."""
        return self.reader if self.reader is not None else self.arrays()

    def information_counts(self, n_bins: int = 20, discretizer: str = "uniform", quantile_rows: int = 1_000_000):
        """The int64 joint counts of the information metrics, one streaming pass per binning."""
        from .metrics.information import InformationAccumulator

        key = (int(n_bins), str(discretizer), int(quantile_rows))
        cache = self.__dict__.setdefault("_counts", {})
        if key not in cache:
            if self.reader is not None and self._arrays is None:
                acc = InformationAccumulator.from_data(self.reader, n_bins=n_bins, discretizer=discretizer,
                                                       quantile_rows=quantile_rows)
                for chunk in self.reader.iter_chunks(fields=["mean", "classes"]):
                    if len(chunk):
                        acc.update(chunk.mean, chunk.classes)
            else:
                latents, factors = self.arrays()
                acc = InformationAccumulator.from_data(latents, n_bins=n_bins, discretizer=discretizer,
                                                       quantile_rows=quantile_rows)
                acc.update(latents, factors)
            cache[key] = acc
        return cache[key]

    def _classes(self) -> np.ndarray:
        if self._arrays is None and self.reader is not None:
            # the factor index the intervention metrics use, built once and cached on the reader
            from .metrics._factor_index import FactorIndex

            return np.asarray(FactorIndex.cached(self.reader).factors, dtype=np.int64)
        return np.asarray(self.arrays()[1], dtype=np.int64)

    def grid_coverage(self, metric: str) -> tuple[bool, str]:
        """Whether the rows support the intervention ``metric``; if not, why.

        BetaVAE, FactorVAE and IRS fix one factor and let the rest vary: each factor needs at
        least two values backed by two rows or more. Z-max fixes every factor but one: for each
        factor, at least half the rows must share all the other factors with another row (a
        random subset of the grid does not; the full grid does).
        """
        factors = self._classes()
        sizes = np.asarray(self.factor_sizes)
        for k, s in enumerate(sizes):
            counts = np.bincount(factors[:, k], minlength=s)
            if (counts >= 2).sum() < 2:
                return False, (f"factor {self.factor_names[k]} has fewer than two values with two or more rows; "
                               "encode more rows (the full grid: --rows all)")
        if metric == "z_max" and len(sizes) > 1:
            for k in range(len(sizes)):
                others = [j for j in range(len(sizes)) if j != k]
                key = np.ravel_multi_index(tuple(factors[:, j] for j in others), tuple(sizes[others]))
                _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
                shared = float(np.mean(counts[inverse] >= 2))
                if shared < 0.5:
                    return False, (f"only {100 * shared:.1f}% of the rows share every factor but "
                                   f"{self.factor_names[k]} with another row; Z-max needs (most of) the full "
                                   "grid: encode it with --rows all")
        return True, ""

    def close(self):
        if self._own and self.reader is not None:
            self.reader.close()


# ------------------------------------------------------------------------------- the report
@dataclasses.dataclass
class Report(Mapping):
    """The results of :func:`evaluate`: a mapping ``metric name -> result`` plus provenance.

    Attributes
    ----------
    results : dict
        Metric name to its frozen result (``result.scores()`` gives the numbers).
    skipped : dict
        Metric name to the reason it was not computed (e.g. rows do not cover the grid).
    failed : dict
        Metric name to the error message of a metric that raised.
    provenance : dict
        Source file, rows used, backend, seed, versions, wall time per metric (seconds).
    """

    results: dict[str, Any]
    skipped: dict[str, str]
    failed: dict[str, str]
    provenance: dict[str, Any]

    def __getitem__(self, key: str):
        return self.results[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def scores(self) -> dict[str, dict[str, float]]:
        """``{metric: {score name: value}}`` for the computed metrics."""
        return {name: r.scores() for name, r in self.results.items()}

    def to_dict(self, style: str = "flat") -> dict[str, Any]:
        """The numbers keyed for a library.

        ``"flat"``: ``{"mig.mig": 0.31, "dci.disentanglement": ...}`` plus provenance;
        ``"disentanglement_lib"``: ``{"mig": {"discrete_mig": ...}, "dci": {"disentanglement": ...}}``
        with disentanglement_lib's metric and key names;
        ``"disent"``: ``{"mig.discrete_score": ..., "dci.disentanglement": ...}``.
        """
        if style == "flat":
            flat = {f"{m}.{k}": v for m, sc in self.scores().items() for k, v in sc.items()}
            return {"scores": flat, "skipped": dict(self.skipped), "failed": dict(self.failed),
                    "provenance": self.provenance}
        if style == "disentanglement_lib":
            out: dict[str, dict[str, float]] = {}
            for m, sc in self.scores().items():
                spec = METRICS[m]
                bucket = out.setdefault(spec.dlib_name, {})
                for k, v in sc.items():
                    bucket[spec.dlib.get(k, k)] = v
            return out
        if style == "disent":
            return {METRICS[m].disent.get(k, f"{m}.{k}"): v for m, sc in self.scores().items() for k, v in sc.items()}
        raise InvalidInputError(f"style must be 'flat', 'disentanglement_lib' or 'disent'; got {style!r}.")

    def to_json(self, path: str | os.PathLike | None = None, *, full: bool = True) -> str:
        """JSON text: scores, skipped, failed, provenance and (``full``) every result's matrices."""
        doc = self.to_dict("flat")
        if full:
            doc["results"] = {m: r.to_dict() for m, r in self.results.items()}
        text = json.dumps(doc, indent=2, default=_json_default)
        if path is not None:
            tmp = Path(str(path) + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
        return text

    def headline(self) -> dict[str, float]:
        """One number per metric (the first score), for tables."""
        return {m: r.score for m, r in self.results.items()}


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _versions() -> dict[str, str]:
    import sys

    out = {"fastdci": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "numba", "h5py", "sklearn"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    return out


# ------------------------------------------------------------------------------- running
def _call(spec: MetricSpec, src: _Source, *, backend: str, random_state: int, options: dict):
    import importlib

    fn: Callable = getattr(importlib.import_module(spec.module), spec.function)
    opts = dict(options)
    if spec.family == "information":
        # one pass of counts serves every information metric with the same binning
        binning = {k: opts.pop(k) for k in ("n_bins", "discretizer", "quantile_rows") if k in opts}
        return src.information_counts(**binning).compute(spec.name, **opts)
    if spec.family == "predictor":
        latents, factors = src.arrays()
        opts.setdefault("random_state", random_state)
        if spec.name in ("dci", "explicitness"):
            opts.setdefault("backend", backend)
        return fn(latents, factors, **opts)
    # intervention metrics read the file (or arrays) themselves
    opts.setdefault("random_state", random_state)
    if spec.name == "beta_vae":
        opts.setdefault("backend", backend)
    inp = src.metric_input()
    if isinstance(inp, tuple):
        return fn(inp[0], inp[1], factor_sizes=src.factor_sizes, factor_names=src.factor_names, **opts)
    return fn(inp, **opts)


def evaluate(
    source: Any,
    metrics: str | Sequence[str] = "all",
    *,
    backend: str = "auto",
    random_state: int = 0,
    progress: bool = False,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    **metric_options: dict,
) -> Report:
    """Compute disentanglement metrics on a latents file or on arrays.

    Parameters
    ----------
    source : str, PathLike, LatentsReader or (latents, factors)
        A latents file (see docs/latents-format.md), an open reader, or a pair of arrays
        ``latents (N, L)`` float and ``factors (N, K)`` int classes.
    metrics : str or sequence of str, default "all"
        Metric names (``mig``, ``mig_sup``, ``jemmig``, ``dcimig``, ``modularity``, ``dci``,
        ``sap``, ``explicitness``, ``beta_vae``, ``factor_vae``, ``z_max``, ``irs``), family
        names (``information``, ``predictor``, ``intervention``) or ``"all"``; a string may be
        comma-separated.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Device for the regressors (CUDA when available).
    random_state : int, default 0
        Seed of every random choice (train/test split, batch sampling).
    progress : bool, default False
        Show a progress bar on stderr, one step per metric.
    factor_sizes, factor_names : optional
        For array input: the number of classes and the name of each factor.
    **metric_options : dict
        Per-metric keyword arguments, e.g. ``dci={"regressor": "logistic", "max_train": 100_000}``.

    Returns
    -------
    Report
        A mapping metric name -> result, with ``skipped``, ``failed`` and ``provenance``.

    Examples
    --------
    >>> import numpy as np, fastdci
    >>> rng = np.random.default_rng(0)
    >>> factors = rng.integers(0, 4, size=(2000, 2))
    >>> latents = factors + 0.1 * rng.normal(size=(2000, 2))
    >>> report = fastdci.evaluate((latents, factors), metrics="mig")
    >>> round(report["mig"].score, 2)
    0.99
    """
    from .backend import resolve_device

    names = _resolve_metrics(metrics)
    unknown = set(metric_options) - set(METRICS)
    if unknown:
        raise InvalidInputError(
            f"options given for unknown metric(s) {sorted(unknown)}; pass them as metric=dict(...) with a "
            f"metric name from {', '.join(METRICS)}."
        )
    for k, v in metric_options.items():
        if not isinstance(v, Mapping):
            raise InvalidInputError(f"options for {k} must be a dict of keyword arguments; got {type(v).__name__}.")
    device = resolve_device(backend)
    src = _Source(source, factor_sizes=factor_sizes, factor_names=factor_names)
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    timings: dict[str, float] = {}
    warned: dict[str, list[str]] = {}
    t_all = time.perf_counter()
    try:
        bar = _progress(progress, len(names))
        for name in names:
            spec = METRICS[name]
            if bar is not None:
                bar.set_description(name)
            if spec.needs_grid:
                ok, why = src.grid_coverage(name)
                if not ok:
                    skipped[name] = f"the rows do not cover the factor grid: {why}"
                    if bar is not None:
                        bar.update(1)
                    continue
            t = time.perf_counter()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    results[name] = _call(spec, src, backend=device, random_state=random_state,
                                          options=dict(metric_options.get(name, {})))
            except FastDCIError as exc:
                failed[name] = str(exc)
            msgs = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
            if msgs:
                warned[name] = list(dict.fromkeys(msgs))
            timings[name] = time.perf_counter() - t
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    finally:
        src.close()
    provenance = {
        "source": src.path if src.path is not None else "arrays",
        "rows": src.n_rows,
        "factor_names": list(src.factor_names),
        "factor_sizes": list(src.factor_sizes),
        "backend": device,
        "random_state": random_state,
        "metric_options": {k: dict(v) for k, v in metric_options.items()},
        "seconds": timings,
        "warnings": warned,
        "total_seconds": time.perf_counter() - t_all,
        "versions": _versions(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return Report(results=results, skipped=skipped, failed=failed, provenance=provenance)


class _Bar:
    """A rich progress bar on stderr, one step per metric."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("{task.description:<14}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                           TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._p.start()
        self._t = self._p.add_task("metrics", total=total)

    def set_description(self, text: str) -> None:
        self._p.update(self._t, description=text)

    def update(self, n: int) -> None:
        self._p.advance(self._t, n)

    def close(self) -> None:
        self._p.stop()


def _progress(show: bool, total: int):
    return _Bar(total) if show else None
