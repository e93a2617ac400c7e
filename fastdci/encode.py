"""Streaming encoder: a trained Beta-VAE + dSprites -> a latents file (HDF5, format version 1).

The main thread renders (or looks up) a batch of images, runs the encoder under
``torch.inference_mode`` and hands the batch's posterior means, log-variances, factor
classes, factor values and dataset indices to a background thread that appends them with
:class:`fastdci.io.LatentsWriter`. Compute and disk writes overlap; a bounded queue keeps
memory flat when the disk is slower than the encoder.

A killed encoder leaves an incomplete file whose first ``rows_written`` rows are valid;
``resume=True`` checks that the file was started with the same checkpoint and row
selection, and carries on at that row.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import InvalidInputError, LatentsFileError, OutputExistsError
from .io.background import write_batches

__all__ = ["EncodeResult", "encode", "encode_batches", "select_rows", "write_batches"]

DEFAULT_BATCH_SIZE = 512


@dataclass(frozen=True)
class EncodeResult:
    """What :func:`encode` returns.

    Attributes
    ----------
    path : Path
        The latents file.
    rows : int
        Rows in the file (all of the selection).
    rows_this_call : int
        Rows encoded by this call (fewer than ``rows`` after a resume).
    seconds : float
        Wall-clock time of the encoding loop, writer included.
    images_per_second : float
        ``rows_this_call / seconds`` (NaN when nothing was left to encode).
    writer_busy_seconds : float
        Time the background thread spent in ``LatentsWriter.append`` (overlapped with compute).
    writer_wait_seconds : float
        Time the main thread waited for the writer (full queue, final drain and close): what
        writing added to the encoder's own time.
    """

    path: Path
    rows: int
    rows_this_call: int
    seconds: float
    images_per_second: float
    writer_busy_seconds: float
    writer_wait_seconds: float


def select_rows(n_data: int, rows: int | str | None = None, seed: int = 0) -> tuple[np.ndarray, dict]:
    """The dataset rows to encode and a JSON description of the choice.

    Parameters
    ----------
    n_data : int
        Rows in the dataset.
    rows : None, "all", int or 1-D int array
        ``None`` or ``"all"``: every row in dataset (grid) order. An int ``N``: ``N`` rows drawn
        uniformly at random without replacement (seeded by ``seed``), in ascending dataset
        order. An array: exactly those rows, in that order.
    seed : int, default 0

    Returns
    -------
    indices : int64 array (n,)
    selection : dict
        ``{"rows": "all" | "random" | "explicit", "n": n, ...}`` (with ``seed`` or a SHA-1 of
        the indices), stored in the file and compared on resume.

    Notes
    -----
    Why a random subset and not a prefix or a stride: dSprites rows are in C order over
    (shape, scale, orientation, posX, posY), so a prefix of fewer than 245,760 rows holds only
    squares (and fewer than 40,960 only the smallest scale), and a fixed stride aliases with the
    grid (every 32nd row has one posY). A uniform random subset keeps every factor's classes
    equally likely and the factors independent, as the metrics assume (disentanglement_lib
    also samples observations at random). Sorting keeps the file in grid order.

    Examples
    --------
    >>> from fastdci.encode import select_rows
    >>> idx, sel = select_rows(737280, 5, seed=0)
    >>> len(idx), bool((idx[1:] > idx[:-1]).all()), sel["rows"]
    (5, True, 'random')
    """
    if rows is None or (isinstance(rows, str) and rows.lower() == "all"):
        return np.arange(n_data, dtype=np.int64), {"rows": "all", "n": int(n_data)}
    if isinstance(rows, str):
        try:
            rows = int(rows)
        except ValueError:
            raise InvalidInputError(f"rows must be 'all' or a positive number of rows; got {rows!r}.") from None
    if isinstance(rows, (int, np.integer)) and not isinstance(rows, bool):
        n = int(rows)
        if n < 1 or n > n_data:
            raise InvalidInputError(
                f"rows must be between 1 and {n_data} (the dataset's size); got {n}. Use 'all' for every row."
            )
        if n == n_data:
            return np.arange(n_data, dtype=np.int64), {"rows": "all", "n": int(n_data)}
        rng = np.random.default_rng(int(seed))
        idx = np.sort(rng.choice(n_data, size=n, replace=False)).astype(np.int64)
        return idx, {"rows": "random", "n": n, "seed": int(seed)}
    idx = np.asarray(rows)
    if idx.ndim != 1 or idx.dtype.kind not in "iu" or idx.size == 0:
        raise InvalidInputError(
            f"rows must be 'all', a number of rows, or a non-empty 1-D integer array of dataset rows; "
            f"got {type(rows).__name__} of shape {getattr(idx, 'shape', '?')}."
        )
    idx = idx.astype(np.int64)
    if idx.min() < 0 or idx.max() >= n_data:
        raise InvalidInputError(f"rows holds dataset row {int(idx.max() if idx.max() >= n_data else idx.min())}, "
                                f"outside [0, {n_data}).")
    digest = hashlib.sha1(np.ascontiguousarray(idx).tobytes()).hexdigest()
    return idx, {"rows": "explicit", "n": int(idx.size), "sha1": digest}


def encode_batches(model, dataset, indices: np.ndarray, *, batch_size: int = DEFAULT_BATCH_SIZE,
                   device: Any = "cpu") -> Iterator[dict[str, np.ndarray]]:
    """Encode ``dataset`` rows ``indices`` batch by batch; yield host arrays ready to append.

    ``model.encode(images)`` returns torch tensors ``(mean, logvar)`` (``logvar`` may be None);
    ``dataset`` has ``images_torch(idx, device)``, ``classes(idx)`` and, unless it is None,
    ``values(idx)``, as :class:`fastdci.data.DSprites`.

    Yields
    ------
    dict
        ``mean``, ``logvar`` float32 (b, L); ``classes`` int64 (b, K); ``values`` float32
        (b, K); ``index`` int64 (b,): the keyword arguments of ``LatentsWriter.append``
        (``logvar`` and ``values`` None where the model or dataset has none).

    Notes
    -----
    Convolutions run in full float32: cuDNN's TF32 mode (on by default in torch) is turned
    off while the generator runs, so CUDA latents agree with CPU latents to float32 rounding.
    """
    import torch

    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # full float32 convolutions on CUDA, as on the CPU
    try:
        yield from _encode_loop(model, dataset, indices, batch_size, device)
    finally:
        torch.backends.cudnn.allow_tf32 = tf32


def _encode_loop(model, dataset, indices, batch_size, device):
    import torch

    with torch.inference_mode():
        for start in range(0, len(indices), batch_size):
            idx = indices[start:start + batch_size]
            x = dataset.images_torch(idx, device)
            mean, logvar = model.encode(x)
            values = getattr(dataset, "values", None)
            yield {
                "mean": mean.float().cpu().numpy(),
                "logvar": None if logvar is None else logvar.float().cpu().numpy(),
                "classes": dataset.classes(idx),
                "values": None if values is None else values(idx),
                "index": idx,
            }


def _model_description(ckpt: dict, run_dir: Path) -> dict:
    return {
        "checkpoint": str(run_dir),
        "checkpoint_step": int(ckpt["step"]),
        "config": ckpt["config"],
        "objective": ckpt.get("objective"),
        "model_config": ckpt.get("model_config"),
    }


def _check_resume(path: Path, model_desc: dict, selection: dict) -> None:
    """Refuse to resume a file that another checkpoint or row selection started."""
    from .io import open_latents

    try:
        with open_latents(path, allow_incomplete=True) as r:
            old_model, old_data, complete = r.model, r.dataset, r.complete
    except LatentsFileError as exc:
        raise LatentsFileError(f"cannot resume {path}: {exc} Delete it or pass --overwrite to start over.") from exc
    if complete:
        raise OutputExistsError(
            f"{path} is already complete; nothing to resume. Pass --overwrite to encode it again."
        )
    problems = []
    for key in ("checkpoint_step", "config"):
        if old_model.get(key) != model_desc.get(key):
            problems.append(f"model {key} differs")
    if old_data.get("selection") != selection:
        problems.append(f"row selection differs (file: {old_data.get('selection')}, now: {selection})")
    if problems:
        raise LatentsFileError(
            f"cannot resume {path}: it was started with another model or row selection ({'; '.join(problems)}). "
            "Resume with the same run, --rows and --seed, or pass --overwrite to start over."
        )


def encode(run_dir: str | os.PathLike, out: str | os.PathLike, *, rows: int | str | None = None,
           seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE, device: str = "auto", data: str | None = None,
           resume: bool = False, overwrite: bool = False, progress: bool | None = None,
           chunk_rows: int | None = None, compression: str | None = "auto") -> EncodeResult:
    """Encode dSprites with a trained model and stream the latents to an HDF5 file.

    Parameters
    ----------
    run_dir : str or Path
        A run directory of :func:`fastdci.train.train` (or its ``checkpoint.pt``).
    out : str or Path
        The latents file to write.
    rows : None, "all", int or 1-D int array, default None
        Which dataset rows (see :func:`select_rows`): all 737,280 in grid order by default; an
        int ``N`` draws ``N`` rows uniformly at random without replacement (by ``seed``),
        written in ascending dataset order.
    seed : int, default 0
        Seed of the random row subset.
    batch_size : int, default 512
    device : str, default "auto"
    data : str, optional
        The real dSprites ``.npz``; default renders the images.
    resume : bool, default False
        Continue an interrupted file at its ``rows_written``; it must have been started with the
        same checkpoint and row selection.
    overwrite : bool, default False
        Replace an existing file (only after the checkpoint and dataset have loaded).
    progress : bool, optional
        Progress bar on stderr; default: only when stderr is a terminal.
    chunk_rows : int, optional
        HDF5 chunk size in rows (default: the writer's, or ``min(65536, n)``).
    compression : {"auto", "lzf", "gzip", None}, default "auto"
        HDF5 filter (see :class:`fastdci.io.LatentsWriter`).

    Returns
    -------
    EncodeResult

    Raises
    ------
    OutputExistsError
        ``out`` exists and neither ``resume`` nor ``overwrite`` is set, or ``resume`` meets a
        complete file.
    CheckpointError
        The run has no usable checkpoint.
    LatentsFileError
        ``resume`` meets a file started with another checkpoint or row selection.

    Notes
    -----
    The file's ``model`` attribute holds the checkpoint's training config and step, its
    ``dataset`` attribute the dataset's description plus ``selection`` (how the rows were
    chosen); ``factor_names`` and ``factor_sizes`` come from the dataset. Latents are the
    posterior means and log-variances in float32, computed in float32.

    Examples
    --------
    >>> from fastdci.encode import encode
    >>> encode("run", "latents.h5", rows=20000)  # doctest: +SKIP
    """
    import torch

    from .backend import resolve_device
    from .io import LatentsWriter
    from .train import load_checkpoint
    from .train.session import open_dataset

    if resume and overwrite:
        raise InvalidInputError("pass --resume or --overwrite, not both: resume continues the file, overwrite replaces it.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive integer; got {batch_size!r}. Use e.g. 512.")
    out = Path(out)
    if out.exists() and out.is_dir():
        raise InvalidInputError(f"out must be a file path; {out} is a directory. Pass e.g. {out / 'latents.h5'}.")
    if out.exists() and not (resume or overwrite):
        raise OutputExistsError(
            f"{out} already exists; pass --resume to finish an interrupted encode, --overwrite to replace "
            "it, or choose another --out."
        )
    kind = resolve_device(device)  # raises for cuda without a GPU
    torch_device = torch.device(kind if device == "auto" else device.lower())
    # load everything that can fail before touching the output
    dataset = open_dataset(data)
    model, ckpt = load_checkpoint(run_dir, device=torch_device)
    indices, selection = select_rows(len(dataset), rows, seed)
    model_desc = _model_description(ckpt, Path(run_dir))
    dataset_desc = {**dataset.describe(), "selection": selection}
    if resume and out.exists():
        _check_resume(out, model_desc, selection)
    if chunk_rows is None:
        chunk_rows = int(min(65536, max(1, len(indices))))
    writer = LatentsWriter(
        out,
        latent_dim=model.latent_dim,
        factor_names=dataset.factor_names,
        factor_sizes=dataset.factor_sizes,
        with_logvar=True,
        with_values=True,
        dataset=dataset_desc,
        model=model_desc,
        chunk_rows=chunk_rows,
        compression=compression,
        resume=resume,
        overwrite=overwrite,
    )
    done = writer.rows_written
    if done > len(indices):
        writer.close(complete=False)
        raise LatentsFileError(f"cannot resume {out}: it holds {done} rows but the selection has only {len(indices)}.")
    batches = encode_batches(model, dataset, indices[done:], batch_size=batch_size, device=torch_device)
    seconds, busy, wait = write_batches(writer, batches, total=len(indices), done=done, progress=progress)
    n = len(indices) - done
    return EncodeResult(out, len(indices), n, seconds, n / seconds if n and seconds > 0 else float("nan"),
                        busy, wait)
