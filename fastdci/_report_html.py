"""The report's ``index.html``: one static page, every link and image relative to its folder."""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["render_html"]

_esc = html.escape

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { padding: 3px 12px; border-bottom: 1px solid #ddd; }
th { text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.settings { font-family: ui-monospace, monospace; font-size: 0.85em; color: #333; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; } .meta { color: #555; font-size: 0.9em; }
.inactive { color: #999; }
"""


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, sort_keys=True, default=str)
    return str(v)


def _score(v: Any) -> str:
    """Four decimals for every score, so a column lines up; anything else as it is."""
    return f"{v:.4f}" if isinstance(v, float) else _esc(str(v))


def _flat(settings: dict, prefix: str = "") -> dict:
    """Nested settings as dotted keys (``regressor_settings.max_depth``)."""
    out: dict = {}
    for k, v in settings.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _settings_rows(report) -> str:
    rows = []
    for m, r in report.items():
        settings = _flat(dict(getattr(r, "settings", {}) or {}))
        counts = r.counts()
        text = ", ".join(f"{k}={_value(v)}" for k, v in settings.items()) or "(defaults)"
        rows_text = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in counts.items())
        rows.append(f"<tr><td>{_esc(m)}</td><td class='settings'>{_esc(text)}</td>"
                    f"<td class='settings'>{_esc(rows_text)}</td></tr>")
    return "".join(rows)


def _kl_section(kl: dict | None) -> str:
    if kl is None:
        return ""
    n_active = int(kl["active"].sum())
    rows = "".join(
        f"<tr class='{'' if kl['active'][i] else 'inactive'}'><td>z{i}</td><td class='num'>{kl['kl'][i]:.3g}</td>"
        f"<td class='num'>{kl['variance'][i]:.3g}</td><td>{'yes' if kl['active'][i] else 'no'}</td></tr>"
        for i in kl["order"]
    )
    return (f"<h2>Active units</h2><p>{n_active} of {len(kl['kl'])} latents are active (variance over the data of "
            f"the posterior mean above {kl['threshold']:g}); KL from {_esc(kl['source'])}, most active first.</p>"
            f"<table><tr><th>latent</th><th>mean KL (nats)</th><th>Var[mean]</th><th>active</th></tr>{rows}</table>")


_TRAINING_KEYS = ("objective", "beta", "gamma", "c_max", "anneal_steps", "arch", "latent_dim", "steps", "batch_size",
                  "lr", "seed", "data")


def _training_section(training: dict | None) -> str:
    if not training:
        return ""
    keys = [k for k in _TRAINING_KEYS if k in training
            and (k not in ("gamma", "c_max", "anneal_steps") or training.get("objective") == "annealed")]
    shown = {k: ("rendered dSprites" if k == "data" and training[k] is None else training[k]) for k in keys}
    cells = "".join(f"<tr><td>{_esc(k)}</td><td>{_esc(_value(v))}</td></tr>" for k, v in shown.items())
    return (f"<h2>Training recipe</h2><p>The model was trained with these settings (the run's "
            f"config.json; Adam, betas 0.9 / 0.999):</p><table><tr><th>setting</th><th>value</th></tr>{cells}</table>")


def render_html(report, figures: list[tuple[str, str]], title: str, *, kl: dict | None = None,
                notes: list[str] = (), training: dict | None = None) -> str:
    """The page: provenance, scores, per-metric settings, the training recipe (``training``: a
    run's config), active units, figures (names relative to the page)."""
    rows = "".join(
        f"<tr><td>{_esc(m)}</td><td>{_esc(k)}</td><td class='num'>{_score(v)}</td></tr>"
        for m, sc in report.scores().items() for k, v in sc.items()
    )
    skipped = "".join(f"<li><b>{_esc(m)}</b>: {_esc(r)}</li>" for m, r in report.skipped.items())
    failed = "".join(f"<li><b>{_esc(m)}</b>: {_esc(r)}</li>" for m, r in report.failed.items())
    warned = "".join(f"<li><b>{_esc(m)}</b>: {_esc(w)}</li>" for m, ws in report.provenance.get("warnings", {}).items()
                     for w in ws)
    noted = "".join(f"<li>{_esc(n)}</li>" for n in notes)
    prov = report.provenance
    secs = prov.get("seconds", {})
    timing = ", ".join(f"{_esc(m)} {t:.2f} s" for m, t in secs.items())
    preset = f" &middot; preset: {_esc(str(prov['preset']))}" if prov.get("preset") else ""
    present = prov.get("factor_values_present") or prov.get("factor_sizes", [])
    factors = ", ".join(f"{n} ({p} of {s} values)" if p != s else f"{n} ({s})"
                        for n, s, p in zip(prov.get("factor_names", []), prov.get("factor_sizes", []), present))
    figs = "".join(
        f'<figure><img src="{_esc(name)}" alt="{_esc(name)}"><figcaption>{_esc(cap)}</figcaption></figure>'
        for name, cap in figures
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{_esc(title)}</h1>
<p class="meta">source: {_esc(str(prov.get('source')))} &middot; rows: {prov.get('rows')} &middot;
factors: {_esc(factors)} &middot; backend: {_esc(str(prov.get('backend')))} &middot; seed: {prov.get('random_state')}
{preset} &middot; fastdci {_esc(prov.get('versions', {}).get('fastdci', '?'))} &middot; {_esc(str(prov.get('date')))}</p>
<h2>Scores</h2>
<table><tr><th>metric</th><th>score</th><th>value</th></tr>{rows}</table>
{f'<h3>Skipped</h3><ul>{skipped}</ul>' if skipped else ''}
{f'<h3>Failed</h3><ul>{failed}</ul>' if failed else ''}
{f'<h3>Warnings</h3><ul>{warned}</ul>' if warned else ''}
<h2>Settings behind each number</h2>
<table><tr><th>metric</th><th>settings</th><th>rows used</th></tr>{_settings_rows(report)}</table>
<p class="meta">time per metric: {timing}</p>
{_training_section(training)}
{_kl_section(kl)}
{f'<h3>Not shown</h3><ul>{noted}</ul>' if noted else ''}
<h2>Figures</h2>
{figs}
<p class="meta">All numbers: <a href="report.json">report.json</a>.</p>
</body></html>
"""
