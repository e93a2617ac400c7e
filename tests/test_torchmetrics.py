"""fastdci.torchmetrics: every metric fed in batches equals the plain function on the same rows.

Information metrics exactly (int64 counts on agreed edges); row-keeping metrics exactly (the
same core call on the same rows); a real two-process DDP run on CPU (gloo) equals one process
on all rows; out-of-range rows warn; the doc's torchmetrics examples run.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torchmetrics")

import fastdci  # noqa: E402
from fastdci.errors import InvalidInputError  # noqa: E402
from fastdci.metrics.registry import METRICS  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DOC = Path(__file__).resolve().parents[1] / "docs" / "training_loop.md"
INFORMATION = [n for n, s in METRICS.items() if s.family == "information"]
ROWS = [n for n, s in METRICS.items() if s.family != "information"]
SIZES = (3, 4)
# small, fast settings for the row-keeping metrics (the same ones go to the plain function)
FAST = {
    "dci": {"regressor": "logistic"},
    "dci_es": {"n_rounds": 10},
    "sap": {"continuous": True},
    "explicitness": {},
    "infomec": {},
    "beta_vae": {"batch_size": 8, "n_train": 120, "n_eval": 60},
    "factor_vae": {"batch_size": 16, "n_train": 150, "n_eval": 80, "n_variance_rows": None},
    "z_max": {"batch_size": 16, "n_train": 150, "n_eval": 80, "n_variance_rows": None},
    "irs": {"n_train": 400},
    "unsupervised": {},
}


def _grid_data(repeat: int = 40, seed: int = 0):
    """Every combination of SIZES ``repeat`` times (so the intervention metrics apply), shuffled."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, len(SIZES))
    factors = np.repeat(grid, repeat, axis=0)[rng.permutation(len(grid) * repeat)]
    mix = np.array([[1.0, 0.2], [0.1, 1.0], [0.5, 0.5]])
    latents = (factors @ mix.T + 0.3 * rng.normal(size=(len(factors), 3))).astype(np.float32)
    return latents, factors


