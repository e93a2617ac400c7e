"""Per-file results of a sweep: a stable name per file, what each stored metric was computed
with, and atomic writes, so a killed or extended sweep resumes without misattributing or
reusing a stale result.

A file's result lives in ``OUT/<stem>-<digest>.json``, where the digest is that of the file's
resolved absolute path: the name does not depend on the other files of the sweep or their
order. The JSON is :meth:`fastdci.Report.to_json`'s document plus a ``request`` block: the
file (path, size, modification time), the seed, the backend, and each metric's checked
options. A stored metric is reused only when all of these match the new request.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

__all__ = ["file_identity", "fresh_metrics", "load", "request_for", "still_valid"]


def file_identity(path: str | os.PathLike) -> str:
    """``<stem>-<12 hex digits>``: readable, and the same for the same file in any sweep."""
    resolved = Path(path).resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    return f"{resolved.stem}-{digest}"


def _plain(options: Mapping[str, Any]) -> dict:
    """Options as JSON values (an estimator instance by its class name only)."""
    return json.loads(json.dumps(options, sort_keys=True, default=lambda o: f"<{type(o).__name__}>"))


def request_for(path: str | os.PathLike, checked: Mapping[str, Mapping[str, Any]], *, backend: str,
                random_state: Any, preset: str | None = None, factor_types: Any = None,
                factor_bins: int = 20) -> dict:
    """What a result must match to be reused: the file as it is now, the seed, the backend,
    the preset, the factor types (and continuous factors' bins) and each metric's checked options."""
    st = Path(path).stat()
    return {
        "file": str(Path(path).resolve()),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "backend": backend,
        "random_state": random_state if isinstance(random_state, (int, type(None))) else repr(random_state),
        "preset": preset,
        "factor_types": None if factor_types is None else factor_types if isinstance(factor_types, str)
        else list(factor_types),
        "factor_bins": int(factor_bins),
        "options": {name: _plain(opts) for name, opts in checked.items()},
    }


def load(target: Path) -> dict | None:
    """The stored document, or None when there is none or it cannot be read."""
    try:
        return json.loads(target.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def still_valid(stored: dict | None, request: dict) -> dict | None:
    """The stored document if it was computed on this file as it is now, with the same seed,
    backend, preset and factor types; else None (nothing in it may be reused)."""
    if not stored or "request" not in stored or "results" not in stored:
        return None
    old = stored["request"]
    if any(old.get(k) != request.get(k) for k in ("file", "size", "mtime_ns", "backend", "random_state", "preset",
                                          "factor_types", "factor_bins")):
        return None
    return stored


def fresh_metrics(stored: dict | None, request: dict) -> set[str]:
    """The requested metrics whose stored result (or reason for skipping) is still valid."""
    stored = still_valid(stored, request)
    if stored is None:
        return set()
    old = stored["request"]
    done = set(stored.get("results", {})) | set(stored.get("skipped", {}))
    return {m for m, opts in request["options"].items() if m in done and old.get("options", {}).get(m) == opts}
