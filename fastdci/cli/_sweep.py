"""``fastdci sweep``: train, encode and evaluate a grid of models on a Dask cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import app
from ._common import OutputFormat, print_json, print_table


def _list(text: str, kind, name: str) -> list:
    from ..errors import InvalidInputError

    try:
        return [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidInputError(f"--{name} takes comma-separated {kind.__name__} values; got {text!r}.") from None


@app.command()
def sweep(
    out: Path = typer.Option(..., "--out", "-o", help="The sweep's folder: runs/<model>/ and sweep.csv/.parquet."),
    objective: str = typer.Option("beta", "--objective", help="Comma-separated objectives: beta, annealed, tcvae."),
    beta: str = typer.Option("4", "--beta", help="Comma-separated beta values."),
    seed: str = typer.Option("0", "--seed", help="Comma-separated training seeds."),
    steps: int = typer.Option(2000, "--steps", help="Training steps per model."),
    rows: int = typer.Option(20000, "--rows", help="Dataset rows each model encodes."),
    metrics: str = typer.Option("information,predictor", "--metrics", "-m",
                                help="Metrics to evaluate (the intervention metrics need --rows covering the grid)."),
    set_: List[str] = typer.Option([], "--set", help="Metric option METRIC.OPTION=VALUE."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (training, encoding, metrics)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes of a local Dask cluster."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="An existing Dask scheduler's address."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json on stdout."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
) -> None:
    """Train, encode and evaluate every (objective, beta, seed) model; rerun to resume."""
    from ..errors import InvalidInputError
    from ..sweep import local_client
    from ..sweep import sweep as run_sweep
    from ..sweep.many import _need_dask, close_client
    from ._evaluate import _parse_sets

    if workers is not None and scheduler is not None:
        raise InvalidInputError("pass --workers (a local cluster) or --scheduler (an existing one), not both.")
    objectives = _list(objective, str, "objective")
    betas, seeds = _list(beta, float, "beta"), _list(seed, int, "seed")
    distributed = _need_dask()
    client = distributed.Client(scheduler) if scheduler is not None else local_client(workers)
    try:
        table = run_sweep(out, objectives=objectives, betas=betas, seeds=seeds, steps=steps, rows=rows,
                          metrics=metrics, client=client, progress=not no_progress,
                          train_options={"device": device}, **_parse_sets(set_))
    finally:
        close_client(client)
    rows_out = [{k: v for k, v in r.items() if v == v} for r in table.to_dict("records")]
    if format == OutputFormat.json:
        print_json(rows_out)
    else:
        cols = [c for c in ("mig.mig", "dci.disentanglement", "dci.completeness", "sap.sap", "modularity.modularity")
                if c in table.columns]
        print_table(None, ["objective", "beta", "seed", "status", *cols],
                    [[r["objective"], r["beta"], r["seed"], r.get("status", ""), *[r.get(c, "") for c in cols]]
                     for r in rows_out])
    failed = [r for r in rows_out if r.get("status") == "failed"]
    for r in failed:
        print(f"error: {r.get('error')}", file=sys.stderr)
    print(f"table: {out / 'sweep.csv'}", file=sys.stderr)
    if failed:
        raise typer.Exit(1)
