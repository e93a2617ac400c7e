"""Reports people can look at: PNG plots, a static HTML page, a table.

:func:`write_report` takes a :class:`~fastdci.evaluation.Report` (and optionally the latents
file and a training run) and writes into one folder:

- ``dci_importance.png``: the DCI importance matrix (latents x factors) with per-latent
  disentanglement and per-factor completeness as margins;
- ``mutual_information.png``: the normalised mutual information I(z_i; v_j) / H(v_j) behind MIG,
  with each factor's top two latents marked and its gap written under it;
- ``latent_histograms.png``: each latent's histogram, coloured by the value of the factor it
  is most informative about;
- ``kl_per_latent.png``: the mean KL of the encoder's posterior per latent, and which latents
  are active, when the latents file stores ``/latents/logvar`` or a training run is given;
- ``training_curves.png``, ``reconstructions.png`` and ``traversals.png`` (rows ordered by KL,
  most active latent first) when a training run is given;
- ``report.json`` and ``index.html``. Every link and image on the page is a file name in the
  folder (relative), so the folder can be moved or shared; nothing is loaded from elsewhere.

The page also lists, per metric, the settings the number was computed with.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ._plots import (plot_dci, plot_kl, plot_latent_histograms, plot_losses, plot_mutual_information,
                     plot_traversals)
from ._report_html import render_html

__all__ = ["plot_dci", "plot_kl", "plot_latent_histograms", "plot_losses", "plot_mutual_information",
           "plot_traversals", "latent_kl", "score_rows", "write_report"]

ACTIVE_VARIANCE = 0.01
"""A latent is active when the variance over the data of its posterior mean exceeds this
(the "active units" criterion of Burda et al., 2016)."""

KL_ROWS = 2048
"""Images encoded to estimate the KL per latent when the latents file stores no log-variances."""

TRAVERSAL_VALUES = 11
TRAVERSAL_LIMIT = 2.5


def score_rows(report) -> list[list[Any]]:
    """``[metric, score name, value]`` rows for tables."""
    rows = []
    for m, sc in report.scores().items():
        for k, v in sc.items():
            rows.append([m, k, v])
    return rows


def latent_kl(mean, logvar) -> np.ndarray:
    """Mean over rows of KL(N(mean, exp(logvar)) || N(0, I)) per latent, in nats: shape (L,)."""
    mean = np.asarray(mean, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    return 0.5 * np.mean(mean ** 2 + np.exp(logvar) - logvar - 1.0, axis=0)


def write_report(report, out_dir, *, latents_path=None, checkpoint=None, title: str | None = None) -> Path:
    """Write the PNG plots, ``report.json`` and ``index.html`` for ``report`` into ``out_dir``.

    Parameters
    ----------
    report : Report
        From :func:`fastdci.evaluate` (or :meth:`fastdci.Report.from_json`).
    out_dir : str or Path
        Created if needed; existing plot files in it are replaced.
    latents_path : str or Path, optional
        The latents file, for the per-latent histograms and (when it stores ``/latents/logvar``)
        the KL per latent; defaults to the report's source.
    checkpoint : str or Path, optional
        A training run directory (``fastdci train --out RUN``) or its ``checkpoint.pt``: adds
        the KL per latent (from the file's log-variances, else from encoding :data:`KL_ROWS`
        images), the training curves, reconstructions and latent traversals ordered by KL.

    Returns
    -------
    Path
        The HTML page. Its links and images are relative to its folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = report.provenance.get("factor_names", [])
    figures: list[tuple[str, str]] = []
    notes: list[str] = []
    if "dci" in report:
        plot_dci(report["dci"], names, out / "dci_importance.png")
        figures.append(("dci_importance.png", "DCI importance matrix: which latent predicts which factor "
                        "(margins: disentanglement per latent, completeness per factor)."))
    mi = None
    if "mig" in report:
        plot_mutual_information(report["mig"], names, out / "mutual_information.png")
        mi = np.asarray(report["mig"].mutual_info)
        figures.append(("mutual_information.png", "Normalised mutual information between each latent and each "
                        "factor. In each column the solid box is the latent with the most information and the "
                        "dashed box the runner-up; their difference is the factor's gap, and MIG is the mean gap."))
    src = latents_path or report.provenance.get("source")
    chunk = None
    if src and src != "arrays" and Path(src).is_file():
        chunk = _read_latents(Path(src))
        plot_latent_histograms(chunk.mean, chunk.classes, names, out / "latent_histograms.png", mutual_info=mi)
        figures.append(("latent_histograms.png", "Each latent's distribution, coloured by the factor it is most "
                        "informative about."))
    elif src and src != "arrays":
        notes.append(f"No latent histograms: the latents file {src} is not there (pass it to fastdci report).")
    run = None if checkpoint is None else Path(checkpoint)
    if run is not None and run.is_file():
        run = run.parent
    model = _Model(run) if run is not None else None
    kl = _kl_table(chunk, model)
    if kl is not None:
        plot_kl(kl["kl"], out / "kl_per_latent.png", active=kl["active"])
        figures.append(("kl_per_latent.png", f"Mean KL divergence of the encoder's posterior from the prior, per "
                        f"latent ({kl['source']}). Active latents (variance of the posterior mean over the data "
                        f"> {ACTIVE_VARIANCE}) are drawn solid."))
    training = None
    if run is not None:
        figures += _run_figures(run, out, model, kl, notes)
        try:
            training = json.loads((run / "config.json").read_text())
        except (OSError, ValueError):
            notes.append(f"No training recipe: {run / 'config.json'} cannot be read.")
    report.to_json(out / "report.json")
    page = out / "index.html"
    page.write_text(render_html(report, figures, title or f"fastdci report: {Path(str(src)).name if src else 'arrays'}",
                                kl=kl, notes=notes, training=training))
    return page


