"""Evaluation presets: another library's protocol, reproduced on a latents file.

``preset="disentanglement_lib"`` scores a file that holds a complete factor grid (the full
dSprites grid, or a complete sub-grid such as the demo's lattice) as disentanglement_lib's
evaluation does: every metric gets a fresh ``np.random.RandomState(random_state)``
(its ``evaluation.random_seed``), its points are drawn from the grid exactly as the reference's
samplers draw them from the data set (per batch, a uniform class per factor, factor by factor;
the code of a drawn combination is its row's), with the point counts, batch sizes and bins of
the reference's study configs (``unsupervised_study_v1/metric_configs``):

=============  ============================================================================
metric         protocol
=============  ============================================================================
mig            10,000 points in batches of 16; 20 equal-width bins
dci            10,000 train + 5,000 test points (batches of 16); depth-3 boosting, 100 rounds
sap            10,000 train + 5,000 test points (batches of 16); discrete factors
modularity     the first 10,000 points of modularity_explicitness's draw; 20 bins
explicitness   10,000 train + 5,000 test points of that same draw
beta_vae       10,000 train + 5,000 eval points of 64 pairs; logistic regression (C = 1)
factor_vae     10,000 points for the variances, 10,000 train + 5,000 eval batches of 64;
               codes with standard deviation below 0.05 pruned
irs            10,000 points in batches of 16; factors in 20 histogram bins; quantile 0.99
=============  ============================================================================

The other metrics have no disentanglement_lib protocol and are skipped with that reason.
On a sub-grid the classes drawn are the values the file holds (the reference would draw
every value of its data set). Every result records the preset and its settings.
"""

from __future__ import annotations

import dataclasses
import numpy as np

from .errors import InvalidInputError

__all__ = ["PRESETS", "GridData", "preset_has", "preset_metric"]

PRESETS = ("disentanglement_lib",)
"""Names accepted by ``evaluate(..., preset=)`` and ``fastdci evaluate --preset``."""

_TRAIN, _TEST, _BATCH = 10_000, 5_000, 16
# metric -> (name of the reference function whose draw it uses, its options for fastdci)
_DLIB = {
    "mig": ("mig", {"n_bins": 20}),
    "dci": ("dci", {"regressor": "gbt", "max_depth": 3, "n_rounds": 100, "learning_rate": 0.1,
                    "importance": "global"}),
    "sap": ("sap_score", {"continuous": False}),
    "modularity": ("modularity_explicitness", {"n_bins": 20}),
    "explicitness": ("modularity_explicitness", {}),
    "irs": ("irs", {"n_train": None, "n_bins": 20, "diff_quantile": 0.99}),
    "beta_vae": ("beta_vae_sklearn", {}),
    "factor_vae": ("factor_vae_score", {}),
}
_HELD_OUT = {"dci", "sap", "explicitness"}


class GridData:
    """A latents source seen as disentanglement_lib's ``GroundTruthData``.

    Factor ``k`` takes the ``len(values[k])`` classes the rows hold; an observation is the
    row of a class combination, and the representation function maps rows to their codes.
    """

    def __init__(self, source):
        f = source.factors
        self.values = [np.unique(f[:, k]) for k in range(f.shape[1])]
        self.sizes = tuple(int(v.size) for v in self.values)
        self.num_factors = len(self.sizes)
        pos = np.stack([np.searchsorted(v, f[:, k]) for k, v in enumerate(self.values)], axis=1)
        keys = np.ravel_multi_index(tuple(pos.T), self.sizes)
        total = int(np.prod(self.sizes, dtype=np.float64))
        if total > 50_000_000:
            raise InvalidInputError(f"preset: the factor grid has {total} combinations; at most 50,000,000 are supported.")
        table = np.full(total, -1, dtype=np.int64)
        table[keys[::-1]] = np.arange(len(keys))[::-1]  # the first row of each combination
        missing = int(np.sum(table < 0))
        if missing:
            raise InvalidInputError(
                f"preset='disentanglement_lib' draws factor combinations as disentanglement_lib's samplers do, so "
                f"every combination needs a row; {missing} of {total} combinations of the values present have none. "
                "Encode a complete grid (fastdci encode --rows all, or the demo's lattice) or evaluate without the preset."
            )
        self.table = table
        self.latents = source.host_latents()

    def sample_factors(self, num: int, random_state) -> np.ndarray:
        out = np.zeros((num, self.num_factors), dtype=np.int64)
        for k, size in enumerate(self.sizes):
            out[:, k] = random_state.randint(size, size=num)
        return out

    def sample_observations_from_factors(self, factors, random_state) -> np.ndarray:
        return self.table[np.ravel_multi_index(tuple(np.asarray(factors).T), self.sizes)]

    def sample(self, num: int, random_state):
        f = self.sample_factors(num, random_state)
        return f, self.sample_observations_from_factors(f, random_state)

    def sample_observations(self, num: int, random_state):
        return self.sample(num, random_state)[1]

    def codes(self, rows) -> np.ndarray:
        return self.latents[np.asarray(rows)]