def _batches(x, y, n_parts=4):
    edges = np.linspace(0, len(x), n_parts + 1).astype(int)
    return [(x[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]


def _plain(name, x, y, **options):
    return getattr(fastdci, METRICS[name].public_name)(x, y, **options)


def _same(result, expected):
    """Every field equal; the metric's provenance adds only where its bin edges came from."""
    extra = dict(result.provenance)
    extra.pop("bin_edges", None)
    assert extra == expected.provenance
    assert dataclasses.replace(result, provenance={}) == dataclasses.replace(expected, provenance={})


def _extremes_first(x, y):
    """Rows reordered so that the first rows hold every column's min and max."""
    ext = np.unique(np.concatenate([x.argmin(0), x.argmax(0)]))
    order = np.concatenate([ext, np.setdiff1d(np.arange(len(x)), ext)])
    return x[order], y[order]


def test_one_class_per_registry_metric():
    from fastdci.torchmetrics import METRIC_CLASSES, InformationMetric, RowMetric

    assert set(METRIC_CLASSES) == set(METRICS)
    for name, cls in METRIC_CLASSES.items():
        assert issubclass(cls, InformationMetric if name in INFORMATION else RowMetric), name


def test_import_fastdci_does_not_import_torchmetrics():
    code = "import fastdci, sys; fastdci.mig; print('torchmetrics' in sys.modules, 'fastdci.torchmetrics' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("name", INFORMATION)
def test_information_metric_in_batches_equals_plain_function(name):
    from fastdci.torchmetrics import METRIC_CLASSES

    x, y = _grid_data()
    metric = METRIC_CLASSES[name](latent_range=(x.min(0), x.max(0)), n_bins=12)
    for bx, by in _batches(x, y):
        metric.update(bx, by)
    _same(metric.compute(), _plain(name, x, y, n_bins=12))


def test_first_update_edges_equal_plain_function_and_torch_input():
    import torch

    from fastdci.torchmetrics import MIG

    x, y = _extremes_first(*_grid_data())
    metric = MIG(normalization="latent")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rows inside the first update's range: no warning
        for bx, by in _batches(torch.from_numpy(x), torch.from_numpy(y)):
            metric.update(bx, by)
        result = metric.compute()
    assert result.provenance["bin_edges"] == "first update"
    _same(result, fastdci.mig(x, y, normalization="latent"))


def test_given_quantile_edges_equal_plain_function():
    from fastdci.kernels.cpu import quantile_edges
    from fastdci.torchmetrics import Modularity

    x, y = _grid_data()
    metric = Modularity(edges=quantile_edges(x, 10), n_bins=10, discretizer="quantile")
    for bx, by in _batches(x, y):
        metric.update(bx, by)
    _same(metric.compute(), fastdci.modularity(x, y, n_bins=10, discretizer="quantile"))


def test_rows_outside_first_update_edges_warn():
    from fastdci.torchmetrics import MIG

    x, y = _grid_data()
    order = np.argsort(x[:, 0])
    x, y = x[order], y[order]  # the first batch holds the smallest values of latent 0 only
    metric = MIG()
    for bx, by in _batches(x, y):
        metric.update(bx, by)
    with pytest.warns(UserWarning, match=r"latent\(s\) \[0.*outside the bin edges.*pass latent_range="):
        result = metric.compute()
    assert result.mig != fastdci.mig(x, y).mig


def test_rows_outside_given_range_warn():
    from fastdci.torchmetrics import JEMMIG

    x, y = _grid_data()
    metric = JEMMIG(latent_range=(-0.5, 1.0))
    metric.update(x, y)
    with pytest.warns(UserWarning, match="fixed by latent_range="):
        metric.compute()


@pytest.mark.parametrize("name", ROWS)
def test_row_metric_in_batches_equals_plain_function(name):
    from fastdci.torchmetrics import METRIC_CLASSES

    x, y = _grid_data()
    metric = METRIC_CLASSES[name](**FAST[name])
    for bx, by in _batches(x, y):
        metric.update(bx, by)
    assert metric.compute() == _plain(name, x, y, **FAST[name])


def test_reset_forgets_rows_and_first_update_edges():
    from fastdci.torchmetrics import DCI, MIG

    x, y = _extremes_first(*_grid_data(seed=1))
    mig, dci = MIG(), DCI(regressor="logistic")
    for m in (mig, dci):
        m.update(x + 100.0, y)  # another range entirely
        m.compute()
        m.reset()
        for bx, by in _batches(x, y):
            m.update(bx, by)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _same(mig.compute(), fastdci.mig(x, y))
    assert dci.compute() == fastdci.dci(x, y, regressor="logistic")


def test_collection_equals_evaluate():
    from fastdci.torchmetrics import Disentanglement

    x, y = _extremes_first(*_grid_data())
    names = ["mig", "modularity", "jemmig", "dci", "factor_vae", "irs"]
    options = {"mig": {"n_bins": 8}, **{n: FAST[n] for n in ("dci", "factor_vae", "irs")}}
    metric = Disentanglement(names, **options)
    assert len(metric.information) == 2  # mig's binning differs from the other two's
    for bx, by in _batches(x, y):
        metric.update(bx, by)
    report = metric.compute()
    expected = fastdci.evaluate((x, y), names, **options)
    assert list(report) == names and not report.failed and not report.skipped
    for n in names:
        if METRICS[n].family == "information":
            _same(report[n], expected[n])
        else:
            assert report[n] == expected[n]
    assert report.provenance["rows"] == len(x)


def test_collection_skips_what_evaluate_skips():
    from fastdci.torchmetrics import Disentanglement

    x, y = _grid_data()
    keep = ~((y[:, 0] == 0) & (y[:, 1] == 0))  # one combination missing: no complete grid
    metric = Disentanglement(["mig", "factor_vae"], factor_vae=FAST["factor_vae"])
    metric.update(x[keep], y[keep])
    report = metric.compute()
    expected = fastdci.evaluate((x[keep], y[keep]), ["mig", "factor_vae"], factor_vae=FAST["factor_vae"])
    assert list(report) == list(expected) and report.skipped == expected.skipped


def test_options_go_through_the_registry_checker():
    from fastdci.torchmetrics import DCI, MIG, Disentanglement

    with pytest.raises(InvalidInputError, match="mig has no option 'nbins'. Did you mean 'n_bins'"):
        MIG(nbins=10)
    with pytest.raises(InvalidInputError, match="dci option test_size"):
        DCI(test_size=2.0)
    with pytest.raises(InvalidInputError, match="options were given for sap"):
        Disentanglement(["mig"], sap={"C": 1.0})
    with pytest.raises(InvalidInputError, match="quantile bins need.*pass edges="):
        MIG(discretizer="quantile")
    with pytest.raises(InvalidInputError, match="not both"):
        MIG(latent_range=(0, 1), edges=np.zeros((2, 21)))
    with pytest.raises(InvalidInputError, match="pass n_bins=10"):
        MIG(edges=np.tile(np.linspace(0, 1, 11), (2, 1)))
    with pytest.raises(InvalidInputError, match="latent_range must be finite"):
        MIG(latent_range=(1.0, 0.0))


def test_max_rows_is_a_clear_error():
    from fastdci.torchmetrics import SAP

    x, y = _grid_data()
    metric = SAP(max_rows=300)
    metric.update(x[:200], y[:200])
    with pytest.raises(InvalidInputError, match="above max_rows=300. Pass a larger max_rows="):
        metric.update(x[200:400], y[200:400])


def test_compute_before_update_says_so():
    from fastdci.torchmetrics import DCI, MIG

    for metric in (MIG(), DCI()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torchmetrics' own warning
            with pytest.raises(InvalidInputError, match=r"call update\(latents, factors\) first"):
                metric.compute()


# ------------------------------------------------------------------------------------ DDP
def _ddp_worker(rank: int, world: int, init_file: str, out: str) -> None:
    import torch
    import torch.distributed as dist

    from fastdci.torchmetrics import DCI, MIG, Disentanglement

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        with open(out + ".data", "rb") as fh:
            parts = pickle.load(fh)
        x, y = parts[rank]
        metrics = {"mig": MIG(), "mig_range": MIG(latent_range=parts["range"]), "dci": DCI(regressor="logistic"),
                   "both": Disentanglement(["modularity", "explicitness"])}
        for bx, by in _batches(x, y, 3):
            for m in metrics.values():
                m.update(bx, by)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results = {k: m.compute() for k, m in metrics.items()}
        with open(f"{out}.{rank}", "wb") as fh:
            pickle.dump(results, fh)
    finally:
        dist.destroy_process_group()


def test_ddp_two_processes_equal_one_process_on_all_rows(tmp_path):
    import torch.multiprocessing as mp

    x, y = _grid_data()
    half = len(x) // 2
    parts = {r: _extremes_first(x[s], y[s]) for r, s in enumerate((slice(0, half), slice(half, None)))}
    # rank 0 never sees class 3 of factor 1: the two class axes differ until the sync
    parts[0] = (parts[0][0], np.where(parts[0][1] == 3, 2, parts[0][1]))
    parts["range"] = (np.minimum(parts[0][0].min(0), parts[1][0].min(0)),
                      np.maximum(parts[0][0].max(0), parts[1][0].max(0)))
    out = str(tmp_path / "result")
    with open(out + ".data", "wb") as fh:
        pickle.dump(parts, fh)
    mp.spawn(_ddp_worker, args=(2, str(tmp_path / "init"), out), nprocs=2, join=True)
    all_x = np.concatenate([parts[0][0], parts[1][0]])
    all_y = np.concatenate([parts[0][1], parts[1][1]])
    for rank in (0, 1):
        with open(f"{out}.{rank}", "rb") as fh:
            got = pickle.load(fh)
        _same(got["mig"], fastdci.mig(all_x, all_y))
        _same(got["mig_range"], fastdci.mig(all_x, all_y))
        assert got["dci"] == fastdci.dci(all_x, all_y, regressor="logistic")
        expected = fastdci.evaluate((all_x, all_y), ["modularity", "explicitness"])
        _same(got["both"]["modularity"], expected["modularity"])
        assert got["both"]["explicitness"] == expected["explicitness"]


# ------------------------------------------------------------------------------------ the doc
def _doc_blocks(section: str) -> list[str]:
    text = DOC.read_text()
    parts = re.split(r"^## ", text, flags=re.M)
    body = next(p for p in parts if p.lower().startswith(section))
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)


def test_doc_torchmetrics_examples_run(tmp_path, monkeypatch):
    blocks = _doc_blocks("torchmetrics")
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102
