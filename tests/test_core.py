"""The core's seams: one read of the file, any array library, the registry as the one list of
metrics, the option checker, and reports that read back what they wrote."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import h5py
import numpy as np
import pytest

import fastdci
from fastdci.errors import BackendMismatchError, InvalidInputError
from fastdci.evaluation import Report, evaluate
from fastdci.io import LatentsWriter
from fastdci.metrics.registry import METRICS

SIZES = (3, 4, 5, 4)
NAMES = ("a", "b", "c", "d")
FAST = {"dci": {"n_rounds": 10}, "dci_es": {"n_rounds": 10}, "beta_vae": {"n_train": 300, "n_eval": 200},
        "factor_vae": {"n_train": 300, "n_eval": 200, "n_variance_rows": 500},
        "z_max": {"n_train": 300, "n_eval": 200, "n_variance_rows": 500}, "irs": {"n_train": 1000}}

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _grid_code(seed=0):
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, len(SIZES))
    factors = np.repeat(grid, 2, axis=0)
    aligned = factors / (np.array(SIZES) - 1) + 0.05 * rng.normal(size=factors.shape)
    latents = np.concatenate([aligned, rng.normal(size=(len(factors), 2))], axis=1).astype(np.float32)
    return latents, factors


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    latents, factors = _grid_code()
    path = tmp_path_factory.mktemp("core") / "grid.h5"
    with LatentsWriter(path, latent_dim=latents.shape[1], factor_names=NAMES, factor_sizes=SIZES,
                       with_logvar=False, chunk_rows=100) as w:
        w.append(latents, classes=factors)
    return path


@pytest.fixture(scope="module")
def numpy_report():
    latents, factors = _grid_code()
    return evaluate((latents, factors), "all", backend="cpu", factor_sizes=SIZES, factor_names=NAMES, **FAST)


class _CountReads:
    """Counts the elements h5py returns from one dataset, whatever the read path."""

    def __init__(self, monkeypatch, name):
        self.elements = 0
        original = h5py.Dataset.__getitem__
        counter = self

        def counting(ds, key):
            out = original(ds, key)
            if ds.name == name:
                counter.elements += int(np.size(out))
            return out

        monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)


def test_evaluate_all_reads_the_latents_once(grid_file, monkeypatch):
    reads = _CountReads(monkeypatch, "/latents/mean")
    classes = _CountReads(monkeypatch, "/factors/classes")
    report = evaluate(grid_file, "all", backend="cpu", **FAST)
    assert len(report) == len(METRICS) and not report.failed and not report.skipped
    n_elements = report.provenance["rows"] * 6
    assert reads.elements == n_elements  # one full pass, every metric served from it
    assert classes.elements == report.provenance["rows"] * len(SIZES)


def test_above_the_memory_budget_the_information_metrics_stream(grid_file, monkeypatch):
    reads = _CountReads(monkeypatch, "/latents/mean")
    in_memory = evaluate(grid_file, "information", backend="cpu")
    first = reads.elements
    streamed = evaluate(grid_file, "information", backend="cpu", memory_budget=0)
    assert reads.elements - first == 2 * first  # min/max pass, then the counting pass
    assert streamed.scores() == in_memory.scores()


def test_torch_input_gives_the_numpy_report(numpy_report):
    import torch

    latents, factors = _grid_code()
    report = evaluate((torch.as_tensor(latents), torch.as_tensor(factors)), "all", backend="cpu",
                      factor_sizes=SIZES, factor_names=NAMES, **FAST)
    assert not report.failed and set(report) == set(numpy_report)
    for name in numpy_report:
        assert report[name].scores() == numpy_report[name].scores(), name
        assert report[name].counts() == numpy_report[name].counts(), name


def test_cupy_input_gives_the_numpy_report(numpy_report):
    cupy = pytest.importorskip("cupy")
    try:
        cupy.cuda.runtime.getDeviceCount()
    except Exception:  # pragma: no cover - CuPy without a GPU
        pytest.skip("CuPy sees no GPU")
    latents, factors = _grid_code()
    report = evaluate((cupy.asarray(latents), cupy.asarray(factors)), "all", backend="cuda",
                      factor_sizes=SIZES, factor_names=NAMES, **FAST)
    assert not report.failed
    for name in numpy_report:
        assert report[name].scores() == pytest.approx(numpy_report[name].scores(), abs=2e-3), name


def test_mixed_libraries_are_refused():
    import torch

    latents, factors = _grid_code()
    with pytest.raises(BackendMismatchError, match="different libraries"):
        evaluate((torch.as_tensor(latents), factors), "mig")


def test_report_reads_back_what_it_wrote(numpy_report, tmp_path):
    path = tmp_path / "report.json"
    numpy_report.to_json(path)
    back = Report.from_json(path)
    assert set(back) == set(numpy_report)
    for name in numpy_report:
        assert back[name] == numpy_report[name], name
    assert back.provenance["rows"] == numpy_report.provenance["rows"]
    assert Report.from_json(numpy_report.to_json()).scores() == numpy_report.scores()
    with pytest.raises(InvalidInputError, match="full=True"):
        Report.from_json(numpy_report.to_json(full=False))


def test_results_record_the_variant(numpy_report):
    dci = numpy_report["dci"]
    assert dci.settings["regressor"] == "gbt" and dci.settings["n_rounds"] == 10
    assert dci.settings["regressor_settings"]["max_depth"] == 3  # "gbt": disentanglement_lib's depth
    assert dci.settings["test_size"] == 0.5 and dci.settings["random_state"] == 0
    assert numpy_report["mig"].settings == {"n_bins": 20, "discretizer": "uniform", "normalization": "factor"}
    assert "num_active_dims" in numpy_report["factor_vae"].counts()
    assert "num_active_dims" not in numpy_report["factor_vae"].scores()
    assert numpy_report["explicitness"].score == numpy_report["explicitness"].explicitness_test


# ---------------------------------------------------------------------------- the registry


def test_every_registered_metric_is_exported_and_declared_once():
    for name, spec in METRICS.items():
        fn = getattr(fastdci, spec.public_name)
        assert fn is spec.load("function"), name
        assert spec.load("result").metric == name
        for part in ("statistics", "finalize"):
            assert callable(spec.load(part)), (name, part)
        names = [o.name for o in spec.options]
        assert len(names) == len(set(names)), name
        params = inspect.signature(fn).parameters
        has_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for opt in spec.options:  # every declared option is a parameter of the public function
            assert opt.name in params or has_kwargs, (name, opt.name)
            if opt.name in params and opt.when is None and opt.kind != "estimator":
                assert params[opt.name].default == opt.default, (name, opt.name)
        assert "backend" in params, name


def test_regressor_option_defaults_are_the_estimators():
    from fastdci.regressors.linear import Lasso
    from fastdci.regressors.logistic import MultinomialLogistic
    from fastdci.regressors.stumps import GradientBoostedStumps

    classes = {"gbt": GradientBoostedStumps, "stumps": GradientBoostedStumps, "logistic": MultinomialLogistic,
               "lasso": Lasso}
    for opt in METRICS["dci"].options:
        if opt.when is None or opt.default is None:
            continue
        for regressor in opt.when[1]:
            if regressor == "random_forest":  # scikit-learn's forests: n_estimators is the metrics review's 10
                continue
            if regressor == "auto":  # the boosted trees for discrete factors, the lasso for continuous ones
                cls = Lasso if opt.name in ("alpha", "tol", "max_iter", "standardize") else GradientBoostedStumps
            else:
                cls = classes[regressor]
            default = inspect.signature(cls).parameters[opt.name].default
            assert default == opt.default, (regressor, opt.name)


@pytest.mark.parametrize("given,pattern", [
    ({"regressor": "forest"}, "regressor must be one of 'auto', 'gbt', 'stumps', 'logistic', 'lasso', "
                              "'random_forest'"),
    ({"max_depth": 0}, r"max_depth must be an integer >= 1 \(or None\); got 0"),
    ({"max_depth": True}, "max_depth must be an integer"),
    ({"test_size": 1.0}, "test_size must be > 0.0 and < 1.0; got 1.0"),
    ({"regressor": "logistic", "max_depth": 3}, "max_depth applies only with regressor in \\['gbt', 'stumps', 'auto', 'random_forest'\\]"),
    ({"importance": "tree"}, "importance must be one of 'global', 'per_tree'"),
])
def test_option_errors_are_one_line_with_the_fix(given, pattern):
    with pytest.raises(InvalidInputError, match=pattern) as info:
        METRICS["dci"].check(given)
    assert "\n" not in str(info.value)


def test_options_check_before_any_work():
    latents, factors = _grid_code()
    with pytest.raises(InvalidInputError, match="has no option 'n_bin'. Did you mean 'n_bins'"):
        fastdci.mig(latents, factors, n_bin=10)
    with pytest.raises(InvalidInputError, match="irs has no option 'num_bins'. Did you mean 'n_bins'"):
        evaluate((latents, factors), "irs", irs={"num_bins": 3})


def test_metrics_command_lists_every_metric_with_its_options():
    run = subprocess.run([sys.executable, "-m", "fastdci", "metrics"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for name, spec in METRICS.items():
        assert f"{name}  ({spec.family}" in run.stdout
        for opt in spec.options:
            assert f"    {opt.name}: " in run.stdout, (name, opt.name)
    assert max(len(line) for line in run.stdout.splitlines()) <= 80
    doc = json.loads(subprocess.run([sys.executable, "-m", "fastdci", "metrics", "--format", "json"],
                                    capture_output=True, text=True).stdout)
    assert [d["name"] for d in doc] == list(METRICS)
    assert {o["name"]: o["default"] for o in doc[0]["options"]}["n_bins"] == 20


# ---------------------------------------------------------------------------- above the budget


def test_quantile_bins_above_the_budget_equal_in_memory(grid_file):
    opts = {"mig": {"discretizer": "quantile", "n_bins": 7}}
    in_memory = evaluate(grid_file, "mig", **opts)
    streamed = evaluate(grid_file, "mig", memory_budget=0, **opts)
    assert streamed["mig"] == dataclasses_replace_provenance(in_memory["mig"], streamed["mig"])


def dataclasses_replace_provenance(a, b):
    import dataclasses

    return dataclasses.replace(a, provenance=b.provenance)


def test_max_train_reads_only_the_rows_it_keeps(grid_file, monkeypatch):
    from fastdci.io.source import LatentsSource

    from fastdci.io.reader import LatentsReader

    asked = []
    original = LatentsReader.read

    def read(reader, rows=None, **kw):
        asked.append(None if rows is None else len(np.asarray(rows)))
        return original(reader, rows, **kw)

    monkeypatch.setattr(LatentsReader, "read", read)
    with LatentsSource(grid_file, memory_budget=0) as source:
        res = fastdci.dci(source, regressor="logistic", max_train=50, backend="cpu")
    assert res.n_train == 50
    assert sorted(asked) == sorted([res.n_test, 50])  # the test rows and the kept training rows
    latents, factors = _grid_code()
    assert res == dataclasses_replace_provenance(
        fastdci.dci(latents, factors, regressor="logistic", max_train=50, backend="cpu"), res)


def test_seeds_and_reserved_names_are_checked():
    latents, factors = _grid_code()
    with pytest.raises(InvalidInputError, match="random_state must be None, a non-negative int"):
        fastdci.sap(latents, factors, random_state="a")
    with pytest.raises(InvalidInputError, match="random_state must be"):
        evaluate((latents, factors), "mig", random_state=1.5)
    with pytest.raises(InvalidInputError, match="dci has no option 'test'"):
        fastdci.dci(latents, factors, test=(latents, factors))
    res = fastdci.dci(latents, factors, regressor="logistic", max_train=100, backend="cpu",
                      random_state=np.random.default_rng(0))
    assert res.n_train == 100 and res.settings["random_state"] == "Generator"
    with pytest.raises(InvalidInputError, match="factors_test .* has class 9 but its size is 3"):
        bad = factors.copy()
        bad[0, 0] = 9
        fastdci.dci(latents, factors, latents, bad, regressor="logistic", backend="cpu")


def test_host_only_metrics_record_the_cpu():
    latents, factors = _grid_code()
    res = fastdci.sap(latents, factors, backend="cpu")
    assert res.provenance["backend"] == "cpu"
    assert not METRICS["sap"].on_device and METRICS["dci"].on_device


def test_report_views_for_pandas_and_notebooks(numpy_report):
    pd = pytest.importorskip("pandas")
    table = numpy_report.to_pandas()
    assert isinstance(table, pd.DataFrame)
    mig = table[(table.metric == "mig") & (table.name == "mig")]
    assert mig.value.item() == numpy_report["mig"].score and mig.kind.item() == "score"
    assert set(table[table.kind == "count"].name) >= {"num_active_dims", "n_rows"}
    text = repr(numpy_report)
    assert text.startswith("Report(arrays, ") and "mig 0." in text and len(text) < 400
    html = numpy_report._repr_html_()
    assert html.startswith("<table>") and "dci" in html


def test_provenance_counts_the_factor_values_present():
    latents, factors = _grid_code()
    keep = factors[:, 2] % 2 == 0  # every 2nd value of the third factor, as the demo's lattice
    report = evaluate((latents[keep], factors[keep]), "mig", factor_sizes=SIZES)
    assert report.provenance["factor_sizes"] == list(SIZES)
    assert report.provenance["factor_values_present"] == [3, 4, 3, 4]
