"""Disentanglement metrics, one module per family.

- :mod:`fastdci.metrics.information`: MIG, MIG-sup, JEMMIG, DCIMIG, modularity (counts, Numba).
- :mod:`fastdci.metrics.predictors`: DCI, SAP, explicitness (batched torch regressors).
- :mod:`fastdci.metrics.interventions`: BetaVAE, FactorVAE, Z-max, IRS (rows drawn by index).

Every metric is a function over arrays ``(latents (N, L) float, factors (N, K) int)``
returning a frozen :class:`~fastdci.metrics._base.MetricResult`.
"""
