r"""Training objectives of the disentanglement literature: beta-VAE, capacity-annealed, beta-TCVAE.

Every objective is the negative ELBO's reconstruction term plus a regulariser of the
posterior ``q(z|x) = N(mean, diag(exp(logvar)))``:

.. math::

    \mathcal{L} = \frac{1}{M} \sum_{i=1}^{M} \Big[ \sum_{p} \mathrm{BCE}(\sigma(\ell_{ip}), x_{ip}) \Big]
                  + R(q)

with ``BCE(p, x) = -x log p - (1 - x) log(1 - p)`` summed over the pixels ``p`` of each
image and averaged over the ``M`` images of the batch (disentanglement_lib's
``bernoulli_loss`` with logits). The objectives differ in ``R``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields as dc_fields
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import InvalidInputError

__all__ = [
    "OBJECTIVES",
    "AnnealedVAELoss",
    "BetaTCVAELoss",
    "BetaVAELoss",
    "Objective",
    "bernoulli_reconstruction",
    "gaussian_kl",
    "gaussian_log_density",
    "make_objective",
    "total_correlation",
]

DSPRITES_SIZE = 737_280


def bernoulli_reconstruction(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Bernoulli negative log-likelihood of each image, summed over its pixels.

    Parameters
    ----------
    logits : tensor (n, ...)
        Decoder logits ``l``; ``p = sigmoid(l)``.
    x : tensor (n, ...)
        Targets in [0, 1], same shape.

    Returns
    -------
    tensor (n,)
        :math:`-\sum_p [x_p \log \sigma(l_p) + (1 - x_p) \log(1 - \sigma(l_p))]` in nats,
        computed stably from the logits, in float32 at least.
    """
    logits = logits.float().flatten(1)
    x = x.float().flatten(1)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL divergence of ``N(mean, exp(logvar))`` from ``N(0, I)`` per latent.

    Returns
    -------
    tensor (n, L)
        :math:`\tfrac12 (\mu^2 + e^{v} - v - 1)` in nats; sum over axis 1 for the KL of
        each data point.
    """
    mean, logvar = mean.float(), logvar.float()
    return 0.5 * (mean.square() + logvar.exp() - logvar - 1.0)


def gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""Elementwise log-density :math:`\log N(z; \mu, e^{v}) = -\tfrac12((z-\mu)^2 e^{-v} + v + \log 2\pi)`."""
    d = z - mean
    return -0.5 * (d * d * torch.exp(-logvar) + logvar + math.log(2.0 * math.pi))


def total_correlation(z: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, dataset_size: int) -> torch.Tensor:
    r"""Minibatch-weighted-sampling estimate of the total correlation of ``q(z)``.

    Parameters
    ----------
    z : tensor (M, L)
        One sample ``z_i ~ q(z | x_i)`` per data point of the batch.
    mean, logvar : tensor (M, L)
        The posteriors ``q(z | x_j)`` of the batch.
    dataset_size : int
        ``N``, the number of data points the batch is drawn from.

    Returns
    -------
    tensor ()
        :math:`\widehat{TC} = \frac1M \sum_i [\log \hat q(z_i) - \sum_l \log \hat q(z_{il})]`
        in nats, where
        :math:`\log \hat q(z_i) = \log \sum_j \prod_l q(z_{il} | x_j) - \log(NM)` and
        :math:`\log \hat q(z_{il}) = \log \sum_j q(z_{il} | x_j) - \log(NM)`.

    Notes
    -----
    Chen et al. (2018), eq. (S6) (minibatch weighted sampling). disentanglement_lib's
    ``total_correlation`` drops the constants; the estimate here keeps them, which adds
    :math:`(L - 1) \log(NM)` to the value and nothing to the gradient.
    """
    z, mean, logvar = z.float(), mean.float(), logvar.float()
    m = z.shape[0]
    # log q(z_i,l | x_j) for every pair (i, j): (M, M, L)
    log_q = gaussian_log_density(z[:, None, :], mean[None, :, :], logvar[None, :, :])
    log_nm = math.log(float(dataset_size) * m)
    log_qz = torch.logsumexp(log_q.sum(2), dim=1) - log_nm
    log_qz_marginals = (torch.logsumexp(log_q, dim=1) - log_nm).sum(1)
    return (log_qz - log_qz_marginals).mean()


