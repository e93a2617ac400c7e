"""evaluate(..., preset="disentanglement_lib"): the reference's draws and protocol on a grid.

The preset's numbers must equal disentanglement_lib's entry points (fastdci's adapter) run on
the same grid seen as a ``GroundTruthData`` with the same ``RandomState`` seed: same points,
same counts, same bins.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastdci import evaluate
from fastdci.compat import disentanglement_lib as dlib
from fastdci.errors import InvalidInputError

SIZES = (3, 4, 5, 4, 4)
NAMES = ("shape", "scale", "orientation", "posX", "posY")


def _grid(seed=0):
    rng = np.random.default_rng(seed)
    factors = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, len(SIZES))
    aligned = factors / (np.array(SIZES) - 1) + 0.05 * rng.normal(size=factors.shape)
    mixed = aligned @ rng.normal(size=(5, 2))
    latents = np.concatenate([aligned, mixed, rng.normal(size=(len(factors), 1))], axis=1)
    order = rng.permutation(len(factors))  # rows in any order
    return latents[order], factors[order]


class GridAsGroundTruth:
    """The grid as disentanglement_lib's data set: uniform classes per factor; observation = row."""

    def __init__(self, factors):
        self.num_factors = factors.shape[1]
        self.row = {tuple(f): i for i, f in enumerate(factors)}

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(s, size=num) for s in SIZES], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return np.array([self.row[tuple(f)] for f in factors])

    def sample(self, num, random_state):
        f = self.sample_factors(num, random_state)
        return f, self.sample_observations_from_factors(f, random_state)

    def sample_observations(self, num, random_state):
        return self.sample(num, random_state)[1]


@pytest.fixture(scope="module")
def grid():
    return _grid()


@pytest.fixture(scope="module")
def report(grid):
    latents, factors = grid
    return evaluate((latents, factors), "all", preset="disentanglement_lib", random_state=0, factor_sizes=SIZES,
                    factor_names=NAMES, backend="cpu")


@pytest.fixture(scope="module")
def reference(grid):
    latents, factors = grid
    data = GridAsGroundTruth(factors)
    rep = lambda rows: latents[np.asarray(rows)]  # noqa: E731
    rs = lambda: np.random.RandomState(0)  # noqa: E731
    return {
        "mig": dlib.compute_mig(data, rep, rs()),
        "dci": dlib.compute_dci(data, rep, rs()),
        "sap": dlib.compute_sap(data, rep, rs()),
        "modularity_explicitness": dlib.compute_modularity_explicitness(data, rep, rs()),
        "irs": dlib.compute_irs(data, rep, rs()),
        "beta_vae": dlib.compute_beta_vae_sklearn(data, rep, rs()),
        "factor_vae": dlib.compute_factor_vae(data, rep, rs(), prune_threshold=0.05),
    }


def test_every_number_equals_the_reference_entry_points(report, reference):
    ref = reference
    assert report["mig"].score == pytest.approx(ref["mig"]["discrete_mig"], abs=1e-12)
    for key in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert getattr(report["dci"], key) == pytest.approx(ref["dci"][key], abs=1e-12), key
    assert report["sap"].score == pytest.approx(ref["sap"]["SAP_score"], abs=1e-12)
    me = ref["modularity_explicitness"]
    assert report["modularity"].score == pytest.approx(me["modularity_score"], abs=1e-12)
    assert report["explicitness"].explicitness_train == pytest.approx(me["explicitness_score_train"], abs=1e-6)
    assert report["explicitness"].explicitness_test == pytest.approx(me["explicitness_score_test"], abs=1e-6)
    assert report["irs"].score == pytest.approx(ref["irs"]["IRS"], abs=1e-12)
    assert report["beta_vae"].eval_accuracy == pytest.approx(ref["beta_vae"]["eval_accuracy"], abs=1e-12)
    assert report["beta_vae"].train_accuracy == pytest.approx(ref["beta_vae"]["train_accuracy"], abs=1e-12)
    assert report["factor_vae"].eval_accuracy == pytest.approx(ref["factor_vae"]["eval_accuracy"], abs=1e-12)
    assert report["factor_vae"].num_active_dims == ref["factor_vae"]["num_active_dims"]


def test_the_protocol_is_recorded_and_metrics_without_one_are_skipped(report):
    assert report.provenance["preset"] == "disentanglement_lib"
    for name, result in report.items():
        assert result.settings["preset"] == "disentanglement_lib", name
        assert result.settings["random_state"] == 0
    assert report["mig"].settings["n_bins"] == 20 and report["mig"].n_rows == 10_000
    assert report["dci"].n_train == 10_000 and report["dci"].n_test == 5_000
    assert report["dci"].settings["max_depth"] == 3
    assert report["factor_vae"].settings["threshold"] == 0.05
    for name in ("mig_sup", "jemmig", "dcimig", "z_max"):
        assert name in report.skipped and "disentanglement_lib has no" in report.skipped[name]


def test_another_seed_draws_other_points(grid):
    latents, factors = grid
    a = evaluate((latents, factors), "mig", preset="disentanglement_lib", random_state=0, factor_sizes=SIZES)
    b = evaluate((latents, factors), "mig", preset="disentanglement_lib", random_state=1, factor_sizes=SIZES)
    assert a["mig"].score != b["mig"].score


def test_an_incomplete_grid_and_options_are_refused(grid):
    latents, factors = grid
    with pytest.raises(InvalidInputError, match="every combination needs a row"):
        evaluate((latents[:-5], factors[:-5]), "mig", preset="disentanglement_lib", factor_sizes=SIZES)
    with pytest.raises(InvalidInputError, match="fixes every metric's options"):
        evaluate((latents, factors), "mig", preset="disentanglement_lib", mig={"n_bins": 10})
    with pytest.raises(InvalidInputError, match="preset must be one of"):
        evaluate((latents, factors), "mig", preset="dlib")


def test_cli_preset_names_itself_and_refuses_options(tmp_path, grid):
    import subprocess
    import sys

    from fastdci.io import LatentsWriter

    latents, factors = grid
    path = tmp_path / "g.h5"
    with LatentsWriter(path, latent_dim=latents.shape[1], factor_names=NAMES, factor_sizes=SIZES,
                       with_logvar=False) as w:
        w.append(latents.astype(np.float32), classes=factors)

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "fastdci", *args], capture_output=True, text=True)

    r = cli("evaluate", str(path), "--metrics", "mig,mig_sup", "--preset", "disentanglement_lib",
            "--format", "json", "--no-progress")
    assert r.returncode == 0, r.stderr
    import json

    row = json.loads(r.stdout)[0]
    assert json.loads(row["result_settings"])["mig"]["preset"] == "disentanglement_lib"
    assert "disentanglement_lib has no mig_sup" in row["skipped"]
    bad = cli("evaluate", str(path), "--metrics", "mig", "--preset", "disentanglement_lib", "--set", "mig.n_bins=5")
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "fixes every metric" in bad.stderr
