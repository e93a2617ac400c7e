"""fastdci.evaluate(model_or_function, data=...): encode, then score, with no training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastdci
from fastdci.errors import InvalidInputError


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, 4, size=(n, 2))
    images = np.zeros((n, 1, 8, 8), dtype=np.float32)
    images[np.arange(n), 0, 2 * factors[:, 0], 2 * factors[:, 1]] = 1.0
    images += 0.01 * rng.normal(size=images.shape).astype(np.float32)
    return images, factors


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))


def test_a_module_and_a_function_score_as_their_means_do(tmp_path):
    images, factors = _data()
    model = _model()
    with torch.no_grad():
        means = model(torch.from_numpy(images)).numpy()
    expect = fastdci.evaluate((means, factors), "mig,sap")
    got = fastdci.evaluate(model, "mig,sap", data=(images, factors))
    assert got["mig"].score == pytest.approx(expect["mig"].score, abs=1e-6)
    assert got["sap"].score == pytest.approx(expect["sap"].score, abs=1e-6)
    assert got.provenance["source"] == "model Sequential"
    fn = lambda x: model(x).detach().numpy()  # noqa: E731
    assert fastdci.evaluate(fn, "mig", data=(images, factors))["mig"].score == pytest.approx(got["mig"].score, abs=1e-6)
    out = tmp_path / "m.h5"
    from_file = fastdci.evaluate(model, "mig", data=(images, factors), out=out)
    assert out.is_file() and from_file["mig"].score == pytest.approx(got["mig"].score, abs=1e-6)
    assert fastdci.evaluate(out, "mig")["mig"].score == pytest.approx(got["mig"].score, abs=1e-12)


def test_rows_draws_a_subset_and_data_without_a_model_is_refused():
    images, factors = _data()
    sub = fastdci.evaluate(_model(), "mig", data=(images, factors), rows=200)
    assert sub["mig"].n_rows == 200
    with pytest.raises(InvalidInputError, match="model or function"):
        fastdci.evaluate((images.reshape(len(images), -1), factors), "mig", data=(images, factors))
