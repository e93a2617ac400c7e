"""The layout of a training run directory, and its plain-text files.

A run directory ``RUN/`` holds:

``config.json``
    The :class:`~fastdci.train.TrainConfig` of the run.
``checkpoint.pt``
    The latest checkpoint (model, optimizer, step, RNG states, config, loss-log window),
    replaced atomically every ``checkpoint_every`` steps and at the end
    (:mod:`fastdci.train.checkpoint`).
``losses.jsonl``
    One JSON object per ``log_every`` steps and at the last step: step, loss terms averaged
    since the previous line, images/s, elapsed seconds of training. A killed and resumed
    run writes the same lines as an uninterrupted one except for the two timing fields
    (:class:`fastdci.train.loop._LossLog` says why).
``reconstructions.png``, ``traversals.png``
    Written at the end of training (:mod:`fastdci.train.figures`).

This module names those files, writes text files atomically, and prepares the directory
for a fresh or a resumed run (:func:`prepare_run_dir`).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "CHECKPOINT_NAME",
    "CONFIG_NAME",
    "LOSSES_NAME",
    "RECONSTRUCTIONS_NAME",
    "RUN_FILES",
    "TRAVERSALS_NAME",
    "atomic_write_text",
    "prepare_run_dir",
    "log_records",
    "read_log",
]

CHECKPOINT_NAME = "checkpoint.pt"
CONFIG_NAME = "config.json"
LOSSES_NAME = "losses.jsonl"
RECONSTRUCTIONS_NAME = "reconstructions.png"
TRAVERSALS_NAME = "traversals.png"
RUN_FILES = (CHECKPOINT_NAME, CONFIG_NAME, LOSSES_NAME, RECONSTRUCTIONS_NAME, TRAVERSALS_NAME)
"""The files a run writes; a fresh run (or ``overwrite``) deletes these and no others."""


def atomic_write_text(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it."""
    from ..io.atomic import write_text_atomic

    write_text_atomic(path, text)


def log_records(path: Path) -> list[tuple[str, dict]]:
    """``(line, record)`` of every whole line of losses.jsonl with a numeric ``step`` (a torn
    last line from a kill, or a foreign line, is skipped); [] when there is no log."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), (int, float)):
            out.append((line, rec))
    return out


def read_log(path: Path, upto: int) -> list[str]:
    """Lines of losses.jsonl with step <= upto (a torn last line from a kill is dropped)."""
    return [line for line, rec in log_records(path) if rec["step"] <= upto]


def prepare_run_dir(run: Path, config: dict, *, fresh: bool, step: int) -> list[str]:
    """Create ``run``, write its ``config.json`` and trim its ``losses.jsonl``; return the log lines kept.

    A ``fresh`` run first deletes the :data:`RUN_FILES` present and starts an empty log; a
    resumed one keeps the log lines up to ``step`` (those after the checkpoint are dropped).
    """
    run.mkdir(parents=True, exist_ok=True)
    log_path = run / LOSSES_NAME
    if fresh:
        for name in RUN_FILES:
            if (run / name).exists():
                (run / name).unlink()
        log_lines: list[str] = []
    else:
        log_lines = read_log(log_path, step)
    atomic_write_text("".join(ln + "\n" for ln in log_lines), log_path)
    atomic_write_text(json.dumps(config, indent=2) + "\n", run / CONFIG_NAME)
    return log_lines
