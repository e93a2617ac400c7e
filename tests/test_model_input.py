"""encode_model: any module or function and any dataset in, a LatentsSource out (in memory or
through a latents file); its means against the model run directly; the one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastdci
from fastdci.data import DSprites
from fastdci.encode import select_rows
from fastdci.errors import FastDCIError, InvalidInputError, OutputExistsError
from fastdci.io import LatentsSource, encode_model, encode_model_to_file, open_latents
from fastdci.models import build_model

pytestmark = pytest.mark.usefixtures("torch_one_thread")

N = 200  # dSprites rows encoded per test


@pytest.fixture(scope="module")
def vae():
    return build_model(latent_dim=4, seed=0)


def _direct(model, idx):
    with torch.inference_mode():
        return model.encode(DSprites().images_torch(idx))


class Forward(torch.nn.Module):
    """A module without encode: forward gives (means, something else)."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64 * 64, 3), torch.nn.Dropout(0.5))

    def forward(self, x):
        h = self.net(x)
        return h, torch.zeros(len(x), 7)


class PairData(torch.utils.data.Dataset):
    """Items (image, factor classes); two factors read off the image."""

    def __init__(self, n=120, sizes=True):
        g = torch.Generator().manual_seed(0)
        self.images = torch.rand(n, 1, 6, 6, generator=g)
        self.factors = torch.stack([(self.images.mean((1, 2, 3)) * 4).long() % 3,
                                    (self.images[:, 0, 0, 0] > 0.5).long()], dim=1)
        if sizes:
            self.factor_sizes, self.factor_names = (3, 2), ("brightness", "corner")

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.factors[i]


def test_beta_vae_on_dsprites_in_memory(vae):
    vae.train()
    with encode_model(vae, n_rows=N, batch_size=64, seed=3) as source:
        assert isinstance(source, LatentsSource) and source.path is None
        assert source.factor_names == DSprites.factor_names and source.factor_sizes == DSprites.factor_sizes
        idx, _ = select_rows(len(DSprites()), N, seed=3)
        np.testing.assert_array_equal(source.factors, DSprites().classes(idx))
        mean, _ = _direct(vae, idx)
        np.testing.assert_allclose(source.host_latents(), mean.numpy(), rtol=1e-5, atol=1e-6)
        assert 0.0 <= fastdci.mig(source).score <= 1.0
    assert vae.training  # its mode is given back


