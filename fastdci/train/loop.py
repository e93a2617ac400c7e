"""The training loop: :func:`train` runs a Beta-VAE training run from its settings to its figures.

:func:`train` resolves the settings (and, on resume, the checkpoint), builds the
:class:`~fastdci.train.session.Session`, prepares the run directory, runs the step loop,
which logs the mean loss terms to ``losses.jsonl`` every ``log_every`` steps and checkpoints
every ``checkpoint_every`` steps (with the open log window, so a resumed run's log equals an
uninterrupted run's), and finally saves the reconstruction and traversal PNGs.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from .._progress import Progress, progress_enabled
from ..errors import CheckpointError, InvalidInputError, OutputExistsError
from .checkpoint import read_checkpoint
from .config import TrainConfig, TrainResult, merge_resume, resolve_config
from .figures import save_reconstructions, save_traversals
from .rundir import CHECKPOINT_NAME, LOSSES_NAME, RECONSTRUCTIONS_NAME, TRAVERSALS_NAME, prepare_run_dir
from .session import Session, open_session

__all__ = ["train"]


def train(config: TrainConfig | dict | None = None, *, resume: bool = False, overwrite: bool = False,
          progress: bool | None = None, **settings) -> TrainResult:
    """Train a Beta-VAE on dSprites and write the run directory.

    Parameters
    ----------
    config : TrainConfig or dict, optional
        The settings; keyword ``settings`` (the :class:`TrainConfig` fields) override it.
    resume : bool, default False
        Continue the run in ``out`` from its checkpoint, with the checkpoint's settings.
        Only ``steps``, ``checkpoint_every``, ``log_every``, ``device``, ``amp``, ``compile``
        and ``data`` may differ; any other setting given must equal the checkpoint's.
    overwrite : bool, default False
        Replace an existing run in ``out`` (its checkpoint, config, losses and PNGs; other
        files in the directory are left alone).
    progress : bool, optional
        Progress bar on stderr; default: only when stderr is a terminal.

    Returns
    -------
    TrainResult

    Raises
    ------
    OutputExistsError
        ``out`` already holds a run and neither ``resume`` nor ``overwrite`` is set.
    CheckpointError
        ``resume`` without a usable checkpoint, or with conflicting settings.
    InvalidInputError
        A setting is out of range.

    Notes
    -----
    Each step: ``batch_size`` indices uniform with replacement, one Adam step on the
    objective (:mod:`fastdci.models.losses`). The loop never checkpoints on an interrupt:
    a killed run resumes from its last periodic checkpoint. Everything that decides the
    weights (initial seed, data and noise generator states, optimizer state) is in the
    checkpoint, so on the CPU ``steps=2k`` equals ``steps=k`` followed by a resume to
    ``2k`` bit for bit. The checkpoint also holds the loss sums since the last log line, so
    a run killed and resumed writes the ``losses.jsonl`` of an uninterrupted run (but for
    its timing fields). Training leaves the global torch generator as it found it.

    Examples
    --------
    >>> import tempfile
    >>> from fastdci.train import train
    >>> res = train(out=tempfile.mkdtemp(), steps=2, batch_size=4, progress=False)  # doctest: +SKIP
    >>> res.step  # doctest: +SKIP
    2
    """
    if resume and overwrite:
        raise InvalidInputError("pass resume or overwrite, not both: resume continues the run, overwrite replaces it.")
    cfg, state, run = _resolve_run(config, settings, resume=resume, overwrite=overwrite)
    session = open_session(cfg, state, run / CHECKPOINT_NAME)
    window = _log_window(state, session.step, run / CHECKPOINT_NAME)
    # the run directory: only now touch the disk
    log_lines = prepare_run_dir(run, cfg.to_dict(), fresh=state is None, step=session.step)
    start_step = session.step
    last = json.loads(log_lines[-1]) if log_lines else {}
    seconds, last = _run_steps(session, run / LOSSES_NAME, last, window, progress)
    if session.step == start_step and not session.ckpt_path.exists():  # pragma: no cover - steps >= 1 always trains
        session.save(session.step)
    _save_figures(session, run)
    took = session.step - start_step
    ips = took * cfg.batch_size / seconds if took else float("nan")
    return TrainResult(run, session.step, took, ips, seconds, last)


def _log_window(state: dict | None, step: int, ckpt: Path) -> dict | None:
    """The checkpoint's open loss-log window, checked; None for a fresh run or a checkpoint without one."""
    window = state.get("log") if state is not None else None
    if window is None:
        return None
    try:
        w_step, sums, elapsed = int(window["step"]), dict(window["sums"]), float(window["elapsed_s"])
        ok = all(isinstance(v, torch.Tensor) for v in sums.values())
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok or not 0 <= w_step <= step or (w_step == step) != (not sums):
        raise CheckpointError(f"{ckpt} has an unusable loss-log state; it is damaged. Train again.")
    return {"step": w_step, "sums": sums, "elapsed_s": elapsed}


