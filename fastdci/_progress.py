"""Progress bars for the long-running commands (training, encoding).

:class:`Progress` is a rich progress bar on stderr counting a unit of work (images for
encoding, optimizer steps for training), or nothing when disabled; :func:`progress_enabled`
turns the commands' ``progress`` option (None: only when stderr is a terminal) into a bool.
rich is imported only when a bar is shown.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress", "progress_enabled"]

#: the rate label of each unit a bar may count
_RATE_LABEL = {"images": "img/s", "steps": "steps/s"}


class Progress:
    """A rich progress bar on stderr counting ``unit`` ("images" or "steps"), with its rate
    per second and a free-text ``info`` column; or nothing when not ``enabled``."""

    def __init__(self, enabled: bool, description: str, total: int, done: int = 0, unit: str = "images"):
        if unit not in _RATE_LABEL:
            raise ValueError(f"unit must be one of {list(_RATE_LABEL)}; got {unit!r}")
        self.enabled = enabled
        self._rate_label = _RATE_LABEL[unit]
        self._bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} " + unit),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(description, total=total, completed=done, rate="", info="")

    def __enter__(self):
        self._t0, self._done = time.perf_counter(), 0
        if self._bar is not None:
            self._bar.start()
        return self

    def advance(self, n: int, info: str | None = None) -> None:
        """Count ``n`` more units done; ``info`` (when given) replaces the info column."""
        if self._bar is None:
            return
        kw = {} if info is None else {"info": info}
        self._bar.update(self._task, advance=n, **kw)
        if n:
            self._done += n
            # rich's windowed speed once it has two samples; the running mean before that
            speed = self._bar.tasks[0].speed or self._done / max(time.perf_counter() - self._t0, 1e-9)
            rate = f"{speed:,.0f}" if speed >= 100 else f"{speed:.3g}"
            self._bar.update(self._task, rate=f"{rate} {self._rate_label}")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()


def progress_enabled(progress: bool | None) -> bool:
    """``progress`` as a bool; None means: only when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)
