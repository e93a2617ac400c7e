"""fastdci.lightning: a real Trainer on CPU logs the scores fastdci computes on the same rows.

A tiny model trains 2 epochs with a CSVLogger; the callback's logged values are those of
``fastdci.evaluate`` on the rows it encodes; image loggers get the MI and DCI images, a CSV
logger none; the doc's Lightning example runs.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("lightning")

import torch  # noqa: E402
import lightning.pytorch as pl  # noqa: E402
from lightning.pytorch.loggers import CSVLogger, Logger  # noqa: E402

import fastdci  # noqa: E402
from fastdci.errors import InvalidInputError  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DOC = Path(__file__).resolve().parents[1] / "docs" / "training_loop.md"
SIZES = (4, 3)
DCI = {"regressor": "logistic"}


def _images(n: int = 300, seed: int = 0):
    """8x8 images: factor 0 lights a row, factor 1 a column; (images (n, 1, 8, 8), classes (n, 2))."""
    rng = np.random.default_rng(seed)
    classes = np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)
    images = np.zeros((n, 1, 8, 8), np.float32)
    images[np.arange(n), 0, 2 * classes[:, 0], :] = 1.0
    images[np.arange(n), 0, :, 2 * classes[:, 1] + 1] = 1.0
    images += 0.1 * rng.random(images.shape).astype(np.float32)
    return torch.from_numpy(images), torch.from_numpy(classes)


class Tiny(pl.LightningModule):
    """A linear autoencoder; ``encode`` returns (mean, logvar) as a VAE's would."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.enc = torch.nn.Linear(64, 3)
        self.dec = torch.nn.Linear(3, 64)

    def encode(self, x):
        z = self.enc(x.flatten(1))
        return z, torch.zeros_like(z)

    def training_step(self, batch, batch_idx):
        x = batch[0].flatten(1)
        return torch.nn.functional.mse_loss(self.dec(self.enc(x)), x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


class ImageLogger(Logger):
    """A logger that takes images: TensorBoard-style (experiment.add_image) or wandb-style (log_image)."""

    def __init__(self, style: str):
        super().__init__()
        self.style, self.images = style, []
        if style == "wandb":
            self.log_image = lambda key, images, step: self.images.append((key, images[0], step))

    @property
    def name(self):
        return self.style

    @property
    def version(self):
        return 0

    @property
    def experiment(self):
        return self if self.style == "tensorboard" else None

    def add_image(self, tag, image, global_step, dataformats):
        assert dataformats == "HWC"
        self.images.append((tag, image, global_step))

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        pass


def _trainer(tmp_path, callback, loggers, epochs=2):
    return pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=loggers, callbacks=[callback],
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
                      default_root_dir=tmp_path)