def _resolve_run(config, settings: dict, *, resume: bool, overwrite: bool) -> tuple[TrainConfig, dict | None, Path]:
    """The validated settings, the checkpoint to resume from (None for a fresh run), the run directory."""
    cfg, given = resolve_config(config, settings)
    run = Path(cfg.out)
    ckpt_path = run / CHECKPOINT_NAME
    state = None
    if resume:
        state = read_checkpoint(ckpt_path)  # clear error when missing/corrupt
        cfg = merge_resume(state["config"], given, ckpt_path)
    elif ckpt_path.exists() and not overwrite:
        raise OutputExistsError(
            f"{run} already holds a training run ({CHECKPOINT_NAME}); pass --resume to continue it, "
            "--overwrite to replace it, or choose another --out."
        )
    cfg.validate()
    return cfg, state, run


def _run_steps(s: Session, log_path: Path, last: dict, window: dict | None,
               progress: bool | None) -> tuple[float, dict]:
    """Train up to ``cfg.steps``, logging and checkpointing; return (seconds, last log line).

    ``window`` is the checkpoint's open log window (None for a fresh run). Nothing is
    checkpointed on an exception or interrupt: a killed run resumes from its last periodic
    checkpoint.
    """
    cfg = s.cfg
    forward = torch.compile(s.model) if cfg.compile else s.model
    with _LossLog(log_path, cfg, s.step, last, window, s.device) as log:
        with Progress(progress_enabled(progress), "train", cfg.steps, s.step, unit="steps") as bar:
            if last:
                bar.advance(0, info=_progress_info(last))
            while s.step < cfg.steps:
                log.add(s.step_once(forward))
                step = s.step
                info = None
                if step % cfg.log_every == 0 or step == cfg.steps:
                    info = _progress_info(log.write(step))
                bar.advance(1, info=info)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    s.save(step, log.window())
        seconds = time.perf_counter() - log.t0
    return seconds, log.last


def _progress_info(rec: dict) -> str:
    """The latest logged loss terms, as the progress bar shows them."""
    parts = [f"loss {rec['loss']:.5g}"]
    if "recon" in rec:
        parts.append(f"recon {rec['recon']:.5g}")
    if "kl" in rec:
        parts.append(f"KL {rec['kl']:.3g}")
    return " ".join(parts)


class _LossLog:
    """``losses.jsonl`` of a running loop: sums the loss terms of each step and writes their
    means, the throughput and the elapsed time as one JSON line per :meth:`write`.

    A line's loss terms are the means over the steps since the previous line. The open
    window (the sums since the last line, the step of that line, the training seconds so
    far) goes into every checkpoint (:meth:`window`) and is restored on resume, so a
    killed-and-resumed run writes the same loss terms as an uninterrupted one. The two
    timing fields cannot be equal: ``images_per_s`` is measured over the steps of the
    window taken in this process, and ``elapsed_s`` counts the seconds of training behind
    the line, summed over the calls that trained it (the time between a run's last
    checkpoint and its kill is not counted, since those steps are trained again).
    """

    def __init__(self, path: Path, cfg: TrainConfig, step: int, last: dict, window: dict | None,
                 device: torch.device):
        self._cfg = cfg
        self.last = last
        self.t0 = time.perf_counter()
        self._t_log, self._rate_from = self.t0, step
        self._sums: dict[str, torch.Tensor] = {}
        self._step_log = step
        self._elapsed0 = float(last.get("elapsed_s", 0.0)) if last else 0.0
        if window is not None:
            self._step_log = int(window["step"])
            self._sums = {k: v.to(device) for k, v in window["sums"].items()}
            self._elapsed0 = float(window["elapsed_s"])
        self._fh = open(path, "a")

    def __enter__(self) -> "_LossLog":
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for k, v in terms.items():
            v = v.detach().float()
            self._sums[k] = self._sums[k] + v if k in self._sums else v

    def elapsed(self, now: float | None = None) -> float:
        """Seconds of training so far, over every call of this run."""
        return self._elapsed0 + ((time.perf_counter() if now is None else now) - self.t0)

    def window(self) -> dict:
        """The open window, as a checkpoint stores it."""
        return {"step": self._step_log, "sums": {k: v.detach().cpu() for k, v in self._sums.items()},
                "elapsed_s": self.elapsed()}

    def write(self, step: int) -> dict:
        """Append the line of ``step`` (means since the last line); raise if the loss is not finite."""
        now = time.perf_counter()
        n = step - self._step_log
        rec = {"step": step}
        rec.update({k: float(v.item()) / n for k, v in self._sums.items()})
        rec["images_per_s"] = (step - self._rate_from) * self._cfg.batch_size / max(now - self._t_log, 1e-9)
        rec["elapsed_s"] = self.elapsed(now)
        if not math.isfinite(rec["loss"]):
            raise InvalidInputError(
                f"the loss became {rec['loss']} by step {step}; training diverged. Lower --lr "
                f"(now {self._cfg.lr}) or resume from the last checkpoint with --resume."
            )
        self._fh.write(json.dumps(rec) + "\n")
        self._fh.flush()
        self.last = rec
        self._sums, self._t_log, self._step_log, self._rate_from = {}, now, step, step
        return rec


def _save_figures(s: Session, run: Path) -> None:
    s.model.eval()
    save_reconstructions(s.model, s.dataset, run / RECONSTRUCTIONS_NAME, seed=s.cfg.seed)
    save_traversals(s.model, s.dataset, run / TRAVERSALS_NAME, seed=s.cfg.seed)
