"""fastdci.evaluate: equal to calling each metric directly; the Report's views; bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fastdci
from fastdci.errors import InvalidInputError
from fastdci.evaluation import Report, evaluate
from fastdci.metrics.registry import METRICS, resolve_metrics
from fastdci.io import LatentsWriter, open_latents

SIZES = (3, 4, 5, 4, 4)
NAMES = ("shape", "scale", "orientation", "posX", "posY")
FAST = dict(dci={"regressor": "gbt", "n_rounds": 10, "max_depth": 1}, beta_vae={"n_train": 300, "n_eval": 200},
            factor_vae={"n_train": 300, "n_eval": 200, "n_variance_rows": 500},
            z_max={"n_train": 300, "n_eval": 200, "n_variance_rows": 500})


def _grid_code(seed=0, repeats=2):
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, len(SIZES))
    factors = np.repeat(grid, repeats, axis=0)
    aligned = factors / (np.array(SIZES) - 1) + 0.05 * rng.normal(size=factors.shape)
    latents = np.concatenate([aligned, rng.normal(size=(len(factors), 2))], axis=1).astype(np.float32)
    return latents, factors


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    latents, factors = _grid_code()
    path = tmp_path_factory.mktemp("eval") / "grid.h5"
    with LatentsWriter(path, latent_dim=latents.shape[1], factor_names=NAMES, factor_sizes=SIZES,
                       with_logvar=False, chunk_rows=500) as w:
        w.append(latents, classes=factors)
    return path


def test_evaluate_file_equals_direct_calls(grid_file):
    report = evaluate(grid_file, "all", backend="cpu", random_state=0, **FAST)
    assert set(report) | set(report.skipped) == set(METRICS)
    assert not report.failed, report.failed
    with open_latents(grid_file) as r:
        chunk = r.read()
    latents, factors = chunk.mean, chunk.classes.astype(np.int64)
    for name, result in report.items():
        fn = getattr(fastdci, METRICS[name].public_name)
        direct = fn(latents, factors, factor_sizes=SIZES, factor_names=NAMES, random_state=0, backend="cpu",
                    **FAST.get(name, {})) if METRICS[name].family == "intervention" else \
            fn(latents, factors, backend="cpu", **({} if METRICS[name].family in ("information", "unsupervised") else
                                                    {"random_state": 0}), **FAST.get(name, {}))
        assert result.scores() == pytest.approx(direct.scores(), rel=1e-12, abs=1e-12), name
        assert result.counts() == direct.counts(), name


def test_report_views(grid_file):
    report = evaluate(grid_file, ["mig", "dci"], backend="cpu", dci={"regressor": "logistic"})
    assert isinstance(report, Report) and list(report) == ["mig", "dci"]
    flat = report.to_dict("flat")
    assert flat["scores"]["mig.mig"] == report["mig"].score
    assert flat["scores"]["dci.disentanglement"] == report["dci"].disentanglement
    dlib = report.to_dict("disentanglement_lib")
    assert dlib["mig"]["discrete_mig"] == report["mig"].score
    assert dlib["dci"]["informativeness_test"] == report["dci"].informativeness_test
    disent = report.to_dict("disent")
    assert disent["mig.discrete_score"] == report["mig"].score
    assert disent["dci.disentanglement"] == report["dci"].disentanglement
    doc = json.loads(report.to_json())
    assert doc["provenance"]["rows"] == len(_grid_code()[0])
    assert doc["provenance"]["source"] == str(grid_file)
    assert set(doc["provenance"]["seconds"]) == {"mig", "dci"}
    assert doc["results"]["dci"]["importance"] == np.asarray(report["dci"].importance).tolist()
    with pytest.raises(InvalidInputError, match="style must be"):
        report.to_dict("sklearn")


def test_arrays_and_reader_sources_agree(grid_file):
    latents, factors = _grid_code()
    a = evaluate((latents, factors), ["mig", "modularity"], factor_sizes=SIZES)
    with open_latents(grid_file) as r:
        b = evaluate(r, ["mig", "modularity"])
        assert r.n_rows == len(latents)  # a reader passed in stays open
    assert a.scores() == b.scores()


def test_z_max_skipped_on_a_random_subset_of_the_grid(grid_file):
    with open_latents(grid_file) as r:
        part = r.read(np.random.default_rng(0).choice(r.n_rows, 60, replace=False))
    report = evaluate((part.mean, part.classes), ["factor_vae", "z_max"], factor_sizes=SIZES, factor_names=NAMES,
                      **{k: FAST[k] for k in ("factor_vae", "z_max")})
    assert "factor_vae" in report  # one factor fixed, the others free: a subset is enough
    assert "z_max" in report.skipped and "share every factor but" in report.skipped["z_max"]
    assert "--rows all" in report.skipped["z_max"]


def test_grid_metrics_skipped_with_reason_when_rows_do_not_cover_grid():
    rng = np.random.default_rng(1)
    factors = np.stack([np.zeros(300, int), rng.integers(0, 3, 300)], 1)
    factors[0, 0] = 1  # factor 0: one row of value 1, the rest 0
    latents = rng.normal(size=(300, 3))
    report = evaluate((latents, factors), "intervention", factor_sizes=(2, 3))
    assert set(report.skipped) == {"beta_vae", "factor_vae", "z_max", "irs"}
    assert all("do not cover the factor grid" in why and "factor_0" in why for why in report.skipped.values())
    assert len(report) == 0


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(metrics="migg"), "unknown metric 'migg'. Did you mean 'mig'.*Choose from"),
        (dict(metrics="mig", dcii={"x": 1}), "unknown metric 'dcii'. Did you mean 'dci'"),
        (dict(metrics="dci", dci=3), "options for dci must be a dict"),
        (dict(metrics="mig", dci={"max_depth": 3}), "options were given for dci, which is not being computed"),
        (dict(metrics="dci", dci={"max_dept": 3}), "dci has no option 'max_dept'. Did you mean 'max_depth'"),
        (dict(metrics="dci", dci={"max_depth": "3"}), r"dci option max_depth must be an integer >= 1 \(or None\); got '3'"),
        (dict(metrics="mig", backend="tpu"), "backend must be"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    latents, factors = _grid_code()
    with pytest.raises(InvalidInputError, match=pattern):
        evaluate((latents, factors), **kwargs)


def test_bad_source():
    with pytest.raises(InvalidInputError, match="source must be"):
        evaluate(42)
    with pytest.raises(InvalidInputError, match="NaN"):
        evaluate((np.full((10, 2), np.nan), np.zeros((10, 1), int)))


def test_families_expand():
    assert resolve_metrics("information") == ["mig", "mig_sup", "jemmig", "dcimig", "modularity"]
    assert resolve_metrics("mig,dci,mig") == ["mig", "dci"]
    assert resolve_metrics("all") == list(METRICS)
