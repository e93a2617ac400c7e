"""The factor index: rows grouped by factor value, and its vectorised draws.

On a full grid the draws must follow disentanglement_lib's samplers (every factor uniform and
independent, the chosen one shared within a batch or a pair); on a subset, groups with fewer
than two rows are never drawn.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastdci.errors import InvalidInputError
from fastdci.io import LatentsWriter, open_latents
from fastdci.metrics.interventions.factor_index import FactorIndex

SIZES = (3, 4, 5, 4, 4)


def make_grid(sizes):
    """Every factor combination once, in row-major (mixed-radix) order."""
    return np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, len(sizes))


@pytest.fixture(scope="module")
def grid():
    return make_grid(SIZES)


@pytest.fixture(scope="module")
def index(grid):
    return FactorIndex(grid, SIZES)


def _assert_uniform(values, size, n, z=5.0):
    """Counts of each of ``size`` values among ``n`` uniform draws lie within z binomial SEs."""
    counts = np.bincount(values.ravel(), minlength=size)
    p = 1.0 / size
    se = np.sqrt(n * p * (1 - p))
    assert counts.size == size
    assert np.all(np.abs(counts - n * p) <= z * se), (counts, n * p, se)


def test_groupings_partition_the_rows(grid, index):
    for k, s in enumerate(SIZES):
        g = index.fixed(k)
        assert sorted(g.order.tolist()) == list(range(len(grid)))
        for v in range(s):
            rows = g.rows(v)
            assert np.all(grid[rows, k] == v)
            assert rows.size == len(grid) // s
        o = index.others(k)
        assert o.counts.size == len(grid) // s == o.n_possible
        assert np.all(o.counts == s)
        for gi in (0, o.counts.size // 2, o.counts.size - 1):
            rows = o.rows(gi)
            other = np.delete(grid[rows], k, axis=1)
            assert (other == other[0]).all()
            assert sorted(grid[rows, k].tolist()) == list(range(s))


def test_sample_fixed_matches_the_reference_distribution(grid, index):
    rng = np.random.default_rng(1)
    B, n = 6000, 8
    ks = index.draw_factors(B, rng)
    _assert_uniform(ks, len(SIZES), B)
    rows = index.sample_fixed(ks, n, rng)
    assert rows.shape == (B, n) and rows.dtype == np.int64
    f = grid[rows]  # (B, n, K)
    for k, s in enumerate(SIZES):
        sel = ks == k
        # the chosen factor is one value per batch, uniform over its classes ...
        fixed = f[sel, :, k]
        assert np.all(fixed == fixed[:, :1])
        _assert_uniform(fixed[:, 0], s, int(sel.sum()))
        # ... and every other factor is uniform within the batch, as in sample_factors
        for j, sj in enumerate(SIZES):
            if j != k:
                _assert_uniform(f[sel, :, j], sj, int(sel.sum()) * n)
                # not constant within batches: free factors vary
                assert np.mean(np.ptp(f[sel, :, j], axis=1) > 0) > 0.5


def test_sample_pairs_share_only_the_chosen_factor(grid, index):
    rng = np.random.default_rng(2)
    B, n = 3000, 16
    ks = index.draw_factors(B, rng)
    r1, r2 = index.sample_pairs(ks, n, rng)
    f1, f2 = grid[r1], grid[r2]
    k_sel = f1[np.arange(B), :, ks]
    assert np.all(k_sel == f2[np.arange(B), :, ks])
    for k, s in enumerate(SIZES):
        sel = ks == k
        # each pair draws its own value: values vary within a batch and are uniform
        _assert_uniform(f1[sel, :, k], s, int(sel.sum()) * n)
        assert np.mean(np.ptp(f1[sel, :, k], axis=1) > 0) > 0.9
        for j, sj in enumerate(SIZES):
            if j != k:
                # other factors: uniform, independent across the pair
                _assert_uniform(f2[sel, :, j], sj, int(sel.sum()) * n)
                same = np.mean(f1[sel, :, j] == f2[sel, :, j])
                assert abs(same - 1 / sj) < 5 * np.sqrt((1 / sj) * (1 - 1 / sj) / (sel.sum() * n))


def test_sample_others_fixed(grid, index):
    rng = np.random.default_rng(3)
    B, n = 3000, 8
    ks = index.draw_factors(B, rng, "others")
    rows = index.sample_others_fixed(ks, n, rng)
    f = grid[rows]
    for k, s in enumerate(SIZES):
        sel = ks == k
        other = np.delete(f[sel], k, axis=2)
        assert np.all(other == other[:, :1, :])
        _assert_uniform(f[sel, :, k], s, int(sel.sum()) * n)
        for j, sj in enumerate(SIZES):
            if j != k:  # the fixed combination is uniform over the grid
                _assert_uniform(f[sel, 0, j], sj, int(sel.sum()))


def test_same_seed_same_draws(index):
    a = index.sample_fixed(index.draw_factors(50, np.random.default_rng(7)), 4, np.random.default_rng(8))
    b = index.sample_fixed(index.draw_factors(50, np.random.default_rng(7)), 4, np.random.default_rng(8))
    c = index.sample_fixed(index.draw_factors(50, np.random.default_rng(7)), 4, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_subset_skips_values_with_fewer_than_two_rows(grid):
    # factor 0 value 2 keeps one row; factor 1 value 3 keeps none
    drop = (grid[:, 0] == 2) | (grid[:, 1] == 3)
    keep_one = np.flatnonzero((grid[:, 0] == 2) & (grid[:, 1] != 3))[0]
    rows = np.sort(np.concatenate([np.flatnonzero(~drop), [keep_one]]))
    sub = grid[rows]
    index = FactorIndex(sub, SIZES)
    counts = index.rows_per_value()
    assert counts[0][2] == 1 and counts[1][3] == 0
    assert counts[0].sum() == len(sub)
    skipped = index.skipped_values()
    assert skipped[0].tolist() == [2] and skipped[1].tolist() == []  # one row: skipped
    assert index.absent_values()[1].tolist() == [3]  # no row: absent, not "skipped"
    assert all(s.size == 0 for s in skipped[2:])
    rng = np.random.default_rng(0)
    ks = np.zeros(2000, np.int64)
    drawn = sub[index.sample_fixed(ks, 4, rng)][:, 0, 0]
    assert set(drawn.tolist()) == {0, 1}
    r1, r2 = index.sample_pairs(np.ones(500, np.int64), 4, rng)
    assert 3 not in set(sub[r1, 1].ravel().tolist())
    # "all but one fixed" combinations: a combination held by one row is skipped, absent ones are not counted
    assert index.skipped_combinations(0) == 0
    assert index.skipped_combinations(1) == 1  # the one row with factor 0 == 2
    rows_o = index.sample_others_fixed(np.zeros(300, np.int64), 4, rng)
    f = sub[rows_o]
    assert np.all(np.delete(f, 0, axis=2) == np.delete(f, 0, axis=2)[:, :1])


def test_factor_without_usable_groups_is_not_drawn():
    f = np.array([[0, 0], [1, 1], [0, 2]])
    index = FactorIndex(f)
    # varying factor 0 needs two rows sharing factor 1: none; varying factor 1: rows 0 and 2
    assert index.sampleable("others").tolist() == [False, True]
    ks = index.draw_factors(200, np.random.default_rng(0), "others")
    assert set(ks.tolist()) == {1}
    # grouping by one value: factor 0 value 0 has two rows; factor 1 has no value twice
    assert index.sampleable("fixed").tolist() == [True, False]
    with pytest.raises(InvalidInputError, match="draw_factors"):
        index.sample_fixed(np.array([1]), 2, np.random.default_rng(0))
    lonely = FactorIndex(np.array([[0, 0], [1, 1]]))
    with pytest.raises(InvalidInputError, match="cover too little of the factor grid"):
        lonely.draw_factors(3, np.random.default_rng(0))


def test_built_once_per_source(tmp_path, grid):
    from fastdci.io.source import LatentsSource

    path = tmp_path / "grid.h5"
    rng = np.random.default_rng(0)
    with LatentsWriter(path, latent_dim=2, factor_names=[f"f{k}" for k in range(5)], factor_sizes=SIZES,
                       with_logvar=False, chunk_rows=100) as w:
        w.append(rng.normal(size=(len(grid), 2)).astype(np.float32), classes=grid)
    with LatentsSource(path) as source:
        a = source.factor_index()
        assert source.factor_index() is a
        np.testing.assert_array_equal(a.factors, grid)
        assert a.factor_sizes == SIZES
    with LatentsSource(path) as source:
        assert source.factor_index() is not a


def test_large_factor_space_uses_present_combinations():
    # product of sizes beyond 2**62: combinations are numbered, not coded
    rng = np.random.default_rng(0)
    sizes = (2,) + (2**21,) * 3
    f = np.stack([rng.integers(0, 2, 400)] + [np.repeat(rng.integers(0, s, 200), 2) for s in sizes[1:]], 1)
    index = FactorIndex(f, sizes)
    g = index.others(0)
    assert g.counts.sum() == 400 and np.all(g.counts == 2)
    rows = index.sample_others_fixed(np.zeros(50, np.int64), 3, rng)
    other = f[rows][:, :, 1:]
    assert np.all(other == other[:, :1])
