"""The one place that answers "which array library, which device": every other module asks here.

Detection uses array-api-compat's ``is_*_array`` helpers, which look at the array's type and
at ``sys.modules``, so nothing here imports torch or CuPy for an array that is not theirs.
Arrays come back on the input's device; mixed libraries raise; nothing falls back silently
(asking for CUDA without a GPU raises).

Kernels are looked up by ``(operation, device)`` in :data:`KERNELS`: the information metrics'
min/max and joint-histogram passes have a Numba kernel on the CPU and a torch formulation on
CUDA; :func:`kernel` imports the module only when the kernel is first asked for.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Literal

import numpy as np
from array_api_compat import is_cupy_array, is_torch_array

from .errors import BackendMismatchError, InvalidInputError, MissingDependencyError

Namespace = Literal["numpy", "torch", "cupy"]
Device = Literal["cpu", "cuda"]

__all__ = [
    "KERNELS",
    "array_namespace",
    "common_namespace",
    "count_nonfinite",
    "cuda_available",
    "device_of",
    "dtype_kind",
    "float_dtype",
    "kernel",
    "resolve_device",
    "to_numpy",
    "to_torch",
]

# (operation, device) -> "module:function". Each entry's docstring states its contract; the
# CPU and CUDA kernels of one operation take and return the same things.
KERNELS: dict[tuple[str, Device], str] = {
    ("minmax", "cpu"): "fastdci.kernels.cpu:minmax_columns",
    ("minmax", "cuda"): "fastdci.kernels.torch_hist:minmax_columns",
    ("joint_counts", "cpu"): "fastdci.kernels.cpu:joint_counts",
    ("joint_counts", "cuda"): "fastdci.kernels.torch_hist:joint_counts",
}


def kernel(operation: str, device: Device) -> Callable:
    """The kernel registered for ``(operation, device)`` in :data:`KERNELS`."""
    target = KERNELS.get((operation, device))
    if target is None:
        known = sorted({op for op, _ in KERNELS})
        raise InvalidInputError(
            f"no {device} kernel for {operation!r}; operations with kernels: {', '.join(known)}."
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def array_namespace(x: Any) -> Namespace:
    """Name the library an array belongs to: ``"numpy"``, ``"torch"`` or ``"cupy"``.

    Anything else array-like (lists, h5py datasets, memmaps) counts as ``"numpy"``: it is
    converted with ``np.asarray`` by the caller.
    """
    if is_torch_array(x):
        return "torch"
    if is_cupy_array(x):
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


def device_of(x: Any) -> Device:
    """``"cuda"`` for a torch tensor on a GPU or any CuPy array, else ``"cpu"``."""
    if is_torch_array(x):
        return "cuda" if x.device.type == "cuda" else "cpu"
    if is_cupy_array(x):
        return "cuda"
    return "cpu"


def float_dtype(x: Any) -> np.dtype:
    """The NumPy float dtype an array is computed in: float32 and float64 stay; other floats
    (float16, bfloat16) become float32; integers and booleans become float64 (exact)."""
    if is_torch_array(x):
        import torch

        if x.dtype == torch.float64:
            return np.dtype(np.float64)
        return np.dtype(np.float32) if x.dtype.is_floating_point else np.dtype(np.float64)
    dt = np.dtype(x.dtype)
    if dt in (np.float32, np.float64):
        return dt
    return np.dtype(np.float32) if dt.kind == "f" else np.dtype(np.float64)


def dtype_kind(x: Any) -> str:
    """NumPy's dtype kind of any supported array: 'f' float, 'i' signed, 'u' unsigned, 'b' bool."""
    if is_torch_array(x):
        import torch

        if x.dtype.is_floating_point:
            return "f"
        if x.dtype == torch.bool:
            return "b"
        if x.dtype.is_complex:
            return "c"
        return "u" if x.dtype == torch.uint8 else "i"
    return np.dtype(x.dtype).kind


def count_nonfinite(x: Any) -> int:
    """How many entries of a float array are NaN or +-inf, counted where the array lives."""
    xp = _compat_namespace(x)
    return int(xp.sum(~xp.isfinite(x)))


def _compat_namespace(x: Any):
    from array_api_compat import array_namespace as compat_namespace

    return compat_namespace(x)


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


def to_numpy(x: Any) -> np.ndarray:
    """Any supported array as a NumPy array on the host (a view where the library allows)."""
    if is_torch_array(x):
        return x.detach().cpu().numpy()
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def to_torch(x: Any, device: str | None = None, dtype=None):
    """Any supported array as a torch tensor on ``device`` (default: where it is).

    A tensor already of that device and dtype is returned as it is (no copy).
    """
    import torch

    if is_torch_array(x):
        t = x
    elif is_cupy_array(x):
        t = torch.from_dlpack(x)
    else:
        a = np.asarray(x)
        t = torch.from_numpy(a if a.flags.c_contiguous else np.ascontiguousarray(a))
    if device is not None or dtype is not None:
        t = t.to(device=device if device is not None else t.device, dtype=dtype)
    return t
