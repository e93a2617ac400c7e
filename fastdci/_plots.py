"""The report's figures (matplotlib, Agg backend): each function writes one PNG and returns its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_dci", "plot_kl", "plot_latent_histograms", "plot_losses", "plot_mutual_information",
           "plot_traversals"]


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_dci(result, factor_names, path) -> Path:
    """Heatmap of the DCI importance matrix with D per latent (right) and C per factor (bottom)."""
    plt = _plt()
    imp = np.asarray(result.importance, dtype=float)
    L, K = imp.shape
    d = np.asarray(result.disentanglement_per_latent)
    c = np.asarray(result.completeness_per_factor)
    fig = plt.figure(figsize=(1.1 * K + 3.2, 0.42 * L + 2.6), dpi=130)
    gs = fig.add_gridspec(2, 3, width_ratios=[K, 1.3, 0.25], height_ratios=[L, 1.3], wspace=0.08, hspace=0.12)
    ax = fig.add_subplot(gs[0, 0])
    norm = imp / max(imp.max(), 1e-12)
    im = ax.imshow(norm, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    for i in range(L):
        for j in range(K):
            ax.text(j, i, f"{imp[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] < 0.6 else "black")
    ax.set_yticks(range(L), [f"z{i}" for i in range(L)])
    ax.tick_params(labelbottom=False)
    ax.set_ylabel("latent")
    ax.set_title(f"DCI importance (D = {result.disentanglement:.3f}, C = {result.completeness:.3f}, "
                 f"I test = {result.informativeness_test:.3f})", fontsize=9)
    axd = fig.add_subplot(gs[0, 1], sharey=ax)
    # latents that carry no importance are drawn faint: their D does not count
    from matplotlib.colors import to_rgba

    weights = np.asarray(result.latent_weights)
    axd.barh(range(L), d, color=[to_rgba("tab:orange", 1.0 if w > 1e-3 else 0.3) for w in weights])
    axd.set_xlim(0, 1)
    axd.set_xlabel("D per latent", fontsize=8)
    axd.tick_params(labelleft=False, labelsize=7)
    axc = fig.add_subplot(gs[1, 0], sharex=ax)
    axc.bar(range(K), c, color="tab:blue")
    axc.set_ylim(0, 1)
    axc.set_ylabel("C", fontsize=8)
    axc.set_xticks(range(K), list(factor_names), rotation=30, ha="right", fontsize=8)
    axc.tick_params(labelsize=7)
    cax = fig.add_subplot(gs[0, 2])
    fig.colorbar(im, cax=cax, label="importance / max")
    return _save(fig, path)


def plot_mutual_information(result, factor_names, path) -> Path:
    """Heatmap of I(z_i; v_j) / H(v_j), the normalised MI matrix MIG is computed from.

    In each factor's column the latent with the most information is outlined with a solid box
    and the runner-up with a dashed one; the factor's gap (MIG's term) is written under its name.
    """
    plt = _plt()
    from matplotlib.patches import Rectangle

    mi = np.asarray(result.mutual_info, dtype=float)
    h = np.asarray(result.factor_entropy, dtype=float)
    nmi = mi / np.where(h > 0, h, 1.0)
    L, K = nmi.shape
    gaps = np.asarray(getattr(result, "gap_per_factor", np.full(K, np.nan)), dtype=float)
    fig, ax = plt.subplots(figsize=(1.1 * K + 2.6, 0.42 * L + 2.2), dpi=130)
    top = max(1e-12, min(1.0, nmi.max()))
    im = ax.imshow(nmi, cmap="magma", vmin=0, vmax=top, aspect="auto")
    for i in range(L):
        for j in range(K):
            ax.text(j, i, f"{nmi[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if nmi[i, j] < 0.5 * top else "black")
    for j in range(K):
        order = np.argsort(-nmi[:, j], kind="stable")
        for rank, style in zip(order[:2], ("-", "--")):
            ax.add_patch(Rectangle((j - 0.46, rank - 0.44), 0.92, 0.88, fill=False, edgecolor="#00c2ff",
                                   linestyle=style, linewidth=1.8 if style == "-" else 1.3))
    labels = [f"{n}\ngap {g:.2f}" if np.isfinite(g) else str(n) for n, g in zip(factor_names, gaps)]
    ax.set_xticks(range(K), labels, fontsize=8)
    ax.set_yticks(range(L), [f"z{i}" for i in range(L)])
    ax.set_xlabel("factor (solid box: top latent, dashed: second; gap = their difference)", fontsize=8)
    ax.set_ylabel("latent")
    ax.set_title(f"normalised mutual information I(z; v) / H(v)   (MIG = {result.score:.3f})", fontsize=9)
    fig.colorbar(im, ax=ax, label="I / H(factor)")
    return _save(fig, path)


def plot_latent_histograms(latents, factors, factor_names, path, *, mutual_info=None, bins: int = 40,
                           max_rows: int = 200_000, seed: int = 0) -> Path:
    """One histogram per latent, stacked by the value of the factor it tells most about."""
    plt = _plt()
    latents = np.asarray(latents)
    factors = np.asarray(factors)
    if latents.shape[0] > max_rows:
        idx = np.random.default_rng(seed).choice(latents.shape[0], max_rows, replace=False)
        latents, factors = latents[idx], factors[idx]
    L = latents.shape[1]
    cols = min(5, L)
    rows = int(np.ceil(L / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.3 * rows), dpi=110, squeeze=False)
    for i in range(rows * cols):
        ax = axes.flat[i]
        if i >= L:
            ax.axis("off")
            continue
        x = latents[:, i]
        k = int(np.argmax(mutual_info[i])) if mutual_info is not None else 0
        v = factors[:, k]
        values = np.unique(v)
        # at most 8 colour groups: bin the factor's values into ordered groups
        groups = np.minimum((np.searchsorted(values, v) * 8) // max(len(values), 1), 7) if len(values) > 8 else \
            np.searchsorted(values, v)
        n_groups = int(groups.max()) + 1
        lo, hi = float(x.min()), float(x.max())
        edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
        cmap = plt.get_cmap("viridis", max(n_groups, 2))
        data = [x[groups == g] for g in range(n_groups)]
        ax.hist(data, bins=edges, stacked=True, color=[cmap(g) for g in range(n_groups)], linewidth=0)
        ax.set_title(f"z{i}  coloured by {factor_names[k]}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    fig.suptitle("latent histograms (colour: value of the factor each latent is most informative about; "
                 "dark = low, yellow = high)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def plot_kl(kl, path, *, active=None) -> Path:
    """Bar chart of the mean KL(q(z_i | x) || N(0, 1)) per latent, in nats; inactive latents faint."""
    plt = _plt()
    from matplotlib.colors import to_rgba

    kl = np.asarray(kl, dtype=float)
    L = len(kl)
    active = np.ones(L, bool) if active is None else np.asarray(active, bool)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * L + 1.5), 2.8), dpi=130)
    ax.bar(range(L), kl, color=[to_rgba("tab:green", 1.0 if a else 0.3) for a in active])
    for i, v in enumerate(kl):
        if v >= 0.01 * kl.max():  # labels of near-zero bars would only crowd the axis
            ax.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(L), [f"z{i}" for i in range(L)], fontsize=8)
    ax.set_ylabel("mean KL (nats)")
    ax.set_ylim(0, max(float(kl.max()) * 1.15, 1e-3))
    ax.set_title(f"KL per latent ({int(active.sum())} of {L} active; faint = inactive)", fontsize=9)
    return _save(fig, path)


_NOT_LOSSES = ("step", "images_per_s", "elapsed_s")


def plot_losses(records, path) -> Path:
    """One panel per loss term of ``losses.jsonl`` records against the training step."""
    plt = _plt()
    steps = np.array([r["step"] for r in records], dtype=float)
    keys = [k for k in records[0] if k not in _NOT_LOSSES and isinstance(records[0][k], (int, float))]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 2.8), dpi=120, squeeze=False)
    for ax, k in zip(axes.flat, keys):
        y = np.array([r.get(k, np.nan) for r in records], dtype=float)
        ax.plot(steps, y, marker="." if len(y) < 40 else None, color="tab:blue")
        finite = y[np.isfinite(y)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
            ax.set_yscale("log")
        ax.set_title(k, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle("training curves (losses.jsonl: means over each logging window)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_traversals(grid, labels, path, *, values) -> Path:
    """A traversal grid ``(rows, cols, h, w)`` in [0, 1]: column 0 the input, then one decoded image
    per value of ``values``; row ``r`` labelled ``labels[r]``."""
    plt = _plt()
    grid = np.asarray(grid, dtype=float)
    rows, cols, h, w = grid.shape
    pad = 2
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 1.0)  # white lines between tiles
    for i in range(rows):
        for j in range(cols):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y:y + h, x:x + w] = grid[i, j]
    fig, ax = plt.subplots(figsize=(cols * 0.8 + 1.8, rows * 0.8 + 1.0), dpi=120)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_yticks([pad + (i + 0.5) * (h + pad) for i in range(rows)], list(labels), fontsize=8)
    ax.set_xticks([pad + (j + 0.5) * (w + pad) for j in range(cols)],
                  ["input"] + [f"{v:+.1f}" for v in values], fontsize=8)
    ax.set_xlabel("value of the traversed latent")
    ax.set_title("latent traversals, most active latent (largest KL) first", fontsize=10)
    return _save(fig, path)
