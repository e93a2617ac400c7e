"""``Report``: the results of :func:`fastdci.evaluate`, their views (flat, disentanglement_lib's
and disent's keys, pandas, a short repr and HTML) and their JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import InvalidInputError
from .metrics.registry import METRICS

__all__ = ["Report"]


@dataclasses.dataclass
class Report(Mapping):
    """The results of :func:`evaluate`: a mapping ``metric name -> result`` plus provenance.

    Attributes
    ----------
    results : dict
        Metric name to its frozen result (``result.scores()`` gives the numbers).
    skipped : dict
        Metric name to the reason it was not computed (e.g. rows do not cover the grid).
    failed : dict
        Metric name to the error message of a metric that raised.
    provenance : dict
        Source file, rows used, backend, seed, versions, wall time per metric (seconds).
    """

    results: dict[str, Any]
    skipped: dict[str, str]
    failed: dict[str, str]
    provenance: dict[str, Any]

    def __getitem__(self, key: str):
        return self.results[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def scores(self) -> dict[str, dict[str, float]]:
        """``{metric: {score name: value}}`` for the computed metrics."""
        return {name: r.scores() for name, r in self.results.items()}

    def counts(self) -> dict[str, dict[str, int]]:
        """``{metric: {count name: value}}`` (latents kept, rows used) for the computed metrics."""
        return {name: r.counts() for name, r in self.results.items()}

    def to_dict(self, style: str = "flat") -> dict[str, Any]:
        """The numbers keyed for a library.

        ``"flat"``: ``{"scores": {"mig.mig": 0.31, ...}, "counts": {...}}`` plus skipped, failed and
        provenance; ``"disentanglement_lib"``: ``{"mig": {"discrete_mig": ...}, "dci": {...}}``
        with disentanglement_lib's metric and key names; ``"disent"``:
        ``{"mig.discrete_score": ..., "dci.disentanglement": ...}``.
        """
        if style == "flat":
            flat = {f"{m}.{k}": v for m, sc in self.scores().items() for k, v in sc.items()}
            counts = {f"{m}.{k}": v for m, c in self.counts().items() for k, v in c.items()}
            return {"scores": flat, "counts": counts, "skipped": dict(self.skipped), "failed": dict(self.failed),
                    "provenance": self.provenance}
        if style == "disentanglement_lib":
            out: dict[str, dict[str, float]] = {}
            for m, r in self.results.items():
                spec = METRICS[m]
                bucket = out.setdefault(spec.dlib_name, {})
                for k, v in {**r.scores(), **r.counts()}.items():
                    if k in spec.dlib or k in r.scores():
                        bucket[spec.dlib.get(k, k)] = v
            return out
        if style == "disent":
            out2: dict[str, float] = {}
            for m, r in self.results.items():
                spec = METRICS[m]
                for k, v in {**r.scores(), **r.counts()}.items():
                    if k in spec.disent or k in r.scores():
                        out2[spec.disent.get(k, f"{m}.{k}")] = v
            return out2
        raise InvalidInputError(f"style must be 'flat', 'disentanglement_lib' or 'disent'; got {style!r}.")

    def to_json(self, path: str | os.PathLike | None = None, *, full: bool = True) -> str:
        """JSON text: scores, counts, skipped, failed, provenance and (``full``) every result.

        :meth:`from_json` reads it back. With ``path`` the file is written atomically.
        """
        doc = self.to_dict("flat")
        if full:
            doc["results"] = {m: r.to_dict() for m, r in self.results.items()}
        text = json.dumps(doc, indent=2, default=_json_default)
        if path is not None:
            from .io.atomic import write_text_atomic

            write_text_atomic(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | os.PathLike) -> "Report":
        """The report :meth:`to_json` wrote (its text, or the path of the file)."""
        text = str(text_or_path)
        if isinstance(text_or_path, os.PathLike) or not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, doc: dict) -> "Report":
        """The report whose :meth:`to_json` document is ``doc`` (already parsed)."""
        if "results" not in doc:
            raise InvalidInputError("this JSON holds no results (written with full=False); write it with full=True.")
        results = {m: METRICS[m].load("result").from_dict(r) for m, r in doc["results"].items()}
        return cls(results=results, skipped=doc.get("skipped", {}), failed=doc.get("failed", {}),
                   provenance=doc.get("provenance", {}))

    def headline(self) -> dict[str, float]:
        """One number per metric (its documented headline score), for tables."""
        return {m: r.score for m, r in self.results.items()}

    def to_pandas(self):
        """A long table: one row per number, columns ``metric``, ``name``, ``value``, ``kind``
        (``score`` or ``count``) and ``settings`` (the metric's options, as JSON)."""
        import pandas as pd

        rows = []
        for m, r in self.results.items():
            settings = json.dumps(r.settings, sort_keys=True, default=str)
            rows += [{"metric": m, "name": k, "value": v, "kind": "score", "settings": settings}
                     for k, v in r.scores().items()]
            rows += [{"metric": m, "name": k, "value": v, "kind": "count", "settings": settings}
                     for k, v in r.counts().items()]
        return pd.DataFrame(rows, columns=["metric", "name", "value", "kind", "settings"])

    def __repr__(self) -> str:
        head = ", ".join(f"{m} {v:.4g}" for m, v in self.headline().items())
        extra = "".join(f"; {len(d)} {what}" for what, d in (("skipped", self.skipped), ("failed", self.failed)) if d)
        return f"Report({self.provenance.get('source', '?')}, {self.provenance.get('rows', '?')} rows: {head}{extra})"

    def _repr_html_(self) -> str:
        import html

        cells = "".join(f"<tr><td>{html.escape(m)}</td><td>{html.escape(k)}</td><td>{v:.4f}</td></tr>"
                        for m, sc in self.scores().items() for k, v in sc.items())
        notes = "".join(f"<tr><td>{html.escape(m)}</td><td colspan=2>{what}: {html.escape(msg)}</td></tr>"
                        for what, d in (("skipped", self.skipped), ("failed", self.failed)) for m, msg in d.items())
        return (f"<table><caption>{html.escape(str(self.provenance.get('source', '')))}, "
                f"{self.provenance.get('rows', '?')} rows</caption><tr><th>metric</th><th>score</th><th>value</th>"
                f"</tr>{cells}{notes}</table>")


def _json_default(o: Any):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
