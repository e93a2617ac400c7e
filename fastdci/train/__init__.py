"""Train a Beta-VAE on dSprites: checkpoints, exact resume, JSON-lines losses, progress, PNGs.

The public face is :func:`train`, :class:`TrainConfig`, :class:`TrainResult`,
:func:`load_checkpoint` / :func:`read_checkpoint` and the figure writers. The run
directory's files are described in :mod:`fastdci.train.rundir`; the modules are
``config`` (settings), ``session`` (model, optimizer, generators), ``loop`` (:func:`train`),
``checkpoint`` (checkpoint files), ``rundir`` (the directory's layout and text files) and
``figures`` (PNGs).

Data: each step draws ``batch_size`` dataset indices uniformly with replacement from a
seeded ``torch.Generator`` whose state is saved in the checkpoint, renders (or looks up)
those images on the training device, and takes one Adam step. The posterior samples use a
second seeded generator, also checkpointed, so a resumed run draws exactly the batches and
noise the uninterrupted run would have drawn: on the CPU its final weights are identical.
"""

from .checkpoint import load_checkpoint, read_checkpoint
from .config import TrainConfig, TrainResult
from .figures import save_reconstructions, save_traversals
from .loop import train
from .rundir import CHECKPOINT_NAME

__all__ = [
    "CHECKPOINT_NAME",
    "TrainConfig",
    "TrainResult",
    "load_checkpoint",
    "read_checkpoint",
    "save_reconstructions",
    "save_traversals",
    "train",
]
