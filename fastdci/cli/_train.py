"""``fastdci train``: train a Beta-VAE on dSprites into a run directory.

Options with a fixed set of values (``--objective``, ``--arch``, ``--format``) are Enums, so
``--help`` and shell completion list their values; their parsers turn a wrong value into
one line naming the valid ones (:func:`choice_parser`). ``--device`` completes its fixed
values and accepts ``cuda:N`` too (:func:`parse_device`). Without ``--steps`` a fresh run
trains the demo's CPU budget on a CPU and disentanglement_lib's 300,000 steps on a GPU,
and says so on stderr.
"""

from __future__ import annotations

import re
import sys
from enum import Enum
from pathlib import Path
from typing import Callable, Optional

import typer

from ..errors import FastDCIError
from . import app
from ._common import OutputFormat, print_json, print_table, show_progress
from ._recipes import CPU_RECIPE, CPU_STEPS, GPU_STEPS


class Objective(str, Enum):
    """Values of ``--objective`` (the names of :data:`fastdci.models.OBJECTIVES`)."""

    beta = "beta"
    annealed = "annealed"
    tcvae = "tcvae"


class Arch(str, Enum):
    """Values of ``--arch`` (:data:`fastdci.models.ARCHITECTURES`)."""

    standard = "standard"
    tutorial = "tutorial"


#: the fixed values ``--device`` completes; ``cuda:N`` is accepted as well
DEVICES = ("auto", "cpu", "cuda")


class BadChoiceError(FastDCIError):
    """A command-line value outside its option's choices.

    Not a ValueError on purpose: Typer wraps a parser's ValueError into a usage error of
    several lines, and lets any other exception through to :func:`fastdci.cli.main`,
    which prints it as one line.
    """


def choice_parser(enum: type[Enum], option: str) -> Callable[[object], Enum]:
    """A Typer ``parser`` for ``option``: the member of ``enum`` named by the value, or a
    :class:`BadChoiceError` naming the valid values."""
    def parse(value):
        if isinstance(value, enum):
            return value
        try:
            return enum(value)
        except ValueError:
            valid = ", ".join(m.value for m in enum)
            raise BadChoiceError(f"{option} must be one of {valid}; got {value!r}.") from None

    return parse


def parse_device(value: str) -> str:
    """``--device``: auto, cpu, cuda or cuda:N, else a one-line :class:`BadChoiceError`."""
    if str(value).lower() in DEVICES or re.fullmatch(r"cuda:\d+", str(value).lower()):
        return value
    raise BadChoiceError(f"--device must be one of auto, cpu, cuda or cuda:N; got {value!r}.")


def complete_device(incomplete: str) -> list[str]:
    return [d for d in DEVICES if d.startswith(incomplete)]


def device_option(help: str) -> str:
    return typer.Option("auto", "--device", parser=parse_device, autocompletion=complete_device,
                        metavar="<auto|cpu|cuda|cuda:N>", help=help)


def format_option() -> OutputFormat:
    return typer.Option(OutputFormat.table, "--format", "-f", parser=choice_parser(OutputFormat, "--format"),
                        help="table or json.")


def _set_threads(threads: Optional[int]) -> None:
    if threads is None:
        return
    from ..errors import InvalidInputError

    if threads < 1:
        raise InvalidInputError(f"--threads must be >= 1; got {threads}. Omit it to let torch choose.")
    import torch

    torch.set_num_threads(threads)


def default_steps(device: str) -> tuple[int, str]:
    """The ``--steps`` of a fresh run that gives none, and the line that says why (as ``fastdci demo``)."""
    from ..backend import resolve_device

    if resolve_device(device) == "cuda":
        return GPU_STEPS, (f"--steps not given: training {GPU_STEPS:,} steps, the default with a GPU "
                           "(disentanglement_lib's standard run). Pass --steps N to choose.")
    return CPU_STEPS, (f"--steps not given: training {CPU_STEPS:,} steps, the default on a CPU (the CPU "
                       f"demo's recipe; disentanglement_lib's {GPU_STEPS:,}, the GPU default, take days on "
                       "a CPU). Pass --steps N to choose.")


