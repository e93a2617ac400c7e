"""``fastdci encode RUN --out latents.h5``: stream a model's latents of dSprites into HDF5."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import OutputFormat, print_json, print_table, show_progress
from ._train import _set_threads, device_option, format_option


@app.command("encode")
def encode_command(
    run: Path = typer.Argument(..., help="Run directory of fastdci train (or its checkpoint.pt)."),
    out: Path = typer.Option(..., "--out", "-o", help="Latents file to write (.h5)."),
    rows: str = typer.Option(
        "all", help="'all' (every row, grid order) or N: N rows drawn at random without replacement "
                    "(by --seed), written in dataset order."),
    seed: int = typer.Option(0, help="Seed of the random row subset."),
    batch_size: int = typer.Option(512, help="Images per encoder batch."),
    device: str = device_option("Where to encode: auto (a GPU when one is visible), cpu, cuda or cuda:N."),
    data: Optional[Path] = typer.Option(None, help="The real dSprites .npz; default renders the images."),
    resume: bool = typer.Option(False, "--resume", help="Finish an interrupted file."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch (default: torch's choice)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
    format: OutputFormat = format_option(),
) -> None:
    """Encode dSprites with a trained model; a background thread writes the latents file.

    A killed encode leaves a resumable file: rerun with --resume. The model's config and
    checkpoint step go into the file's `model` attribute, the dataset and row selection
    into `dataset`.
    """
    from ..encode import encode

    _set_threads(threads)
    res = encode(run, out, rows=rows, seed=seed, batch_size=batch_size, device=device,
                 data=str(data) if data is not None else None, resume=resume, overwrite=overwrite,
                 progress=show_progress(no_progress))
    info = {
        "file": str(res.path),
        "rows": res.rows,
        "rows_this_call": res.rows_this_call,
        "seconds": res.seconds,
        "images_per_second": res.images_per_second,
        "writer_wait_seconds": res.writer_wait_seconds,
    }
    if format == OutputFormat.json:
        print_json(info)
        return
    print_table(None, ["name", "value"], [[k, v] for k, v in info.items()])
