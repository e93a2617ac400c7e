"""``evaluate_many``: one Dask task per latents file, results written as they complete.

A thin layer over :func:`fastdci.evaluate` on ``dask.distributed``: workers get paths (never
open HDF5 handles), each writes its file's result as soon as it is done (see
:mod:`fastdci.sweep._store` for the names and when a stored result is reused), a failed or
corrupt file becomes a row with its path and error while the others go on, and the return is
one table (a row per file, a column per score, plus the settings), also written as CSV and
Parquet.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Sequence

from ..errors import FastDCIError, InvalidInputError, MissingDependencyError, MissingFileError
from . import _store

__all__ = ["close_client", "evaluate_many", "local_client", "run_tasks"]

SUMMARY = "summary"


def _need_dask():
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - the dask extra is missing
        raise MissingDependencyError(
            "evaluate_many runs on Dask; install it with pip install 'fastdci[dask]'."
        ) from exc
    return distributed


def local_client(n_workers: int | None = None, *, threads: int = 1, gpus: bool = False):
    """A ``Client`` on a new local cluster of worker processes.

    CPU (default): ``n_workers`` processes (default: one per 2 cores), each limited to
    ``threads`` compute threads (Numba, torch, BLAS), so workers do not oversubscribe the cores.
    ``gpus=True``: one worker per visible GPU, with dask-cuda's ``LocalCUDACluster`` where it
    is installed, else one process per device pinned by ``CUDA_VISIBLE_DEVICES``; no GPU
    raises.
    """
    distributed = _need_dask()
    env = {k: str(threads) for k in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                     "OPENBLAS_NUM_THREADS")}
    if gpus:
        return distributed.Client(_gpu_cluster(distributed, env))
    n = n_workers or max(1, (os.cpu_count() or 2) // 2)
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                       env=env)
    return distributed.Client(cluster)


def _gpu_cluster(distributed, env: dict):
    from ..backend import cuda_available

    if not cuda_available():
        raise MissingDependencyError("gpus=True needs a visible CUDA GPU; use the CPU workers (gpus=False).")
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        LocalCUDACluster = None
    if LocalCUDACluster is not None:
        return LocalCUDACluster(threads_per_worker=1, dashboard_address=None)
    import torch

    workers = {f"gpu-{i}": {"cls": distributed.Nanny, "options": {
        "nthreads": 1, "env": dict(env, CUDA_VISIBLE_DEVICES=str(i))}} for i in range(torch.cuda.device_count())}
    scheduler = {"cls": distributed.Scheduler, "options": {"dashboard_address": None}}
    return distributed.SpecCluster(workers=workers, scheduler=scheduler)


def close_client(client) -> None:
    """Close a client, and its cluster when the client started one (a local cluster)."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run_tasks(calls: Sequence[tuple], *, client: Any = None, n_workers: int | None = None, failed=None,
              progress: bool = True) -> list:
    """Run ``calls`` (``(function, args, kwargs)``) as Dask tasks; their results in call order.

    ``client`` None starts a local cluster (closed at the end). A task that raises (a worker
    died, say) gives ``failed(i, exception)`` instead. A progress bar counts completed tasks.
    """
    distributed = _need_dask()
    own = client is None
    client = local_client(n_workers) if own else client
    run = uuid.uuid4().hex[:8]  # task keys unique per call: Dask must not hand back an earlier call's result
    out: dict[int, Any] = {}
    try:
        futures = {client.submit(fn, *args, key=f"fastdci-{fn.__name__}-{run}-{i}", pure=False, **kwargs): i
                   for i, (fn, args, kwargs) in enumerate(calls)}
        bar = _bar(progress, len(calls))
        for future in distributed.as_completed(futures):
            i = futures[future]
            try:
                out[i] = future.result()
            except Exception as exc:
                if failed is None:
                    raise
                out[i] = failed(i, exc)
            if bar is not None:
                bar.advance(out[i])
        if bar is not None:
            bar.close()
    finally:
        if own:
            close_client(client)
    return [out[i] for i in range(len(calls))]


