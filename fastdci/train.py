"""Train a Beta-VAE on dSprites: checkpoints, exact resume, JSON-lines losses, progress, PNGs.

A run directory ``RUN/`` holds:

``config.json``
    The :class:`TrainConfig` of the run.
``checkpoint.pt``
    The latest checkpoint (model, optimizer, step, RNG states, config), replaced atomically
    every ``checkpoint_every`` steps and at the end.
``losses.jsonl``
    One JSON object per ``log_every`` steps: step, loss terms averaged since the previous
    line, images/s, elapsed seconds.
``reconstructions.png``, ``traversals.png``
    Written at the end of training.

Data: each step draws ``batch_size`` dataset indices uniformly with replacement from a
seeded ``torch.Generator`` whose state is saved in the checkpoint, renders (or looks up)
those images on the training device, and takes one Adam step. The posterior samples use a
second seeded generator, also checkpointed, so a resumed run draws exactly the batches and
noise the uninterrupted run would have drawn: on the CPU its final weights are identical.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .backend import resolve_device
from .errors import CheckpointError, InvalidInputError, OutputExistsError
from .models import ARCHITECTURES, OBJECTIVES, BetaVAE, make_objective

__all__ = [
    "CHECKPOINT_NAME",
    "TrainConfig",
    "TrainResult",
    "load_checkpoint",
    "save_reconstructions",
    "save_traversals",
    "train",
]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "fastdci.checkpoint"
CHECKPOINT_VERSION = 1
CONFIG_NAME = "config.json"
LOSSES_NAME = "losses.jsonl"
RECONSTRUCTIONS_NAME = "reconstructions.png"
TRAVERSALS_NAME = "traversals.png"
_RUN_FILES = (CHECKPOINT_NAME, CONFIG_NAME, LOSSES_NAME, RECONSTRUCTIONS_NAME, TRAVERSALS_NAME)

# fields a resumed run may change; every other field must equal the checkpoint's
_RESUME_MAY_CHANGE = ("out", "steps", "checkpoint_every", "log_every", "device", "amp", "compile", "data")


@dataclass
class TrainConfig:
    """Settings of a training run (all JSON-serialisable; stored in every checkpoint).

    Parameters
    ----------
    out : str
        Run directory (created if missing).
    objective : {"beta", "annealed", "tcvae"}, default "beta"
        beta-VAE, capacity-annealed beta-VAE or beta-TCVAE (see :mod:`fastdci.models.losses`).
    beta : float, default 4.0
        KL weight of "beta", total-correlation weight of "tcvae".
    gamma, c_max, anneal_steps : float, float, int, default 1000, 25, 100000
        Capacity penalty of "annealed".
    arch : {"standard", "tutorial"}, default "standard"
        Network (see :class:`fastdci.models.BetaVAE`).
    latent_dim : int, default 10
    steps : int, default 300000
        Total optimizer steps (disentanglement_lib's default); a resumed run stops here too.
    batch_size : int, default 64
    lr : float, default 1e-4
        Adam learning rate (beta1 0.9, beta2 0.999, eps 1e-8, as disentanglement_lib).
    seed : int, default 0
        Seeds the initial weights, the batch indices and the posterior noise.
    data : str, optional
        The real dSprites ``.npz``; default renders the images.
    checkpoint_every : int, default 1000
    log_every : int, default 10
    device : str, default "auto"
        "auto", "cpu", "cuda" or "cuda:N".
    amp : bool, default False
        Mixed precision (bfloat16 autocast, float16 with loss scaling where bfloat16 is not
        supported); CUDA only.
    compile : bool, default False
        ``torch.compile`` the model; CUDA only.
    """

    out: str
    objective: str = "beta"
    beta: float = 4.0
    gamma: float = 1000.0
    c_max: float = 25.0
    anneal_steps: int = 100_000
    arch: str = "standard"
    latent_dim: int = 10
    steps: int = 300_000
    batch_size: int = 64
    lr: float = 1e-4
    seed: int = 0
    data: str | None = None
    checkpoint_every: int = 1000
    log_every: int = 10
    device: str = "auto"
    amp: bool = False
    compile: bool = False

    def __post_init__(self):
        self.out = str(self.out)
        if self.data is not None:
            self.data = str(self.data)

    def validate(self) -> "TrainConfig":
        """Check every field; raise :class:`InvalidInputError` naming the field and the fix."""
        def pos_int(name, minimum=1, hint=""):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
                raise InvalidInputError(f"{name} must be an integer >= {minimum}; got {v!r}.{hint}")

        if self.objective not in OBJECTIVES:
            raise InvalidInputError(
                f"objective must be one of {list(OBJECTIVES)}; got {self.objective!r}."
            )
        if self.arch not in ARCHITECTURES:
            raise InvalidInputError(f"arch must be one of {list(ARCHITECTURES)}; got {self.arch!r}.")
        pos_int("steps", hint=" It is the total number of optimizer steps (e.g. --steps 200).")
        pos_int("batch_size", hint=" Use e.g. 64.")
        pos_int("latent_dim", hint=" The literature uses 10.")
        pos_int("checkpoint_every")
        pos_int("log_every")
        pos_int("seed", minimum=0)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not (math.isfinite(self.lr) and self.lr > 0):
            raise InvalidInputError(f"lr must be a finite number > 0; got {self.lr!r}. disentanglement_lib uses 1e-4.")
        self.objective_instance()  # checks beta, gamma, c_max, anneal_steps
        if (self.amp or self.compile) and resolve_device(self.device) != "cuda":
            flag = "amp" if self.amp else "compile"
            raise InvalidInputError(
                f"{flag} is a CUDA option but training runs on the CPU (device={self.device!r}); "
                f"drop --{flag} or train on a machine with a GPU."
            )
        return self

    def objective_instance(self, dataset_size: int | None = None):
        """The objective object these settings describe."""
        if self.objective == "beta":
            return make_objective("beta", beta=self.beta)
        if self.objective == "annealed":
            return make_objective("annealed", gamma=self.gamma, c_max=self.c_max, anneal_steps=self.anneal_steps)
        return make_objective("tcvae", beta=self.beta, dataset_size=dataset_size)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    run_dir : Path
    step : int
        Steps completed (the checkpoint's step).
    steps_this_call : int
        Steps taken by this call (less than ``step`` after a resume).
    images_per_second : float
        Training throughput of this call (NaN when no step was taken).
    seconds : float
        Wall-clock time of the training loop in this call.
    last : dict
        The last logged loss line.
    """

    run_dir: Path
    step: int
    steps_this_call: int
    images_per_second: float
    seconds: float
    last: dict


# -- checkpoints -------------------------------------------------------------------------------
def _checkpoint_path(path: str | os.PathLike) -> Path:
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


def _atomic_write_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load and check a checkpoint file (or a run directory's ``checkpoint.pt``) on the CPU."""
    ckpt = _checkpoint_path(path)
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
        raise CheckpointError(f"{_checkpoint_path(path)} has an unusable config ({exc}); train again.") from exc
    _load_weights(model, obj["model"], _checkpoint_path(path))
    return model.to(device).eval(), obj


def _load_weights(model: BetaVAE, state: dict, where: Path) -> None:
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


# -- progress ---------------------------------------------------------------------------------
class _Progress:
    """A rich progress bar on stderr counting images (so its speed is images/s); or nothing."""

    def __init__(self, enabled: bool, description: str, total: int, done: int = 0):
        self.enabled = enabled
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} images"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(description, total=total, completed=done, rate="", info="")

    def __enter__(self):
        self._t0, self._done = time.perf_counter(), 0
        if self._bar is not None:
            self._bar.start()
        return self

    def advance(self, n: int, info: str | None = None) -> None:
        if self._bar is None:
            return
        kw = {} if info is None else {"info": info}
        self._bar.update(self._task, advance=n, **kw)
        if n:
            self._done += n
            # rich's windowed speed once it has two samples; the running mean before that
            speed = self._bar.tasks[0].speed or self._done / max(time.perf_counter() - self._t0, 1e-9)
            self._bar.update(self._task, rate=f"{speed:,.0f} img/s")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()


def _progress_enabled(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else bool(progress)


# -- images -------------------------------------------------------------------------------------
def _tile(rows: list[np.ndarray], pad: int = 2, scale: int = 2) -> "Any":
    """Tile rows of (n, 64, 64) float images in [0, 1] into one grayscale PIL image."""
    from PIL import Image

    h, w = rows[0].shape[1:]
    ncol = max(len(r) for r in rows)
    grid = np.full((len(rows) * (h + pad) + pad, ncol * (w + pad) + pad), 0.5, dtype=np.float32)
    for i, r in enumerate(rows):
        for j, im in enumerate(r):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[y:y + h, x:x + w] = im
    img = Image.fromarray((np.clip(grid, 0, 1) * 255).round().astype(np.uint8), mode="L")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def _fixed_indices(n_data: int, n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n_data, size=n, replace=False))


@torch.inference_mode()
def save_reconstructions(model: BetaVAE, dataset, path: str | os.PathLike, *, n: int = 10, seed: int = 0) -> Path:
    """Save ``n`` dataset images (top row) over their reconstructions (bottom row) as PNG.

    The reconstruction decodes the posterior mean and shows ``sigmoid(logits)``.
    """
    device = next(model.parameters()).device
    idx = _fixed_indices(len(dataset), n, seed)
    x = dataset.images_torch(idx, device)
    mean, _ = model.eval().encode(x)
    rec = torch.sigmoid(model.decode(mean)).float()
    path = Path(path)
    _tile([x[:, 0].cpu().numpy(), rec[:, 0].cpu().numpy()]).save(path)
    return path


@torch.inference_mode()
def save_traversals(model: BetaVAE, dataset, path: str | os.PathLike, *, n_values: int = 11,
                    limit: float = 2.5, seed: int = 0) -> Path:
    """Save latent traversals as PNG: row ``l`` varies latent ``l`` over [-limit, limit].

    Starting from the posterior mean of one dataset image (the leftmost column shows the
    image itself), each row sets one latent to ``n_values`` evenly spaced values and decodes.
    Rows are in latent order; a latent that does not change its row is inactive.
    """
    device = next(model.parameters()).device
    idx = _fixed_indices(len(dataset), 1, seed + 1)
    x = dataset.images_torch(idx, device)
    mean, _ = model.eval().encode(x)
    values = torch.linspace(-limit, limit, n_values, device=device)
    rows = []
    for latent in range(model.latent_dim):
        z = mean.repeat(n_values, 1)
        z[:, latent] = values
        ims = torch.sigmoid(model.decode(z)).float()[:, 0].cpu().numpy()
        rows.append(np.concatenate([x[:, 0].float().cpu().numpy(), ims]))
    path = Path(path)
    _tile(rows).save(path)
    return path


# -- training -----------------------------------------------------------------------------------
def _seeds(seed: int) -> tuple[int, int, int]:
    init, data, noise = np.random.SeedSequence(int(seed)).generate_state(3, dtype=np.uint64)
    mask = (1 << 63) - 1
    return int(init) & mask, int(data) & mask, int(noise) & mask


def _open_dataset(data: str | None):
    from .data import DSprites

    return DSprites(data) if data else DSprites()


def _resolve_config(config, overrides: dict) -> tuple[TrainConfig, dict]:
    """A TrainConfig from ``config`` plus keyword overrides; also the fields given explicitly."""
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InvalidInputError(f"unknown training settings {unknown}; valid ones are {sorted(known)}.")
    if config is None:
        given = dict(overrides)
    elif isinstance(config, TrainConfig):
        given = {**config.to_dict(), **overrides}
    elif isinstance(config, dict):
        given = {**config, **overrides}
    else:
        raise InvalidInputError(f"config must be a TrainConfig or a dict; got {type(config).__name__}.")
    given = {k: v for k, v in given.items() if v is not None or k == "data"}
    if "out" not in given:
        raise InvalidInputError("out (the run directory) is required, e.g. train(out='run').")
    return TrainConfig.from_dict(given), given


def _merge_resume(saved: dict, given: dict, ckpt: Path) -> TrainConfig:
    base = dict(saved)
    mismatch = []
    for k, v in given.items():
        if k in _RESUME_MAY_CHANGE:
            base[k] = v
        elif k in base and base[k] != v:
            mismatch.append(f"{k}={v!r} (checkpoint: {base[k]!r})")
    if mismatch:
        what = "another architecture or latent size" if any(m.split("=")[0] in ("arch", "latent_dim") for m in mismatch) \
            else "other settings"
        raise CheckpointError(
            f"{ckpt} was trained with {what}: got {', '.join(mismatch)}. Resume with the checkpoint's "
            "settings (omit those options) or start a new run in another --out directory."
        )
    return TrainConfig.from_dict(base)


def _read_log(path: Path, upto: int) -> list[str]:
    """Lines of losses.jsonl with step <= upto (a torn last line from a kill is dropped)."""
    if not path.exists():
        return []
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and int(rec.get("step", upto + 1)) <= upto:
            keep.append(line)
    return keep


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
    ``2k`` bit for bit.

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
    cfg, given = _resolve_config(config, settings)
    run = Path(cfg.out)
    ckpt_path = run / CHECKPOINT_NAME
    state = None
    if resume:
        state = read_checkpoint(ckpt_path)  # clear error when missing/corrupt
        cfg = _merge_resume(state["config"], given, ckpt_path)
    elif ckpt_path.exists() and not overwrite:
        raise OutputExistsError(
            f"{run} already holds a training run ({CHECKPOINT_NAME}); pass --resume to continue it, "
            "--overwrite to replace it, or choose another --out."
        )
    cfg.validate()
    kind = resolve_device(cfg.device)  # raises for cuda without a GPU
    device = torch.device(kind if cfg.device == "auto" else cfg.device.lower())
    dataset = _open_dataset(cfg.data)
    objective = cfg.objective_instance(len(dataset))
    init_seed, data_seed, noise_seed = _seeds(cfg.seed)

    if state is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            model = BetaVAE(cfg.arch, cfg.latent_dim)
    else:
        model = BetaVAE(cfg.arch, cfg.latent_dim)
        _load_weights(model, state["model"], ckpt_path)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    g_data = torch.Generator(device="cpu").manual_seed(data_seed)
    g_noise = torch.Generator(device=device).manual_seed(noise_seed)
    step = 0
    amp_dtype = None
    if cfg.amp:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    if state is not None:
        try:
            opt.load_state_dict(state["optimizer"])
            g_data.set_state(state["rng"]["data"])
            if state["rng"].get("noise_device", "cpu") == device.type:
                g_noise.set_state(state["rng"]["noise"])
            else:
                # CPU and CUDA generators differ: resuming on the other kind of device draws
                # other (still seeded) noise, so the run is reproducible but not bitwise equal
                g_noise.manual_seed(noise_seed + int(state["step"]))
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{ckpt_path} has an unusable optimizer or RNG state ({exc}); train again.") from exc
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step = int(state["step"])

    # the run directory: only now touch the disk
    run.mkdir(parents=True, exist_ok=True)
    log_path = run / LOSSES_NAME
    if state is None:
        for name in _RUN_FILES:
            if (run / name).exists():
                (run / name).unlink()
        log_lines: list[str] = []
    else:
        log_lines = _read_log(log_path, step)
    _atomic_write_text("".join(ln + "\n" for ln in log_lines), log_path)
    _atomic_write_text(json.dumps(cfg.to_dict(), indent=2) + "\n", run / CONFIG_NAME)

    describe = dataset.describe() if hasattr(dataset, "describe") else {}

    def save(at_step: int) -> None:
        rng = {"data": g_data.get_state(), "noise": g_noise.get_state(), "noise_device": device.type,
               "torch": torch.get_rng_state()}
        _atomic_save({
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "step": at_step,
            "config": cfg.to_dict(),
            "objective": objective.params(),
            "model_config": model.config,
            "dataset": describe,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": rng,
        }, ckpt_path)

    forward = torch.compile(model) if cfg.compile else model
    autocast = (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype is not None else nullcontext
    n_data = len(dataset)
    start_step = step
    sums: dict[str, torch.Tensor] = {}
    last: dict = json.loads(log_lines[-1]) if log_lines else {}
    t0 = time.perf_counter()
    t_log, step_log = t0, step
    log_fh = open(log_path, "a")
    try:
        with _Progress(_progress_enabled(progress), "train", cfg.steps * cfg.batch_size,
                       step * cfg.batch_size) as bar:
            while step < cfg.steps:
                idx = torch.randint(n_data, (cfg.batch_size,), generator=g_data)
                x = dataset.images_torch(idx.numpy(), device)
                with autocast():
                    out = forward(x, generator=g_noise)
                    terms = objective(x, out.logits, out.mean, out.logvar, out.z, step)
                loss = terms["loss"]
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    opt.step()
                step += 1
                for k, v in terms.items():
                    v = v.detach().float()
                    sums[k] = sums[k] + v if k in sums else v
                if step % cfg.log_every == 0 or step == cfg.steps:
                    now = time.perf_counter()
                    n = step - step_log
                    rec = {"step": step}
                    rec.update({k: float(v.item()) / n for k, v in sums.items()})
                    rec["images_per_s"] = n * cfg.batch_size / max(now - t_log, 1e-9)
                    rec["elapsed_s"] = now - t0
                    if not math.isfinite(rec["loss"]):
                        raise InvalidInputError(
                            f"the loss became {rec['loss']} by step {step}; training diverged. Lower --lr "
                            f"(now {cfg.lr}) or resume from the last checkpoint with --resume."
                        )
                    log_fh.write(json.dumps(rec) + "\n")
                    log_fh.flush()
                    last = rec
                    sums, t_log, step_log = {}, now, step
                    bar.advance(0, info=f"loss {rec['loss']:.1f}")
                bar.advance(cfg.batch_size)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    save(step)
        seconds = time.perf_counter() - t0
    finally:
        log_fh.close()
    if step == start_step and not ckpt_path.exists():  # pragma: no cover - steps >= 1 always trains
        save(step)
    model.eval()
    save_reconstructions(model, dataset, run / RECONSTRUCTIONS_NAME, seed=cfg.seed)
    save_traversals(model, dataset, run / TRAVERSALS_NAME, seed=cfg.seed)
    took = step - start_step
    ips = took * cfg.batch_size / seconds if took else float("nan")
    return TrainResult(run, step, took, ips, seconds, last)
