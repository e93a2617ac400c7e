"""MIG, MIG-sup, JEMMIG, DCIMIG and modularity against independent references.

The references here are written from the definitions with np.histogram, np.digitize and
scikit-learn's mutual_info_score (disentanglement_lib's own recipe), not with fastdci's kernels,
plus disentanglement_lib's own numbers from ../shared/reference/ where present.
"""

from __future__ import annotations

import json
import math
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from fastdci.errors import InvalidInputError
from fastdci.metrics import information as info
from fastdci.metrics.information import (
    InformationAccumulator,
    dcimig,
    jemmig,
    mig,
    mig_sup,
    modularity,
)

from .._helpers import assert_close

METRIC_FUNCS = {"mig": mig, "mig_sup": mig_sup, "jemmig": jemmig, "dcimig": dcimig, "modularity": modularity}
SIZES = (3, 6, 10, 8)


# ============================================================================ the reference recipe


def dlib_discretize(latents, n_bins=20):
    """disentanglement_lib's _histogram_discretize, samples-first: labels 1..n_bins."""
    out = np.zeros(latents.shape, dtype=np.int64)
    for j in range(latents.shape[1]):
        out[:, j] = np.digitize(latents[:, j], np.histogram(latents[:, j], n_bins)[1][:-1])
    return out


def ref_mi_matrix(codes, factors):
    return np.array(
        [[mutual_info_score(factors[:, k], codes[:, l]) for k in range(factors.shape[1])]
         for l in range(codes.shape[1])]
    )


def ref_entropy(labels):
    return np.array([mutual_info_score(labels[:, k], labels[:, k]) for k in range(labels.shape[1])])


def ref_mig(latents, factors, n_bins=20):
    """disentanglement_lib's _compute_mig, written out."""
    m = ref_mi_matrix(dlib_discretize(latents, n_bins), factors)
    h = ref_entropy(factors)
    s = np.sort(m, axis=0)[::-1]
    return float(np.mean((s[0] - s[1]) / h)), m, h