def _check_nonneg(name: str, value: float, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{name} must be a finite number >= 0; got {value!r}. {hint}")
    return float(value)


@dataclass(frozen=True)
class Objective:
    """Base of the objectives: call with a batch, get a dict of scalar tensors.

    ``objective(x, logits, mean, logvar, z, step)`` returns ``"loss"`` (the value to
    minimise), ``"recon"`` (batch-mean reconstruction term), ``"kl"`` (batch-mean KL from
    the prior, summed over latents) and the objective's own terms.
    """

    name: ClassVar[str] = ""

    def params(self) -> dict:
        """The objective's hyperparameters as a JSON-ready dict (with ``objective``)."""
        return {"objective": self.name, **asdict(self)}

    def regularizer(self, mean, logvar, z, kl, step) -> tuple[torch.Tensor, dict]:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, x, logits, mean, logvar, z, step: int = 0) -> dict[str, torch.Tensor]:
        recon = bernoulli_reconstruction(logits, x).mean()
        kl = gaussian_kl(mean, logvar).sum(1).mean()
        reg, extra = self.regularizer(mean, logvar, z, kl, step)
        return {"loss": recon + reg, "recon": recon, "kl": kl, **extra}


@dataclass(frozen=True)
class BetaVAELoss(Objective):
    r"""beta-VAE (Higgins et al. 2017): :math:`R = \beta\, \overline{KL}`.

    .. math::

        \mathcal{L} = \overline{\mathrm{BCE}} + \beta \cdot \frac1M \sum_i \sum_l
        \tfrac12(\mu_{il}^2 + e^{v_{il}} - v_{il} - 1)

    Parameters
    ----------
    beta : float, default 4.0
        Weight of the KL term (1 is the plain VAE).

    References
    ----------
    Higgins, I. et al. (2017). beta-VAE: Learning basic visual concepts with a constrained
    variational framework. ICLR.

    Examples
    --------
    >>> import torch
    >>> from fastdci.models import BetaVAELoss
    >>> x = torch.zeros(1, 1, 2, 2); logits = torch.zeros(1, 1, 2, 2)
    >>> mean = torch.ones(1, 1); logvar = torch.zeros(1, 1)
    >>> terms = BetaVAELoss(beta=2.0)(x, logits, mean, logvar, mean)
    >>> round(terms["loss"].item(), 4)  # 4 log 2 + 2 * 0.5
    3.7726
    """

    name: ClassVar[str] = "beta"
    beta: float = 4.0

    def __post_init__(self):
        _check_nonneg("beta", self.beta, "beta weights the KL term: 1 is a plain VAE; Higgins et al. use 4 on dSprites.")

    def regularizer(self, mean, logvar, z, kl, step):
        return self.beta * kl, {}


@dataclass(frozen=True)
class AnnealedVAELoss(Objective):
    r"""Capacity-annealed beta-VAE (Burgess et al. 2018): :math:`R = \gamma\,|\overline{KL} - C(t)|`.

    .. math::

        C(t) = C_{max} \cdot \min(1, t / T)

    where ``t`` is the training step (0 at the first update) and ``T = anneal_steps``.

    Parameters
    ----------
    gamma : float, default 1000.0
        Weight of the capacity penalty.
    c_max : float, default 25.0
        Final capacity in nats.
    anneal_steps : int, default 100000
        Steps over which ``C`` rises linearly from 0 to ``c_max``.

    Notes
    -----
    Same as disentanglement_lib's ``AnnealedVAE`` (``iteration_threshold`` is
    ``anneal_steps``); the defaults are Burgess et al.'s dSprites settings.

    References
    ----------
    Burgess, C. P. et al. (2018). Understanding disentangling in beta-VAE. arXiv:1804.03599.
    """

    name: ClassVar[str] = "annealed"
    gamma: float = 1000.0
    c_max: float = 25.0
    anneal_steps: int = 100_000

    def __post_init__(self):
        _check_nonneg("gamma", self.gamma, "gamma weights |KL - C|; Burgess et al. use 1000.")
        _check_nonneg("c_max", self.c_max, "c_max is the final KL capacity in nats; Burgess et al. use 25.")
        if isinstance(self.anneal_steps, bool) or not isinstance(self.anneal_steps, int) or self.anneal_steps < 1:
            raise InvalidInputError(
                f"anneal_steps must be a positive integer; got {self.anneal_steps!r}. It is the number of "
                "steps over which the capacity rises to c_max (Burgess et al.: 100000)."
            )

    def capacity(self, step: int) -> float:
        """``C(step) = c_max * min(1, step / anneal_steps)`` in nats."""
        return self.c_max * min(1.0, float(step) / self.anneal_steps)

    def regularizer(self, mean, logvar, z, kl, step):
        c = self.capacity(step)
        return self.gamma * (kl - c).abs(), {"capacity": torch.tensor(c)}


