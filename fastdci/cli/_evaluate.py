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


def _expand(files: list[str]) -> list[Path]:
    out: list[Path] = []
    for f in files:
        hits = sorted(glob.glob(f)) if any(c in f for c in "*?[") else [f]
        if not hits:
            print(f"error: {f}: no file matches this pattern", file=sys.stderr)
        out += [Path(h) for h in hits]
    return list(dict.fromkeys(out))


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


def _row(name: str, scores: dict[str, dict[str, float]], columns: list[str]) -> list:
    flat = {f"{m}.{k}": v for m, sc in scores.items() for k, v in sc.items()}
    return [name, *[flat.get(c, "") for c in columns]]


_HEADLINE = ["mig.mig", "dci.disentanglement", "dci.completeness", "dci.informativeness_test", "sap.sap",
             "modularity.modularity", "explicitness.explicitness_test", "beta_vae.eval_accuracy",
             "factor_vae.eval_accuracy", "z_max.eval_accuracy", "irs.irs", "mig_sup.mig_sup", "jemmig.jemmig",
             "dcimig.dcimig"]


@app.command()
def evaluate(
    files: List[str] = typer.Argument(..., help="Latents files (.h5); globs such as 'runs/*/latents.h5' work."),
    metrics: str = typer.Option("all", "--metrics", "-m", help="Comma-separated metrics or families, or 'all'."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for one JSON result per file."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json on stdout."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed of every metric."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute files whose result JSON exists in --out."),
    set_: List[str] = typer.Option([], "--set", help="Metric option METRIC.OPTION=VALUE, e.g. dci.max_train=100000."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
) -> None:
    """Compute disentanglement metrics for many latents files; resumable with --out."""
    from ..metrics.registry import resolve_metrics
    from ..errors import FastDCIError

    names = resolve_metrics(metrics)
    options = _parse_sets(set_)
    paths = _expand(files)
    failures = 0 if paths else 1
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    table: list[list] = []
    docs: list[dict] = []
    stems: dict[str, int] = {}
    for path in paths:
        stem = path.stem if path.parent.name in ("", ".") else f"{path.parent.name}_{path.stem}"
        stems[stem] = stems.get(stem, 0) + 1
        if stems[stem] > 1:
            stem = f"{stem}_{stems[stem]}"
        target = out / f"{stem}.json" if out is not None else None
        if target is not None and target.exists() and not overwrite:
            try:
                doc = json.loads(target.read_text())
                scores = _unflatten(doc.get("scores", {}))
            except (json.JSONDecodeError, OSError):
                doc, scores = None, None
            if doc is not None:
                print(f"{path}: skipped, {target} exists (--overwrite to redo)", file=sys.stderr)
                table.append(_row(str(path), scores, _HEADLINE))
                docs.append({"file": str(path), "result": str(target), "skipped": True, **doc})
                continue
        try:
            from ..evaluation import evaluate as run

            report = run(path, names, backend=backend, random_state=seed, progress=show_progress(no_progress),
                         **options)
        except FastDCIError as exc:
            failures += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        print_problems(report, f"{path}: ")
        if report.failed:
            failures += 1
        if target is not None:
            report.to_json(target)
        table.append(_row(str(path), report.scores(), _HEADLINE))
        docs.append({"file": str(path), "result": str(target) if target else None, **report.to_dict("flat")})
    if format == OutputFormat.json:
        print_json(docs)
    elif table:
        cols = [c for i, c in enumerate(_HEADLINE) if any(r[i + 1] != "" for r in table)]
        idx = [_HEADLINE.index(c) + 1 for c in cols]
        print_table(None, ["file", *[_SHORT.get(c, c) for c in cols]], [[r[0], *[r[i] for i in idx]] for r in table])
    if failures:
        raise typer.Exit(1)


_SHORT = {"mig.mig": "MIG", "dci.disentanglement": "DCI-D", "dci.completeness": "DCI-C",
          "dci.informativeness_test": "DCI-I(test)", "sap.sap": "SAP", "modularity.modularity": "modularity",
          "explicitness.explicitness_test": "explicitness", "beta_vae.eval_accuracy": "BetaVAE",
          "factor_vae.eval_accuracy": "FactorVAE", "z_max.eval_accuracy": "Z-max", "irs.irs": "IRS",
          "mig_sup.mig_sup": "MIG-sup", "jemmig.jemmig": "JEMMIG", "dcimig.dcimig": "DCIMIG"}


def _unflatten(flat: dict) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, v in flat.items():
        m, _, k = key.partition(".")
        out.setdefault(m, {})[k] = v
    return out


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
