"""Beta-VAE encoder and decoder for 64x64 single-channel images (dSprites).

Two architectures:

``"standard"``
    The convolutional encoder and deconvolutional decoder of the disentanglement literature
    (Locatello et al. 2019, ``conv_encoder`` / ``deconv_decoder`` in disentanglement_lib).
``"tutorial"``
    The small network this project started from: four 4x4 stride-2 convolutions without
    padding; its decoder is fixed to give 64x64 images (see :class:`BetaVAE`).

Both map an image batch ``(n, 1, 64, 64)`` with values in [0, 1] to the mean and
log-variance of a diagonal Gaussian posterior over ``latent_dim`` latents, and a latent
batch ``(n, latent_dim)`` to Bernoulli logits ``(n, 1, 64, 64)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..errors import InvalidInputError

__all__ = ["ARCHITECTURES", "IMAGE_SHAPE", "BetaVAE", "VAEOutput", "build_model"]

ARCHITECTURES = ("standard", "tutorial")
"""Names accepted by ``arch``."""

IMAGE_SHAPE = (1, 64, 64)
"""Shape of one input image (channels, height, width)."""


class VAEOutput(NamedTuple):
    """What :meth:`BetaVAE.forward` returns; every field is a tensor on the model's device.

    ``mean``, ``logvar``, ``z``: (n, latent_dim); ``logits``: (n, 1, 64, 64).
    """

    mean: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor


def _standard_encoder() -> tuple[nn.Module, int]:
    # TensorFlow "same" padding: kernel 4 stride 2 on an even size pads 1 px on each side
    # (PyTorch padding=1); kernel 2 stride 2 needs no padding. 64 -> 32 -> 16 -> 8 -> 4.
    body = nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 2, stride=2, padding=0), nn.ReLU(),
        nn.Conv2d(64, 64, 2, stride=2, padding=0), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
    )
    return body, 256


def _standard_decoder(latent_dim: int) -> nn.Module:
    # conv2d_transpose(kernel 4, stride 2, "same") doubles the size: PyTorch padding=1.
    return nn.Sequential(
        nn.Linear(latent_dim, 256), nn.ReLU(),
        nn.Linear(256, 1024), nn.ReLU(),
        nn.Unflatten(1, (64, 4, 4)),
        nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1), nn.ReLU(),  # 8
        nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # 16
        nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # 32
        nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1),  # 64, logits
    )


def _tutorial_encoder() -> tuple[nn.Module, int]:
    # No padding: 64 -> 31 -> 14 -> 6 -> 2.
    body = nn.Sequential(
        nn.Conv2d(1, 32, 4, stride=2), nn.ReLU(),
        nn.Conv2d(32, 32, 4, stride=2), nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2), nn.ReLU(),
        nn.Conv2d(64, 64, 4, stride=2), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 2 * 2, 256), nn.ReLU(),
    )
    return body, 256


def _tutorial_decoder(latent_dim: int) -> nn.Module:
    # Mirror of the encoder: 2 -> 6 -> 14 -> 31 -> 64. Without output_padding the third
    # transposed convolution gives 30 and the image comes out 62x62; one extra row and
    # column there (output_padding=1) restores 64x64.
    return nn.Sequential(
        nn.Linear(latent_dim, 256), nn.ReLU(),
        nn.Linear(256, 64 * 2 * 2), nn.ReLU(),
        nn.Unflatten(1, (64, 2, 2)),
        nn.ConvTranspose2d(64, 64, 4, stride=2), nn.ReLU(),  # 6
        nn.ConvTranspose2d(64, 32, 4, stride=2), nn.ReLU(),  # 14
        nn.ConvTranspose2d(32, 32, 4, stride=2, output_padding=1), nn.ReLU(),  # 31
        nn.ConvTranspose2d(32, 1, 4, stride=2),  # 64, logits
    )


class BetaVAE(nn.Module):
    """Variational autoencoder with a diagonal Gaussian posterior and Bernoulli decoder.

    Parameters
    ----------
    arch : {"standard", "tutorial"}, default "standard"
        ``"standard"``: encoder conv 32-32-64-64 channels, stride 2, "same" padding, kernels
        4, 4, 2, 2, dense 256, then two dense heads for the mean and the log-variance;
        decoder dense 256 and 1024, reshaped to 64x4x4, four 4x4 stride-2 transposed
        convolutions with 64, 32, 32, 1 channels giving Bernoulli logits; ReLU between
        layers. ``"tutorial"``: four 4x4 stride-2 convolutions without padding (32, 32, 64,
        64 channels; 64 -> 31 -> 14 -> 6 -> 2 px), dense 256, the two heads; decoder dense
        256 and 256 (64x2x2) and four 4x4 stride-2 transposed convolutions (64, 32, 32, 1),
        the third with ``output_padding=1`` so the output is 64x64 (2 -> 6 -> 14 -> 31 -> 64).
    latent_dim : int, default 10
        Number of latent dimensions.

    Notes
    -----
    The standard architecture is Table 1 of Locatello et al. (2019), as implemented by
    disentanglement_lib's ``conv_encoder`` and ``deconv_decoder``. TensorFlow's "same"
    padding is symmetric for these sizes, so the PyTorch layers compute the same functions.
    Two differences from disentanglement_lib, neither of which changes what the network can
    represent: tensors are NCHW, so the flattened 4x4x64 feature map is ordered
    (channel, row, column) instead of (row, column, channel); weights are initialised like
    TensorFlow's defaults (Glorot-uniform weights, zero biases) rather than PyTorch's.

    References
    ----------
    Locatello, F. et al. (2019). Challenging common assumptions in the unsupervised learning
    of disentangled representations. ICML.

    Examples
    --------
    >>> import torch
    >>> from fastdci.models import BetaVAE
    >>> model = BetaVAE("standard", latent_dim=10)
    >>> mean, logvar = model.encode(torch.zeros(2, 1, 64, 64))
    >>> tuple(mean.shape), tuple(model.decode(mean).shape)
    ((2, 10), (2, 1, 64, 64))
    """

    def __init__(self, arch: str = "standard", latent_dim: int = 10):
        super().__init__()
        if arch not in ARCHITECTURES:
            raise InvalidInputError(
                f"arch must be one of {list(ARCHITECTURES)}; got {arch!r}. Use 'standard' for the "
                "architecture of Locatello et al. (2019)."
            )
        if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
            raise InvalidInputError(
                f"latent_dim must be a positive integer; got {latent_dim!r}. The literature uses 10."
            )
        self.arch = arch
        self.latent_dim = int(latent_dim)
        if arch == "standard":
            self.encoder, width = _standard_encoder()
            self.decoder = _standard_decoder(self.latent_dim)
        else:
            self.encoder, width = _tutorial_encoder()
            self.decoder = _tutorial_decoder(self.latent_dim)
        self.fc_mean = nn.Linear(width, self.latent_dim)
        self.fc_logvar = nn.Linear(width, self.latent_dim)
        if arch == "standard":
            self._tf_init()

    def _tf_init(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def config(self) -> dict:
        """What rebuilds this model: ``BetaVAE(**model.config)``."""
        return {"arch": self.arch, "latent_dim": self.latent_dim}

    def _check_images(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
            raise InvalidInputError(
                f"images must have shape (n, 1, 64, 64); got {tuple(x.shape)}. Add the channel "
                "axis with x[:, None] and use 64x64 dSprites images."
            )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance, each (n, latent_dim), of images (n, 1, 64, 64)."""
        self._check_images(x)
        h = self.encoder(x)
        return self.fc_mean(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits (n, 1, 64, 64) of latents ``z`` (n, latent_dim)."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise InvalidInputError(
                f"z must have shape (n, {self.latent_dim}); got {tuple(z.shape)}."
            )
        return self.decoder(z)

    @staticmethod
    def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``z = mean + exp(logvar / 2) * noise`` with ``noise ~ N(0, I)`` of mean's shape."""
        return mean + torch.exp(0.5 * logvar) * noise

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """Encode, sample ``z`` with ``generator`` (on the model's device), decode."""
        mean, logvar = self.encode(x)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = self.reparameterize(mean, logvar, noise)
        return VAEOutput(mean, logvar, z, self.decode(z))


def build_model(arch: str = "standard", latent_dim: int = 10, seed: int | None = None) -> BetaVAE:
    """A :class:`BetaVAE`, initialised from ``seed`` without touching torch's global RNG.

    Examples
    --------
    >>> from fastdci.models import build_model
    >>> a, b = build_model(seed=0), build_model(seed=0)
    >>> bool((a.fc_mean.weight == b.fc_mean.weight).all())
    True
    """
    if seed is None:
        return BetaVAE(arch, latent_dim)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return BetaVAE(arch, latent_dim)
