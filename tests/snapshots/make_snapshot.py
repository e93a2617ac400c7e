"""Write ``evaluate_all.json``: every metric's numbers from ``fastdci.evaluate(..., "all")``.

The inputs are the three codes of disentanglement_lib's reference outputs
(``../shared/reference/<code>.npz``, train and test rows concatenated) and a small full-grid
latents file built by :func:`grid_code`. ``tests/test_snapshot.py`` recomputes them and
checks that nothing moved: deterministic metrics to 1e-12, sampled metrics exactly for the
same seed. Rerun this script only when a change of numbers is intended, and say why in the
commit.

    python tests/snapshots/make_snapshot.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parents[1].parent / "shared" / "reference"
CODES = ("aligned", "mixed", "nonlinear")
GRID_SIZES = (3, 4, 5, 4, 4)
GRID_NAMES = ("shape", "scale", "orientation", "posX", "posY")


def grid_code(seed: int = 0):
    """A full factor grid (960 rows), five noisy aligned latents and two noise latents."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.arange(s) for s in GRID_SIZES], indexing="ij"), -1)
    factors = grid.reshape(-1, len(GRID_SIZES))
    aligned = factors / (np.array(GRID_SIZES) - 1) + 0.05 * rng.normal(size=factors.shape)
    latents = np.concatenate([aligned, rng.normal(size=(len(factors), 2))], axis=1)
    return latents.astype(np.float32), factors


def write_grid_file(path: Path) -> Path:
    from fastdci.io import LatentsWriter

    latents, factors = grid_code()
    with LatentsWriter(path, latent_dim=latents.shape[1], factor_names=GRID_NAMES,
                       factor_sizes=GRID_SIZES, with_logvar=False, chunk_rows=256) as w:
        w.append(latents, classes=factors)
    return path


def reference_code(name: str):
    d = np.load(REFERENCE / f"{name}.npz")
    latents = np.concatenate([d["latents_train"], d["latents_test"]])
    factors = np.concatenate([d["factors_train"], d["factors_test"]])
    return latents, factors, tuple(int(s) for s in d["factor_sizes"]), tuple(str(n) for n in d["factor_names"])


def numbers(report) -> dict:
    """``{metric: {name: value}}``: every score and count of every computed metric."""
    out = {}
    for name, result in report.items():
        values = dict(result.scores())
        counts = getattr(result, "counts", None)
        if callable(counts):
            values.update({k: float(v) for k, v in counts().items()})
        out[name] = values
    return out


def run_all(tmp: Path) -> dict:
    import fastdci

    doc = {}
    for code in CODES:
        latents, factors, sizes, names = reference_code(code)
        report = fastdci.evaluate((latents, factors), "all", backend="cpu", random_state=0,
                                  factor_sizes=sizes, factor_names=names)
        doc[code] = {"numbers": numbers(report), "skipped": sorted(report.skipped),
                     "failed": sorted(report.failed)}
    report = fastdci.evaluate(write_grid_file(tmp / "grid.h5"), "all", backend="cpu", random_state=0)
    doc["grid_file"] = {"numbers": numbers(report), "skipped": sorted(report.skipped),
                        "failed": sorted(report.failed)}
    return doc


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        doc = run_all(Path(tmp))
    out = HERE / "evaluate_all.json"
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}", file=sys.stderr)
