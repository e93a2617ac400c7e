"""``fastdci metrics``: every registered metric with its options and defaults."""

from __future__ import annotations

import sys
import textwrap

import typer

from . import app
from ._common import OutputFormat, print_json


@app.command()
def metrics(
    format: OutputFormat = typer.Option(OutputFormat.table, "--format", "-f", help="table or json on stdout."),
) -> None:
    """List the metrics (name, family, what it is) and each one's options with their defaults."""
    from ..metrics.registry import METRICS

    if format == OutputFormat.json:
        print_json([{"name": s.name, "family": s.family, "summary": s.summary, "function": f"fastdci.{s.public_name}",
                     "options": [{"name": o.name, "kind": o.kind, "default": o.default, "choices": list(o.choices),
                                  "doc": o.doc} for o in s.options]} for s in METRICS.values()])
        return
    out = sys.stdout
    for s in METRICS.values():
        out.write(f"{s.name}  ({s.family}; fastdci.{s.public_name})\n")
        out.write(textwrap.fill(s.summary, 80, initial_indent="  ", subsequent_indent="  ") + "\n")
        for o in s.options:
            cond = f" [with {o.when[0]}={'|'.join(o.when[1])}]" if o.when else ""
            out.write(textwrap.fill(f"{o.describe()}{cond}", 80, initial_indent="    ", subsequent_indent="      ")
                      + "\n" + textwrap.fill(o.doc, 80, initial_indent=" " * 8, subsequent_indent=" " * 8) + "\n")
        out.write("\n")
    out.write("Set an option with --set METRIC.OPTION=VALUE (CLI) or METRIC={...} in\nfastdci.evaluate.\n")
