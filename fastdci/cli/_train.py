"""``fastdci train``: train a Beta-VAE on dSprites into a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import OutputFormat, print_json, print_table, show_progress


def _set_threads(threads: Optional[int]) -> None:
    if threads is None:
        return
    from ..errors import InvalidInputError

    if threads < 1:
        raise InvalidInputError(f"--threads must be >= 1; got {threads}. Omit it to let torch choose.")
    import torch

    torch.set_num_threads(threads)


@app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (checkpoint.pt, config.json, losses.jsonl, PNGs)."),
    objective: Optional[str] = typer.Option(None, help="beta | annealed | tcvae  [default: beta]"),
    beta: Optional[float] = typer.Option(None, help="KL weight (beta) or TC weight (tcvae)  [default: 4]"),
    gamma: Optional[float] = typer.Option(None, help="Capacity penalty weight (annealed)  [default: 1000]"),
    c_max: Optional[float] = typer.Option(None, "--c-max", help="Final capacity in nats (annealed)  [default: 25]"),
    anneal_steps: Optional[int] = typer.Option(None, help="Steps to reach --c-max (annealed)  [default: 100000]"),
    arch: Optional[str] = typer.Option(None, help="standard | tutorial  [default: standard]"),
    latent_dim: Optional[int] = typer.Option(None, help="Latent dimensions  [default: 10]"),
    steps: Optional[int] = typer.Option(None, help="Total optimizer steps  [default: 300000]"),
    batch_size: Optional[int] = typer.Option(None, help="Images per step  [default: 64]"),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate  [default: 1e-4]"),
    seed: Optional[int] = typer.Option(None, help="Seed of weights, batches and noise  [default: 0]"),
    data: Optional[Path] = typer.Option(None, help="The real dSprites .npz; default renders the images."),
    checkpoint_every: Optional[int] = typer.Option(None, help="Steps between checkpoints  [default: 1000]"),
    log_every: Optional[int] = typer.Option(None, help="Steps per losses.jsonl line  [default: 10]"),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N"),
    amp: bool = typer.Option(False, "--amp", help="Mixed precision (CUDA only)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model (CUDA only)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in --out."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch (default: torch's choice)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json."),
) -> None:
    """Train a Beta-VAE (beta-VAE, capacity-annealed or beta-TCVAE) on dSprites with Adam.

    Writes checkpoints every --checkpoint-every steps and at the end, losses as JSON lines,
    and reconstructions.png / traversals.png at the end. --resume continues exactly where
    the last checkpoint left off (only --steps and the run-time options may change).
    """
    from ..train import train

    _set_threads(threads)
    settings = dict(
        objective=objective, beta=beta, gamma=gamma, c_max=c_max, anneal_steps=anneal_steps, arch=arch,
        latent_dim=latent_dim, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
        checkpoint_every=checkpoint_every, log_every=log_every, device=device,
        amp=amp or None, compile=compile or None,
    )
    settings = {k: v for k, v in settings.items() if v is not None}
    if data is not None:
        settings["data"] = str(data)
    res = train(out=str(out), resume=resume, overwrite=overwrite, progress=show_progress(no_progress), **settings)
    info = {
        "run": str(res.run_dir),
        "step": res.step,
        "steps_this_call": res.steps_this_call,
        "images_per_second": res.images_per_second,
        "seconds": res.seconds,
        **{k: v for k, v in res.last.items() if k not in ("step", "images_per_s", "elapsed_s")},
    }
    if format == OutputFormat.json:
        print_json(info)
        return
    print_table(None, ["name", "value"], [[k, v] for k, v in info.items()])
