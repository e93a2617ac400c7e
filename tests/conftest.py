"""Shared test fixtures and the ``cuda`` marker, which skips itself without a GPU."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# Reference numbers and real dSprites frames live beside the repository (../shared/);
# FASTDCI_SHARED points elsewhere. Tests that need them skip with a reason when absent.
SHARED = Path(os.environ.get("FASTDCI_SHARED", REPO.parent / "shared"))
REFERENCE_DIR = SHARED / "reference"
DSPRITES_DIR = SHARED / "data" / "dsprites"

DSPRITES_NAMES = ("shape", "scale", "orientation", "posX", "posY")
DSPRITES_SIZES = (3, 6, 40, 32, 32)


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _has_cuda():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU with CUDA; none is visible to torch")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch intra-op thread for a module: its tests check results, not speed, and one
    thread avoids oversubscribing small CI machines. Use with
    ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE_DIR / "dlib_reference.json").exists():
        pytest.skip(f"disentanglement_lib reference numbers not found in {REFERENCE_DIR} (set FASTDCI_SHARED)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def dsprites_dir() -> Path:
    if not (DSPRITES_DIR / "dsprites.gif").exists():
        pytest.skip(f"real dSprites frames not found in {DSPRITES_DIR} (set FASTDCI_SHARED)")
    return DSPRITES_DIR