def _csv_rows(logger: CSVLogger) -> list[dict]:
    with open(Path(logger.log_dir) / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_trainer_logs_the_scores_fastdci_computes(tmp_path):
    from fastdci.encode import select_rows
    from fastdci.lightning import DisentanglementCallback

    images, classes = _images()
    dataset = torch.utils.data.TensorDataset(images, classes)
    callback = DisentanglementCallback(dataset, n_rows=200, metrics=["mig", "modularity", "dci"], dci=DCI)
    csv_logger, tb, wandb = CSVLogger(tmp_path), ImageLogger("tensorboard"), ImageLogger("wandb")
    model = Tiny()
    _trainer(tmp_path, callback, [csv_logger, tb, wandb]).fit(
        model, torch.utils.data.DataLoader(dataset, batch_size=50))
    rows = [r for r in _csv_rows(csv_logger) if r.get("fastdci/mig.mig")]
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    # the last epoch's scores are those of fastdci on the rows the final model encodes
    idx = select_rows(len(dataset), 200, seed=0)[0]
    with torch.no_grad():
        latents = model.enc(images[idx].flatten(1)).numpy()
    expected = fastdci.evaluate((latents, classes[idx].numpy()), ["mig", "modularity", "dci"], dci=DCI)
    flat = expected.to_dict("flat")["scores"]
    assert flat == callback.last_report.to_dict("flat")["scores"]
    for key, value in flat.items():
        assert float(rows[-1]["fastdci/" + key]) == float(np.float32(value)), key
    for logger in (tb, wandb):
        tags = [t for t, _, _ in logger.images]
        assert tags == ["fastdci/mutual_information", "fastdci/dci_importance"] * 2
        image = logger.images[0][1]
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def test_every_n_epochs_and_forward_means_on_dsprites(tmp_path):
    from fastdci.data import DSprites
    from fastdci.lightning import DisentanglementCallback
    from fastdci.models import build_model

    class VAE(pl.LightningModule):  # no encode: forward's VAEOutput gives the means first
        def __init__(self):
            super().__init__()
            self.vae = build_model(latent_dim=4, seed=0)

        def forward(self, x):
            return self.vae(x)

        def training_step(self, batch, batch_idx):
            return self.vae(batch[0]).logits.mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=1e-3)

    ds = DSprites()
    callback = DisentanglementCallback(ds, every_n_epochs=2, n_rows=150, metrics="mig", batch_size=64)
    logger = CSVLogger(tmp_path)
    train = torch.utils.data.TensorDataset(ds.images_torch(np.arange(8)))
    model = VAE()
    _trainer(tmp_path, callback, [logger]).fit(model, torch.utils.data.DataLoader(train, batch_size=8))
    rows = [r for r in _csv_rows(logger) if r.get("fastdci/mig.mig")]
    assert [int(r["epoch"]) for r in rows] == [1]
    assert callback.last_report.provenance["factor_names"] == list(ds.factor_names)
    latents, factors = callback.encode_rows(model)
    idx = callback.rows()
    with torch.no_grad():
        np.testing.assert_array_equal(latents, model.vae.encode(ds.images_torch(idx))[0].numpy())
    np.testing.assert_array_equal(factors, ds.classes(idx))
    assert model.training  # the callback restores the mode


def test_datamodule_and_user_encoder(tmp_path):
    from fastdci.lightning import DisentanglementCallback

    images, classes = _images(120)

    class Data(pl.LightningDataModule):
        def val_dataloader(self):
            return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, classes), batch_size=30)

    model = Tiny()
    callback = DisentanglementCallback(Data(), n_rows=None, metrics="mig",
                                       encode=lambda module, x: module.enc(x.flatten(1)))
    latents, factors = callback.encode_rows(model)
    with torch.no_grad():
        np.testing.assert_array_equal(latents, model.enc(images.flatten(1)).numpy())
    np.testing.assert_array_equal(factors, classes.numpy())
    assert callback.score(model)["mig"] == fastdci.mig(latents, factors)


def test_bad_arguments_are_one_line_errors():
    from fastdci.lightning import DisentanglementCallback

    images, classes = _images(50)
    dataset = torch.utils.data.TensorDataset(images, classes)
    with pytest.raises(InvalidInputError, match="dci has no option 'regresor'"):
        DisentanglementCallback(dataset, dci={"regresor": "logistic"})
    with pytest.raises(InvalidInputError, match="every_n_epochs must be an integer >= 1"):
        DisentanglementCallback(dataset, every_n_epochs=0)
    with pytest.raises(InvalidInputError, match="data must be a map-style dataset"):
        DisentanglementCallback(object(), metrics="mig").rows()
    callback = DisentanglementCallback(dataset, metrics="mig", encode=lambda module, x: x)
    with pytest.raises(InvalidInputError, match="return the posterior means as an \\(n_images, n_latents\\) array"):
        callback.encode_rows(Tiny())


def test_doc_lightning_example_runs(tmp_path, monkeypatch):
    text = DOC.read_text()
    body = next(p for p in re.split(r"^## ", text, flags=re.M) if p.lower().startswith("lightning"))
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102
