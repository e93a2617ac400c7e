"""Objectives against hand computations with plain Python loops on tiny batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fastdci.errors import InvalidInputError
from fastdci.models import (
    AnnealedVAELoss,
    BetaTCVAELoss,
    BetaVAELoss,
    bernoulli_reconstruction,
    gaussian_kl,
    make_objective,
    total_correlation,
)


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    M, L = 4, 3
    x = (torch.rand(M, 1, 3, 3, generator=g) > 0.5).float()
    x[0, 0, 0, 0] = 0.3  # a grey pixel: the loss takes targets in [0, 1]
    logits = torch.randn(M, 1, 3, 3, generator=g) * 3
    mean = torch.randn(M, L, generator=g)
    logvar = torch.randn(M, L, generator=g) * 0.5
    z = mean + torch.exp(0.5 * logvar) * torch.randn(M, L, generator=g)
    return {k: v.double() for k, v in dict(x=x, logits=logits, mean=mean, logvar=logvar, z=z).items()}


def _recon(x, logits):
    out = []
    for xi, li in zip(x.reshape(len(x), -1).tolist(), logits.reshape(len(x), -1).tolist()):
        s = 0.0
        for t, l in zip(xi, li):
            p = 1.0 / (1.0 + math.exp(-l))
            s -= t * math.log(p) + (1 - t) * math.log(1 - p)
        out.append(s)
    return out


def _kl(mean, logvar):
    return [sum(0.5 * (m * m + math.exp(v) - v - 1) for m, v in zip(mr, vr))
            for mr, vr in zip(mean.tolist(), logvar.tolist())]


def _logn(z, m, v):
    return -0.5 * ((z - m) ** 2 / math.exp(v) + v + math.log(2 * math.pi))


def _tc(z, mean, logvar, N):
    z, mean, logvar = z.tolist(), mean.tolist(), logvar.tolist()
    M, L = len(z), len(z[0])
    total = 0.0
    for i in range(M):
        joint = sum(math.exp(sum(_logn(z[i][l], mean[j][l], logvar[j][l]) for l in range(L))) for j in range(M))
        log_qz = math.log(joint / (N * M))
        log_marg = sum(math.log(sum(math.exp(_logn(z[i][l], mean[j][l], logvar[j][l])) for j in range(M)) / (N * M))
                       for l in range(L))
        total += log_qz - log_marg
    return total / M


def test_reconstruction_and_kl_by_hand(batch):
    got = bernoulli_reconstruction(batch["logits"], batch["x"])
    assert got.dtype == torch.float32 and got.shape == (4,)
    np.testing.assert_allclose(got.numpy(), _recon(batch["x"], batch["logits"]), rtol=1e-5)
    kl = gaussian_kl(batch["mean"], batch["logvar"]).sum(1)
    np.testing.assert_allclose(kl.numpy(), _kl(batch["mean"], batch["logvar"]), rtol=1e-5)


def test_beta_vae_by_hand(batch):
    b = batch
    terms = BetaVAELoss(beta=4.0)(b["x"], b["logits"], b["mean"], b["logvar"], b["z"])
    recon = np.mean(_recon(b["x"], b["logits"]))
    kl = np.mean(_kl(b["mean"], b["logvar"]))
    assert terms["recon"].item() == pytest.approx(recon, rel=1e-5)
    assert terms["kl"].item() == pytest.approx(kl, rel=1e-5)
    assert terms["loss"].item() == pytest.approx(recon + 4.0 * kl, rel=1e-5)
    # beta = 1 is the negative ELBO; beta = 0 the plain autoencoder loss
    assert BetaVAELoss(beta=0.0)(b["x"], b["logits"], b["mean"], b["logvar"], b["z"])["loss"].item() == \
        pytest.approx(recon, rel=1e-5)


@pytest.mark.parametrize("step, c", [(0, 0.0), (50, 1.0), (100, 2.0), (500, 2.0)])
def test_annealed_by_hand(batch, step, c):
    b = batch
    obj = AnnealedVAELoss(gamma=10.0, c_max=2.0, anneal_steps=100)
    terms = obj(b["x"], b["logits"], b["mean"], b["logvar"], b["z"], step=step)
    recon = np.mean(_recon(b["x"], b["logits"]))
    kl = np.mean(_kl(b["mean"], b["logvar"]))
    assert obj.capacity(step) == c
    assert terms["capacity"].item() == c
    assert terms["loss"].item() == pytest.approx(recon + 10.0 * abs(kl - c), rel=1e-5)


def test_total_correlation_by_hand(batch):
    b = batch
    tc = total_correlation(b["z"], b["mean"], b["logvar"], dataset_size=1000)
    assert tc.item() == pytest.approx(_tc(b["z"], b["mean"], b["logvar"], 1000), rel=1e-5, abs=1e-5)


def test_tcvae_by_hand_and_dlib_constant(batch):
    b = batch
    obj = BetaTCVAELoss(beta=6.0, dataset_size=1000)
    terms = obj(b["x"], b["logits"], b["mean"], b["logvar"], b["z"])
    recon = np.mean(_recon(b["x"], b["logits"]))
    kl = np.mean(_kl(b["mean"], b["logvar"]))
    tc = _tc(b["z"], b["mean"], b["logvar"], 1000)
    assert terms["tc"].item() == pytest.approx(tc, rel=1e-5, abs=1e-5)
    assert terms["loss"].item() == pytest.approx(recon + kl + 5.0 * tc, rel=1e-5)
    # disentanglement_lib's estimate drops (L - 1) log(N M); the value shifts, the gradient does not
    M, L = b["z"].shape
    assert (tc - (L - 1) * math.log(1000 * M)) == pytest.approx(
        _tc(b["z"], b["mean"], b["logvar"], 1) - (L - 1) * math.log(M), rel=1e-6, abs=1e-6)


def test_tc_of_independent_factorised_batch_is_small():
    # posteriors that are products over latents of points on a grid: TC estimate near 0 for
    # independent latents, clearly positive for perfectly correlated ones
    g = torch.Generator().manual_seed(1)
    M, L = 512, 2
    mean = torch.randn(M, L, generator=g)
    logvar = torch.full((M, L), -4.0)
    z = mean + torch.exp(0.5 * logvar) * torch.randn(M, L, generator=g)
    tc_indep = total_correlation(z, mean, logvar, dataset_size=M).item()
    corr = mean.clone()
    corr[:, 1] = corr[:, 0]
    zc = corr + torch.exp(0.5 * logvar) * torch.randn(M, L, generator=g)
    tc_corr = total_correlation(zc, corr, logvar, dataset_size=M).item()
    assert tc_corr > tc_indep + 1.0


def test_make_objective_and_bad_params():
    assert make_objective("beta", beta=2.0) == BetaVAELoss(beta=2.0)
    assert make_objective("annealed", gamma=5.0, beta=None).params() == {
        "objective": "annealed", "gamma": 5.0, "c_max": 25.0, "anneal_steps": 100000}
    with pytest.raises(InvalidInputError, match=r"objective must be one of \['beta', 'annealed', 'tcvae'\]; got 'vae'"):
        make_objective("vae")
    with pytest.raises(InvalidInputError, match=r"takes \['beta'\]; got also \['gamma'\]"):
        make_objective("beta", gamma=3.0)
    with pytest.raises(InvalidInputError, match=r"beta must be a finite number >= 0; got -1.*plain VAE"):
        BetaVAELoss(beta=-1)
    with pytest.raises(InvalidInputError, match="beta must be a finite number >= 0; got nan"):
        BetaTCVAELoss(beta=float("nan"))
    with pytest.raises(InvalidInputError, match="anneal_steps must be a positive integer; got 0"):
        AnnealedVAELoss(anneal_steps=0)
    with pytest.raises(InvalidInputError, match="c_max must be a finite number >= 0"):
        AnnealedVAELoss(c_max=-5)
