"""Helpers shared by the CLI commands: output formats, stderr console, progress switch."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def stderr_console(no_progress: bool = False):
    """A rich console on stderr; ``quiet`` when progress is off or stderr is not a terminal."""
    from rich.console import Console

    return Console(stderr=True, quiet=no_progress)


def show_progress(no_progress: bool) -> bool:
    """Progress bars only when asked for and stderr is a terminal."""
    return not no_progress and sys.stderr.isatty()


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=_default) + "\n")


def _default(o: Any):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def print_table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """A plain rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold")
    for c in columns:
        left = c in ("name", "factor", "latent", "metric", "score", "file")
        table.add_column(c, justify="left" if left else "right", no_wrap=True, overflow="fold")
    for r in rows:
        table.add_row(*[_fmt(v) for v in r])
    # never truncate numbers or paths: on a pipe or file the table is as wide as it needs
    width = _width() if sys.stdout.isatty() else 100_000
    Console(file=sys.stdout, width=width).print(table, crop=False)


def _width() -> int:
    import shutil

    return max(100, shutil.get_terminal_size((100, 24)).columns)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
