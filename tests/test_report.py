"""``fastdci.report``: KL per latent and active units, KL-ordered traversals, the MIG gap marks,
training curves and the settings on the page."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fastdci._plots as plots
import fastdci.report as R
from fastdci import evaluate
from fastdci.io import LatentsWriter

SIZES = (3, 4)
NAMES = ("shape", "scale")
L = 10  # the default model's latent dimension, so a tiny run's checkpoint fits the file


def _file(path, with_logvar=True):
    rng = np.random.default_rng(0)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, 2)
    f = np.repeat(grid, 20, axis=0)
    mean = 0.01 * rng.normal(size=(len(f), L))
    mean[:, 7] = f[:, 0] + 0.1 * rng.normal(size=len(f))  # z7 carries shape: the most KL
    mean[:, 2] = 0.5 * f[:, 1] + 0.1 * rng.normal(size=len(f))  # z2 carries scale: second
    logvar = np.zeros_like(mean)
    logvar[:, 7], logvar[:, 2] = -4.0, -2.0
    with LatentsWriter(path, latent_dim=L, factor_names=NAMES, factor_sizes=SIZES, with_logvar=with_logvar) as w:
        w.append(mean, logvar=logvar if with_logvar else None, classes=f)
    return mean, logvar


def test_latent_kl_closed_form():
    assert np.allclose(R.latent_kl(np.zeros((4, 2)), np.zeros((4, 2))), 0)
    kl = R.latent_kl(np.array([[1.0, 0.0]]), np.array([[0.0, np.log(2.0)]]))
    assert np.allclose(kl, [0.5, 0.5 * (2 - np.log(2) - 1)])


def test_kl_from_the_files_logvar_orders_the_active_units(tmp_path):
    mean, logvar = _file(tmp_path / "z.h5")
    rep = evaluate(tmp_path / "z.h5", "mig")
    page = R.write_report(rep, tmp_path / "out").read_text()
    assert (tmp_path / "out" / "kl_per_latent.png").exists()
    assert "2 of 10 latents are active" in page and "/latents/logvar" in page
    order = re.findall(r"<td>z(\d+)</td><td class='num'>", page)
    assert order[:2] == ["7", "2"] and len(order) == L
    kl = R.latent_kl(mean, logvar)
    assert f"{kl[7]:.3g}" in page


def test_no_logvar_and_no_run_means_no_kl(tmp_path):
    _file(tmp_path / "z.h5", with_logvar=False)
    page = R.write_report(evaluate(tmp_path / "z.h5", "mig"), tmp_path / "out").read_text()
    assert "Active units" not in page and not (tmp_path / "out" / "kl_per_latent.png").exists()


def test_mig_gap_marks_top_two_latents_per_factor(tmp_path, monkeypatch):
    _file(tmp_path / "z.h5")
    rep = evaluate(tmp_path / "z.h5", "mig")
    seen = {}
    real = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: seen.setdefault("fig", fig) and real(fig, path))
    plots.plot_mutual_information(rep["mig"], NAMES, tmp_path / "mi.png")
    ax = seen["fig"].axes[0]
    boxes = {(round(p.get_x() + p.get_width() / 2), round(p.get_y() + p.get_height() / 2), p.get_linestyle())
             for p in ax.patches}
    nmi = rep["mig"].mutual_info / rep["mig"].factor_entropy
    for j in range(len(NAMES)):
        first, second = np.argsort(-nmi[:, j], kind="stable")[:2]
        assert (j, first, "-") in boxes and (j, second, "--") in boxes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert all("gap" in t for t in labels)
    assert f"gap {rep['mig'].gap_per_factor[0]:.2f}" in labels[0]


@pytest.mark.usefixtures("torch_one_thread")
def test_run_adds_curves_and_kl_ordered_traversals(tmp_path, monkeypatch):
    from fastdci.train import train

    run = tmp_path / "run"
    train(out=run, steps=2, seed=3, batch_size=8, log_every=1, checkpoint_every=2, progress=False)
    _file(tmp_path / "z.h5")
    labels = {}
    real = R.plot_traversals
    monkeypatch.setattr(R, "plot_traversals",
                        lambda grid, lab, path, **kw: labels.setdefault("l", (grid.shape, lab)) and real(grid, lab,
                                                                                                       path, **kw))
    out = tmp_path / "out"
    page = R.write_report(evaluate(tmp_path / "z.h5", "mig"), out, checkpoint=run).read_text()
    shape, lab = labels["l"]
    assert shape[:2] == (L, R.TRAVERSAL_VALUES + 1)
    assert lab[0].startswith("z7  KL ") and lab[1].startswith("z2  KL ")  # most active first
    for name in ("training_curves.png", "reconstructions.png", "traversals.png", "kl_per_latent.png"):
        assert (out / name).exists() and f'src="{name}"' in page
    # the training recipe, from the run's config.json
    recipe = page[page.index("<h2>Training recipe</h2>"):page.index("<h2>Active units</h2>")]
    for key, value in (("objective", "beta"), ("lr", "0.0001"), ("batch_size", "8"), ("steps", "2"), ("seed", "3")):
        assert f"<td>{key}</td><td>{value}</td>" in recipe, key


@pytest.mark.usefixtures("torch_one_thread")
def test_run_without_logvar_encodes_images_for_the_kl(tmp_path):
    from fastdci.train import train

    run = tmp_path / "run"
    train(out=run, steps=2, seed=3, batch_size=8, log_every=1, checkpoint_every=2, progress=False)
    _file(tmp_path / "z.h5", with_logvar=False)
    page = R.write_report(evaluate(tmp_path / "z.h5", "mig"), tmp_path / "out", checkpoint=run).read_text()
    assert "images encoded with the run&#x27;s checkpoint" in page
