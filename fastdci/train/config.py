"""The settings of a training run and what a run returns.

:class:`TrainConfig` holds every setting of a run (JSON-serialisable, stored in
``config.json`` and in every checkpoint) and checks them; :class:`TrainResult` is what
:func:`fastdci.train.train` returns. :func:`resolve_config` turns a config plus keyword
overrides into a :class:`TrainConfig`, and :func:`merge_resume` combines a checkpoint's
settings with the ones a resumed run may change, refusing any other difference.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..backend import resolve_device
from ..errors import CheckpointError, InvalidInputError
from ..models import ARCHITECTURES, OBJECTIVES, make_objective

__all__ = ["RESUME_MAY_CHANGE", "TrainConfig", "TrainResult", "merge_resume", "resolve_config"]

RESUME_MAY_CHANGE = ("out", "steps", "checkpoint_every", "log_every", "device", "amp", "compile", "data")
"""Fields a resumed run may change; every other field must equal the checkpoint's."""


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
        ``fastdci train`` without ``--steps`` chooses by device instead (the CPU demo's
        budget on a CPU).
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


def resolve_config(config, overrides: dict) -> tuple[TrainConfig, dict]:
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


def merge_resume(saved: dict, given: dict, ckpt: Path) -> TrainConfig:
    """The checkpoint's settings ``saved`` with the :data:`RESUME_MAY_CHANGE` fields of ``given``.

    Raises :class:`CheckpointError` when ``given`` sets any other field to a value that
    differs from the checkpoint's.
    """
    base = dict(saved)
    mismatch = []
    for k, v in given.items():
        if k in RESUME_MAY_CHANGE:
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
