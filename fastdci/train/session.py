"""The state of a training run in memory: dataset, model, optimizer, generators, loss scaler.

:func:`open_session` builds a :class:`Session` from a validated config: a fresh one from
the seeds the config's ``seed`` derives (:func:`seeds`), or, on resume, one restored from
the checkpoint so that it draws exactly the batches and noise the uninterrupted run would
have drawn. :meth:`Session.step_once` takes one optimizer step and :meth:`Session.save`
writes the checkpoint. :func:`open_dataset` is the one place a run opens its dataset.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..backend import resolve_device
from ..errors import CheckpointError
from ..models import BetaVAE
from .checkpoint import load_weights, write_checkpoint
from .config import TrainConfig

__all__ = ["Session", "open_dataset", "open_session", "seeds"]


def seeds(seed: int) -> tuple[int, int, int]:
    """The seeds of the initial weights, the batch indices and the posterior noise, from ``seed``."""
    init, data, noise = np.random.SeedSequence(int(seed)).generate_state(3, dtype=np.uint64)
    mask = (1 << 63) - 1
    return int(init) & mask, int(data) & mask, int(noise) & mask


def open_dataset(data: str | None):
    """The dSprites dataset of a run: the real ``.npz`` at ``data``, or rendered when ``data`` is empty."""
    from ..data import DSprites

    return DSprites(data) if data else DSprites()


@dataclass
class Session:
    """A training run in memory; ``step`` counts the optimizer steps taken so far."""

    cfg: TrainConfig
    device: torch.device
    dataset: Any
    dataset_description: dict
    objective: Any
    model: BetaVAE
    optimizer: torch.optim.Optimizer
    g_data: torch.Generator
    g_noise: torch.Generator
    amp_dtype: torch.dtype | None
    scaler: Any
    step: int
    ckpt_path: Path

    def autocast(self):
        """The autocast context of a forward pass (a no-op without ``amp``)."""
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def step_once(self, forward) -> dict[str, torch.Tensor]:
        """Draw a batch, take one optimizer step through ``forward``; return the loss terms."""
        cfg = self.cfg
        idx = torch.randint(len(self.dataset), (cfg.batch_size,), generator=self.g_data)
        x = self.dataset.images_torch(idx.numpy(), self.device)
        with self.autocast():
            out = forward(x, generator=self.g_noise)
            terms = self.objective(x, out.logits, out.mean, out.logvar, out.z, self.step)
        loss = terms["loss"]
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        self.step += 1
        return terms

    def save(self, at_step: int, log: dict | None = None) -> None:
        """Write the checkpoint of step ``at_step`` (atomically), with the loss log's open window ``log``.

        The generator states saved are the two that draw the batches and the noise. The
        global torch generator is not saved: training never draws from it (the initial
        weights come from their own seed under ``fork_rng``), and restoring it on resume
        would reset the calling process's random state as a side effect.
        """
        rng = {"data": self.g_data.get_state(), "noise": self.g_noise.get_state(),
               "noise_device": self.device.type}
        write_checkpoint(
            self.ckpt_path, step=at_step, config=self.cfg.to_dict(), objective=self.objective.params(),
            model=self.model, optimizer=self.optimizer, scaler=self.scaler, rng=rng,
            dataset=self.dataset_description, log=log,
        )


def open_session(cfg: TrainConfig, state: dict | None, ckpt_path: Path) -> Session:
    """Build the run of ``cfg`` (validated): fresh when ``state`` is None, else from that checkpoint."""
    kind = resolve_device(cfg.device)  # raises for cuda without a GPU
    device = torch.device(kind if cfg.device == "auto" else cfg.device.lower())
    dataset = open_dataset(cfg.data)
    objective = cfg.objective_instance(len(dataset))
    init_seed, data_seed, noise_seed = seeds(cfg.seed)

    # under fork_rng: training leaves the global torch generator as it found it (on resume
    # the seeded initial weights are replaced by the checkpoint's)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        model = BetaVAE(cfg.arch, cfg.latent_dim)
    if state is not None:
        load_weights(model, state["model"], ckpt_path)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    g_data = torch.Generator(device="cpu").manual_seed(data_seed)
    g_noise = torch.Generator(device=device).manual_seed(noise_seed)
    amp_dtype = None
    if cfg.amp:
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None
    step = 0
    if state is not None:
        step = _restore(state, opt, g_data, g_noise, scaler, device, noise_seed, ckpt_path)
    describe = dataset.describe() if hasattr(dataset, "describe") else {}
    return Session(cfg, device, dataset, describe, objective, model, opt, g_data, g_noise,
                   amp_dtype, scaler, step, ckpt_path)


def _restore(state: dict, opt, g_data, g_noise, scaler, device: torch.device, noise_seed: int,
             ckpt_path: Path) -> int:
    """Load the optimizer, generator and scaler states of a checkpoint; return its step."""
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
    return int(state["step"])
