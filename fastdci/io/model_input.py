"""Any model or function as input: encode a dataset's images with it into a latents source.

:func:`encode_model` runs a torch module (its ``encode`` method, else its ``forward``) or any
callable ``images -> means`` over the rows of a dataset (dSprites, a torch ``Dataset`` of
``(image, factor classes)`` items, or arrays of images and classes) and returns a
:class:`~fastdci.io.LatentsSource` over the means, in memory or through a latents file
(docs/latents-format.md). The batching loop is :mod:`fastdci.encode`'s, the background writer
:mod:`fastdci.io.background`'s.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InvalidInputError, OutputExistsError
from ._model_data import _data

__all__ = ["encode_model", "encode_model_to_file"]

_FIX_OUTPUT = ("return the posterior means as an (n_images, n_latents) array, or a tuple whose first item they "
               "are (from encode: (mean, logvar))")


class _Encoder:
    """``encode(images) -> (mean, logvar or None)`` torch tensors, checked batch by batch."""

    def __init__(self, model: Any):
        import torch

        if isinstance(model, type):
            raise InvalidInputError(f"model is the class {model.__name__}, not an instance; pass {model.__name__}().")
        self.module = model if isinstance(model, torch.nn.Module) else None
        name = type(model).__name__
        if callable(getattr(model, "encode", None)):
            self.fn, self.method, self.where = model.encode, "encode", f"{name}.encode"
        elif self.module is not None:
            self.fn, self.method, self.where = model, "forward", f"{name}.forward"
        elif callable(model):
            self.fn, self.method, self.where = model, "call", getattr(model, "__name__", name)
        else:
            raise InvalidInputError(
                f"model must be a torch.nn.Module, an object with encode(images), or a function images -> means; "
                f"got {type(model).__name__}."
            )
        self.model, self.latent_dim, self.has_logvar, self.rows_done = model, None, False, 0

    def encode(self, x):
        import torch

        out = self.fn(x)
        logvar = None
        if isinstance(out, (tuple, list)):
            if not out:
                raise InvalidInputError(f"{self.where} returned an empty {type(out).__name__}; {_FIX_OUTPUT}.")
            if self.method == "encode" and len(out) == 2:
                logvar = out[1]
            out = out[0]
        mean = self._tensor(out, "its output")
        n = int(x.shape[0])
        shape = tuple(mean.shape)
        if len(shape) != 2 or shape[0] != n:
            hint = " (one value per image: return out[:, None] for one latent)" if shape == (n,) else ""
            raise InvalidInputError(f"{self.where} returned shape {shape} for a batch of {n} images{hint}; "
                                    f"{_FIX_OUTPUT}.")
        if self.latent_dim is None:
            self.latent_dim, self.has_logvar = shape[1], logvar is not None
        elif shape[1] != self.latent_dim:
            raise InvalidInputError(f"{self.where} returned {shape[1]} latents for one batch and {self.latent_dim} "
                                    "for an earlier one; it must return the same number for every batch.")
        bad = ~torch.isfinite(mean)
        if bool(bad.any()):
            r, c = (int(v) for v in torch.nonzero(bad)[0])
            raise InvalidInputError(
                f"{self.where} returned {int(bad.sum())} NaN/inf value(s) (first at encoded row {self.rows_done + r}, "
                f"latent {c}); the metrics need finite means. Check the model's weights and the images' scale."
            )
        if logvar is not None:
            logvar = self._tensor(logvar, "its log-variance (the second item)")
            if tuple(logvar.shape) != shape:
                raise InvalidInputError(f"{self.where} returned a log-variance of shape {tuple(logvar.shape)} beside "
                                        f"means of shape {shape}; return (mean, logvar) of one shape, or the means "
                                        "alone.")
        self.rows_done += n
        return mean, logvar

    def _tensor(self, value: Any, what: str):
        from ..backend import to_torch

        try:
            t = to_torch(value)
        except (TypeError, ValueError, RuntimeError):
            t = None
        if t is None or t.dtype.is_complex:  # floating, integer and bool outputs are real numbers
            raise InvalidInputError(f"{self.where} returned {type(value).__name__} as {what}, not an array of real "
                                    f"numbers; {_FIX_OUTPUT}.")
        return t

    def describe(self) -> dict:
        cls = type(self.model)
        out = {"kind": "module" if self.module is not None else "function", "method": self.method,
               "class": f"{cls.__module__}.{cls.__qualname__}", "latent_dim": self.latent_dim}
        if self.module is None and hasattr(self.model, "__qualname__"):
            out["function"] = f"{getattr(self.model, '__module__', '?')}.{self.model.__qualname__}"
        config = getattr(self.model, "config", None)
        if isinstance(config, dict):  # e.g. a BetaVAE's arch and latent_dim, when JSON-able
            with suppress(TypeError, ValueError):
                out["config"] = json.loads(json.dumps(config))
        return out


def _device(device: Any, module: Any):
    import torch

    from ..backend import resolve_device

    if device is None:
        p = next(iter(module.parameters()), None) if module is not None else None
        return p.device if p is not None else torch.device("cpu")
    device = str(device).lower()
    kind = resolve_device(device)  # raises for cuda without a GPU
    return torch.device(kind if device == "auto" else device)


@contextmanager
def _encoding(model, data, rows, n_rows, seed, batch_size, device):
    """``(encoder, dataset, indices, selection, batches)`` for the block, the first batch checked;
    a module runs in eval mode on the device, and gets its mode and device back after."""
    import itertools

    from ..encode import encode_batches, select_rows

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive integer; got {batch_size!r}. Use e.g. 512.")
    if rows is not None and n_rows is not None:
        raise InvalidInputError("pass rows or n_rows, not both: n_rows=N is rows=N (N rows drawn at random).")
    enc, ds = _Encoder(model), _data(data)
    indices, selection = select_rows(len(ds), n_rows if n_rows is not None else rows, seed)
    dev, m = _device(device, enc.module), enc.module
    p = next(iter(m.parameters()), None) if m is not None else None
    home, training = (p.device if p is not None else dev), (m.training if m is not None else False)
    gen = encode_batches(enc, ds, indices, batch_size=int(batch_size), device=dev)
    try:
        if m is not None:
            m.eval().to(dev)
        first = next(gen)
        L, K = first["mean"].shape[1], first["classes"].shape[1]
        if len(indices) <= max(L, K):
            raise InvalidInputError(
                f"{len(indices)} rows for {L} latents and {K} factors: the metrics need more rows than latents and "
                "factors. Encode more rows (rows= / n_rows=, or a larger dataset)."
            )
        yield enc, ds, indices, selection, itertools.chain([first], gen)
    finally:
        gen.close()
        if m is not None:
            m.train(training).to(home)


def _sizes(ds, factor_names, factor_sizes, classes: np.ndarray | None):
    names = tuple(factor_names) if factor_names is not None else ds.factor_names
    sizes = tuple(factor_sizes) if factor_sizes is not None else ds.factor_sizes
    if sizes is None and classes is not None:
        sizes = tuple(int(m) + 1 for m in classes.max(axis=0))
    if names is None and sizes is not None:
        names = tuple(f"factor_{k}" for k in range(len(sizes)))
    return (None if names is None else tuple(str(n) for n in names)), (None if sizes is None else tuple(sizes))


def encode_model(model: Any, data: Any = None, *, rows: Any = None, n_rows: int | None = None, batch_size: int = 512,
                 device: Any = None, seed: int = 0, out: str | os.PathLike | None = None, overwrite: bool = False,
                 factor_names: Sequence[str] | None = None, factor_sizes: Sequence[int] | None = None,
                 progress: bool | None = None):
    """Encode a dataset with any model or function; a :class:`~fastdci.io.LatentsSource` of the means.

    Parameters
    ----------
    model : torch.nn.Module, object with ``encode``, or callable
        An object with an ``encode`` method (a fastdci :class:`~fastdci.models.BetaVAE`, any
        module) is called through it, returning the means ``(n, L)`` or a pair ``(mean,
        logvar)`` of that shape. Otherwise the module (``forward``) or function is called,
        returning the means or a tuple whose first item they are. Means: torch, NumPy or CuPy,
        real, finite. A module runs in eval mode under ``torch.inference_mode``, and gets its
        own mode and device back afterwards.
    data : DSprites, str, torch Dataset or (images, factors), optional
        A :class:`fastdci.data.DSprites` (default: rendered; a str: the real ``.npz``), a torch
        ``Dataset`` of ``(image, factor classes)`` items (its ``factor_names`` /
        ``factor_sizes`` are used when it has them), or arrays ``images (N, ...)`` and
        ``factors (N, K)`` integer classes. The model gets torch batches on ``device``:
        floating dtypes as they are, others as float32.
    rows : None, "all", int or 1-D int array
        Which dataset rows, as :func:`fastdci.encode.select_rows` (default: all, in order).
    n_rows : int, optional
        ``n_rows`` rows drawn at random without replacement (by ``seed``); not with ``rows``.
    batch_size : int, default 512
    device : None, "auto", "cpu", "cuda", "cuda:N" or torch.device
        Where the images go (and the module, for the encoding). Default: the module's
        parameters' device, the CPU for a function.
    seed : int, default 0
        Seed of the random row subset.
    out : str or Path, optional
        Write a latents file there (:func:`encode_model_to_file`) and return a source over it
        (close it, or use ``with``); by default the means stay in memory.
    overwrite : bool, default False
        Replace an existing ``out``.
    factor_names, factor_sizes : sequence, optional
        Names and class counts of the factors, where the data does not know them (dSprites
        does); default ``factor_<k>`` and ``max + 1`` of the encoded classes.
    progress : bool, optional
        Progress bar on stderr; default only when stderr is a terminal.

    Returns
    -------
    LatentsSource
        The encoded rows' means and factor classes, with the factor names and sizes.

    Raises
    ------
    InvalidInputError
        A model output of the wrong shape, not real or not finite; data without factor
        classes; no more rows than latents; a bad option. (OutputExistsError: ``out`` exists.)

    Examples
    --------
    >>> import torch
    >>> from fastdci.io import encode_model
    >>> images, factors = torch.rand(200, 1, 8, 8), torch.arange(200)[:, None] % 2
    >>> with encode_model(lambda x: x.flatten(1)[:, :3], data=(images, factors)) as source:
    ...     source.n_rows, source.n_latents, source.factor_sizes
    (200, 3, (2,))
    """
    from .._progress import Progress, progress_enabled
    from .source import LatentsSource

    if out is not None:
        encode_model_to_file(model, out, data, rows=rows, n_rows=n_rows, batch_size=batch_size, device=device,
                             seed=seed, overwrite=overwrite, factor_names=factor_names, factor_sizes=factor_sizes,
                             progress=progress)
        return LatentsSource(out)
    means, classes = [], []
    with _encoding(model, data, rows, n_rows, seed, batch_size, device) as (enc, ds, indices, _, batches), \
            Progress(progress_enabled(progress), "encode", len(indices)) as bar:
        for b in batches:
            means.append(b["mean"])
            classes.append(np.asarray(b["classes"], dtype=np.int64))
            bar.advance(len(b["index"]))
    y = np.concatenate(classes)
    names, sizes = _sizes(ds, factor_names, factor_sizes, y)
    return LatentsSource(np.concatenate(means), y, factor_sizes=sizes, factor_names=names)


def encode_model_to_file(model: Any, out: str | os.PathLike, data: Any = None, *, rows: Any = None,
                         n_rows: int | None = None, batch_size: int = 512, device: Any = None, seed: int = 0,
                         overwrite: bool = False, factor_names: Sequence[str] | None = None,
                         factor_sizes: Sequence[int] | None = None, progress: bool | None = None):
    """Encode as :func:`encode_model` and stream the means to the latents file ``out``.

    The file (docs/latents-format.md) holds ``/latents/mean``, ``/latents/logvar`` when the
    model gives them, ``/factors/classes``, ``/factors/values`` for dSprites and ``/index``
    (the dataset rows); its ``model`` attribute describes the model (kind, class, method,
    latent_dim, and ``config`` when it has a JSON-able one), its ``dataset`` attribute the
    data and the row ``selection``. Nothing touches ``out`` before the first batch is
    encoded and checked. Where the factor sizes are unknown (see ``factor_sizes``) every
    batch is encoded before the file is written. Parameters as :func:`encode_model`.

    Returns
    -------
    fastdci.encode.EncodeResult
    """
    from ..encode import EncodeResult
    from .background import write_batches
    from .writer import LatentsWriter

    out = Path(out)
    if out.is_dir():
        raise InvalidInputError(f"out must be a file path; {out} is a directory. Pass e.g. {out / 'latents.h5'}.")
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it, or choose "
                                "another path.")
    t0 = time.perf_counter()
    with _encoding(model, data, rows, n_rows, seed, batch_size, device) as (enc, ds, indices, selection, batches):
        names, sizes = _sizes(ds, factor_names, factor_sizes, None)
        if sizes is None:  # the classes decide: encode everything first (the means are small)
            batches = list(batches)
            names, sizes = _sizes(ds, factor_names, None, np.concatenate([b["classes"] for b in batches]))
        writer = LatentsWriter(
            out, latent_dim=enc.latent_dim, factor_names=names, factor_sizes=sizes, with_logvar=enc.has_logvar,
            with_values=getattr(ds, "values", None) is not None, dataset={**ds.describe(), "selection": selection},
            model=enc.describe(), chunk_rows=int(min(65536, len(indices))), overwrite=overwrite,
        )
        _, busy, wait = write_batches(writer, batches, total=len(indices), done=0, progress=progress)
    seconds = time.perf_counter() - t0
    n = len(indices)
    return EncodeResult(out, n, n, seconds, n / seconds if seconds > 0 else float("nan"), busy, wait)
