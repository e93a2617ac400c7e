"""Intervention-based metrics: BetaVAE (Z-diff), FactorVAE (Z-min), Z-max variance, IRS.

These metrics score a representation by what happens to the codes when some factors are held
fixed and the others vary. disentanglement_lib samples factor values, renders the images and
runs the encoder for every batch of every metric. When the rows of a latents file (or the
arrays passed in) cover the factor grid, a batch with "factor k fixed, the others as they
fall" is just a set of rows: :class:`~.factor_index.FactorIndex` groups the rows once, draws
the rows of all batches in one vectorised call, and the kernels reduce every batch at once.
No model and no images are needed.

On a full grid (every factor combination once, e.g. the 737,280 dSprites images) the draws
follow exactly the distribution of disentanglement_lib's samplers. On a subset of the grid
the metrics still run; the results record how many rows backed each factor value, and a value
with fewer than two rows is left out of the draws with a warning.
"""

from .beta_vae import BetaVAEResult, beta_vae_score
from .irs import IRSResult, irs
from .variance import FactorVAEResult, ZMaxVarianceResult, factor_vae_score, z_max_variance

__all__ = [
    "BetaVAEResult",
    "FactorVAEResult",
    "IRSResult",
    "ZMaxVarianceResult",
    "beta_vae_score",
    "factor_vae_score",
    "irs",
    "z_max_variance",
]