@app.command("train")
def train_command(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (checkpoint.pt, config.json, losses.jsonl, PNGs)."),
    objective: Optional[Objective] = typer.Option(
        None, parser=choice_parser(Objective, "--objective"),
        help="beta-VAE, capacity-annealed beta-VAE or beta-TCVAE  [default: beta; tcvae, the CPU "
             "recipe's, on a CPU without --steps and --beta]"),
    beta: Optional[float] = typer.Option(None, help="KL weight (beta) or TC weight (tcvae)  [default: 4; 6, the CPU "
                                        "recipe's, on a CPU without --steps and --objective]"),
    gamma: Optional[float] = typer.Option(None, help="Capacity penalty weight (annealed)  [default: 1000]"),
    c_max: Optional[float] = typer.Option(None, "--c-max", help="Final capacity in nats (annealed)  [default: 25]"),
    anneal_steps: Optional[int] = typer.Option(None, help="Steps to reach --c-max (annealed)  [default: 100000]"),
    arch: Optional[Arch] = typer.Option(None, parser=choice_parser(Arch, "--arch"),
                                        help="Network  [default: standard]"),
    latent_dim: Optional[int] = typer.Option(None, help="Latent dimensions  [default: 10]"),
    steps: Optional[int] = typer.Option(
        None, help=f"Total optimizer steps  [default: {CPU_STEPS} on a CPU, {GPU_STEPS} with a GPU; "
                   "with --resume the checkpoint's]"),
    batch_size: Optional[int] = typer.Option(None, help="Images per step  [default: 64]"),
    lr: Optional[float] = typer.Option(None, help=f"Adam learning rate  [default: 1e-4; {CPU_RECIPE['lr']:g}, the "
                                       "CPU recipe's, on a CPU without --steps]"),
    seed: Optional[int] = typer.Option(None, help="Seed of weights, batches and noise  [default: 0]"),
    data: Optional[Path] = typer.Option(None, help="The real dSprites .npz; default renders the images."),
    checkpoint_every: Optional[int] = typer.Option(None, help="Steps between checkpoints  [default: 1000]"),
    log_every: Optional[int] = typer.Option(None, help="Steps per losses.jsonl line  [default: 10]"),
    device: str = device_option("Where to train: auto (a GPU when one is visible), cpu, cuda or cuda:N."),
    amp: bool = typer.Option(False, "--amp", help="Mixed precision (CUDA only)."),
    compile: bool = typer.Option(False, "--compile", help="torch.compile the model (CUDA only)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the run in --out."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch (default: torch's choice)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
    format: OutputFormat = format_option(),
) -> None:
    """Train a Beta-VAE (beta-VAE, capacity-annealed or beta-TCVAE) on dSprites with Adam.

    Writes checkpoints every --checkpoint-every steps and at the end, losses as JSON lines,
    and reconstructions.png / traversals.png at the end. --resume continues exactly where
    the last checkpoint left off (only --steps and the run-time options may change).
    Without --steps a new run trains the CPU demo's recipe on a CPU (its steps; without --lr,
    its learning rate; without --objective and --beta, its objective and beta) and
    disentanglement_lib's 300,000 steps on a GPU.
    """
    from ..train import train
    from ..train.config import resolve_config
    from ..train.rundir import CHECKPOINT_NAME

    _set_threads(threads)
    settings = dict(
        objective=objective.value if objective else None, beta=beta, gamma=gamma, c_max=c_max,
        anneal_steps=anneal_steps, arch=arch.value if arch else None,
        latent_dim=latent_dim, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
        checkpoint_every=checkpoint_every, log_every=log_every, device=device,
        amp=amp or None, compile=compile or None,
    )
    settings = {k: v for k, v in settings.items() if v is not None}
    if data is not None:
        settings["data"] = str(data)
    if steps is None and not resume:
        settings["steps"], why = default_steps(device)
        from ..backend import resolve_device

        if resolve_device(device) != "cuda":
            taken = []
            if objective is None and beta is None:
                settings["objective"], settings["beta"] = CPU_RECIPE["objective"], CPU_RECIPE["beta"]
                taken.append(f"objective {CPU_RECIPE['objective']} with beta {CPU_RECIPE['beta']:g}")
            if lr is None:
                settings["lr"] = CPU_RECIPE["lr"]
                taken.append(f"learning rate {CPU_RECIPE['lr']:g}")
            if taken:
                why = why.replace(" Pass --steps N", f" With it, the recipe's {' and '.join(taken)} (pass --objective, "
                                                     "--beta or --lr to choose). Pass --steps N")
        # say it only for a run that will start: a bad setting or an existing run fails in one line
        resolve_config(None, {"out": str(out), **settings})[0].validate()
        if overwrite or not (out / CHECKPOINT_NAME).exists():
            print(why, file=sys.stderr, flush=True)
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
