"""DCI-ES against independent computations: hand-computed curves, the authors' formula restated
in plain NumPy, scikit-learn's staged boosting, and the contract of the other metrics."""

from __future__ import annotations

import numpy as np
import pytest

import fastdci
from fastdci.errors import InvalidInputError
from fastdci.metrics.predictors.dci_es import explicitness_from_curve

N_ROUNDS = 20


def authors_e(x, y, baseline):
    """The authors' E restated as a plain loop (running minimum, trapezoids above the curve's
    minimum, 2 x area over the baseline rectangle)."""
    y = [min(y[: i + 1]) for i in range(len(y))]
    low = min(y)
    area = 0.0
    for i in range(len(x) - 1):
        area += (x[i + 1] - x[i]) * ((y[i] - low) + (y[i + 1] - low)) / 2
    return 1 - 2 * area / ((x[-1] - x[0]) * baseline)


@pytest.fixture(scope="module")
def codes():
    rng = np.random.default_rng(0)
    n = 3000
    factors = rng.integers(0, 4, size=(n, 2))
    aligned = factors + 0.05 * rng.normal(size=(n, 2))
    q = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    return {"factors": factors, "aligned": aligned, "rotated": aligned @ q, "noise": rng.normal(size=(n, 2))}


def run(latents, factors, **kw):
    return fastdci.dci_es(latents, factors, **{"n_rounds": N_ROUNDS, "backend": "cpu", **kw})


def test_hand_computed_curves():
    x = [1, 2, 3, 4, 5, 6, 7]
    y = np.array([5, 4, 3, 2, 1, 0, 0]) / 6
    # area under the straight decline: 12.5 / 6 over a 6 x 1 rectangle
    assert explicitness_from_curve(x, y, 1.0, log_capacity=False) == pytest.approx(1 - 25 / 36)
    assert explicitness_from_curve(x, y, 1.0, convention="absolute", log_capacity=False) == pytest.approx(
        1 - 12.5 / 36)
    flat = np.full(7, 0.8)
    assert explicitness_from_curve(x, flat, 0.8, log_capacity=False) == pytest.approx(1.0)  # authors: noise is 1
    assert explicitness_from_curve(x, flat, 0.8, convention="absolute", log_capacity=False) == pytest.approx(0.0)
    # the running minimum: a later rise (overfitting) does not count
    assert explicitness_from_curve(x, [0.5, 0, 0, 0, 0, 0, 0.9], 1.0, log_capacity=False) == pytest.approx(
        1 - 2 * 0.25 / 6)


@pytest.mark.parametrize("seed", range(5))
def test_matches_the_authors_formula_on_random_curves(seed):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.uniform(0.1, 2, size=12))
    y = rng.uniform(0, 1, size=12)
    assert explicitness_from_curve(x, y, 1.3, log_capacity=False) == pytest.approx(authors_e(x, y, 1.3))
    assert explicitness_from_curve(np.exp(x), y, 1.3) == pytest.approx(authors_e(x, y, 1.3))


