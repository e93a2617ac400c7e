"""``fastdci.evaluate``: every metric on one :class:`~fastdci.io.LatentsSource`, one :class:`Report`.

The source reads the file once (or wraps the arrays) and shares its caches across metrics: the
information metrics' counts, the predictor metrics' train/test split, the intervention metrics'
factor index. Metrics are dispatched through the registry (:mod:`fastdci.metrics.registry`);
intervention metrics are skipped with a stated reason when the rows do not cover the factor
grid well enough.
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from ._version import __version__
from .errors import FastDCIError, InvalidInputError
from .metrics.registry import METRICS, resolve_metrics
from .results import Report

__all__ = ["Report", "evaluate"]


def _versions() -> dict[str, str]:
    import sys

    out = {"fastdci": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "numba", "h5py", "sklearn", "cupy"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    return out


# ------------------------------------------------------------------------------- running
def check_metric_options(names: Sequence[str], metric_options: Mapping[str, Any]) -> dict[str, dict]:
    """Every metric's checked options; options for unknown or unselected metrics raise."""
    for k, v in metric_options.items():
        if k not in METRICS:
            resolve_metrics([k])  # raises with the closest name
        if k not in names:
            raise InvalidInputError(
                f"options were given for {k}, which is not being computed (metrics: {', '.join(names)}); add "
                f"{k} to the metrics or drop its options."
            )
        if not isinstance(v, Mapping):
            raise InvalidInputError(f"options for {k} must be a dict of keyword arguments; got {type(v).__name__}.")
    return {name: METRICS[name].check(metric_options.get(name, {})) for name in names}


