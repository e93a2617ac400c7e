"""``fastdci evaluate FILE...`` and ``fastdci report FILE --out DIR``."""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import app
from ._common import OutputFormat, print_json, print_table, show_progress


def _expand(files: list[str]) -> tuple[list[Path], int]:
    """The files the arguments name (globs expanded) and how many patterns matched nothing."""
    out: list[Path] = []
    unmatched = 0
    for f in files:
        hits = sorted(glob.glob(f)) if any(c in f for c in "*?[") else [f]
        if not hits:
            unmatched += 1
            print(f"error: {f}: no file matches this pattern; check the path and quote the glob", file=sys.stderr)
        out += [Path(h) for h in hits]
    return list(dict.fromkeys(out)), unmatched


def _parse_sets(sets: list[str]) -> dict[str, dict]:
    """``--set dci.max_train=100000`` -> ``{"dci": {"max_train": 100000}}`` (values as JSON)."""
    from ..errors import InvalidInputError

    opts: dict[str, dict] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        metric, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise InvalidInputError(f"--set expects METRIC.OPTION=VALUE (e.g. dci.max_train=100000); got {item!r}.")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        opts.setdefault(metric, {})[name] = value
    return opts


def print_problems(report, prefix: str = "") -> None:
    """The report's failed, skipped and warned metrics, one line each, on stderr."""
    for m, msg in report.failed.items():
        print(f"{prefix}{m} failed: {msg}", file=sys.stderr)
    for m, why in report.skipped.items():
        print(f"{prefix}{m} skipped: {why}", file=sys.stderr)
    for m, msgs in report.provenance.get("warnings", {}).items():
        for msg in msgs:
            print(f"{prefix}{m} warning: {msg}", file=sys.stderr)


_HEADLINE = ["mig.mig", "dci.disentanglement", "dci.completeness", "dci.informativeness_test", "sap.sap",
             "modularity.modularity", "explicitness.explicitness_test", "beta_vae.eval_accuracy",
             "factor_vae.eval_accuracy", "z_max.eval_accuracy", "irs.irs", "mig_sup.mig_sup", "jemmig.jemmig",
             "dcimig.dcimig"]