def test_curve_is_the_booster_read_at_every_round(codes):
    """The last rung is the fitted booster's own test error; every rung is scikit-learn's staged
    prediction of the same rounds (latents with few distinct values: identical candidate splits)."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(1)
    f = codes["factors"][:, :1]
    x = np.round(codes["aligned"] + 0.6 * rng.normal(size=codes["aligned"].shape), 1)
    half = len(x) // 2
    res = fastdci.dci_es(x[:half], f[:half], x[half:], f[half:], n_rounds=N_ROUNDS, backend="cpu")
    assert res.loss_curves[0, -1] == pytest.approx(1 - res.informativeness_test)
    gb = GradientBoostingClassifier(n_estimators=N_ROUNDS, max_depth=3, random_state=0).fit(x[:half], f[:half, 0])
    sk = np.array([np.mean(p != f[half:, 0]) for p in gb.staged_predict(x[half:])])
    assert np.abs(res.loss_curves[0] - sk).max() < 0.03
    e_sk = authors_e(np.log(np.arange(1, N_ROUNDS + 1)), sk, np.mean(f[half:, 0] != np.bincount(f[:half, 0]).argmax()))
    assert res.explicitness == pytest.approx(e_sk, abs=0.05)


def test_explicit_code_scores_high_noise_low_and_mixing_in_between(codes):
    f = codes["factors"]
    aligned, rotated, noise = (run(codes[k], f, convention="absolute") for k in ("aligned", "rotated", "noise"))
    assert aligned.explicitness > 0.95
    assert noise.explicitness < 0.1
    assert noise.explicitness < rotated.explicitness < aligned.explicitness - 0.05
    assert run(codes["rotated"], f).explicitness < run(codes["aligned"], f).explicitness - 0.05
    # the baseline is the prior's error: about 3/4 for 4 balanced classes
    assert aligned.baseline_losses == pytest.approx([0.75, 0.75], abs=0.05)


def test_size_is_factors_over_latents(codes):
    f = codes["factors"]
    x = np.concatenate([codes["aligned"], codes["noise"]], axis=1)
    assert run(x, f).size == pytest.approx(2 / 4)
    assert run(codes["aligned"], f).size == pytest.approx(1.0)


def test_dci_scores_are_dci_of_the_same_booster(codes):
    f, x = codes["factors"], np.concatenate([codes["rotated"], codes["noise"]], axis=1)
    es = run(x, f)
    d = fastdci.dci(x, f, regressor="gbt", n_rounds=N_ROUNDS, backend="cpu")
    np.testing.assert_allclose(es.importance, d.importance)
    for k in ("disentanglement", "completeness", "informativeness_train", "informativeness_test"):
        assert getattr(es, k) == pytest.approx(getattr(d, k)), k


def test_cross_entropy_curve_starts_below_the_prior(codes):
    res = run(codes["aligned"], codes["factors"], loss="cross_entropy")
    assert np.all(res.loss_curves[:, -1] < res.loss_curves[:, 0])
    assert np.all(res.loss_curves[:, 0] < res.baseline_losses)
    assert res.baseline_losses == pytest.approx([np.log(4)] * 2, abs=0.01)


def test_continuous_factor_scores_one_minus_r2(codes):
    rng = np.random.default_rng(2)
    v = rng.uniform(0, 1, size=len(codes["factors"]))
    f = np.stack([codes["factors"][:, 0], v], axis=1).astype(float)
    x = np.stack([codes["aligned"][:, 0], v + 0.01 * rng.normal(size=v.size)], axis=1)
    res = run(x, f, factor_types=["discrete", "continuous"])
    assert res.baseline_losses[1] == pytest.approx(1.0, abs=0.02)
    assert res.loss_curves[1, -1] < 0.05  # 1 - R^2 of the posterior mean over 20 bins
    assert res.explicitness_per_factor.shape == (2,)


def test_evaluate_runs_it(codes):
    report = fastdci.evaluate((codes["aligned"], codes["factors"]), "dci_es", backend="cpu",
                              dci_es={"n_rounds": 5})
    assert report["dci_es"].capacities.tolist() == [1, 2, 3, 4, 5]


def test_bad_options_say_what_to_do(codes):
    with pytest.raises(InvalidInputError, match="n_rounds"):
        run(codes["aligned"], codes["factors"], n_rounds=1)
    with pytest.raises(InvalidInputError, match="convention"):
        run(codes["aligned"], codes["factors"], convention="paper")


def test_evaluate_fits_the_booster_dci_and_dci_es_share_once(codes, monkeypatch):
    """With the same settings, evaluate fits one booster for DCI and DCI-ES and gives what each
    metric gives alone; other settings get their own fit."""
    from fastdci.regressors import GradientBoostedStumps

    x, y = codes["rotated"], codes["factors"]
    alone = {"dci": fastdci.dci(x, y, backend="cpu", n_rounds=N_ROUNDS).scores(),
             "dci_es": run(x, y).scores()}
    fits = []
    real_fit = GradientBoostedStumps.fit
    monkeypatch.setattr(GradientBoostedStumps, "fit", lambda self, X, Y: fits.append(1) or real_fit(self, X, Y))
    report = fastdci.evaluate((x, y), "dci,dci_es", backend="cpu", dci={"n_rounds": N_ROUNDS},
                              dci_es={"n_rounds": N_ROUNDS})
    assert len(fits) == 1
    assert report["dci"].scores() == alone["dci"] and report["dci_es"].scores() == alone["dci_es"]
    fastdci.evaluate((x, y), "dci,dci_es", backend="cpu", dci={"n_rounds": N_ROUNDS, "max_depth": 1},
                     dci_es={"n_rounds": N_ROUNDS})
    assert len(fits) == 3
