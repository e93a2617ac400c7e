"""``sweep``: train, encode and evaluate a grid of models (objective x beta x seed) on Dask.

Each model is one task with its own folder ``OUT/runs/<objective>-beta<beta>-seed<seed>/``
(the run, ``latents.h5`` and its result JSON). Every step resumes: training continues from its
checkpoint, encoding from the rows already written, and a result whose file and settings are
unchanged is kept; so a killed sweep, rerun with the same command, finishes only what is
missing. The return is one table, a row per model, also written as ``OUT/sweep.csv`` and
``OUT/sweep.parquet``; ``OUT/comparison.csv`` and ``OUT/comparison.png`` give each (objective,
beta)'s mean ± sd over its seeds (:mod:`.compare`).
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any, Sequence

from ..errors import FastDCIError, InvalidInputError
from .many import _error_line

__all__ = ["sweep"]


def _model_dir(out: Path, objective: str, beta: float, seed: int) -> Path:
    return out / "runs" / f"{objective}-beta{beta:g}-seed{seed}"


def train_encode_evaluate(folder: str, config: dict, *, rows: int | None, metrics: Sequence[str],
                          metric_options: dict, random_state: int) -> dict:
    """One model: train (or resume), encode (or resume), evaluate; a row of the table."""
    from ..encode import encode
    from ..io import open_latents
    from ..train import CHECKPOINT_NAME, read_checkpoint, train
    from .many import evaluate_file

    folder_p = Path(folder)
    row: dict[str, Any] = {"objective": config["objective"], "beta": config["beta"], "seed": config["seed"],
                           "folder": folder}
    try:
        run = folder_p / "run"
        ckpt = run / CHECKPOINT_NAME
        done = ckpt.exists() and read_checkpoint(ckpt)["step"] >= config["steps"]
        if not done:
            train(dict(config, out=str(run)), resume=ckpt.exists(), progress=False)
        latents = folder_p / "latents.h5"
        complete = False
        if latents.exists():
            try:
                with open_latents(latents):
                    complete = True
            except FastDCIError:
                complete = False
        if not complete:
            encode(run, latents, rows=rows, seed=config["seed"], resume=latents.exists(), progress=False,
                   device=config.get("device", "auto"))
        result = evaluate_file(str(latents), metrics, metric_options, out=str(folder_p), overwrite=False,
                               backend=config.get("device", "auto"), random_state=random_state)
        row.update({k: v for k, v in result.items() if k not in ("file", "identity")})
        row["latents"] = str(latents)
    except (FastDCIError, OSError, ValueError, RuntimeError) as exc:
        row.update(status="failed", error=_error_line(folder, exc))
    return row


def sweep(out: str | os.PathLike, *, objectives: Sequence[str] = ("beta",), betas: Sequence[float] = (4.0,),
          seeds: Sequence[int] = (0,), steps: int = 2000, rows: int | None = 20_000,
          metrics: str | Sequence[str] = "all", client: Any = None, n_workers: int | None = None,
          progress: bool = True, random_state: int = 0, train_options: dict | None = None,
          **metric_options: dict):
    """Train, encode and evaluate every (objective, beta, seed) model; one row per model.

    Parameters
    ----------
    out : str or PathLike
        The sweep's folder (see the module docstring for its layout).
    objectives, betas, seeds : sequences
        The grid: every combination is one model.
    steps : int, default 2000
        Training steps per model.
    rows : int or None, default 20000
        Dataset rows each model encodes (None: all 737,280; the intervention metrics need the
        full grid).
    metrics, random_state, **metric_options
        As in :func:`fastdci.evaluate`.
    client, n_workers, progress
        As in :func:`fastdci.evaluate_many`.
    train_options : dict, optional
        Other :class:`~fastdci.train.TrainConfig` fields (``batch_size``, ``lr``, ``device``...).

    Returns
    -------
    pandas.DataFrame
        ``objective``, ``beta``, ``seed``, ``status``, ``error`` and one column per score.
    """
    import pandas as pd

    from ..evaluation import check_metric_options
    from ..io.atomic import write_text_atomic
    from ..metrics.registry import resolve_metrics
    from ..train import TrainConfig
    from .many import run_tasks

    names = resolve_metrics(metrics)
    check_metric_options(names, metric_options)
    out_p = Path(out)
    grid = list(itertools.product(objectives, betas, seeds))
    if not grid:
        raise InvalidInputError("the grid is empty; give at least one objective, beta and seed.")
    configs = []
    for objective, beta, seed in grid:
        cfg = dict(train_options or {}, objective=objective, beta=float(beta), seed=int(seed), steps=int(steps))
        TrainConfig(out=str(_model_dir(out_p, objective, beta, seed) / "run"), **cfg).validate()  # fail early
        configs.append(cfg)
    calls = [(train_encode_evaluate, (str(_model_dir(out_p, c["objective"], c["beta"], c["seed"])), c),
              dict(rows=rows, metrics=names, metric_options=dict(metric_options), random_state=random_state))
             for c in configs]

    def failed(i: int, exc: BaseException) -> dict:
        c = configs[i]
        return {"objective": c["objective"], "beta": c["beta"], "seed": c["seed"], "status": "failed",
                "error": f"{type(exc).__name__}: {exc}"}

    table = pd.DataFrame(run_tasks(calls, client=client, n_workers=n_workers, failed=failed, progress=progress))
    out_p.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_p / "sweep.csv", index=False)
    table.to_parquet(out_p / "sweep.parquet", index=False)
    from .compare import plot_comparison, summarize

    summary = summarize(table)
    if len(summary):
        summary.to_csv(out_p / "comparison.csv", index=False)
        plot_comparison(summary, out_p / "comparison.png")
    write_text_atomic(out_p / "sweep.json", json.dumps({"objectives": list(objectives), "betas": list(betas),
                                                  "seeds": list(seeds), "steps": steps, "rows": rows,
                                                  "metrics": names}, indent=1))
    return table
