"""The boundary checks shared by every metric."""

from __future__ import annotations

import numpy as np
import pytest

from fastdci._validation import check_factors, check_latents
from fastdci.io.source import LatentsSource
from fastdci.errors import BackendMismatchError, InvalidDTypeError, InvalidInputError


def test_latents_ok_returns_input():
    x = np.zeros((10, 3), np.float32)
    assert check_latents(x) is x


@pytest.mark.parametrize(
    "x,exc,pattern",
    [
        (np.zeros(10), InvalidInputError, r"shape \(n_samples, n_latents\); got an array with shape \(10,\)"),
        (np.zeros((10, 5000)), InvalidInputError, "looks transposed.*latents.T"),
        (np.array([[1.0, np.nan], [0, 0]]), InvalidInputError, "1 NaN or inf.*row 0, latent 1.*diverged"),
        (np.array([[1.0, np.inf], [0, -np.inf]]), InvalidInputError, "2 NaN or inf"),
        (np.zeros((1, 3)), InvalidInputError, "at least 2 rows"),
        (np.array([["a", "b"], ["c", "d"]]), InvalidDTypeError, "real numbers.*astype"),
    ],
)
def test_latents_errors(x, exc, pattern):
    with pytest.raises(exc, match=pattern):
        check_latents(x)


def test_latents_nan_in_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(InvalidInputError, match="NaN"):
        check_latents(torch.tensor([[0.0, float("nan")], [1.0, 2.0]]))


def test_factors_accepts_whole_floats_and_returns_int64():
    f = check_factors(np.array([[0.0, 1.0], [2.0, 0.0]]))
    assert f.dtype == np.int64 and f.tolist() == [[0, 1], [2, 0]]


@pytest.mark.parametrize(
    "f,kw,exc,pattern",
    [
        (np.array([0, 1]), {}, InvalidInputError, r"1-D.*factors\[:, None\]"),
        (np.array([[0.5], [1.0]]), {}, InvalidDTypeError, "integer class labels.*factor_types=.continuous."),
        (np.array([["a"], ["b"]]), {}, InvalidDTypeError, "integer class labels"),
        (np.array([[-1], [0]]), {}, InvalidInputError, "negative class labels"),
        (np.array([[0, 3], [1, 0]]), dict(factor_sizes=[2, 3]), InvalidInputError, r"column 1 has class 3.*\[0, 3\)"),
        (np.array([[0, 1], [0, 0]]), dict(min_classes=2), InvalidInputError, "column 0 takes only 1 distinct.*Drop"),
        (np.zeros((3, 2), int), dict(n_rows=4), InvalidInputError, "3 rows but latents have 4"),
    ],
)
def test_factor_errors(f, kw, exc, pattern):
    with pytest.raises(exc, match=pattern):
        check_factors(f, **kw)


def test_pair_transposed_factors_hint():
    with pytest.raises(InvalidInputError, match="looks transposed.*pass latents.T and factors.T"):
        LatentsSource(np.zeros((5, 2)), np.zeros((3, 5), int))


def test_pair_mixed_backends():
    torch = pytest.importorskip("torch")
    with pytest.raises(BackendMismatchError, match="different libraries"):
        LatentsSource(torch.zeros(4, 2), np.zeros((4, 1), int))
