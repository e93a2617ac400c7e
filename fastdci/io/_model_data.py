"""The datasets :func:`fastdci.io.encode_model` reads: dSprites as it is, arrays of images and
factor classes, or a torch ``Dataset`` of ``(image, factor classes)`` items, each with
dSprites' interface (``len``, ``images_torch(idx, device)``, ``classes(idx)``, ``values``,
``factor_names``, ``describe()``), and the conversion of an image batch for the model.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["_data"]


def _images(x: Any, device):
    """A batch of images as a torch tensor on ``device``: floating dtypes kept, others as float32."""
    import torch

    from ..backend import to_torch

    t = to_torch(x)
    return t.to(device=device, dtype=t.dtype if t.dtype.is_floating_point else torch.float32)


class _ArrayData:
    """Images (N, ...) and factor classes (N, K) as arrays (NumPy, torch or CuPy)."""

    values = None

    def __init__(self, images: Any, factors: Any):
        from .._validation import check_factors

        if not hasattr(images, "shape") or len(images.shape) < 2:
            raise InvalidInputError(f"data images must be an array (n_images, ...); got {type(images).__name__}.")
        f = np.asarray(factors) if isinstance(factors, (list, tuple)) else factors
        if hasattr(f, "shape") and len(f.shape) == 1:
            f = f[:, None]
        self.images, self.factors = images, check_factors(f, "data factors", n_rows=int(images.shape[0]))
        self.factor_names = self.factor_sizes = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def images_torch(self, idx: np.ndarray, device):
        import torch

        x = self.images
        return _images(x[torch.as_tensor(idx, device=x.device) if isinstance(x, torch.Tensor) else idx], device)

    def classes(self, idx: np.ndarray) -> np.ndarray:
        return self.factors[idx]

    def describe(self) -> dict:
        return {"name": "arrays", "n_images": len(self), "image_shape": [int(s) for s in self.images.shape[1:]]}


class _TorchData:
    """A torch ``Dataset`` whose items are ``(image, factor classes)``."""

    values = None

    def __init__(self, dataset: Any):
        self.dataset = dataset
        self.factor_names = getattr(dataset, "factor_names", None)
        self.factor_sizes = getattr(dataset, "factor_sizes", None)
        self._last: tuple | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def _load(self, idx: np.ndarray):
        import torch

        from .._validation import check_factors
        from ..backend import to_numpy, to_torch

        key = idx.tobytes()
        if self._last is not None and self._last[0] == key:
            return self._last[1:]
        name, items = type(self.dataset).__name__, [self.dataset[int(i)] for i in idx]
        if not all(isinstance(it, (tuple, list)) and len(it) >= 2 for it in items):
            raise InvalidInputError(
                f"data {name} gives items of type {type(items[0]).__name__}, not (image, factor classes) pairs; the "
                "metrics need the factor classes: return (image, classes) from __getitem__, or pass "
                "data=(images, factors)."
            )
        try:
            images = torch.stack([to_torch(it[0]) for it in items])
            classes = np.stack([np.asarray(to_numpy(it[1])).reshape(-1) for it in items])
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InvalidInputError(
                f"data {name}'s items do not stack into a batch ({exc}); give every item an image array or tensor of "
                "one shape (e.g. torchvision's ToTensor()) and the same number of integer factor classes."
            ) from None
        classes = check_factors(classes, f"data {name}'s factor classes", n_rows=len(idx))
        self._last = (key, images, classes)
        return images, classes

    def images_torch(self, idx: np.ndarray, device):
        return _images(self._load(idx)[0], device)

    def classes(self, idx: np.ndarray) -> np.ndarray:
        return self._load(idx)[1]

    def describe(self) -> dict:
        return {"name": type(self.dataset).__name__, "kind": "torch_dataset", "n_images": len(self)}


def _data(data: Any):
    """``data`` as a dataset with dSprites' interface (see the module docstring)."""
    from ..data import DSprites

    if data is None or isinstance(data, (str, os.PathLike)):
        return DSprites(data)
    if isinstance(data, DSprites) or (hasattr(data, "images_torch") and hasattr(data, "classes")):
        return data
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise InvalidInputError(f"data as a tuple must be (images, factors); got {len(data)} items.")
        return _ArrayData(*data)
    if hasattr(data, "shape"):
        raise InvalidInputError(
            "data is an array of images without factor classes; the metrics need them: pass data=(images, factors) "
            "with factors (n_images, n_factors) integer classes."
        )
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return _TorchData(data)
    raise InvalidInputError(
        f"data must be a fastdci DSprites dataset (or the .npz path), a torch Dataset of (image, factor classes) "
        f"items, or a pair (images, factors); got {type(data).__name__}."
    )
