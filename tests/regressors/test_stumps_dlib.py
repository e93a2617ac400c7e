"""GradientBoostedStumps' importances as disentanglement_lib's DCI reads them: its disentanglement
and completeness (restated here and checked against its own outputs) on an aligned code and on
the three reference codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastdci.regressors import GradientBoostedStumps


def dlib_disentanglement(R):
    """disentanglement_lib's dci.disentanglement on an importance matrix R (L, K)."""
    from scipy.stats import entropy

    per_code = 1.0 - entropy(R.T + 1e-11, base=R.shape[1])
    if R.sum() == 0.0:
        R = np.ones_like(R)
    return float(np.sum(per_code * R.sum(axis=1) / R.sum()))


def dlib_completeness(R):
    from scipy.stats import entropy

    per_factor = 1.0 - entropy(R + 1e-11, base=R.shape[0])
    if R.sum() == 0.0:
        R = np.ones_like(R)
    return float(np.sum(per_factor * R.sum(axis=0) / R.sum()))


def test_aligned_code_puts_each_factor_on_its_latent(rng):
    N = 2000
    Y = np.stack([rng.integers(0, 3, N), rng.integers(0, 6, N), rng.integers(0, 10, N)], axis=1)
    X = np.concatenate([Y / Y.max(axis=0) + 0.01 * rng.normal(size=Y.shape), rng.normal(size=(N, 2))], axis=1)
    model = GradientBoostedStumps(n_rounds=30, max_depth=1, device="cpu").fit(X, Y)
    R = model.feature_importances_
    assert R.shape == (5, 3)
    np.testing.assert_array_equal(R.argmax(axis=0), [0, 1, 2])
    assert (np.diag(R[:3]) > 0.9).all()
    assert dlib_disentanglement(R) > 0.8 and dlib_completeness(R) > 0.8
    assert (model.score(X, Y) > 0.95).all()
    # a random rotation spreads it
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    rot = GradientBoostedStumps(n_rounds=30, max_depth=1, device="cpu").fit(X @ Q, Y)
    assert dlib_disentanglement(rot.feature_importances_) < dlib_disentanglement(R) - 0.3


def test_dci_helpers_reproduce_disentanglement_lib_from_its_importances(reference_dir):
    ref = json.loads((reference_dir / "dlib_reference.json").read_text())["scenarios"]
    for scenario in ref.values():
        dci = scenario["dci"]
        R = np.array(dci["importance_matrix"])
        assert dlib_disentanglement(R) == pytest.approx(dci["scores"]["disentanglement"], abs=1e-12)
        assert dlib_completeness(R) == pytest.approx(dci["scores"]["completeness"], abs=1e-12)
        legacy = dci["legacy_sklearn_importance_variant"]
        R = np.array(legacy["importance_matrix"])
        assert dlib_disentanglement(R) == pytest.approx(legacy["disentanglement"], abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["aligned", "mixed", "nonlinear"])
def test_dci_within_0_05_of_disentanglement_lib(reference_dir, scenario):
    ref = json.loads((reference_dir / "dlib_reference.json").read_text())["scenarios"][scenario]["dci"]
    data = np.load(reference_dir / f"{scenario}.npz")
    model = GradientBoostedStumps(n_rounds=100, max_depth=3, importance="global", device="cpu")
    model.fit(data["latents_train"], data["factors_train"])
    R = model.feature_importances_
    assert abs(dlib_disentanglement(R) - ref["scores"]["disentanglement"]) < 0.05
    assert abs(dlib_completeness(R) - ref["scores"]["completeness"]) < 0.05
    acc = model.score(data["latents_test"], data["factors_test"]).mean()
    assert abs(acc - ref["scores"]["informativeness_test"]) < 0.03
    # the importance matrix itself: every entry close to scikit-learn's
    np.testing.assert_allclose(R, np.array(ref["importance_matrix"]), atol=0.08)
