"""The Beta-VAE architectures: layer shapes, parameter counts, initialisation, bad input."""

from __future__ import annotations

import pytest
import torch

from fastdci.errors import FastDCIError, InvalidInputError
from fastdci.models import BetaVAE, build_model


def _shapes(seq, x):
    out = []
    for layer in seq:
        x = layer(x)
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            out.append(tuple(x.shape[1:]))
    return out


@pytest.mark.parametrize("arch", ["standard", "tutorial"])
@pytest.mark.parametrize("latent_dim", [1, 10])
def test_forward_shapes(arch, latent_dim):
    model = build_model(arch, latent_dim, seed=0)
    x = torch.rand(3, 1, 64, 64)
    out = model(x, generator=torch.Generator().manual_seed(0))
    assert out.mean.shape == out.logvar.shape == out.z.shape == (3, latent_dim)
    assert out.logits.shape == (3, 1, 64, 64)
    assert model.config == {"arch": arch, "latent_dim": latent_dim}


def test_standard_feature_maps():
    # Locatello et al. (2019) Table 1: 64 -> 32 -> 16 -> 8 -> 4, channels 32-32-64-64
    model = BetaVAE("standard")
    enc = _shapes(model.encoder, torch.zeros(1, 1, 64, 64))
    assert enc == [(32, 32, 32), (32, 16, 16), (64, 8, 8), (64, 4, 4)]
    kernels = [m.kernel_size for m in model.encoder if isinstance(m, torch.nn.Conv2d)]
    assert kernels == [(4, 4), (4, 4), (2, 2), (2, 2)]
    dec = _shapes(model.decoder, torch.zeros(1, 10))
    assert dec == [(64, 8, 8), (32, 16, 16), (32, 32, 32), (1, 64, 64)]


def test_standard_parameter_count():
    L = 10
    enc = (16 * 32 + 32) + (32 * 16 * 32 + 32) + (32 * 4 * 64 + 64) + (64 * 4 * 64 + 64) + (1024 * 256 + 256)
    heads = 2 * (256 * L + L)
    dec = (L * 256 + 256) + (256 * 1024 + 1024) + (64 * 16 * 64 + 64) + (64 * 16 * 32 + 32) \
        + (32 * 16 * 32 + 32) + (32 * 16 * 1 + 1)
    n = sum(p.numel() for p in BetaVAE("standard", L).parameters())
    assert n == enc + heads + dec


def test_standard_same_padding_matches_tensorflow_rule():
    # TF "same", kernel 4, stride 2, input 64: output 32, total padding (32-1)*2+4-64 = 2,
    # split 1 before / 1 after. The first layer must equal an explicitly padded valid conv.
    model = build_model(seed=1)
    conv = model.encoder[0]
    x = torch.rand(2, 1, 64, 64)
    want = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1)), conv.weight, conv.bias, stride=2)
    torch.testing.assert_close(conv(x), want)


def test_tutorial_decoder_gives_64_not_62():
    model = BetaVAE("tutorial")
    enc = _shapes(model.encoder, torch.zeros(1, 1, 64, 64))
    assert [s[1] for s in enc] == [31, 14, 6, 2]
    dec = _shapes(model.decoder, torch.zeros(1, 10))
    assert [s[1] for s in dec] == [6, 14, 31, 64]
    # the architecture as printed (no output_padding) comes out 62x62
    printed = torch.nn.Sequential(*[
        torch.nn.ConvTranspose2d(m.in_channels, m.out_channels, 4, stride=2)
        if isinstance(m, torch.nn.ConvTranspose2d) else m for m in model.decoder
    ])
    assert printed(torch.zeros(1, 10)).shape[-1] == 62


def test_standard_init_is_tensorflow_default():
    model = build_model(seed=0)
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.ConvTranspose2d)):
            assert torch.count_nonzero(m.bias) == 0
            fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(m.weight)
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            assert m.weight.abs().max() <= bound


def test_build_model_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = build_model(seed=5), build_model(seed=5), build_model(seed=6)
    assert torch.equal(torch.get_rng_state(), before)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["fc_mean.weight"], sc["fc_mean.weight"])


def test_reparameterize():
    mean = torch.tensor([[1.0, -2.0]])
    logvar = torch.tensor([[0.0, 2.0 * torch.log(torch.tensor(3.0)).item()]])
    noise = torch.tensor([[0.5, -1.0]])
    torch.testing.assert_close(BetaVAE.reparameterize(mean, logvar, noise), torch.tensor([[1.5, -5.0]]))


def test_bad_arch_and_latent_dim():
    with pytest.raises(InvalidInputError, match=r"arch must be one of \['standard', 'tutorial'\]; got 'resnet'"):
        BetaVAE("resnet")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(FastDCIError, match="latent_dim must be a positive integer"):
            BetaVAE("standard", bad)


def test_bad_image_shape_names_fix():
    model = BetaVAE()
    with pytest.raises(InvalidInputError, match=r"shape \(n, 1, 64, 64\); got \(2, 64, 64\).*x\[:, None\]"):
        model.encode(torch.zeros(2, 64, 64))
    with pytest.raises(InvalidInputError, match=r"z must have shape \(n, 10\); got \(2, 3\)"):
        model.decode(torch.zeros(2, 3))
