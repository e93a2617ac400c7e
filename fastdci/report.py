"""Reports people can look at: PNG plots, a static HTML page, a table.

:func:`write_report` takes a :class:`~fastdci.evaluation.Report` (and optionally the latents
file and a training run) and writes into one folder:

- ``dci_importance.png``: the DCI importance matrix (latents x factors) with per-latent
  disentanglement and per-factor completeness as margins;
- ``mutual_information.png``: the normalised mutual information I(z_i; v_j) / H(v_j) behind MIG;
- ``latent_histograms.png``: each latent's histogram, coloured by the value of the factor it
  is most informative about;
- ``reconstructions.png`` and ``traversals.png`` when a training run is given;
- ``report.json`` and ``index.html`` (no server, no external resources).
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_dci", "plot_mutual_information", "plot_latent_histograms", "write_report", "score_rows"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_dci(result, factor_names, path) -> Path:
    """Heatmap of the DCI importance matrix with D per latent (right) and C per factor (bottom)."""
    plt = _plt()
    imp = np.asarray(result.importance, dtype=float)
    L, K = imp.shape
    d = np.asarray(result.disentanglement_per_latent)
    c = np.asarray(result.completeness_per_factor)
    fig = plt.figure(figsize=(1.1 * K + 3.2, 0.42 * L + 2.6), dpi=130)
    gs = fig.add_gridspec(2, 3, width_ratios=[K, 1.3, 0.25], height_ratios=[L, 1.3], wspace=0.08, hspace=0.12)
    ax = fig.add_subplot(gs[0, 0])
    norm = imp / max(imp.max(), 1e-12)
    im = ax.imshow(norm, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(L):
        for j in range(K):
            ax.text(j, i, f"{imp[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] < 0.6 else "black")
    ax.set_yticks(range(L), [f"z{i}" for i in range(L)])
    ax.tick_params(labelbottom=False)
    ax.set_ylabel("latent")
    ax.set_title(f"DCI importance (D = {result.disentanglement:.3f}, C = {result.completeness:.3f}, "
                 f"I test = {result.informativeness_test:.3f})", fontsize=9)
    axd = fig.add_subplot(gs[0, 1], sharey=ax)
    # latents that carry no importance are drawn faint: their D does not count
    from matplotlib.colors import to_rgba

    weights = np.asarray(result.latent_weights)
    axd.barh(range(L), d, color=[to_rgba("tab:orange", 1.0 if w > 1e-3 else 0.3) for w in weights])
    axd.set_xlim(0, 1)
    axd.set_xlabel("D per latent", fontsize=8)
    axd.tick_params(labelleft=False, labelsize=7)
    axc = fig.add_subplot(gs[1, 0], sharex=ax)
    axc.bar(range(K), c, color="tab:blue")
    axc.set_ylim(0, 1)
    axc.set_ylabel("C", fontsize=8)
    axc.set_xticks(range(K), list(factor_names), rotation=30, ha="right", fontsize=8)
    axc.tick_params(labelsize=7)
    cax = fig.add_subplot(gs[0, 2])
    fig.colorbar(im, cax=cax, label="importance / max")
    return _save(fig, path)


def plot_mutual_information(result, factor_names, path) -> Path:
    """Heatmap of I(z_i; v_j) / H(v_j), the normalised MI matrix MIG is computed from."""
    plt = _plt()
    mi = np.asarray(result.mutual_info, dtype=float)
    h = np.asarray(result.factor_entropy, dtype=float)
    nmi = mi / np.where(h > 0, h, 1.0)
    L, K = nmi.shape
    fig, ax = plt.subplots(figsize=(1.1 * K + 2.4, 0.42 * L + 1.8), dpi=130)
    im = ax.imshow(nmi, cmap="magma", vmin=0, vmax=max(1e-12, min(1.0, nmi.max())), aspect="auto")
    for i in range(L):
        for j in range(K):
            ax.text(j, i, f"{nmi[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if nmi[i, j] < 0.5 * nmi.max() else "black")
    ax.set_xticks(range(K), list(factor_names), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(L), [f"z{i}" for i in range(L)])
    ax.set_xlabel("factor")
    ax.set_ylabel("latent")
    ax.set_title(f"normalised mutual information I(z; v) / H(v)   (MIG = {result.score:.3f})", fontsize=9)
    fig.colorbar(im, ax=ax, label="I / H(factor)")
    return _save(fig, path)


def plot_latent_histograms(latents, factors, factor_names, path, *, mutual_info=None, bins: int = 40,
                           max_rows: int = 200_000, seed: int = 0) -> Path:
    """One histogram per latent, stacked by the value of the factor it tells most about."""
    plt = _plt()
    latents = np.asarray(latents)
    factors = np.asarray(factors)
    if latents.shape[0] > max_rows:
        idx = np.random.default_rng(seed).choice(latents.shape[0], max_rows, replace=False)
        latents, factors = latents[idx], factors[idx]
    L = latents.shape[1]
    cols = min(5, L)
    rows = int(np.ceil(L / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), dpi=110, squeeze=False)
    for i in range(rows * cols):
        ax = axes.flat[i]
        if i >= L:
            ax.axis("off")
            continue
        x = latents[:, i]
        k = int(np.argmax(mutual_info[i])) if mutual_info is not None else 0
        v = factors[:, k]
        values = np.unique(v)
        # at most 8 colour groups: bin the factor's values into ordered groups
        groups = np.minimum((np.searchsorted(values, v) * 8) // max(len(values), 1), 7) if len(values) > 8 else \
            np.searchsorted(values, v)
        n_groups = int(groups.max()) + 1
        lo, hi = float(x.min()), float(x.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        cmap = plt.get_cmap("viridis", max(n_groups, 2))
        data = [x[groups == g] for g in range(n_groups)]
        ax.hist(data, bins=edges, stacked=True, color=[cmap(g) for g in range(n_groups)], linewidth=0)
        ax.set_title(f"z{i}  coloured by {factor_names[k]}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    fig.suptitle("latent histograms (colour: value of the factor each latent is most informative about; "
                 "dark = low, yellow = high)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def score_rows(report) -> list[list[Any]]:
    """``[metric, score name, value]`` rows for tables."""
    rows = []
    for m, sc in report.scores().items():
        for k, v in sc.items():
            rows.append([m, k, v])
    return rows


def write_report(report, out_dir, *, latents_path=None, checkpoint=None, title: str | None = None) -> Path:
    """Write the PNG plots, ``report.json`` and ``index.html`` for ``report`` into ``out_dir``.

    Parameters
    ----------
    report : Report
        From :func:`fastdci.evaluate`.
    out_dir : str or Path
        Created if needed; existing plot files in it are replaced.
    latents_path : str or Path, optional
        The latents file, for the per-latent histograms (defaults to the report's source).
    checkpoint : str or Path, optional
        A training run directory (``fastdci train --out RUN``): adds reconstructions and
        latent traversals.

    Returns
    -------
    Path
        The HTML page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = report.provenance.get("factor_names", [])
    figures: list[tuple[str, str]] = []
    if "dci" in report:
        plot_dci(report["dci"], names, out / "dci_importance.png")
        figures.append(("dci_importance.png", "DCI importance matrix: which latent predicts which factor "
                        "(margins: disentanglement per latent, completeness per factor)."))
    mi = None
    if "mig" in report:
        plot_mutual_information(report["mig"], names, out / "mutual_information.png")
        mi = np.asarray(report["mig"].mutual_info)
        figures.append(("mutual_information.png", "Normalised mutual information between each latent and each "
                        "factor; MIG is the mean gap between the top two entries of each column."))
    src = latents_path or report.provenance.get("source")
    if src and src != "arrays" and Path(src).exists():
        from .io import open_latents

        with open_latents(src) as r:
            n = min(r.n_rows, 200_000)
            chunk = r.sample(n, random_state=0, fields=["mean", "classes"]) if n < r.n_rows else \
                r.read(fields=["mean", "classes"])
        plot_latent_histograms(chunk.mean, chunk.classes, names, out / "latent_histograms.png", mutual_info=mi)
        figures.append(("latent_histograms.png", "Each latent's distribution, coloured by the factor it is most "
                        "informative about."))
    if checkpoint is not None:
        figures += _run_figures(Path(checkpoint), out)
    report.to_json(out / "report.json")
    page = out / "index.html"
    page.write_text(_html(report, figures, title or f"fastdci report: {Path(str(src)).name if src else 'arrays'}"))
    return page


def _run_figures(run: Path, out: Path) -> list[tuple[str, str]]:
    """Reconstructions and traversals of a training run (rendered now if the run lacks them)."""
    from .train.rundir import RECONSTRUCTIONS_NAME, TRAVERSALS_NAME

    figs = []
    if not all((run / n).exists() for n in (RECONSTRUCTIONS_NAME, TRAVERSALS_NAME)):
        from .data import DSprites
        from .train import load_checkpoint, save_reconstructions, save_traversals

        model, ckpt = load_checkpoint(run)
        data = ckpt["config"].get("data")
        dataset = DSprites(data) if data else DSprites()
        save_reconstructions(model, dataset, out / RECONSTRUCTIONS_NAME)
        save_traversals(model, dataset, out / TRAVERSALS_NAME)
        run = out
    for name, caption in ((RECONSTRUCTIONS_NAME, "Reconstructions: inputs (top) and the decoder's output (bottom)."),
                          (TRAVERSALS_NAME, "Latent traversals: row z_i sets latent i to evenly spaced values from "
                           "-2.5 to 2.5, the others fixed at the posterior mean of the input (first column); a row "
                           "that does not change is an inactive latent.")):
        if (run / name).exists():
            if name == TRAVERSALS_NAME:
                import inspect

                from .train import save_traversals

                params = inspect.signature(save_traversals).parameters
                _label_traversals(run / name, out / name, cols=params["n_values"].default + 1,
                                  limit=params["limit"].default)
            elif run != out:
                shutil.copyfile(run / name, out / name)
            figs.append((name, caption))
    return figs


def _label_traversals(src: Path, dst: Path, cols: int = 12, limit: float = 2.5) -> Path:
    """Redraw a traversal grid (rows = latents, first column = the input) with labelled axes."""
    from PIL import Image

    plt = _plt()
    img = np.asarray(Image.open(src).convert("L"))
    # the grid is square tiles with a thin border: count the rows from the aspect ratio
    rows = max(1, round(img.shape[0] / (img.shape[1] / cols)))
    fig, ax = plt.subplots(figsize=(cols * 0.75 + 1, rows * 0.75 + 0.8), dpi=120)
    ax.imshow(img, cmap="gray", vmin=0, vmax=255)
    h, w = img.shape[0] / rows, img.shape[1] / cols
    ax.set_yticks([(i + 0.5) * h for i in range(rows)], [f"z{i}" for i in range(rows)])
    values = np.linspace(-limit, limit, cols - 1)
    ax.set_xticks([(j + 0.5) * w for j in range(cols)], ["input"] + [f"{v:+.1f}" for v in values], fontsize=8)
    ax.set_xlabel("value of the traversed latent")
    ax.set_ylabel("latent")
    ax.set_title("latent traversals", fontsize=10)
    return _save(fig, dst)


def _html(report, figures, title: str) -> str:
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(m)}</td><td>{esc(k)}</td><td>{v:.4g}</td></tr>" for m, k, v in score_rows(report)
    )
    skipped = "".join(f"<li><b>{esc(m)}</b>: {esc(r)}</li>" for m, r in report.skipped.items())
    failed = "".join(f"<li><b>{esc(m)}</b>: {esc(r)}</li>" for m, r in report.failed.items())
    warned = "".join(f"<li><b>{esc(m)}</b>: {esc(w)}</li>" for m, ws in report.provenance.get("warnings", {}).items()
                     for w in ws)
    prov = report.provenance
    secs = prov.get("seconds", {})
    timing = ", ".join(f"{esc(m)} {t:.2f} s" for m, t in secs.items())
    figs = "".join(
        f'<figure><img src="{esc(name)}" alt="{esc(name)}"><figcaption>{esc(cap)}</figcaption></figure>'
        for name, cap in figures
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 3px 12px; border-bottom: 1px solid #ddd; }}
td:last-child {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ color: #555; font-size: 0.9em; }} .meta {{ color: #555; font-size: 0.9em; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p class="meta">source: {esc(str(prov.get('source')))} &middot; rows: {prov.get('rows')} &middot;
factors: {esc(', '.join(f'{n} ({s})' for n, s in zip(prov.get('factor_names', []), prov.get('factor_sizes', []))))}
&middot; backend: {esc(str(prov.get('backend')))} &middot; seed: {prov.get('random_state')}
&middot; fastdci {esc(prov.get('versions', {}).get('fastdci', '?'))} &middot; {esc(str(prov.get('date')))}</p>
<h2>Scores</h2>
<table><tr><th>metric</th><th>score</th><th>value</th></tr>{rows}</table>
{f'<h3>Skipped</h3><ul>{skipped}</ul>' if skipped else ''}
{f'<h3>Failed</h3><ul>{failed}</ul>' if failed else ''}
{f'<h3>Warnings</h3><ul>{warned}</ul>' if warned else ''}
<p class="meta">time per metric: {timing}</p>
<h2>Figures</h2>
{figs}
<p class="meta">All numbers: <a href="report.json">report.json</a>.</p>
</body></html>
"""