def evaluate(
    source: Any,
    metrics: str | Sequence[str] = "all",
    *,
    backend: str = "auto",
    random_state: int = 0,
    progress: bool = False,
    factor_sizes: Sequence[int] | None = None,
    factor_names: Sequence[str] | None = None,
    memory_budget: int | None = None,
    preset: str | None = None,
    data: Any = None,
    rows: Any = None,
    out: str | os.PathLike | None = None,
    factor_types: Any = None,
    factor_bins: int = 20,
    **metric_options: dict,
) -> Report:
    """Compute disentanglement metrics on a latents file or on arrays.

    Parameters
    ----------
    source : str, PathLike, LatentsReader, LatentsSource, (latents, factors), or a model
        A latents file (see docs/latents-format.md), an open reader, a source, a pair of
        arrays ``latents (N, L)`` float and ``factors (N, K)`` int classes (NumPy, torch on any
        device, or CuPy), or a ``torch.nn.Module`` or function ``images -> means`` to encode
        ``data`` with first (:func:`fastdci.io.encode_model` states the contract).
    metrics : str or sequence of str, default "all"
        Metric names (``fastdci metrics`` lists them), family names (``information``,
        ``predictor``, ``intervention``) or ``"all"``; a string may be comma-separated.
    backend : {"auto", "cpu", "cuda"}, default "auto"
        Device of the kernels and regressors (CUDA when a GPU is visible).
    random_state : int, default 0
        Seed of every random choice (train/test split, batch sampling).
    progress : bool, default False
        Show a progress bar on stderr, one step per metric.
    factor_sizes, factor_names : optional
        For array input: the number of classes and the name of each factor.
    memory_budget : int, optional
        Bytes of latents a file may occupy in memory (default: a quarter of the machine's).
    preset : {"disentanglement_lib"}, optional
        Reproduce another library's protocol on a file holding a complete factor grid: each
        metric's points drawn as that library draws them, with its point counts, batch sizes
        and bins (:mod:`fastdci.presets` states them); metrics it lacks are skipped, and
        per-metric options are refused (the preset fixes them). Every result records it.
    data : optional
        With a model or function: what to encode (default: rendered dSprites; a dSprites
        ``.npz`` path, a torch ``Dataset`` of ``(image, factor classes)``, or ``(images,
        factors)`` arrays).
    rows : None, "all", int or array, optional
        With a model: which rows of ``data`` (an int: that many at random, by
        ``random_state``; default all).
    out : str or PathLike, optional
        With a model: also write the encoded rows to this latents file.
    factor_types : None, "discrete", "continuous" or one per factor, optional
        Which factors are real values: a float column of array factors, or a file's
        ``/factors/values`` (see :mod:`fastdci.io.factor_types`). The predictor metrics regress
        on them, the information metrics and explicitness count their ``factor_bins``
        equal-width bins, and the intervention metrics (which need a grid of classes) are
        skipped. Default: all discrete.
    factor_bins : int, default 20
        Bins of each continuous factor.
    **metric_options : dict
        Per-metric options, e.g. ``dci={"regressor": "logistic", "max_train": 100_000}``.

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
    from .io.source import LatentsSource
    from .metrics.registry import check_random_state, compute

    names = resolve_metrics(metrics)
    checked = check_metric_options(names, metric_options)
    if preset is not None:
        from .presets import PRESETS

        if preset not in PRESETS:
            raise InvalidInputError(f"preset must be one of {list(PRESETS)} or None; got {preset!r}.")
        if metric_options:
            raise InvalidInputError(
                f"preset={preset!r} fixes every metric's options; drop {sorted(metric_options)} or the preset."
            )
    if preset is not None and factor_types is not None:
        raise InvalidInputError(f"preset={preset!r} scores the factor classes; drop factor_types or the preset.")
    random_state = check_random_state(random_state)
    device = resolve_device(backend)
    own = not isinstance(source, LatentsSource)
    is_model = callable(source) and not isinstance(source, type)
    if factor_types is not None and (is_model or not own):
        raise InvalidInputError(
            "factor_types applies to a latents file or arrays; "
            + ("a model's data gives class labels." if is_model else
               "this LatentsSource holds its factors already: build it with LatentsSource(..., factor_types=...).")
        )
    if not is_model and (data is not None or rows is not None or out is not None):
        raise InvalidInputError(
            "data=, rows= and out= describe what a model or function encodes; with a file or arrays, drop them."
        )
    if is_model:
        from .io.model_input import encode_model

        pick = {"n_rows": rows} if isinstance(rows, (int, np.integer)) and not isinstance(rows, bool) else {"rows": rows}
        src = encode_model(source, data, **pick, seed=random_state if isinstance(random_state, int) else 0,
                           device=device, out=out, factor_names=factor_names, factor_sizes=factor_sizes,
                           progress=progress)
    elif own:
        src = LatentsSource(source, factor_sizes=factor_sizes, factor_names=factor_names,
                            memory_budget=memory_budget, factor_types=factor_types, factor_bins=factor_bins)
    else:
        src = source
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    failed: dict[str, str] = {}
    timings: dict[str, float] = {}
    warned: dict[str, list[str]] = {}
    t_all = time.perf_counter()
    grid = None
    try:
        bar = _Bar(len(names)) if progress else None
        for name in names:
            spec = METRICS[name]
            if bar is not None:
                bar.set_description(name)
            t = time.perf_counter()
            if preset is not None:
                from .presets import GridData, preset_has, preset_metric

                ok, why = True, ""
                if grid is None:
                    grid = GridData(src)
            elif spec.needs_grid and src.has_continuous:
                ok, why = False, None
            else:
                ok, why = src.grid_coverage(others="others_grid" in spec.needs) if spec.needs_grid else (True, "")
            if preset is not None and not preset_has(preset, name):
                skipped[name] = f"{preset} has no {name} (evaluate it without a preset)"
            elif why is None:
                skipped[name] = "it intervenes on a grid of factor classes, and some factors are continuous"
            elif not ok:
                skipped[name] = f"the rows do not cover the factor grid: {why}"
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        if preset is not None:
                            results[name] = preset_metric(preset, name, src, random_state=random_state,
                                                          backend=device, grid=grid)
                        else:
                            results[name] = compute(spec, src, checked[name], backend=device,
                                                    random_state=random_state)
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
        if own:
            src.close()
    provenance = {
        "source": src.path if src.path is not None else (f"model {type(source).__name__}" if is_model else "arrays"),
        "rows": src.n_rows,
        "factor_names": list(src.factor_names),
        "factor_sizes": list(src.factor_sizes),
        "factor_types": list(src.factor_types),
        "factor_bins": src.factor_bins if src.has_continuous else None,
        "factor_values_present": [int(np.unique(src.factors[:, k]).size) for k in range(src.n_factors)],
        "backend": device,
        "random_state": random_state,
        "preset": preset,
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
