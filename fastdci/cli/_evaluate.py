"""``fastdci evaluate FILE...``: many files, stored per file, serial or on Dask."""

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
             "dcimig.dcimig", "infomec.infom", "infomec.infoc", "infomec.infoe",
             "unsupervised.gaussian_total_correlation", "unsupervised.mutual_info_score"]


@app.command()
def evaluate(
    files: List[str] = typer.Argument(..., help="Latents files (.h5); globs such as 'runs/*/latents.h5' work."),
    metrics: str = typer.Option("all", "--metrics", "-m", help="Comma-separated metrics or families, or 'all'."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for one JSON result per file (and, "
                                       "with --workers or --scheduler, summary.csv / summary.parquet)."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json on stdout."),
    backend: str = typer.Option("auto", "--backend", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed", help="Random seed of every metric."),
    preset: Optional[str] = typer.Option(None, "--preset", help="disentanglement_lib: its protocol (point counts, "
                                         "draws, batch sizes, bins) on a complete factor grid; no --set."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute even where --out holds a valid result."),
    set_: List[str] = typer.Option([], "--set", help="Metric option METRIC.OPTION=VALUE, e.g. dci.max_train=100000."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Run on a local Dask cluster of N worker "
                                          "processes (the dask extra)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on an existing Dask scheduler, e.g. "
                                            "tcp://host:8786."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Also write the table (a row per file) as CSV."),
    factor_types: Optional[str] = typer.Option(None, "--factor-types", help="continuous (every factor) or one "
                                               "type per factor, comma-separated (discrete,continuous,...): "
                                               "continuous factors are scored on the file's /factors/values."),
    factor_bins: int = typer.Option(20, "--factor-bins", min=2, help="Equal-width bins of each continuous "
                                    "factor, for the metrics that count classes."),
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
    if preset is not None:
        from ..presets import PRESETS

        if preset not in PRESETS:
            raise InvalidInputError(f"--preset must be one of {list(PRESETS)}; got {preset!r}.")
        if options:
            raise InvalidInputError(f"--preset {preset} fixes every metric's options; drop the --set options or the preset.")
    types = None if factor_types is None else (
        factor_types if "," not in factor_types else [t.strip() for t in factor_types.split(",")])
    bad = [t for t in ([types] if isinstance(types, str) else types or []) if t not in ("discrete", "continuous")]
    if bad:
        raise InvalidInputError(f"--factor-types takes 'discrete' or 'continuous' (one, or one per factor, "
                                f"comma-separated); got {bad[0]!r}.")
    if types is not None and preset is not None:
        raise InvalidInputError(f"--preset {preset} scores the factor classes; drop --factor-types or the preset.")
    paths, unmatched = _expand(files)
    if workers is not None and scheduler is not None:
        raise InvalidInputError("pass --workers (a local cluster) or --scheduler (an existing one), not both.")
    if out is not None:
        _check_writable(out)
    rows: list[dict] = []
    try:
        if workers is not None or scheduler is not None:
            rows = _on_dask(paths, names, options, out, overwrite, backend, seed, workers, scheduler, no_progress,
                            preset, types, factor_bins)
        else:
            for path in paths:
                rows.append(evaluate_file(str(path), names, options, out=None if out is None else str(out),
                                          overwrite=overwrite, backend=backend, random_state=seed,
                                          progress=show_progress(no_progress), preset=preset, factor_types=types,
                                          factor_bins=factor_bins))
                _say(rows[-1])
    except KeyboardInterrupt:
        where = (f"the results of finished files are stored in {out}: rerun the same command to compute the rest"
                 if out is not None else "nothing was stored (no --out): add --out DIR to keep results across runs")
        print(f"interrupted after {len(rows)} of {len(paths)} files; {where}.", file=sys.stderr)
        raise typer.Exit(130) from None
    failures = unmatched + sum(r.get("status") == "failed" for r in rows)
    if csv is not None:
        _write_csv(csv, rows)
    if format == OutputFormat.json:
        print_json(rows)
    elif rows:
        _print_scores(rows)
        if preset is not None:
            print(f"  preset: {preset} (its draws, point counts, batch sizes and bins; see fastdci.presets)")
    for r in rows:
        if r.get("status") == "failed":
            print(f"error: {r['error']}", file=sys.stderr)
    if failures:
        print(f"{failures} of {len(rows) + unmatched} inputs failed (see the errors above).", file=sys.stderr)
        raise typer.Exit(1)


def _labels(paths: list[str]) -> list[str]:
    """Short column labels: the file stems, with the parent folder where stems repeat."""
    stems = [Path(p).stem for p in paths]
    return [f"{Path(p).parent.name}/{st}" if stems.count(st) > 1 else st for p, st in zip(paths, stems)]


def _print_scores(rows: list[dict]) -> None:
    """A score per row and a file per column (readable at 80 columns for a few files); the
    file behind each column label is listed below the table."""
    ok = [r for r in rows if r.get("status") != "failed"]
    if not ok:
        return
    keys = [c for c in _HEADLINE if any(c in r for r in ok)]
    labels = _labels([r["file"] for r in ok])
    table = [[_SHORT.get(k, k), *[_fixed(r.get(k)) for r in ok]] for k in keys]
    print_table(None, ["score", *labels], table)
    if len(ok) > 1 or labels[0] != ok[0]["file"]:
        for label, r in zip(labels, ok):
            print(f"  {label}: {r['file']}")
    for label, r in zip(labels, ok):
        if "dci.disentanglement" in r:
            st = json.loads(r.get("result_settings", "{}")).get("dci", {})
            reg = st.get("regressor_settings", {})
            shown = {k: reg[k] for k in ("max_depth", "n_rounds", "learning_rate", "importance", "C") if k in reg}
            print(f"  DCI ({label}): {st.get('regressor', '?')} "
                  + ", ".join(f"{k} {v}" for k, v in shown.items()) + f"; fitted on {r.get('dci.n_train', '?')} rows")


def _fixed(v) -> str:
    if v is None or v == "":
        return ""
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _write_csv(path: Path, rows: list[dict]) -> None:
    import csv as csvlib
    import io

    from ..io.atomic import write_text_atomic

    keys = list(dict.fromkeys(k for r in rows for k in r if k != "warnings"))
    buf = io.StringIO()
    w = csvlib.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _check_writable(out: Path) -> None:
    """Refuse an --out folder that cannot be created or written, before any work."""
    import tempfile

    from ..errors import OutputExistsError

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".fastdci-probe-"):
            pass
    except FileExistsError:
        raise OutputExistsError(f"--out {out} is a file, not a folder; choose a folder for the results.") from None
    except OSError as exc:
        from ..errors import InvalidInputError

        raise InvalidInputError(f"cannot write results to --out {out} ({exc.strerror or exc}); make it writable "
                                "or choose another folder.") from None


def _say(row: dict) -> None:
    """One line on stderr per file: what was computed, reused, skipped or warned."""
    if row.get("status") == "stored":
        print(f"{row['file']}: stored result reused (--overwrite to recompute)", file=sys.stderr)
    for part in filter(None, (row.get("skipped") or "").split("; ")):
        print(f"{row['file']}: {part.replace(': ', ' skipped: ', 1)}", file=sys.stderr)
    for msg in row.get("warnings", []):
        print(f"{row['file']}: {msg}", file=sys.stderr)


def _on_dask(paths, names, options, out, overwrite, backend, seed, workers, scheduler, no_progress,
             preset=None, factor_types=None, factor_bins: int = 20) -> list[dict]:
    from ..sweep import evaluate_many, local_client
    from ..sweep.many import _need_dask, close_client

    distributed = _need_dask()
    client = distributed.Client(scheduler) if scheduler is not None else local_client(workers)
    try:
        table = evaluate_many(paths, names, client=client, out=out, overwrite=overwrite, backend=backend,
                              random_state=seed, progress=not no_progress, preset=preset,
                              factor_types=factor_types, factor_bins=factor_bins, **options)
    finally:
        close_client(client)
    rows = [{k: v for k, v in r.items() if v == v} for r in table.to_dict("records")]  # drop NaN cells
    for r in rows:
        _say(r)
    return rows


_SHORT = {"mig.mig": "MIG", "dci.disentanglement": "DCI-D", "dci.completeness": "DCI-C",
          "dci.informativeness_test": "DCI-I(test)", "sap.sap": "SAP", "modularity.modularity": "modularity",
          "explicitness.explicitness_test": "explicitness", "beta_vae.eval_accuracy": "BetaVAE",
          "factor_vae.eval_accuracy": "FactorVAE", "z_max.eval_accuracy": "Z-max", "irs.irs": "IRS",
          "mig_sup.mig_sup": "MIG-sup", "jemmig.jemmig": "JEMMIG", "dcimig.dcimig": "DCIMIG",
          "infomec.infom": "InfoM", "infomec.infoc": "InfoC", "infomec.infoe": "InfoE",
          "unsupervised.gaussian_total_correlation": "Gaussian TC", "unsupervised.mutual_info_score": "latent MI"}
