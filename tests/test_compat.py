"""fastdci.compat.disentanglement_lib: same signatures, layout and keys; numbers vs the reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from fastdci.compat import disentanglement_lib as dlib
from fastdci.errors import InvalidInputError


@pytest.fixture(scope="module")
def ref(reference_dir):
    doc = json.loads((reference_dir / "dlib_reference.json").read_text())
    data = {k: np.load(reference_dir / f"{k}.npz") for k in ("aligned", "mixed")}
    return doc["scenarios"], data


def _arrays(npz):
    keys = sorted(npz.files)
    get = lambda *c: next(npz[k] for k in keys if all(x in k for x in c))  # noqa: E731
    return get("latents", "train"), get("factors", "train"), get("latents", "test"), get("factors", "test")


@pytest.mark.parametrize("scenario", ["aligned", "mixed"])
def test_mig_and_sap_equal_disentanglement_lib(ref, scenario):
    scen, data = ref
    lt, ft, le, fe = _arrays(data[scenario])
    got = dlib._compute_mig(lt.T, ft.T)
    assert got["discrete_mig"] == pytest.approx(scen[scenario]["mig"]["scores"]["discrete_mig"], abs=1e-12)
    sap = dlib._compute_sap(lt.T, ft.T, le.T, fe.T, continuous_factors=False)
    assert sap["SAP_score"] == pytest.approx(scen[scenario]["sap"]["scores"]["SAP_score"], abs=1e-9)


def test_helpers_equal_plain_numpy_and_sklearn(rng):
    mus = rng.normal(size=(3, 500))
    ys = rng.integers(0, 4, size=(2, 500))
    disc = dlib.histogram_discretize(mus, 20)
    for i in range(3):
        np.testing.assert_array_equal(disc[i], np.digitize(mus[i], np.histogram(mus[i], 20)[1][:-1]))
    mi = dlib.discrete_mutual_info(disc, ys)
    want = np.array([[mutual_info_score(ys[j], disc[i]) for j in range(2)] for i in range(3)])
    np.testing.assert_allclose(mi, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dlib.discrete_entropy(ys), [mutual_info_score(y, y) for y in ys], rtol=1e-12)
    # modularity of a perfectly modular MI matrix is 1, of a uniform one 0
    assert dlib.modularity(np.eye(3)) == pytest.approx(1.0)
    assert dlib.modularity(np.ones((3, 3))) == pytest.approx(0.0)


class _Grid:
    """A minimal ground_truth_data: two factors, the observation is the factors themselves."""

    factors_num_values = (4, 5)

    def sample_factors(self, num, random_state):
        return np.stack([random_state.randint(n, size=num) for n in self.factors_num_values], axis=1)

    def sample_observations_from_factors(self, factors, random_state):
        return factors.astype(np.float64)


def test_ground_truth_data_functions():
    rep = lambda x: np.concatenate([x + 0.01 * np.sin(np.arange(x.size)).reshape(x.shape), x[:, :1] * 0], 1)  # noqa: E731
    out = dlib.compute_mig(_Grid(), rep, np.random.RandomState(0), num_train=2000)
    assert set(out) == {"discrete_mig"} and out["discrete_mig"] > 0.9
    me = dlib.compute_modularity_explicitness(_Grid(), rep, np.random.RandomState(0), num_train=1000, num_test=500)
    assert set(me) == {"modularity_score", "explicitness_score_train", "explicitness_score_test"}
    assert me["explicitness_score_test"] > 0.9
    mus, ys = dlib.generate_batch_factor_code(_Grid(), rep, 37, np.random.RandomState(1), 16)
    assert mus.shape == (3, 37) and ys.shape == (2, 37)


def test_layout_errors():
    with pytest.raises(InvalidInputError, match="points-first"):
        dlib._compute_mig(np.zeros((100, 3)), np.zeros((100, 2)))
