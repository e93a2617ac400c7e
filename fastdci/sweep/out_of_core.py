"""The information metrics of one latents file larger than a machine, as a Dask reduction.

Two rounds of tasks over row ranges of the file, each task opening the file by path: per-range
min/max (merged on the client into the uniform bin edges, disentanglement_lib's
``np.histogram`` edges), then per-range int64 joint counts with those edges, summed. The counts
are integers and the edges those of the whole file, so every result equals the in-memory one
bit for bit. Quantile bins need every row at once and are refused here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidInputError

__all__ = ["information_out_of_core"]


def _ranges(n_rows: int, rows: int) -> list[tuple[int, int]]:
    return [(s, min(s + rows, n_rows)) for s in range(0, n_rows, rows)]


def _minmax(path: str, start: int, stop: int):
    from ..backend import float_dtype, kernel
    from ..io import open_latents

    with open_latents(path) as r:
        x = r.read(slice(start, stop), fields=["mean"]).mean
    x = np.ascontiguousarray(x, dtype=float_dtype(x))
    mn, mx, _ = kernel("minmax", "cpu")(x)  # the reader refused NaN/inf
    return mn, mx


def _counts(path: str, start: int, stop: int, edges: np.ndarray, n_classes: int) -> np.ndarray:
    from ..backend import kernel
    from ..io import open_latents

    with open_latents(path) as r:
        chunk = r.read(slice(start, stop), fields=["mean", "classes"])
    x = np.ascontiguousarray(chunk.mean, dtype=edges.dtype)
    return kernel("joint_counts", "cpu")(x, chunk.classes, edges, n_classes, uniform=True)


def _add(*tables: np.ndarray) -> np.ndarray:
    return np.sum(tables, axis=0)


def information_out_of_core(path: str | os.PathLike, metrics: str | Sequence[str] = "information", *,
                            client: Any = None, rows_per_task: int | None = None, n_workers: int | None = None,
                            **options: Any) -> dict:
    """The information metrics of one file, reduced over row ranges on a Dask cluster.

    Parameters
    ----------
    path : str or PathLike
        A latents file; each task reads its own rows (memory per task: ``rows_per_task`` rows).
    metrics : str or sequence of str, default "information"
        Information metrics (names or the family).
    client : dask.distributed.Client, optional
        Default: a new ``LocalCluster`` (:func:`fastdci.sweep.local_client`), closed at the end.
    rows_per_task : int, optional
        Rows per task (default: the file's HDF5 chunk rows times 16).
    **options
        Per-metric options, e.g. ``mig={"n_bins": 20}``; every metric must use the same
        ``n_bins``, and ``discretizer`` must be ``"uniform"``.

    Returns
    -------
    dict
        Metric name -> result, equal to ``fastdci.evaluate(path, metrics)``'s.
    """
    from ..evaluation import check_metric_options
    from ..io import open_latents
    from ..kernels import cpu as _cpu
    from ..metrics.information._counts import InformationStats
    from ..metrics.registry import METRICS, resolve_metrics
    from .many import _need_dask, close_client, local_client

    names = resolve_metrics(metrics)
    wrong = [n for n in names if METRICS[n].family != "information"]
    if wrong:
        raise InvalidInputError(f"out-of-core reduction covers the information metrics only; drop {wrong}.")
    checked = check_metric_options(names, options)
    binnings = {(c["n_bins"], c["discretizer"]) for c in checked.values()}
    if len(binnings) != 1:
        raise InvalidInputError(f"every metric must use the same binning here; got {sorted(binnings)}.")
    n_bins, discretizer = binnings.pop()
    if discretizer != "uniform":
        raise InvalidInputError(
            "quantile bins need every row at once; out of core only uniform bins are exact. Use "
            "fastdci.evaluate(path, ..., memory_budget=...) on a machine that holds the latents."
        )
    _need_dask()
    path = str(path)
    with open_latents(path) as r:
        n_rows, sizes, chunk = r.n_rows, r.factor_sizes, r.chunk_rows
        dtype = np.dtype(np.float32) if r.dtype("mean").itemsize <= 4 else np.dtype(np.float64)
    ranges = _ranges(n_rows, int(rows_per_task or chunk * 16))
    own = client is None
    client = local_client(n_workers) if own else client
    try:
        parts = client.gather(client.map(_minmax, [path] * len(ranges), *zip(*ranges), pure=False))
        mins = np.min([p[0] for p in parts], axis=0)
        maxs = np.max([p[1] for p in parts], axis=0)
        edges = _cpu.uniform_edges(mins, maxs, n_bins, dtype)
        tables = client.map(_counts, [path] * len(ranges), *zip(*ranges), edges=edges, n_classes=max(sizes),
                            pure=False)
        while len(tables) > 1:  # a tree of sums: no single task holds every table
            tables = [client.submit(_add, *tables[i:i + 8], pure=False) for i in range(0, len(tables), 8)]
        counts = tables[0].result()
    finally:
        if own:
            close_client(client)
    stats = InformationStats(counts=counts, edges=edges, discretizer=discretizer)
    out = {}
    for name in names:
        _, final = METRICS[name].split_options(checked[name])
        result = METRICS[name].load("finalize")(stats, **final)
        out[name] = dataclasses.replace(result, settings=dict(checked[name]), provenance={
            "n_rows": n_rows, "backend": "cpu", "tasks": len(ranges), "rows_per_task": ranges[0][1] - ranges[0][0]})
    return out
