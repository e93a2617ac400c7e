"""Checkpoint files: atomic writing, checked reading, and rebuilding the model they hold.

A checkpoint is a ``torch.save``'d dict tagged ``format="fastdci.checkpoint"`` with a
``version``; it holds the step, the run's config, the objective's parameters, the model
config and weights, the optimizer and loss-scaler states, the data and noise generator
states, the dataset's description and the open window of the loss log (``log``: the
running sums since the last ``losses.jsonl`` line, so a resumed run writes the lines an
uninterrupted run writes). :func:`write_checkpoint` replaces the file
atomically (a crash never leaves one half-written); :func:`read_checkpoint` loads it on the
CPU and raises :class:`~fastdci.errors.CheckpointError` naming the problem and the fix;
:func:`load_checkpoint` also rebuilds the model in eval mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, InvalidInputError
from ..models import BetaVAE
from .rundir import CHECKPOINT_NAME

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "checkpoint_path",
    "load_checkpoint",
    "load_weights",
    "read_checkpoint",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = "fastdci.checkpoint"
CHECKPOINT_VERSION = 1


def checkpoint_path(path: str | os.PathLike) -> Path:
    """``path`` itself if it names a file, else the ``checkpoint.pt`` of the run directory ``path``."""
    p = Path(path)
    return p / CHECKPOINT_NAME if p.is_dir() or not p.suffix else p


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_checkpoint(path: Path, *, step: int, config: dict, objective: dict, model: BetaVAE,
                     optimizer: torch.optim.Optimizer, scaler, rng: dict, dataset: dict,
                     log: dict | None = None) -> None:
    """Replace the checkpoint at ``path`` atomically (the old file survives a failed save).

    ``objective`` is the objective's ``params()``, ``scaler`` the ``GradScaler`` or None,
    ``rng`` the generator states (``data``, ``noise``, ``noise_device``), ``dataset`` the
    dataset's description, ``log`` the loss log's open window (``step`` of the last line,
    ``sums`` of the loss terms since it, ``elapsed_s`` of training so far) or None.
    """
    _atomic_save({
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "step": step,
        "config": config,
        "objective": objective,
        "model_config": model.config,
        "dataset": dataset,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng,
        "log": log,
    }, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and check a checkpoint file (or a run directory's ``checkpoint.pt``) on the CPU."""
    ckpt = checkpoint_path(path)
    if not ckpt.exists():
        where = ckpt.parent
        raise CheckpointError(
            f"no checkpoint at {ckpt}; train one first (fastdci train --out {where}) or pass the run "
            "directory that holds checkpoint.pt."
        )
    try:
        obj = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"{ckpt} is truncated or corrupt ({msg}); it was not written by a completed save. Restore a "
            "good copy, or train again (checkpoints are replaced atomically, so a crash never leaves "
            "one half-written)."
        ) from exc
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{ckpt} is not a fastdci checkpoint (no format='{CHECKPOINT_FORMAT}' entry); pass a run "
            "directory written by fastdci train."
        )
    if int(obj.get("version", 0)) > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{ckpt} was written by a newer fastdci (checkpoint version {obj['version']}); upgrade fastdci."
        )
    for key in ("config", "model", "step"):
        if key not in obj:
            raise CheckpointError(f"{ckpt} lacks its '{key}' entry; it is damaged. Train again.")
    return obj


def load_checkpoint(path: str | os.PathLike, device: str = "cpu") -> tuple[BetaVAE, dict]:
    """Rebuild the model of a checkpoint; return ``(model in eval mode on device, checkpoint)``.

    Parameters
    ----------
    path : str or Path
        A run directory (its ``checkpoint.pt``) or a checkpoint file.
    device : str, default "cpu"

    Raises
    ------
    CheckpointError
        The file is missing, truncated, foreign, or its weights do not fit its architecture.
    """
    obj = read_checkpoint(path)
    cfg = obj["config"]
    try:
        model = BetaVAE(cfg["arch"], int(cfg["latent_dim"]))
    except (KeyError, InvalidInputError) as exc:
        raise CheckpointError(f"{checkpoint_path(path)} has an unusable config ({exc}); train again.") from exc
    load_weights(model, obj["model"], checkpoint_path(path))
    return model.to(device).eval(), obj


def load_weights(model: BetaVAE, state: dict, where: Path) -> None:
    """Load ``state`` into ``model`` strictly; a mismatch raises :class:`CheckpointError` naming ``where``."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = [ln.strip() for ln in str(exc).splitlines() if ln.strip()][1:2]
        detail = first[0] if first else str(exc)
        raise CheckpointError(
            f"{where} holds weights of another architecture or latent size than "
            f"arch={model.arch!r}, latent_dim={model.latent_dim} ({detail}); use the checkpoint "
            "with the settings it was trained with."
        ) from exc