def test_beta_vae_to_a_file(vae, tmp_path):
    path = tmp_path / "latents.h5"
    with encode_model(vae, rows=np.arange(50, 50 + N), batch_size=64, out=path) as source:
        assert source.path == str(path) and source.n_rows == N
    with open_latents(path) as r:
        got = r.read(fields=["mean", "logvar", "classes", "values", "index"])
        assert r.complete and r.latent_dim == 4 and r.factor_sizes == DSprites.factor_sizes
        assert r.model["kind"] == "module" and r.model["method"] == "encode"
        assert r.model["class"] == "fastdci.models.vae.BetaVAE" and r.model["config"]["latent_dim"] == 4
        assert r.dataset["name"] == "dsprites" and r.dataset["selection"]["rows"] == "explicit"
    idx = np.arange(50, 50 + N)
    mean, logvar = _direct(vae, idx)
    np.testing.assert_array_equal(got.index, idx)
    np.testing.assert_array_equal(got.values, DSprites().values(idx))
    np.testing.assert_allclose(got.mean, mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.logvar, logvar.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        encode_model(vae, n_rows=N, out=path)
    res = encode_model_to_file(vae, path, n_rows=N, overwrite=True)
    assert res.rows == N and res.path == path


def test_forward_module_and_plain_functions():
    model = Forward().train()
    with encode_model(model, n_rows=N, batch_size=64) as source:
        idx, _ = select_rows(len(DSprites()), N, seed=0)
        with torch.inference_mode():
            want = model.eval().net(DSprites().images_torch(idx)).numpy()
        np.testing.assert_allclose(source.host_latents(), want, rtol=1e-5, atol=1e-6)  # dropout off
    model.train()
    encode_model(model, n_rows=N)
    assert model.training
    # a function returning NumPy: images arrive as float32 torch tensors
    images = np.random.default_rng(0).integers(0, 2, size=(150, 4, 4), dtype=np.uint8)
    factors = images[:, 0, :2].astype(np.int64)
    seen = []

    def first_pixels(x):
        seen.append(x.dtype)
        return x.reshape(len(x), -1)[:, :5].numpy()

    with encode_model(first_pixels, data=(images, factors), batch_size=40, factor_names=["a", "b"]) as source:
        np.testing.assert_array_equal(source.host_latents(), images.reshape(150, -1)[:, :5])
        np.testing.assert_array_equal(source.factors, factors)
        assert source.factor_sizes == (2, 2) and source.factor_names == ("a", "b")
    assert set(seen) == {torch.float32}


def test_torch_dataset_with_and_without_factor_sizes(tmp_path):
    flat = lambda x: x.flatten(1)  # noqa: E731
    data = PairData()
    with encode_model(flat, data=data, n_rows=100, seed=1) as source:
        idx, _ = select_rows(len(data), 100, seed=1)
        np.testing.assert_allclose(source.host_latents(), data.images[idx].flatten(1).numpy())
        np.testing.assert_array_equal(source.factors, data.factors[idx].numpy())
        assert source.factor_sizes == (3, 2) and source.factor_names == ("brightness", "corner")
    bare = PairData(sizes=False)
    encode_model(flat, data=bare, out=tmp_path / "bare.h5", batch_size=32).close()
    with open_latents(tmp_path / "bare.h5") as r:
        want = tuple(int(m) + 1 for m in bare.factors.max(0).values)
        assert r.factor_sizes == want and r.factor_names == ("factor_0", "factor_1")
        assert not r.has_logvar and not r.has_values and r.dataset["kind"] == "torch_dataset"
        assert r.model["kind"] == "function" and r.n_rows == len(bare)


def _images(n=120):
    return torch.rand(n, 1, 6, 6), torch.randint(0, 3, (n, 2))


@pytest.mark.parametrize("fn, pattern", [
    (lambda x: x.flatten(1)[:, 0], r"returned shape \(120,\) for a batch of 120 images \(one value per image"),
    (lambda x: x, r"returned shape \(120, 1, 6, 6\) for a batch of 120 images; return the posterior means"),
    (lambda x: x.flatten(1)[:5], r"returned shape \(5, 36\) for a batch of 120"),
    (lambda x: x.flatten(1) / 0.0 * 0.0, r"returned 4320 NaN/inf value\(s\) \(first at encoded row 0, latent 0\)"),
    (lambda x: "means", r"returned str as its output, not an array of real numbers"),
    (lambda x: (), r"returned an empty tuple"),
    (lambda x: x.flatten(1).to(torch.complex64), "not an array of real numbers"),
])
def test_bad_outputs_are_one_line(fn, pattern):
    with pytest.raises(InvalidInputError, match=pattern) as info:
        encode_model(fn, data=_images())
    assert "\n" not in str(info.value)


def test_bad_models_and_data(tmp_path):
    flat = lambda x: x.flatten(1)  # noqa: E731

    class Enc(torch.nn.Module):
        def encode(self, x):
            return x.flatten(1), x.flatten(1)[:, :2]

    with pytest.raises(InvalidInputError, match=r"log-variance of shape \(120, 2\) beside means of shape \(120, 36\)"):
        encode_model(Enc(), data=_images())
    with pytest.raises(InvalidInputError, match=r"model is the class Forward, not an instance; pass Forward\(\)"):
        encode_model(Forward, data=_images())
    with pytest.raises(InvalidInputError, match="model must be a torch.nn.Module, an object with encode"):
        encode_model(42, data=_images())
    with pytest.raises(InvalidInputError, match=r"array of images without factor classes.*data=\(images, factors\)"):
        encode_model(flat, data=torch.rand(50, 6, 6))

    class ImagesOnly(torch.utils.data.Dataset):
        def __len__(self):
            return 50

        def __getitem__(self, i):
            return torch.rand(1, 6, 6)

    with pytest.raises(InvalidInputError, match=r"ImagesOnly gives items of type Tensor, not \(image, factor"):
        encode_model(flat, data=ImagesOnly())
    with pytest.raises(FastDCIError, match="data factors"):
        encode_model(flat, data=(torch.rand(50, 6), torch.rand(50, 2)))  # fractional classes
    encode_model(flat, data=_images(40)).close()  # 40 rows > 36 latents is enough
    with pytest.raises(InvalidInputError, match="36 rows for 36 latents and 2 factors: the metrics need more rows"):
        encode_model(flat, data=_images(36))
    with pytest.raises(InvalidInputError, match="rows or n_rows, not both"):
        encode_model(flat, data=_images(), rows=10, n_rows=10)
    with pytest.raises(InvalidInputError, match="batch_size must be a positive integer"):
        encode_model(flat, data=_images(), batch_size=0)
    with pytest.raises(InvalidInputError, match="is a directory"):
        encode_model(flat, data=_images(), out=tmp_path)
    # nothing was written by a failed encode to a file
    with pytest.raises(InvalidInputError, match="NaN/inf"):
        encode_model(lambda x: x.flatten(1) / 0.0, data=_images(), out=tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.cuda
def test_device_cuda_matches_cpu_and_the_module_goes_home(vae):
    with encode_model(vae, n_rows=N) as cpu, encode_model(vae, n_rows=N, device="cuda") as gpu:
        np.testing.assert_allclose(gpu.host_latents(), cpu.host_latents(), rtol=1e-4, atol=1e-5)
    assert next(vae.parameters()).device.type == "cpu"
    images = torch.rand(100, 1, 6, 6, device="cuda")
    with encode_model(lambda x: x.flatten(1), data=(images, torch.randint(0, 2, (100, 1))), device="cpu") as s:
        np.testing.assert_allclose(s.host_latents(), images.flatten(1).cpu().numpy())
