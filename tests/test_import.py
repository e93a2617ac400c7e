"""``import fastdci`` and ``fastdci --help`` load no heavy modules (torch, numba, cupy, dask)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "numba", "cupy", "dask", "h5py", "sklearn", "matplotlib")


def _loaded(code: str) -> list[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_fastdci_is_light():
    assert _loaded("import fastdci; fastdci.__version__; fastdci.FastDCIError") == []


def test_import_io_and_cli_is_light():
    assert _loaded("import fastdci.io, fastdci.errors, fastdci.backend, fastdci._validation") == []
    assert _loaded("import fastdci.cli") == []


def test_cli_help_is_light():
    code = "import sys\nfrom fastdci.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert _loaded(code) == []


def test_lazy_attribute_unknown_name():
    import fastdci
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        fastdci.nonsense  # noqa: B018
