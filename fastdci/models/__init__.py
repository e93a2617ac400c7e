"""Beta-VAE models and their training objectives (imports torch: load on use only)."""

from .losses import (
    OBJECTIVES,
    AnnealedVAELoss,
    BetaTCVAELoss,
    BetaVAELoss,
    Objective,
    bernoulli_reconstruction,
    gaussian_kl,
    gaussian_log_density,
    make_objective,
    total_correlation,
)
from .vae import ARCHITECTURES, IMAGE_SHAPE, BetaVAE, VAEOutput, build_model

__all__ = [
    "ARCHITECTURES",
    "IMAGE_SHAPE",
    "OBJECTIVES",
    "AnnealedVAELoss",
    "BetaTCVAELoss",
    "BetaVAE",
    "BetaVAELoss",
    "Objective",
    "VAEOutput",
    "bernoulli_reconstruction",
    "build_model",
    "gaussian_kl",
    "gaussian_log_density",
    "make_objective",
    "total_correlation",
]
