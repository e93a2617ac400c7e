"""A Lightning callback that scores the model being trained with fastdci every few epochs.

:class:`DisentanglementCallback` encodes a fixed set of dataset rows with the LightningModule,
computes the metrics with :func:`fastdci.evaluate` on those latents, and logs the scores
through ``pl_module.log`` (so every logger the Trainer has gets them, and callbacks such as
``ModelCheckpoint`` can monitor them), plus the MI matrix and the DCI importance as images
where a logger takes images.

``import fastdci`` does not import this module (nor Lightning); it needs the ``lightning``
extra.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import InvalidInputError, MissingDependencyError

try:
    import lightning.pytorch as pl
except ImportError as _exc:  # pragma: no cover - the extra is missing
    raise MissingDependencyError(
        "fastdci.lightning needs Lightning; install it with pip install 'fastdci[lightning]'."
    ) from _exc

import torch
from lightning.pytorch.utilities import rank_zero_warn

__all__ = ["DisentanglementCallback"]


class DisentanglementCallback(pl.Callback):
    """Score the module being trained on a fixed set of rows, every ``every_n_epochs`` epochs.

    Parameters
    ----------
    data : dataset or LightningDataModule
        The rows to encode, one of:

        - a map-style dataset: ``len(data)`` and ``data[i]`` -> ``(image, factor_classes, ...)``
          (a tuple or list whose first item is the model's input and second the factor
          classes, (K,) integers); the items of a batch are stacked;
        - a fastdci dataset such as :class:`fastdci.data.DSprites`: ``len(data)``,
          ``data.images_torch(rows, device)`` and ``data.classes(rows)``;
        - a ``LightningDataModule``: the dataset of its ``val_dataloader()`` (set up by the
          Trainer, i.e. the datamodule given to ``fit``), as above.

        ``factor_sizes`` / ``factor_names`` attributes of the dataset are used when present.
    every_n_epochs : int, default 1
        Score at the end of every n-th training epoch (``on_train_epoch_end``).
    metrics : str or sequence of str, default ("information", "dci")
        As :func:`fastdci.evaluate` takes them (names, families or ``"all"``).
    n_rows : int or None, default 10,000
        Rows scored: a seeded uniform random subset (:func:`fastdci.encode.select_rows`), the
        same rows every time; ``None`` or more than the dataset holds: every row.
    encode : callable, optional
        ``encode(pl_module, images) -> means`` (n, L). Default: ``pl_module.encode(images)``
        when the module has ``encode``, else ``pl_module(images)``; a tuple or NamedTuple
        result gives its first item (``(mean, logvar)``, :class:`fastdci.models.VAEOutput`), as
        :func:`fastdci.io.encode_model` reads a model.
    batch_size : int, default 256
        Images encoded at once (in eval mode, without gradients, on the module's device; the
        mode is restored).
    seed : int, default 0
        Seed of the row subset.
    prefix : str, default "fastdci/"
        Logged names are ``prefix + "<metric>.<score>"``, e.g. ``fastdci/mig.mig``,
        ``fastdci/dci.disentanglement``; images are ``prefix + "mutual_information"`` (with
        ``mig``) and ``prefix + "dci_importance"`` (with ``dci``).
    log_images : bool, default True
        Log the images to every logger that takes them: one with ``log_image(key, images,
        step)`` (wandb), or whose ``experiment`` has ``add_image`` (TensorBoard); others
        (CSV) are skipped quietly.
    factor_sizes, factor_names, backend, random_state :
        As :func:`fastdci.evaluate` takes them.
    **metric_options :
        Per-metric option dicts, e.g. ``dci={"regressor": "logistic"}``.

    Attributes
    ----------
    last_report : fastdci.Report or None
        The latest scores. Under DDP every process computes the same report (same rows,
        same weights), so every process logs the same values; images come from rank zero.
        Metrics that were skipped or failed are warned about once each.
    """

    def __init__(self, data: Any, *, every_n_epochs: int = 1, metrics: str | Sequence[str] = ("information", "dci"),
                 n_rows: int | None = 10_000, encode: Callable | None = None, batch_size: int = 256, seed: int = 0,
                 prefix: str = "fastdci/", log_images: bool = True, factor_sizes: Sequence[int] | None = None,
                 factor_names: Sequence[str] | None = None, backend: str = "auto", random_state: int = 0,
                 **metric_options: Any):
        from .evaluation import check_metric_options
        from .metrics.registry import resolve_metrics

        for name, value, low in (("every_n_epochs", every_n_epochs, 1), ("batch_size", batch_size, 1),
                                 ("n_rows", 2 if n_rows is None else n_rows, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidInputError(f"{name} must be an integer >= {low}; got {value!r}.")
        if encode is not None and not callable(encode):
            raise InvalidInputError(f"encode must be a function encode(pl_module, images) -> means; got {encode!r}.")
        self.metrics = resolve_metrics(metrics)
        check_metric_options(self.metrics, metric_options)  # one line for a wrong option, before training
        self.metric_options = metric_options
        self.data = data
        self.every_n_epochs, self.n_rows, self.batch_size, self.seed = every_n_epochs, n_rows, batch_size, seed
        self.encode, self.prefix, self.log_images = encode, prefix, log_images
        self.factor_sizes, self.factor_names = factor_sizes, factor_names
        self.backend, self.random_state = backend, random_state
        self.last_report = None
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ the hook
    def on_train_epoch_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        report = self.score(pl_module)
        self.last_report = report
        scores = report.to_dict("flat")["scores"]
        for key, value in scores.items():
            pl_module.log(self.prefix + key, value, on_step=False, on_epoch=True, sync_dist=False)
        for name, why in {**report.skipped, **report.failed}.items():
            if name not in self._warned:
                self._warned.add(name)
                rank_zero_warn(f"fastdci: {name} was not scored: {why}")
        if self.log_images and trainer.is_global_zero:
            self._log_images(trainer, report)

    def score(self, pl_module: "pl.LightningModule"):
        """Encode the rows with ``pl_module`` and compute the metrics: a :class:`fastdci.Report`."""
        from .evaluation import evaluate

        with self.source(pl_module) as source:
            return evaluate(source, self.metrics, backend=self.backend, random_state=self.random_state,
                            **self.metric_options)

    # ------------------------------------------------------------------ encoding
    def rows(self) -> np.ndarray:
        """The dataset rows scored (the same every time)."""
        from .encode import select_rows

        return select_rows(len(self._dataset()), self._n_rows(), self.seed)[0]

    def source(self, pl_module: "pl.LightningModule"):
        """A :class:`~fastdci.io.LatentsSource` of :meth:`rows` encoded by ``pl_module`` (in memory).

        The module encodes in eval mode without gradients, on its device, and gets its mode
        back afterwards (:func:`fastdci.io.encode_model` does the batching and the checks).
        """
        from .io import encode_model

        model = pl_module if self.encode is None else (lambda images: self.encode(pl_module, images))
        training = pl_module.training
        pl_module.eval()
        try:
            return encode_model(model, self._dataset(), n_rows=self._n_rows(), seed=self.seed,
                                batch_size=self.batch_size, device=pl_module.device, factor_sizes=self.factor_sizes,
                                factor_names=self.factor_names, progress=False)
        finally:
            pl_module.train(training)

    def encode_rows(self, pl_module: "pl.LightningModule") -> tuple[np.ndarray, np.ndarray]:
        """(latents (n, L), factor classes (n, K) int64) of :meth:`rows`, encoded by ``pl_module``."""
        with self.source(pl_module) as source:
            return np.asarray(source.latents), np.asarray(source.factors, dtype=np.int64)

    def _n_rows(self) -> int | None:
        n = len(self._dataset())
        return None if self.n_rows is None or self.n_rows >= n else self.n_rows

    def _dataset(self):
        data = self.data
        if isinstance(data, pl.LightningDataModule):
            data = data.val_dataloader().dataset
        if not hasattr(data, "__len__") or not (hasattr(data, "__getitem__") or hasattr(data, "images_torch")):
            raise InvalidInputError(
                f"data must be a map-style dataset (len and data[i] -> (image, factor classes)), a fastdci dataset "
                f"(images_torch, classes) or a LightningDataModule with a val_dataloader(); got {type(data).__name__}.")
        return data

    # ------------------------------------------------------------------ images
    def _log_images(self, trainer: "pl.Trainer", report) -> None:
        sinks = [s for s in (_image_sink(lg) for lg in trainer.loggers) if s is not None]
        if not sinks:
            return
        from . import _plots

        names = report.provenance["factor_names"]
        plots = {"mutual_information": ("mig", _plots.plot_mutual_information),
                 "dci_importance": ("dci", _plots.plot_dci)}
        with tempfile.TemporaryDirectory() as tmp:
            for tag, (metric, plot) in plots.items():
                if metric in report:
                    image = _read_png(plot(report[metric], names, Path(tmp) / f"{tag}.png"))
                    for sink in sinks:
                        sink(self.prefix + tag, image, trainer.global_step)


def _image_sink(logger) -> Callable | None:
    """A function (tag, HWC uint8 image, step) for a logger that takes images, else None."""
    if callable(getattr(logger, "log_image", None)):
        return lambda tag, image, step: logger.log_image(key=tag, images=[image], step=step)
    add_image = getattr(getattr(logger, "experiment", None), "add_image", None)
    if callable(add_image):
        return lambda tag, image, step: add_image(tag, image, global_step=step, dataformats="HWC")
    return None


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))
