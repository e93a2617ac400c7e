"""``fastdci report [FILE] --out DIR [--from RESULT.json] [--checkpoint RUN]``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import app
from ._common import print_table, show_progress


def _load_result(path: Path, file: Optional[Path]):
    """The report stored at ``path`` (a ``Report.to_json`` file, an ``evaluate --out`` result, or
    the ``evaluate --out`` folder, then FILE's result in it) and the latents file it was computed on."""
    from ..errors import InvalidInputError, MissingFileError
    from ..evaluation import Report

    if path.is_dir():
        if file is None:
            raise InvalidInputError(f"--from {path} is a folder: name the latents file too (fastdci report FILE "
                                    f"--from {path}) or pass its result file, {path}/NAME.json.")
        from ..sweep._store import file_identity

        target = path / f"{file_identity(file)}.json"
        if not target.is_file():
            raise MissingFileError(f"{path} holds no result for {file} (no {target.name}); compute it with "
                                   f"fastdci evaluate {file} --out {path}.")
        path = target
    if not path.is_file():
        raise MissingFileError(f"--from {path}: no such file; pass a result written by fastdci evaluate --out DIR "
                               "or Report.to_json.")
    import json

    try:
        doc = json.loads(path.read_text())
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        report = Report.from_json(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"--from {path} is not a fastdci result ({exc}); pass a file written by "
                                "fastdci evaluate --out DIR or Report.to_json.") from None
    stored_for = (doc.get("request") or {}).get("file") or report.provenance.get("source")
    if file is not None and stored_for not in (None, "arrays") and Path(stored_for).resolve() != file.resolve():
        raise InvalidInputError(f"--from {path} holds the result of {stored_for}, not {file}; pass that file's "
                                "result or drop FILE.")
    return report, None if stored_for in (None, "arrays") else Path(stored_for)


def _only(report, metrics: str):
    """The report restricted to ``metrics``; a metric it lacks is an error naming the fix."""
    import dataclasses

    from ..errors import InvalidInputError
    from ..metrics.registry import resolve_metrics

    names = resolve_metrics(metrics)
    missing = [m for m in names if m not in report and m not in report.skipped and m not in report.failed]
    if missing:
        raise InvalidInputError(f"the stored result has no {', '.join(missing)}; compute it with fastdci evaluate "
                                f"--metrics {','.join(missing)} --out DIR, or drop it from --metrics.")
    keep = set(names)
    return dataclasses.replace(report, results={m: r for m, r in report.results.items() if m in keep},
                               skipped={m: w for m, w in report.skipped.items() if m in keep},
                               failed={m: e for m, e in report.failed.items() if m in keep})


@app.command()
def report(
    file: Optional[Path] = typer.Argument(None, help="A latents file (.h5); optional with --from when the "
                                          "result names it."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the PNG plots, report.json and index.html."),
    from_: Optional[Path] = typer.Option(None, "--from", help="Reuse a result instead of evaluating: a JSON "
                                         "written by fastdci evaluate --out DIR (or that folder, with FILE) "
                                         "or by Report.to_json."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Training run folder: adds the KL per "
                                              "latent, training curves, reconstructions and traversals."),
    metrics: Optional[str] = typer.Option(None, "--metrics", "-m", help="Comma-separated metrics or families, "
                                          "or 'all' (default); with --from, the stored ones to show."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed"),
    set_: List[str] = typer.Option([], "--set", help="Metric option METRIC.OPTION=VALUE."),
    no_progress: bool = typer.Option(False, "--no-progress"),
    factor_types: Optional[str] = typer.Option(None, "--factor-types", help="continuous, or one type per factor "
                                               "(comma-separated), as fastdci evaluate takes it."),
    factor_bins: int = typer.Option(20, "--factor-bins", min=2, help="Bins of each continuous factor."),
) -> None:
    """Evaluate FILE (or reuse a stored result with --from) and write PNG plots and a static HTML page into --out."""
    from ..errors import InvalidInputError
    from ..report import score_rows, write_report
    from ._evaluate import _parse_sets, print_problems

    if from_ is not None:
        if factor_types is not None:
            raise InvalidInputError("--factor-types changes how metrics are computed, but --from reuses a stored "
                                    "result (which records its factor types); drop one of them.")
        if set_:
            raise InvalidInputError("--set changes how metrics are computed, but --from reuses a stored result; "
                                    "drop --set, or drop --from to evaluate again.")
        rep, stored_for = _load_result(from_, file)
        if metrics is not None:
            rep = _only(rep, metrics)
        latents = file if file is not None else stored_for
    else:
        if file is None:
            raise InvalidInputError("name a latents file (fastdci report FILE --out DIR) or a stored result "
                                    "(--from RESULT.json).")
        from ..evaluation import evaluate as run

        types = None if factor_types is None else [t.strip() for t in factor_types.split(",")]
        rep = run(file, metrics or "all", backend=backend, random_state=seed, progress=show_progress(no_progress),
                  factor_types=types[0] if types is not None and len(types) == 1 else types,
                  factor_bins=factor_bins, **_parse_sets(set_))
        latents = file
    page = write_report(rep, out, latents_path=latents, checkpoint=checkpoint)
    print_table(None, ["metric", "score", "value"], score_rows(rep))
    print_problems(rep)
    typer.echo(f"report: {page}")
    if rep.failed:
        raise typer.Exit(1)