@app.command()
def evaluate(
    files: List[str] = typer.Argument(..., help="Latents files (.h5); globs such as 'runs/*/latents.h5' work."),
    metrics: str = typer.Option("all", "--metrics", "-m", help="Comma-separated metrics or families, or 'all'."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for one JSON result per file (and, "
                                       "with --workers or --scheduler, summary.csv / summary.parquet)."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json on stdout."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed of every metric."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute even where --out holds a valid result."),
    set_: List[str] = typer.Option([], "--set", help="Metric option METRIC.OPTION=VALUE, e.g. dci.max_train=100000."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Run on a local Dask cluster of N worker "
                                          "processes (the dask extra)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on an existing Dask scheduler, e.g. "
                                            "tcp://host:8786."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
) -> None:
    """Compute disentanglement metrics for many latents files; resumable with --out.

    With --out, each file's result is stored under a name derived from the file's path, with
    the metrics, options, seed and backend it was computed with: a rerun reuses what still
    matches and computes the rest.
    """
    from ..errors import InvalidInputError
    from ..evaluation import check_metric_options
    from ..metrics.registry import resolve_metrics
    from ..sweep.many import evaluate_file

    names = resolve_metrics(metrics)
    options = _parse_sets(set_)
    check_metric_options(names, options)
    paths, unmatched = _expand(files)
    if workers is not None and scheduler is not None:
        raise InvalidInputError("pass --workers (a local cluster) or --scheduler (an existing one), not both.")
    if workers is not None or scheduler is not None:
        rows = _on_dask(paths, names, options, out, overwrite, backend, seed, workers, scheduler, no_progress)
    else:
        rows = []
        for path in paths:
            rows.append(evaluate_file(str(path), names, options, out=None if out is None else str(out),
                                      overwrite=overwrite, backend=backend, random_state=seed,
                                      progress=show_progress(no_progress)))
            _say(rows[-1])
    failures = unmatched + sum(r.get("status") == "failed" for r in rows)
    if format == OutputFormat.json:
        print_json(rows)
    elif rows:
        ok = [r for r in rows if r.get("status") != "failed"]
        cols = [c for c in _HEADLINE if any(c in r for r in ok)]
        print_table(None, ["file", *[_SHORT.get(c, c) for c in cols]],
                    [[r["file"], *[r.get(c, "") for c in cols]] for r in ok])
    for r in rows:
        if r.get("status") == "failed":
            print(f"error: {r['error']}", file=sys.stderr)
    if failures:
        print(f"{failures} of {len(rows) + unmatched} inputs failed (see the errors above).", file=sys.stderr)
        raise typer.Exit(1)


def _say(row: dict) -> None:
    """One line on stderr per file: what was computed, reused, skipped or warned."""
    if row.get("status") == "stored":
        print(f"{row['file']}: stored result reused (--overwrite to recompute)", file=sys.stderr)
    for part in filter(None, (row.get("skipped") or "").split("; ")):
        print(f"{row['file']}: {part.replace(': ', ' skipped: ', 1)}", file=sys.stderr)
    for msg in row.get("warnings", []):
        print(f"{row['file']}: {msg}", file=sys.stderr)


def _on_dask(paths, names, options, out, overwrite, backend, seed, workers, scheduler, no_progress) -> list[dict]:
    from ..sweep import evaluate_many, local_client
    from ..sweep.many import _need_dask

    distributed = _need_dask()
    client = distributed.Client(scheduler) if scheduler is not None else local_client(workers)
    try:
        table = evaluate_many(paths, names, client=client, out=out, overwrite=overwrite, backend=backend,
                              random_state=seed, progress=not no_progress, **options)
    finally:
        cluster = getattr(client, "cluster", None) if scheduler is None else None
        client.close()
        if cluster is not None:
            cluster.close()
    rows = [{k: v for k, v in r.items() if v == v} for r in table.to_dict("records")]  # drop NaN cells
    for r in rows:
        _say(r)
    return rows


_SHORT = {"mig.mig": "MIG", "dci.disentanglement": "DCI-D", "dci.completeness": "DCI-C",
          "dci.informativeness_test": "DCI-I(test)", "sap.sap": "SAP", "modularity.modularity": "modularity",
          "explicitness.explicitness_test": "explicitness", "beta_vae.eval_accuracy": "BetaVAE",
          "factor_vae.eval_accuracy": "FactorVAE", "z_max.eval_accuracy": "Z-max", "irs.irs": "IRS",
          "mig_sup.mig_sup": "MIG-sup", "jemmig.jemmig": "JEMMIG", "dcimig.dcimig": "DCIMIG"}


@app.command()
def report(
    file: Path = typer.Argument(..., help="A latents file (.h5)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the PNG plots, report.json and index.html."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Training run folder: adds "
                                              "reconstructions and latent traversals."),
    metrics: str = typer.Option("all", "--metrics", "-m", help="Comma-separated metrics or families, or 'all'."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed"),
    set_: List[str] = typer.Option([], "--set", help="Metric option METRIC.OPTION=VALUE."),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Evaluate FILE and write PNG plots and a static HTML page into --out."""
    from ..evaluation import evaluate as run
    from ..report import score_rows, write_report

    rep = run(file, metrics, backend=backend, random_state=seed, progress=show_progress(no_progress),
              **_parse_sets(set_))
    page = write_report(rep, out, latents_path=file, checkpoint=checkpoint)
    print_table(None, ["metric", "score", "value"], score_rows(rep))
    print_problems(rep)
    typer.echo(f"report: {page}")
    if rep.failed:
        raise typer.Exit(1)