def evaluate_file(path: str, metrics: Sequence[str], metric_options: dict, *, out: str | None, overwrite: bool,
                  backend: str, random_state: Any, progress: bool = False, preset: str | None = None,
                  factor_types: Any = None, factor_bins: int = 20) -> dict:
    """One file: reuse what is stored and still valid, compute the rest, write, return a row.

    Never raises for a bad file: the row says ``status="failed"`` and names the error.
    """
    from ..evaluation import Report, check_metric_options, evaluate

    row: dict[str, Any] = {"file": path, "identity": _store.file_identity(path)}
    try:
        if not Path(path).is_file():
            what = "is a folder, not a latents file" if Path(path).is_dir() else "no such file"
            raise MissingFileError(f"{path}: {what}. Check the path (write one with fastdci encode).")
        checked = check_metric_options(list(metrics), metric_options)
        request = _store.request_for(path, checked, backend=backend, random_state=random_state, preset=preset,
                                     factor_types=factor_types, factor_bins=factor_bins)
        target = Path(out) / f"{row['identity']}.json" if out is not None else None
        stored = None if target is None or overwrite else _store.load(target)
        old = _store.still_valid(stored, request)  # None when the file, seed or backend changed
        fresh = _store.fresh_metrics(old, request)
        todo = [m for m in metrics if m not in fresh]
        kept = Report.from_dict(old) if old is not None else None
        new = None
        if todo:
            new = evaluate(path, todo, backend=backend, random_state=random_state, progress=progress, preset=preset,
                           factor_types=factor_types, factor_bins=factor_bins,
                           **{m: metric_options[m] for m in todo if m in metric_options})
            row["warnings"] = [f"{m} warning: {w}" for m, ws in new.provenance.get("warnings", {}).items() for w in ws]
        report = _merge(kept, new, todo)
        if new is not None and target is not None:
            doc = json.loads(report.to_json())
            old_options = {} if old is None else old["request"]["options"]
            doc["request"] = dict(request, options={**{m: o for m, o in old_options.items() if m not in todo},
                                                    **{m: request["options"][m] for m in todo}})
            from ..io.atomic import write_text_atomic

            write_text_atomic(target, json.dumps(doc, indent=1))
        asked = set(metrics)
        failed = {m: msg for m, msg in report.failed.items() if m in asked}
        row["status"] = "failed" if failed else ("computed" if todo else "stored")
        row["computed"] = ",".join(todo)
        row["error"] = "; ".join(f"{m}: {msg}" for m, msg in failed.items())
        row["skipped"] = "; ".join(f"{m}: {why}" for m, why in report.skipped.items() if m in asked)
        row.update({f"{m}.{k}": v for m, r in report.items() if m in asked
                    for k, v in {**r.scores(), **r.counts()}.items()})
        row["settings"] = json.dumps(request["options"], sort_keys=True)
        row["result_settings"] = json.dumps({m: r.settings for m, r in report.items() if m in asked},
                                            sort_keys=True, default=str)
    except (FastDCIError, OSError, ValueError) as exc:
        row.update(status="failed", error=_error_line(path, exc))
    return row


def _merge(kept, new, todo: Sequence[str]):
    """The stored report with the metrics of ``todo`` replaced by ``new``'s."""
    from ..evaluation import Report

    if kept is None:
        return new
    if new is None:
        return kept
    return Report(results={**{m: r for m, r in kept.results.items() if m not in todo}, **new.results},
                  skipped={**{m: w for m, w in kept.skipped.items() if m not in todo}, **new.skipped},
                  failed=dict(new.failed), provenance=new.provenance)


