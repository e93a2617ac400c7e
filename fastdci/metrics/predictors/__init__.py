"""Predictor-based metrics: DCI, DCI-ES, SAP and explicitness, as google-research/disentanglement_lib
computes them, from batched regressors fitted on every training row."""

from .dci import DCIResult, DCIStats, completeness_per_factor, dci, disentanglement_per_latent
from .dci_es import DCIESResult, DCIESStats, dci_es
from .explicitness import ExplicitnessResult, ExplicitnessStats, explicitness, roc_auc_per_class
from .sap import SAPResult, SAPStats, sap

__all__ = [
    "DCIESResult",
    "DCIESStats",
    "DCIResult",
    "DCIStats",
    "ExplicitnessResult",
    "ExplicitnessStats",
    "SAPResult",
    "SAPStats",
    "completeness_per_factor",
    "dci",
    "dci_es",
    "disentanglement_per_latent",
    "explicitness",
    "roc_auc_per_class",
    "sap",
]
