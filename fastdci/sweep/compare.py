"""Compare models across seeds: mean ± standard deviation per metric and model, as a table and
a PNG, from the table :func:`fastdci.sweep.sweep` returns (or any table with a row per run)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

__all__ = ["HEADLINE", "plot_comparison", "summarize"]

HEADLINE = ("mig.mig", "dci.disentanglement", "dci.completeness", "sap.sap", "modularity.modularity",
            "factor_vae.eval_accuracy", "beta_vae.eval_accuracy", "irs.irs")
"""The score columns compared when present."""


def summarize(table, by: Sequence[str] = ("objective", "beta"), scores: Sequence[str] | None = None):
    """One row per model (the ``by`` columns): ``<score>.mean``, ``<score>.sd`` (sample standard
    deviation over the runs, NaN for one run) and ``runs`` (successful runs counted).

    Failed runs (``status == "failed"``) are left out.
    """
    import pandas as pd

    ok = table[table["status"] != "failed"] if "status" in table else table
    cols = [c for c in (scores or HEADLINE) if c in ok.columns]
    groups = ok.groupby(list(by), sort=True)
    out = groups[cols].agg(["mean", "std"])
    out.columns = [f"{c}.{'sd' if stat == 'std' else stat}" for c, stat in out.columns]
    out["runs"] = groups.size()
    return pd.DataFrame(out).reset_index()


def plot_comparison(summary, path: str | os.PathLike, by: Sequence[str] = ("objective", "beta")) -> Path:
    """A PNG with one panel per score: each model's mean with a ±1 sd bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [c[: -len(".mean")] for c in summary.columns if c.endswith(".mean")]
    def label(row) -> str:
        return " ".join(f"{k}={row[k]:g}" if isinstance(row[k], float) else str(row[k]) for k in by)

    labels = [label(row) for _, row in summary.iterrows()]
    fig, axes = plt.subplots(1, max(1, len(scores)), figsize=(3.2 * max(1, len(scores)), 3.4), squeeze=False)
    for ax, score in zip(axes[0], scores):
        x = range(len(summary))
        ax.errorbar(x, summary[f"{score}.mean"], yerr=summary[f"{score}.sd"].fillna(0), fmt="o", capsize=4)
        ax.set_xticks(list(x), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(score, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle(f"mean ± sd over seeds ({int(summary['runs'].min())}-{int(summary['runs'].max())} runs per model)",
                 fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