def _error_line(path: str, exc: BaseException) -> str:
    """One line naming the file (once) and the error."""
    text = " ".join(str(exc).split())
    if isinstance(exc, PermissionError):
        text = f"permission denied ({text}); make the folder writable or choose another --out"
    elif isinstance(exc, OSError) and not isinstance(exc, FastDCIError):
        text = f"cannot be read, it is probably corrupt ({text}); copy or write it again"
    return text if path in text else f"{path}: {text}"


def evaluate_many(
    paths: Sequence[str | os.PathLike],
    metrics: str | Sequence[str] = "all",
    *,
    client: Any = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    backend: str = "auto",
    random_state: int = 0,
    progress: bool = True,
    n_workers: int | None = None,
    preset: str | None = None,
    factor_types: Any = None,
    factor_bins: int = 20,
    **metric_options: dict,
):
    """Evaluate many latents files on a Dask cluster; one row per file.

    Parameters
    ----------
    paths : sequence of str or PathLike
        Latents files (duplicates are evaluated once).
    metrics : str or sequence of str, default "all"
        As in :func:`fastdci.evaluate`; checked before any task starts.
    client : dask.distributed.Client, optional
        The cluster to run on; default: a new ``LocalCluster`` (:func:`local_client`),
        closed at the end.
    out : str or PathLike, optional
        Folder for one JSON per file (named by :func:`~fastdci.sweep._store.file_identity`)
        and the table (``summary.csv``, ``summary.parquet``). With it, a rerun reuses every
        stored metric whose file, seed, backend and options are unchanged and computes the
        rest; without it nothing is stored.
    overwrite : bool, default False
        Recompute everything even where a valid result is stored.
    backend, random_state, preset, factor_types, factor_bins, **metric_options
        As in :func:`fastdci.evaluate`.
    progress : bool, default True
        A progress bar on stderr over completed files.
    n_workers : int, optional
        Workers of the default ``LocalCluster``.

    Returns
    -------
    pandas.DataFrame
        One row per file (in the order given): ``file``, ``identity``, ``status``
        (``computed``, ``stored`` or ``failed``), ``error``, ``skipped``, one column per score
        and count (``mig.mig``, ``dci.disentanglement``, ...) and ``settings`` (each metric's
        checked options, as JSON).
    """
    import pandas as pd

    from ..evaluation import check_metric_options
    from ..metrics.registry import check_random_state, resolve_metrics

    names = resolve_metrics(metrics)
    check_metric_options(names, metric_options)  # one clear error before any task starts
    random_state = check_random_state(random_state)
    files = [str(p) for p in dict.fromkeys(os.fspath(p) for p in paths)]
    if not files:
        raise InvalidInputError("no latents files were given; pass at least one path.")
    calls = [(evaluate_file, (f, names, dict(metric_options)),
              dict(out=None if out is None else str(out), overwrite=overwrite, backend=backend,
                   random_state=random_state, preset=preset, factor_types=factor_types,
                   factor_bins=factor_bins)) for f in files]

    def failed(i: int, exc: BaseException) -> dict:
        return {"file": files[i], "identity": _store.file_identity(files[i]), "status": "failed",
                "error": f"{files[i]}: {type(exc).__name__}: {exc}"}

    rows = run_tasks(calls, client=client, n_workers=n_workers, failed=failed, progress=progress)
    table = pd.DataFrame(rows)
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        table.to_csv(Path(out) / f"{SUMMARY}.csv", index=False)
        table.to_parquet(Path(out) / f"{SUMMARY}.parquet", index=False)
    return table


class _Bar:
    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("files"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                           TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._p.start()
        self._t = self._p.add_task("", total=total)
        self.failed = 0

    def advance(self, row: dict) -> None:
        self.failed += row.get("status") == "failed"
        self._p.update(self._t, advance=1, description=f"{self.failed} failed" if self.failed else "")

    def close(self) -> None:
        self._p.stop()


def _bar(show: bool, total: int):
    import sys

    return _Bar(total) if show and sys.stderr.isatty() else None
