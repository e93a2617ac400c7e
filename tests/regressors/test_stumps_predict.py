"""GradientBoostedStumps' predictions: the compiled raw scores against a plain-NumPy walk of the
fitted trees, the argmax of the raw scores against the argmax of the probabilities, and the
training accuracy the fit records against ``score`` on the same rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastdci.regressors import GradientBoostedStumps
from fastdci.regressors._base import encode_classes


def _data(rng, n=1500, L=5, sizes=(3, 7, 2)):
    Y = np.stack([rng.integers(0, s, n) for s in sizes], axis=1)
    X = rng.normal(size=(n, L))
    X[:, : len(sizes)] += Y / np.array(sizes)  # informative, not perfectly separable
    X[:, -1] = np.round(X[:, -1])  # a latent with few values: stumps with feat -1 and ties
    return X, Y


def walk_trees(bins, trees, lr):
    """Raw scores by walking every tree in heap order, row by row, rounds added in order."""
    R, I, C = trees.feat.shape
    depth = int(np.log2(I + 1))
    F = np.tile(trees.init, (bins.shape[0], 1))
    for r in range(R):
        for c in range(C):
            j = np.zeros(bins.shape[0], dtype=np.int64)
            for d in range(depth):
                h = 2**d - 1 + j
                f = trees.feat[r, h, c]
                right = (f >= 0) & (bins[np.arange(bins.shape[0]), np.maximum(f, 0)] > trees.thr[r, h, c])
                j = 2 * j + right
            F[:, c] += lr * trees.values[r, j, c]
    return F


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_raw_scores_equal_a_plain_walk_of_the_trees(rng, depth):
    X, Y = _data(rng)
    Y[:, 2] = 4  # a factor with one class: trees that never split (feat -1)
    model = GradientBoostedStumps(n_rounds=12, max_depth=depth, device="cpu", max_bins=16).fit(X, Y)
    assert (model.trees_.feat == -1).any()
    bins = model._bins_numpy(X)
    want = walk_trees(bins, model.trees_, model.learning_rate)
    np.testing.assert_array_equal(model.decision_function_stacked(X), want)


def test_predict_raw_refuses_trees_it_cannot_walk():
    from fastdci.kernels.boosting_predict import predict_raw

    R, I, C = 2, 15, 3  # depth 4: more than the booster grows
    F = np.zeros((5, C))
    with pytest.raises(ValueError, match="depth 1, 2 or 3"):
        predict_raw(np.zeros((5, 4), np.uint8), np.zeros((R, I, C), np.int32), np.zeros((R, I, C), np.int32),
                    np.zeros((R, I + 1, C)), 0.1, F)


@pytest.mark.parametrize("depth", [1, 3])
def test_predict_is_the_argmax_of_predict_proba(rng, depth):
    X, Y = _data(rng)
    model = GradientBoostedStumps(n_rounds=10, max_depth=depth, device="cpu").fit(X, Y)
    X_new = rng.normal(size=(700, X.shape[1]))
    want = np.stack([model.classes_[k][p.argmax(axis=1)] for k, p in enumerate(model.predict_proba(X_new))],
                    axis=1)
    np.testing.assert_array_equal(model.predict(X_new), want)


@pytest.mark.parametrize("depth,criterion", [(1, "friedman_mse"), (3, "friedman_mse"), (2, "newton")])
def test_train_accuracy_equals_score_on_the_rows_fitted(rng, depth, criterion):
    X, Y = _data(rng)
    Y[:, 1] += 5  # labels that are not class positions
    model = GradientBoostedStumps(n_rounds=8, max_depth=depth, criterion=criterion, device="cpu").fit(X, Y)
    np.testing.assert_array_equal(model.train_accuracy_, model.score(X, Y))
    assert model.train_accuracy_.shape == (3,) and (model.train_accuracy_ < 1).any()
    # the torch engine's final scores give the same
    b = GradientBoostedStumps(n_rounds=8, max_depth=depth, criterion=criterion, device="cpu")
    b.device_ = torch.device("cpu")
    enc, codes = encode_classes(Y)
    b.classes_, b.n_features_in_ = list(enc.classes), X.shape[1]
    b._fit_engine(X, codes, enc, "torch")
    np.testing.assert_array_equal(b.train_accuracy_, model.train_accuracy_)


def test_argmax_classes_is_numpys_argmax_per_factor_ties_included(rng):
    from fastdci.kernels.boosting_predict import argmax_classes

    offsets = np.array([0, 3, 4, 11], dtype=np.int64)
    F = rng.integers(0, 3, size=(500, 11)).astype(np.float64)  # many exact ties
    out = np.empty((500, 3), dtype=np.int64)
    argmax_classes(F, offsets, out)
    want = np.stack([F[:, a:b].argmax(axis=1) for a, b in zip(offsets[:-1], offsets[1:])], axis=1)
    np.testing.assert_array_equal(out, want)
