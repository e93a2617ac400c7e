"""Array backends: which library an array comes from, and which device to compute on.

Detection looks at the type's module name, so it never imports torch or CuPy itself.
Arrays come back on the input's device; mixed backends raise; nothing falls back silently.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from .errors import BackendMismatchError, InvalidInputError, MissingDependencyError

Namespace = Literal["numpy", "torch", "cupy"]
Device = Literal["cpu", "cuda"]

__all__ = [
    "array_namespace",
    "common_namespace",
    "cuda_available",
    "resolve_device",
    "to_numpy",
    "to_torch",
]


def array_namespace(x: Any) -> Namespace:
    """Name the library an array belongs to: ``"numpy"``, ``"torch"`` or ``"cupy"``.

    Anything else array-like (lists, h5py datasets, memmaps) counts as ``"numpy"``:
    it is converted with ``np.asarray`` by the caller.
    """
    module = type(x).__module__.split(".", 1)[0]
    if module == "torch":
        return "torch"
    if module == "cupy" or module == "cupyx":
        return "cupy"
    return "numpy"


def common_namespace(*arrays: Any) -> Namespace:
    """The one namespace shared by ``arrays`` (``None`` entries ignored); mixed ones raise."""
    names = {array_namespace(a) for a in arrays if a is not None}
    if len(names) > 1:
        raise BackendMismatchError(
            f"arrays from different libraries were mixed: {sorted(names)}; convert them to one "
            "library first (e.g. all numpy with np.asarray, or all torch with torch.as_tensor)."
        )
    if not names:
        return "numpy"
    return names.pop()


def cuda_available() -> bool:
    """True when torch is installed and sees a CUDA device (imports torch on first call)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return bool(torch.cuda.is_available())


def resolve_device(backend: str = "auto") -> Device:
    """Turn ``backend`` (``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``) into a device kind.

    ``"auto"`` is ``"cuda"`` when a CUDA device is visible, else ``"cpu"``. Asking for
    ``"cuda"`` without one raises instead of silently running on the CPU.
    """
    if not isinstance(backend, str):
        raise InvalidInputError(f"backend must be 'auto', 'cpu' or 'cuda'; got {backend!r}.")
    b = backend.lower()
    if b == "auto":
        return "cuda" if cuda_available() else "cpu"
    if b == "cpu":
        return "cpu"
    if b == "cuda" or b.startswith("cuda:"):
        if not cuda_available():
            raise MissingDependencyError(
                "backend='cuda' was requested but torch sees no CUDA device; use backend='cpu' "
                "(or 'auto'), or install a CUDA build of torch on a machine with an NVIDIA GPU."
            )
        return "cuda"
    raise InvalidInputError(f"backend must be 'auto', 'cpu' or 'cuda'; got {backend!r}.")


def to_numpy(x: Any):
    """Copy/convert any supported array to a NumPy array on the host."""
    import numpy as np

    ns = array_namespace(x)
    if ns == "torch":
        return x.detach().cpu().numpy()
    if ns == "cupy":
        return x.get()
    return np.asarray(x)


def to_torch(x: Any, device: str | None = None, dtype=None):
    """Convert any supported array to a torch tensor on ``device`` (default: where it is)."""
    import torch

    ns = array_namespace(x)
    if ns == "torch":
        t = x
    elif ns == "cupy":
        t = torch.from_dlpack(x)
    else:
        t = torch.from_numpy(to_numpy(x))
    if device is not None or dtype is not None:
        t = t.to(device=device if device is not None else t.device, dtype=dtype)
    return t


def loaded_heavy_modules() -> list[str]:
    """Which heavy optional modules (torch, numba, cupy, dask) are already imported."""
    return [m for m in ("torch", "numba", "cupy", "dask") if m in sys.modules]