def _read_latents(src: Path):
    from .io import open_latents

    with open_latents(src) as r:
        fields = ["mean", "classes"] + (["logvar"] if r.has_logvar else []) + ["index"]
        n = min(r.n_rows, 200_000)
        return r.sample(n, random_state=0, fields=fields) if n < r.n_rows else r.read(fields=fields)


class _Model:
    """The run's model and dataset, loaded on first use."""

    def __init__(self, run: Path):
        self.run = run
        self._loaded = None

    def get(self):
        if self._loaded is None:
            from .data import DSprites
            from .train import load_checkpoint

            model, ckpt = load_checkpoint(self.run)
            data = ckpt["config"].get("data")
            self._loaded = (model, DSprites(data) if data else DSprites(), ckpt["config"])
        return self._loaded


def _kl_table(chunk, model: _Model | None) -> dict | None:
    """KL and activity per latent from the file's log-variances, else by encoding images; None without either."""
    if chunk is not None and chunk.logvar is not None:
        mean, logvar = chunk.mean, chunk.logvar
        source = f"the latents file's /latents/logvar over {len(mean):,} rows"
    elif model is not None:
        import torch

        net, dataset, cfg = model.get()
        if chunk is not None and chunk.index is not None:
            idx = np.random.default_rng(0).permutation(chunk.index)[:KL_ROWS]
        else:
            idx = np.random.default_rng(int(cfg.get("seed", 0))).choice(len(dataset), min(KL_ROWS, len(dataset)),
                                                                          replace=False)
        idx = np.sort(idx)
        means, logvars = [], []
        with torch.inference_mode():
            for s in range(0, len(idx), 256):
                m, lv = net.encode(dataset.images_torch(idx[s:s + 256], "cpu"))
                means.append(m.float().numpy())
                logvars.append(lv.float().numpy())
        mean, logvar = np.concatenate(means), np.concatenate(logvars)
        source = f"{len(idx):,} images encoded with the run's checkpoint"
    else:
        return None
    kl = latent_kl(mean, logvar)
    var = np.var(np.asarray(mean, dtype=np.float64), axis=0)
    return {"kl": kl, "variance": var, "active": var > ACTIVE_VARIANCE, "source": source,
            "threshold": ACTIVE_VARIANCE,
            "order": np.argsort(-kl, kind="stable")}


def _run_figures(run: Path, out: Path, model: _Model, kl: dict | None, notes: list[str]) -> list[tuple[str, str]]:
    """Training curves, reconstructions and KL-ordered traversals of a training run."""
    from .train.rundir import LOSSES_NAME, RECONSTRUCTIONS_NAME

    figs = []
    records = _read_losses(run / LOSSES_NAME)
    if records:
        plot_losses(records, out / "training_curves.png")
        figs.append(("training_curves.png", f"Training curves from {LOSSES_NAME}: each loss term averaged over "
                     "each logging window."))
    else:
        notes.append(f"No training curves: the run has no readable {LOSSES_NAME}.")
    if (run / RECONSTRUCTIONS_NAME).exists():
        if run.resolve() != out.resolve():
            shutil.copyfile(run / RECONSTRUCTIONS_NAME, out / RECONSTRUCTIONS_NAME)
    else:
        from .train import save_reconstructions

        net, dataset, _ = model.get()
        save_reconstructions(net, dataset, out / RECONSTRUCTIONS_NAME)
    figs.append((RECONSTRUCTIONS_NAME, "Reconstructions: inputs (top) and the decoder's output (bottom)."))
    _traversals(model, kl, out / "traversals.png")
    figs.append(("traversals.png", f"Latent traversals, one row per latent ordered by KL (most active first; each "
                 f"row names its latent and KL): the row sets that latent to evenly spaced values from "
                 f"-{TRAVERSAL_LIMIT} to {TRAVERSAL_LIMIT}, the others fixed at the posterior mean of the input "
                 "(first column). A row that does not change is an inactive latent."))
    return figs


def _read_losses(path: Path) -> list[dict]:
    """The records of ``losses.jsonl`` (a torn or foreign line is skipped)."""
    from .train.rundir import log_records

    return [rec for _, rec in log_records(path)]


def _traversals(model: _Model, kl: dict | None, path: Path) -> Path:
    import torch

    net, dataset, cfg = model.get()
    idx = np.sort(np.random.default_rng(int(cfg.get("seed", 0)) + 1).choice(len(dataset), 1, replace=False))
    values = np.linspace(-TRAVERSAL_LIMIT, TRAVERSAL_LIMIT, TRAVERSAL_VALUES)
    if kl is not None and len(kl["kl"]) != net.latent_dim:
        from .errors import InvalidInputError

        raise InvalidInputError(f"the latents file has {len(kl['kl'])} latents but the checkpoint's model has "
                                f"{net.latent_dim}: pass the run that encoded the file (--checkpoint).")
    order = kl["order"] if kl is not None else np.arange(net.latent_dim)
    with torch.inference_mode():
        x = dataset.images_torch(idx, "cpu")
        mean, _ = net.encode(x)
        rows = []
        for latent in order:
            z = mean.repeat(len(values), 1)
            z[:, latent] = torch.as_tensor(values, dtype=z.dtype)
            ims = torch.sigmoid(net.decode(z)).float()[:, 0].numpy()
            rows.append(np.concatenate([x[:, 0].float().numpy(), ims]))
    labels = [f"z{i}  KL {kl['kl'][i]:.3g}" if kl is not None else f"z{i}" for i in order]
    return plot_traversals(np.stack(rows), labels, path, values=values)
