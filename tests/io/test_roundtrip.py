"""Writer/reader round trips on random data."""

from __future__ import annotations

import numpy as np
import pytest

from fastdci.io import LatentsWriter, open_latents

NAMES = ("shape", "scale", "orientation")
SIZES = (3, 6, 40)


def _data(rng, n, L=7):
    mean = rng.normal(size=(n, L)).astype(np.float32)
    logvar = rng.normal(size=(n, L)).astype(np.float32)
    classes = np.stack([rng.integers(0, s, n) for s in SIZES], axis=1)
    values = rng.random((n, len(SIZES))).astype(np.float32)
    index = rng.permutation(n).astype(np.int64)
    return mean, logvar, classes, values, index


@pytest.mark.parametrize("chunk_rows", [7, 64, 1000, 5000])
@pytest.mark.parametrize("with_logvar,with_values", [(True, True), (False, False), (True, False)])
def test_round_trip(tmp_path, rng, chunk_rows, with_logvar, with_values):
    n = 1234
    mean, logvar, classes, values, index = _data(rng, n)
    path = tmp_path / "l.h5"
    batches = np.cumsum(rng.integers(1, 400, size=40))
    bounds = [0, *[int(b) for b in batches if b < n], n]
    with LatentsWriter(path, latent_dim=7, factor_names=NAMES, factor_sizes=SIZES, with_logvar=with_logvar,
                       with_values=with_values, chunk_rows=chunk_rows, dataset={"d": 1}, model={"m": [1, 2]}) as w:
        for a, b in zip(bounds[:-1], bounds[1:]):
            w.append(mean[a:b], logvar=logvar[a:b] if with_logvar else None, classes=classes[a:b],
                     values=values[a:b] if with_values else None, index=index[a:b])
    with open_latents(path) as r:
        assert (r.n_rows, r.latent_dim, r.factor_names, r.factor_sizes) == (n, 7, NAMES, SIZES)
        assert r.complete and r.has_logvar == with_logvar and r.has_values == with_values
        assert r.dataset == {"d": 1} and r.model == {"m": [1, 2]}
        full = r.read()
        np.testing.assert_array_equal(full.mean, mean)
        np.testing.assert_array_equal(full.classes, classes)
        np.testing.assert_array_equal(full.index, index)
        if with_logvar:
            np.testing.assert_array_equal(full.logvar, logvar)
        else:
            assert full.logvar is None
        if with_values:
            np.testing.assert_array_equal(full.values, values)
        for rows in (97, 333, n, 10 * n):
            chunks = list(r.iter_chunks(rows))
            assert [c.start for c in chunks] == list(range(0, n, rows))
            np.testing.assert_array_equal(np.concatenate([c.mean for c in chunks]), full.mean)
            np.testing.assert_array_equal(np.concatenate([c.classes for c in chunks]), full.classes)
            np.testing.assert_array_equal(np.concatenate([c.index for c in chunks]), full.index)


def test_read_by_index_slice_and_sample(tmp_path, rng):
    n = 3000
    mean, logvar, classes, values, index = _data(rng, n)
    path = tmp_path / "l.h5"
    with LatentsWriter(path, latent_dim=7, factor_names=NAMES, factor_sizes=SIZES, chunk_rows=256) as w:
        w.append(mean, logvar=logvar, classes=classes, index=index)
    with open_latents(path) as r:
        idx = rng.integers(0, n, 500)  # unsorted, with repeats
        got = r.read(idx)
        np.testing.assert_array_equal(got.mean, mean[idx])
        np.testing.assert_array_equal(got.classes, classes[idx])
        np.testing.assert_array_equal(got.logvar, logvar[idx])
        np.testing.assert_array_equal(r.read(slice(10, 2000, 7)).mean, mean[10:2000:7])
        np.testing.assert_array_equal(r.read(slice(100, 200)).index, index[100:200])
        np.testing.assert_array_equal(r.read([-1]).mean, mean[-1:])
        mask = rng.random(n) < 0.1
        np.testing.assert_array_equal(r.read(mask).mean, mean[mask])
        assert len(r.read(np.array([], dtype=int))) == 0
        s1, s2 = r.sample(100, random_state=3), r.sample(100, random_state=3)
        np.testing.assert_array_equal(s1.mean, s2.mean)
        assert len(np.unique(s1.index)) == 100
        # sampled rows are real rows: each index maps back to its mean
        pos = np.argsort(index)[s1.index]
        np.testing.assert_array_equal(s1.mean, mean[pos])
        sub = r.read(idx, fields=["mean"])
        assert sub.classes is None and sub.mean.shape == (500, 7)


def test_default_index_continues_across_appends(tmp_path, rng):
    path = tmp_path / "l.h5"
    mean, _, classes, _, _ = _data(rng, 100)
    with LatentsWriter(path, latent_dim=7, factor_names=NAMES, factor_sizes=SIZES, with_logvar=False,
                       chunk_rows=30) as w:
        w.append(mean[:45], classes=classes[:45])
        w.append(mean[45:], classes=classes[45:])
    with open_latents(path) as r:
        np.testing.assert_array_equal(r.read().index, np.arange(100))


def test_empty_file_is_valid(tmp_path):
    path = tmp_path / "l.h5"
    with LatentsWriter(path, latent_dim=3, factor_names=["a"], factor_sizes=[2]):
        pass
    with open_latents(path) as r:
        assert r.n_rows == 0 and r.complete
        assert list(r.iter_chunks()) == []


def test_reader_never_modifies_the_file(tmp_path, rng):
    path = tmp_path / "l.h5"
    mean, logvar, classes, _, _ = _data(rng, 500)
    with LatentsWriter(path, latent_dim=7, factor_names=NAMES, factor_sizes=SIZES, chunk_rows=64) as w:
        w.append(mean, logvar=logvar, classes=classes)
    before = path.read_bytes()
    with open_latents(path) as r:
        r.read()
        r.sample(10, 0)
        list(r.iter_chunks(100))
    path.chmod(0o444)
    with open_latents(path) as r:  # opens read-only files too
        assert r.n_rows == 500
    assert path.read_bytes() == before