def ref_modularity(m):
    """disentanglement_lib's modularity(), 0/0 for silent latents resolved to 0 as it does."""
    sq = np.square(m)
    mx = np.max(sq, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (np.sum(sq, axis=1) - mx) / (mx * (sq.shape[1] - 1.0))
    score = 1.0 - delta
    score[mx == 0.0] = 0.0
    return float(np.mean(score)), score


def joint_entropy(a, b):
    _, counts = np.unique(np.stack([a, b]), axis=1, return_counts=True)
    p = counts / a.size
    return float(-np.sum(p * np.log(p)))


# ============================================================================ data fixtures


def make_structured(rng, n=4000, dtype=np.float64):
    """Factor-aligned latents with noise, one entangled pair, two noise latents."""
    y = rng.integers(0, SIZES, size=(n, len(SIZES)))
    x = np.column_stack([
        y[:, 0] + 0.3 * rng.normal(size=n),
        y[:, 1] / 5 + 0.05 * rng.normal(size=n),
        y[:, 2] + y[:, 3] + 0.5 * rng.normal(size=n),
        np.tanh(y[:, 3] / 4.0) + 0.1 * rng.normal(size=n),
        rng.normal(size=n),
        rng.uniform(size=n),
    ]).astype(dtype)
    return np.ascontiguousarray(x), y


@pytest.fixture(params=["random", "structured", "constant_latent", "edge_ties", "float32"])
def case(request, rng):
    kind = request.param
    if kind == "random":
        y = rng.integers(0, SIZES, size=(3000, 4))
        return rng.normal(size=(3000, 5)), y
    x, y = make_structured(rng, dtype=np.float32 if kind == "float32" else np.float64)
    if kind == "constant_latent":
        x[:, 4] = 2.5
    if kind == "edge_ties":
        # values exactly on the histogram edges of their column, min and max included
        grid = np.histogram_bin_edges(np.array([0.0, 1.0]), 20)
        x[:, 5] = grid[np.clip(y[:, 2] * 2, 0, 20)]
        x[:, 1] = np.round(x[:, 1], 1)
    return x, y


# ============================================================================ MIG vs the recipe


def test_mig_equals_the_disentanglement_lib_recipe(case):
    x, y = case
    res = mig(x, y)
    score, m, h = ref_mig(x, y)
    assert abs(res.mig - score) < 1e-9
    assert_close(res.mutual_info, m, rtol=0, atol=1e-9)
    assert_close(res.factor_entropy, h, rtol=0, atol=1e-9)
    assert isinstance(res.mig, float) and isinstance(res.scores()["mig"], float)
    assert res.n_rows == x.shape[0] and res.n_bins == 20
    assert not np.isnan(res.mutual_info).any()


@pytest.mark.parametrize("n_bins", [5, 37])
def test_mig_other_bin_counts(rng, n_bins):
    x, y = make_structured(rng, n=2000)
    assert abs(mig(x, y, n_bins=n_bins).mig - ref_mig(x, y, n_bins)[0]) < 1e-9


def test_matches_disentanglement_lib_reference_numbers(reference_dir):
    ref = json.loads((reference_dir / "dlib_reference.json").read_text())["scenarios"]
    for name, scen in ref.items():
        z = np.load(reference_dir / f"{name}.npz")
        x, y = z["latents_train"], z["factors_train"]
        res = mig(x, y)
        assert abs(res.mig - scen["mig"]["scores"]["discrete_mig"]) < 1e-12, name
        assert_close(res.mutual_info, np.array(scen["mig"]["mutual_info_matrix"]), rtol=1e-12, atol=1e-15)
        assert_close(res.factor_entropy, np.array(scen["mig"]["factor_entropy"]), rtol=1e-12)
        mod = modularity(x, y)
        me = scen["modularity_explicitness"]
        if me["ok"]:
            assert abs(mod.modularity - me["scores"]["modularity_score"]) < 1e-12, name
        else:
            # 'nonlinear': disentanglement_lib failed in explicitness (constant latent); its
            # modularity() formula on the same MI matrix gives 0 for that latent: so do we.
            expected, per_latent = ref_modularity(np.array(me["mutual_info_matrix"]))
            assert abs(mod.modularity - expected) < 1e-12
            assert mod.modularity_per_latent[5] == 0.0 and not mod.informative[5]
            assert_close(mod.modularity_per_latent, per_latent, rtol=1e-12)


# ============================================================================ other metrics vs loops


def _ref_all(x, y, n_bins=20):
    codes = dlib_discretize(x, n_bins)
    m = ref_mi_matrix(codes, y)
    h = ref_entropy(y)
    L, K = m.shape
    # MIG-sup: per latent, gap of the two largest I / H(v)
    gaps = []
    for l in range(L):
        s = sorted(m[l] / h, reverse=True)
        gaps.append(s[0] - s[1])
    ref_sup = float(np.mean(gaps))
    # JEMMIG
    js = []
    for k in range(K):
        order = np.argsort(-m[:, k], kind="stable")
        top, second = order[0], order[1]
        hj = joint_entropy(y[:, k], codes[:, top])
        js.append(1 - (hj - m[top, k] + m[second, k]) / (h[k] + math.log(n_bins)))
    ref_jem = float(np.mean(js))
    # DCIMIG
    best = np.zeros(K)
    for l in range(L):
        s = np.argsort(-m[l], kind="stable")
        gap = m[l, s[0]] - m[l, s[1]]
        best[s[0]] = max(best[s[0]], gap)
    ref_dci = float(best.sum() / h.sum())
    return {"mig_sup": ref_sup, "jemmig": ref_jem, "dcimig": ref_dci, "modularity": ref_modularity(m)[0]}


def test_mig_sup_jemmig_dcimig_modularity_equal_plain_loops(case):
    x, y = case
    ref = _ref_all(x, y)
    assert abs(mig_sup(x, y).mig_sup - ref["mig_sup"]) < 1e-9
    assert abs(jemmig(x, y).jemmig - ref["jemmig"]) < 1e-9
    assert abs(dcimig(x, y).dcimig - ref["dcimig"]) < 1e-9
    assert abs(modularity(x, y).modularity - ref["modularity"]) < 1e-9


def test_mig_latent_normalisation_variant(rng):
    x, y = make_structured(rng, n=3000)
    x[:, 5] = 1.0  # constant latent: H(z) = 0, normalised MI defined as 0
    codes = dlib_discretize(x)
    m = ref_mi_matrix(codes, y)
    hz = ref_entropy(codes)
    nmi = np.where(hz[:, None] > 0, m / np.where(hz > 0, hz, 1)[:, None], 0.0)
    s = np.sort(nmi, axis=0)[::-1]
    res = mig(x, y, normalization="latent")
    assert abs(res.mig - float(np.mean(s[0] - s[1]))) < 1e-9
    assert res.normalization == "latent"
    assert_close(res.latent_entropy, hz, rtol=0, atol=1e-10)


def test_quantile_discretizer_equals_numpy_quantile_bins(rng):
    x, y = make_structured(rng, n=3000)
    edges = np.quantile(x, np.linspace(0, 1, 11), axis=0).T
    codes = np.column_stack([np.searchsorted(edges[j, 1:-1], x[:, j], side="right") for j in range(x.shape[1])])
    m = ref_mi_matrix(codes, y)
    h = ref_entropy(y)
    s = np.sort(m, axis=0)[::-1]
    res = mig(x, y, n_bins=10, discretizer="quantile")
    assert abs(res.mig - float(np.mean((s[0] - s[1]) / h))) < 1e-9
    assert_close(res.mutual_info, m, rtol=0, atol=1e-10)


# ============================================================================ known answers


def test_copy_of_a_factor_has_mi_equal_to_its_entropy(rng):
    y = rng.integers(0, SIZES, size=(5000, 4))
    x = np.column_stack([y[:, 2].astype(float), rng.normal(size=5000)])
    res = mig(x, y, n_bins=20)  # 10 classes, 20 bins: the copy keeps every class apart
    assert abs(res.mutual_info[0, 2] - res.factor_entropy[2]) < 1e-12
    assert abs(res.gap_per_factor[2] - (1 - res.mutual_info[1, 2] / res.factor_entropy[2])) < 1e-12


def test_independent_noise_gives_mig_near_zero(rng):
    y = rng.integers(0, SIZES, size=(50_000, 4))
    x = rng.normal(size=(50_000, 6))
    res = mig(x, y)
    # bias of the plug-in MI estimate is about (bins - 1)(classes - 1) / 2N
    assert res.mutual_info.max() < 0.01
    assert res.mig < 0.01
    assert mig_sup(x, y).mig_sup < 0.01
    assert dcimig(x, y).dcimig < 0.01


def test_scores_are_invariant_to_latent_permutation_and_positive_affine_maps(rng):
    x, y = make_structured(rng, n=3000)
    perm = np.array([3, 0, 5, 1, 4, 2])
    scaled = x.copy()
    scaled[:, 0] = 4.0 * x[:, 0] + 8.0  # powers of two: exact in floating point
    scaled[:, 2] = 2.5 * x[:, 2] - 3.0
    for name, fn in METRIC_FUNCS.items():
        base = fn(x, y).score
        assert abs(fn(x[:, perm], y).score - base) < 1e-12, name
        assert abs(fn(scaled, y).score - base) < 1e-12, name


def test_constant_latent_never_gives_nan(rng):
    x, y = make_structured(rng, n=2000)
    x[:, :3] = 7.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 RuntimeWarning either
        for name, fn in METRIC_FUNCS.items():
            res = fn(x, y)
            assert np.isfinite(res.score), name
        res = mig(x, y, normalization="latent")
        assert np.isfinite(res.mig)
    mod = modularity(x, y)
    assert list(mod.informative[:3]) == [False] * 3
    dropped = modularity(x, y, uninformative="drop")
    assert abs(dropped.modularity - mod.modularity_per_latent[3:].mean()) < 1e-15


def test_torch_input_gives_the_numpy_result(rng):
    torch = pytest.importorskip("torch")
    x, y = make_structured(rng, n=2000, dtype=np.float32)
    a = mig(x, y)
    b = mig(torch.from_numpy(x), torch.from_numpy(y))
    assert a.mig == b.mig
    np.testing.assert_array_equal(a.mutual_info, b.mutual_info)


@pytest.mark.cuda
def test_cuda_counts_equal_cpu_counts(rng):
    import torch

    x, y = make_structured(rng, n=20_000, dtype=np.float32)
    a = info.information_stats(x, y)
    b = info.information_stats(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda())
    np.testing.assert_array_equal(a.counts, b.counts)
    assert mig(x, y, backend="cuda").mig == mig(x, y).mig


def test_results_are_frozen_and_serialisable(rng):
    x, y = make_structured(rng, n=1000)
    res = mig(x, y)
    with pytest.raises(Exception):
        res.mig = 0.0
    d = res.to_dict()
    assert d["metric"] == "mig" and d["scores"] == {"mig": res.mig}
    assert np.array(d["mutual_info"]).shape == (6, 4)


# ============================================================================ streaming


def _same(a, b):
    """Every number of two results equal (their settings and provenance may differ)."""
    assert type(a) is type(b)
    for f in a.__dataclass_fields__:
        if f in ("settings", "provenance"):
            continue
        va, vb = getattr(a, f), getattr(b, f)
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb, f


@pytest.mark.parametrize("chunk", [1, 7, 999, 4000])
def test_chunked_equals_in_memory_bit_for_bit(rng, chunk):
    x, y = make_structured(rng, n=2000 if chunk == 1 else 4000, dtype=np.float32)
    acc = InformationAccumulator.from_data(x)
    for s in range(0, x.shape[0], chunk):
        acc.update(x[s:s + chunk], y[s:s + chunk])
    assert acc.n_rows == x.shape[0]
    results = acc.compute()
    assert set(results) == set(METRIC_FUNCS)
    for name, fn in METRIC_FUNCS.items():
        _same(results[name], fn(x, y))


def test_merge_equals_one_pass_and_classes_may_grow(rng):
    x, y = make_structured(rng, n=3000)
    order = np.argsort(y[:, 2], kind="stable")  # first half never sees the top classes
    x, y = x[order], y[order]
    a = InformationAccumulator.from_data(x)
    b = InformationAccumulator(a.edges)
    a.update(x[:1500], y[:1500])
    b.update(x[1500:], y[1500:])
    a.merge(b)
    _same(a.compute("mig"), mig(x, y))
    _same(a.compute("jemmig"), jemmig(x, y))


def test_given_edges_and_quantile_streaming(rng):
    x, y = make_structured(rng, n=3000)
    acc = InformationAccumulator.from_data(x, n_bins=10, discretizer="quantile")
    for s in range(0, 3000, 512):
        acc.update(x[s:s + 512], y[s:s + 512])
    _same(acc.compute("mig"), mig(x, y, n_bins=10, discretizer="quantile"))
    acc2 = InformationAccumulator.from_range(x.min(axis=0), x.max(axis=0), dtype=np.float64).update(x, y)
    _same(acc2.compute("modularity"), modularity(x, y))


def _write(path, x, y, chunk_rows=1024):
    from fastdci.io import LatentsWriter

    with LatentsWriter(path, latent_dim=x.shape[1], factor_names=[f"f{k}" for k in range(y.shape[1])],
                       factor_sizes=list(SIZES), with_logvar=False, chunk_rows=chunk_rows) as w:
        for s in range(0, x.shape[0], 3000):
            w.append(x[s:s + 3000], classes=y[s:s + 3000])


def test_file_streaming_equals_in_memory_with_bounded_memory(rng, tmp_path):
    import fastdci
    from fastdci.io.source import LatentsSource

    n = 60_000
    x, y = make_structured(rng, n=n, dtype=np.float32)
    path = tmp_path / "latents.h5"
    _write(path, x, y)
    fastdci.evaluate(path, "mig", memory_budget=0)  # warm-up: imports, caches
    tracemalloc.start()
    report = fastdci.evaluate(path, "information", memory_budget=0)  # rows above the budget: streamed
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    data_bytes = x.nbytes + n * y.shape[1] * 8
    assert peak < data_bytes / 4, f"peak {peak} bytes vs {data_bytes} bytes of data"
    for name, fn in METRIC_FUNCS.items():
        _same(report[name], fn(x, y))
    with LatentsSource(path, memory_budget=0) as source:
        assert not source.in_memory
        _same(mig(source, normalization="latent"), mig(x, y, normalization="latent"))
    with LatentsSource(path) as source:
        assert source.in_memory
        _same(modularity(source), modularity(x, y))


def test_merged_parts_in_random_order_equal_one_pass(rng):
    """Counts of k parts of the rows (random order, same edges) merge into the one-pass result."""
    from fastdci.metrics.information import information_stats
    from fastdci.metrics.registry import METRICS

    x, y = make_structured(rng, n=5000, dtype=np.float32)
    whole = information_stats(x, y)
    for k in (2, 3, 7):
        order = rng.permutation(len(x))
        parts = np.array_split(order, k)
        stats = [information_stats(x[p], y[p], edges=whole.edges) for p in parts]
        merge_order = rng.permutation(k)
        merged = stats[merge_order[0]]
        for i in merge_order[1:]:
            merged = merged.merge(stats[i])
        np.testing.assert_array_equal(merged.counts[:, :, : whole.counts.shape[2]], whole.counts)
        for name, spec in METRICS.items():
            if spec.family != "information":
                continue
            finalize = spec.load("finalize")
            assert finalize(merged) == finalize(whole), (name, k)


# ============================================================================ errors


def test_bad_arguments_raise_with_the_fix(rng):
    x, y = make_structured(rng, n=500)
    with pytest.raises(InvalidInputError, match="n_bins must be an integer >= 2"):
        mig(x, y, n_bins=1)
    with pytest.raises(InvalidInputError, match="discretizer must be one of 'uniform', 'quantile'"):
        mig(x, y, discretizer="kmeans")
    with pytest.raises(InvalidInputError, match="normalization must be one of 'factor', 'latent'"):
        mig(x, y, normalization="joint")
    with pytest.raises(InvalidInputError, match="uninformative must be one of 'zero', 'drop'"):
        modularity(x, y, uninformative="nan")
    with pytest.raises(InvalidInputError, match="MIG needs at least 2 latents"):
        mig(x[:, :1], y)
    with pytest.raises(InvalidInputError, match="MIG-sup needs at least 2 factors"):
        mig_sup(x, y[:, :1])
    one_class = y.copy()
    one_class[:, 1] = 0
    with pytest.raises(InvalidInputError, match=r"factor\(s\) \['factor_1'\] take a single class"):
        mig(x, one_class)
    bad = x.copy()
    bad[10, 3] = np.nan
    with pytest.raises(InvalidInputError, match=r"NaN or inf.*row 10, latent 3"):
        mig(bad, y)
    with pytest.raises(InvalidInputError, match="rows"):
        mig(x, y[:-1])
    with pytest.raises(InvalidInputError, match="not a file"):
        mig("nowhere.h5")


def test_accumulator_misuse_raises(rng):
    x, y = make_structured(rng, n=500)
    acc = InformationAccumulator.from_data(x)
    with pytest.raises(InvalidInputError, match="no rows counted yet"):
        acc.compute("mig")
    with pytest.raises(InvalidInputError, match="edges are for 6"):
        acc.update(x[:, :4], y)
    acc.update(x, y)
    with pytest.raises(InvalidInputError, match="same factor columns"):
        acc.update(x, y[:, :2])
    other = InformationAccumulator.from_data(x * 2)
    with pytest.raises(InvalidInputError, match="different bin edges"):
        acc.merge(other)
    with pytest.raises(InvalidInputError, match=r"edges must have shape"):
        InformationAccumulator(np.zeros((3, 2)))
