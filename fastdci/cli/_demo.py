"""``fastdci demo``: the whole pipeline on a fresh machine (render, train, encode, evaluate, report)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import print_table, show_progress
from ._recipes import CPU_RECIPE, CPU_STEPS, GPU_RECIPE, GPU_STEPS, LATTICE_STRIDES
from ._train import Objective, choice_parser


def lattice_rows(sizes=None, strides=LATTICE_STRIDES):
    """Dataset rows of the sub-grid that keeps every ``strides[k]``-th class of factor k.

    dSprites rows are in C order over the factor classes, so the row of a class tuple is
    ``np.ravel_multi_index(classes, sizes)``; the result is in ascending (grid) order.
    """
    import numpy as np

    from ..data import FACTOR_SIZES

    sizes = tuple(FACTOR_SIZES if sizes is None else sizes)
    axes = [np.arange(0, s, st) for s, st in zip(sizes, strides)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.ravel_multi_index(tuple(m.ravel() for m in mesh), sizes).astype(np.int64)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Folder for the run, latents.h5 and the report."),
    steps: Optional[int] = typer.Option(None, "--steps", help=f"Training steps (default: {CPU_STEPS} on CPU, "
                                        f"{GPU_STEPS} with a GPU)."),
    rows: Optional[str] = typer.Option(None, "--rows", help="Rows to encode: 'all' (the 737,280-image grid), "
                                       "'lattice' (every 2nd orientation/posX/posY: a 92,160-image grid), or a "
                                       "number (random rows; too sparse for Z-max). Default: all with a GPU, "
                                       "lattice without."),
    objective: Optional[Objective] = typer.Option(
        None, "--objective", parser=choice_parser(Objective, "--objective"),
        help=f"beta (beta-VAE), annealed or tcvae (beta-TCVAE)  [default: {CPU_RECIPE['objective']} on CPU, "
             f"{GPU_RECIPE['objective']} with a GPU]"),
    beta: Optional[float] = typer.Option(None, "--beta", help=f"KL weight (beta) or total-correlation weight "
                                         f"(tcvae)  [default: {CPU_RECIPE['beta']:g} on CPU, "
                                         f"{GPU_RECIPE['beta']:g} with a GPU]"),
    lr: Optional[float] = typer.Option(None, "--lr", help=f"Adam learning rate (default: {CPU_RECIPE['lr']:g} on "
                                       "CPU, disentanglement_lib's 1e-4 with a GPU)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over in --out instead of resuming."),
    no_progress: bool = typer.Option(False, "--no-progress"),
) -> None:
    """Render dSprites, train a Beta-VAE, encode the grid, evaluate every metric, write a report.

    Rerunning resumes: a finished training run or latents file in --out is reused.
    """
    from ..backend import resolve_device
    from ..encode import encode
    from ..evaluation import evaluate
    from ..io import open_latents
    from ..report import score_rows, write_report
    from ..train import train

    from ..errors import InvalidInputError

    dev = resolve_device(device)
    n_steps = steps if steps is not None else (GPU_STEPS if dev == "cuda" else CPU_STEPS)
    # every option is checked before any work starts
    if n_steps < 1:
        raise InvalidInputError(f"--steps must be a positive number of training steps; got {n_steps}.")
    recipe = GPU_RECIPE if dev == "cuda" else CPU_RECIPE
    objective = objective.value if objective is not None else recipe["objective"]
    beta = beta if beta is not None else recipe["beta"]
    if not beta >= 0:
        raise InvalidInputError(f"--beta must be a non-negative KL weight; got {beta}.")
    learning_rate = lr if lr is not None else recipe["lr"]
    if not (learning_rate > 0 and learning_rate < float("inf")):
        raise InvalidInputError(f"--lr must be a positive learning rate; got {lr}.")
    rows = rows or ("all" if dev == "cuda" else "lattice")
    if rows == "lattice":
        n_rows = lattice_rows()
    elif rows == "all":
        n_rows = "all"
    else:
        try:
            n_rows = int(rows)
        except ValueError:
            raise InvalidInputError(f"--rows must be 'all', 'lattice' or a number; got {rows!r}.") from None
        if not 2 <= n_rows <= 737_280:
            raise InvalidInputError(f"--rows must be between 2 and 737280 (every dSprites image); got {n_rows}.")
    progress = show_progress(no_progress)
    say = (lambda msg: None) if no_progress else (lambda msg: print(msg, file=sys.stderr, flush=True))
    run_dir, latents = out / "run", out / "latents.h5"
    t0 = time.perf_counter()

    model = {"beta": "beta-VAE", "annealed": "capacity-annealed beta-VAE", "tcvae": "beta-TCVAE"}[objective]
    say(f"[1/4] training a {model} (beta={beta:g}, lr={learning_rate:g}) for {n_steps} steps on {dev} -> {run_dir}")
    ckpt = run_dir / "checkpoint.pt"
    if ckpt.exists() and not overwrite:
        res = train(out=str(run_dir), steps=n_steps, device=dev, resume=True, progress=progress)
    else:
        res = train(out=str(run_dir), steps=n_steps, objective=objective, beta=beta, lr=learning_rate, seed=seed,
                    device=dev,
                    overwrite=overwrite,
                    progress=progress, checkpoint_every=max(100, n_steps // 10))
    if res.steps_this_call:
        say(f"      step {res.step}, {res.images_per_second:.0f} images/s")
    else:
        say(f"      step {res.step} (already trained)")

    say(f"[2/4] encoding {len(n_rows) if rows == 'lattice' else rows} rows -> {latents}")
    done = False
    if latents.exists() and not overwrite:
        try:
            with open_latents(latents, allow_incomplete=True) as r:
                done = r.complete and r.model.get("checkpoint_step") == res.step
        except Exception:
            done = False
    if not done:
        resume = latents.exists() and not overwrite
        try:
            enc = encode(run_dir, latents, rows=n_rows, seed=seed, device=dev, resume=resume,
                         overwrite=not resume, progress=progress)
        except Exception:
            if not resume:
                raise
            enc = encode(run_dir, latents, rows=n_rows, seed=seed, device=dev, overwrite=True, progress=progress)
        say(f"      {enc.rows} rows, {enc.images_per_second:.0f} images/s")

    say("[3/4] evaluating every metric")
    report = evaluate(latents, "all", backend=dev, random_state=seed, progress=progress)
    say("[4/4] writing the report")
    page = write_report(report, out / "report", latents_path=latents, checkpoint=run_dir)

    print_table(None, ["metric", "score", "value"], score_rows(report))
    for m, why in report.skipped.items():
        typer.echo(f"{m}: skipped ({why})")
    for m, msg in report.failed.items():
        typer.echo(f"{m}: FAILED ({msg})")
    typer.echo(f"run:     {run_dir}")
    typer.echo(f"latents: {latents}")
    typer.echo(f"report:  {page}  (open it in a browser)")
    typer.echo(f"total:   {time.perf_counter() - t0:.0f} s")
    if report.failed:
        raise typer.Exit(1)