@dataclass(frozen=True)
class BetaTCVAELoss(Objective):
    r"""beta-TCVAE (Chen et al. 2018): :math:`R = \overline{KL} + (\beta - 1)\,\widehat{TC}`.

    The KL term decomposes into index-code mutual information, total correlation and
    dimension-wise KL; beta-TCVAE weights only the total correlation by ``beta``:

    .. math::

        \mathcal{L} = \overline{\mathrm{BCE}} + \overline{KL} + (\beta - 1)\,\widehat{TC}

    with :math:`\widehat{TC}` the minibatch-weighted-sampling estimate of
    :func:`total_correlation` over the batch's samples ``z``.

    Parameters
    ----------
    beta : float, default 6.0
        Weight of the total correlation.
    dataset_size : int, default 737280
        ``N`` of the estimator (dSprites' size).

    Notes
    -----
    disentanglement_lib's ``BetaTCVAE`` computes the same regulariser without the
    estimator's constant :math:`(\beta - 1)(L - 1)\log(NM)`; losses differ by it, gradients
    do not.

    References
    ----------
    Chen, R. T. Q. et al. (2018). Isolating sources of disentanglement in variational
    autoencoders. NeurIPS.
    """

    name: ClassVar[str] = "tcvae"
    beta: float = 6.0
    dataset_size: int = DSPRITES_SIZE

    def __post_init__(self):
        _check_nonneg("beta", self.beta, "beta weights the total correlation; Chen et al. use 6 on dSprites.")
        if isinstance(self.dataset_size, bool) or not isinstance(self.dataset_size, int) or self.dataset_size < 1:
            raise InvalidInputError(f"dataset_size must be a positive integer; got {self.dataset_size!r}.")

    def regularizer(self, mean, logvar, z, kl, step):
        tc = total_correlation(z, mean, logvar, self.dataset_size)
        return kl + (self.beta - 1.0) * tc, {"tc": tc}


OBJECTIVES: dict[str, type[Objective]] = {
    "beta": BetaVAELoss,
    "annealed": AnnealedVAELoss,
    "tcvae": BetaTCVAELoss,
}
"""Objective name -> class."""


def make_objective(name: str, **params) -> Objective:
    """The objective called ``name`` ("beta", "annealed", "tcvae") with the given hyperparameters.

    Parameters the objective does not take are ignored only when ``None``; others raise.

    Examples
    --------
    >>> from fastdci.models import make_objective
    >>> make_objective("tcvae", beta=6.0).params()["objective"]
    'tcvae'
    """
    cls = OBJECTIVES.get(name)
    if cls is None:
        raise InvalidInputError(
            f"objective must be one of {list(OBJECTIVES)}; got {name!r}. 'beta' is beta-VAE, 'annealed' "
            "the capacity-annealed beta-VAE, 'tcvae' beta-TCVAE."
        )
    fields = {f.name for f in dc_fields(cls)}
    extra = sorted(k for k, v in params.items() if v is not None and k not in fields)
    if extra:
        raise InvalidInputError(
            f"objective {name!r} takes {sorted(fields)}; got also {extra}. Drop them or pick the "
            "objective that uses them."
        )
    return cls(**{k: v for k, v in params.items() if v is not None and k in fields})