def _draw_rows(grid: GridData, n: int, rs) -> np.ndarray:
    rows = []
    i = 0
    while i < n:
        k = min(n - i, _BATCH)
        rows.append(grid.sample(k, rs)[1])
        i += k
    return np.concatenate(rows)


def _array_metric(name: str, source, grid: GridData, rs, backend: str):
    from .io.source import LatentsSource
    from .metrics.registry import METRICS, compute

    spec = METRICS[name]
    options = spec.check(_DLIB[name][1])
    train = _draw_rows(grid, _TRAIN, rs)
    test = _draw_rows(grid, _TEST, rs) if name in _HELD_OUT else None
    held = None if test is None else (grid.codes(test), source.factors[test])
    sub = LatentsSource(grid.codes(train), source.factors[train], factor_sizes=source.factor_sizes,
                        factor_names=source.factor_names, test=held)
    with sub:
        return compute(spec, sub, options, backend=backend, random_state=0)


def _intervention_metric(name: str, source, grid: GridData, rs, backend: str):
    from .compat.disentanglement_lib._draws import beta_vae_points, factor_vae_votes
    from .metrics.interventions._common import provenance

    fields = provenance(source, name, warn=False)
    if name == "beta_vae":
        from .metrics.interventions.beta_vae import _beta_vae_finalize

        X, y, Xe, ye = beta_vae_points(grid, grid.codes, rs, 64, _TRAIN, _TEST)
        fields.update(batch_size=64, n_train=_TRAIN, n_eval=_TEST)
        stats = {"train_points": X, "train_labels": y, "eval_points": Xe, "eval_labels": ye, "device": "cpu",
                 "fields": fields}
        return _beta_vae_finalize(stats, C=1.0)
    from .metrics.interventions.variance import VoteStats, _factor_vae_finalize

    train, evals, global_var, active = factor_vae_votes(grid, grid.codes, rs, 64, _TRAIN, _TEST, 10_000, 0.05)
    fields.update(batch_size=64, n_train=_TRAIN, n_eval=_TEST, threshold=0.05, n_variance_rows=10_000)
    return _factor_vae_finalize(VoteStats(global_var, active, train, evals, fields))


def preset_has(preset: str, name: str) -> bool:
    """Whether ``preset`` has a protocol for metric ``name``."""
    return preset in PRESETS and name in _DLIB


def preset_metric(preset: str, name: str, source, *, random_state: int, backend: str, grid: GridData | None = None):
    """``name`` on ``source`` under ``preset``; None when the preset has no protocol for it.

    ``grid`` (a :class:`GridData` of ``source``) is built when not given.
    """
    if preset not in PRESETS:
        raise InvalidInputError(f"preset must be one of {list(PRESETS)}; got {preset!r}.")
    if name not in _DLIB:
        return None
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise InvalidInputError(
            f"preset='disentanglement_lib' seeds a RandomState per metric as the reference does: random_state must "
            f"be an int (its evaluation.random_seed); got {random_state!r}."
        )
    grid = GridData(source) if grid is None else grid
    rs = np.random.RandomState(int(random_state))
    if name in ("beta_vae", "factor_vae"):
        result = _intervention_metric(name, source, grid, rs, backend)
        settings = {"batch_size": 64, "n_train": _TRAIN, "n_eval": _TEST}
        if name == "factor_vae":
            settings.update(n_variance_rows=10_000, threshold=0.05)
        else:
            settings["C"] = 1.0
    else:
        result = _array_metric(name, source, grid, rs, backend)
        settings = dict(result.settings)
        settings.update(n_train=_TRAIN, batch_size=_BATCH, **({"n_test": _TEST} if name in _HELD_OUT else {}))
        settings.pop("random_state", None)
    settings.update(preset=preset, reference_function=_DLIB[name][0], random_state=int(random_state))
    prov = {**result.provenance, "preset": preset, "n_rows": source.n_rows}
    return dataclasses.replace(result, settings=settings, provenance=prov)
