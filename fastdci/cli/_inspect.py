"""``fastdci inspect FILE``: what a latents file holds."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app
from ._common import OutputFormat, print_json, print_table


@app.command()
def inspect(
    file: Path = typer.Argument(..., help="A latents file (.h5) written by fastdci encode or LatentsWriter."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """Rows, latents, factors, completeness and per-latent statistics of a latents file."""
    import numpy as np

    from ..io import open_latents

    with open_latents(file, allow_incomplete=True, validate=True) as r:
        L = r.latent_dim
        count = 0
        s1 = np.zeros(L)
        s2 = np.zeros(L)
        lo = np.full(L, np.inf)
        hi = np.full(L, -np.inf)
        for chunk in r.iter_chunks(fields=["mean"]):
            m = chunk.mean.astype(np.float64)
            count += m.shape[0]
            # shifted sums keep the variance accurate for latents far from zero
            if count == m.shape[0]:
                shift = m[0].copy()
            d = m - shift
            s1 += d.sum(0)
            s2 += (d * d).sum(0)
            lo = np.minimum(lo, m.min(0))
            hi = np.maximum(hi, m.max(0))
        if count:
            mean = shift + s1 / count
            var = np.maximum(s2 / count - (s1 / count) ** 2, 0.0)
            std = np.sqrt(var)
        else:
            mean = std = lo = hi = np.full(L, np.nan)
        info = {
            "file": str(file),
            "format_version": r.version,
            "complete": r.complete,
            "rows": r.n_rows,
            "latent_dim": L,
            "has_logvar": r.has_logvar,
            "has_values": r.has_values,
            "factors": [{"name": n, "size": s} for n, s in zip(r.factor_names, r.factor_sizes)],
            "latents": [
                {"latent": i, "mean": float(mean[i]), "std": float(std[i]), "min": float(lo[i]), "max": float(hi[i])}
                for i in range(L)
            ],
            "dataset": r.dataset,
            "model": r.model,
        }
    if format == OutputFormat.json:
        print_json(info)
        return
    state = "complete" if info["complete"] else "INCOMPLETE (writer did not finish; resume it)"
    typer.echo(f"{file}: {info['rows']} rows, {L} latents, {state}")
    typer.echo("factors: " + ", ".join(f"{f['name']} ({f['size']})" for f in info["factors"]))
    print_table(None, ["latent", "mean", "std", "min", "max"],
                [[d["latent"], d["mean"], d["std"], d["min"], d["max"]] for d in info["latents"]])
