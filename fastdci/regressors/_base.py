"""Shared plumbing of the batched regressors: input checks, class encoding, standardisation,
device handling, and the ``predict`` / ``predict_proba`` / ``score`` methods every batched
classifier has.

A batched classifier fits one model per factor column of ``Y`` (N, K) at once. Subclasses of
:class:`BatchedClassifier` implement ``fit`` (calling :func:`prepare_fit` first) and
``_proba_torch(Xt)``, which returns the class probabilities of every factor as torch tensors;
this module turns those into labels, per-factor accuracies and NumPy output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from .._validation import check_factors, check_latents
from ..backend import array_namespace, device_of, resolve_device, to_numpy, to_torch
from ..errors import InvalidInputError

__all__ = [
    "BatchedClassifier",
    "EstimatorParams",
    "ClassEncoding",
    "Standardizer",
    "check_X",
    "check_XY",
    "check_device",
    "encode_classes",
    "per_factor_accuracy",
    "to_device_tensor",
]

_DEVICES = ("auto", "cpu", "cuda")


# ----------------------------------------------------------------------------- devices


def check_device(device: str, X: Any = None) -> torch.device:
    """Turn a regressor's ``device`` parameter into a :class:`torch.device`.

    ``"auto"`` follows a torch input that already lives on a GPU, else picks CUDA when torch
    sees one, else the CPU. ``"cuda"`` without a GPU raises
    :class:`~fastdci.errors.MissingDependencyError` (never a silent CPU fallback).
    """
    if not isinstance(device, str) or not (
        device.lower() in _DEVICES or device.lower().startswith("cuda:")
    ):
        raise InvalidInputError(f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}.")
    d = device.lower()
    if d == "auto" and X is not None and device_of(X) == "cuda":
        return X.device if array_namespace(X) == "torch" else torch.device("cuda", X.device.id)
    kind = resolve_device(d)
    if kind == "cuda":
        return torch.device(d if d.startswith("cuda:") else "cuda")
    return torch.device("cpu")


def to_device_tensor(x: Any, device: torch.device, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Any supported array (numpy, torch, cupy) as a contiguous torch tensor on ``device``."""
    t = to_torch(x.detach() if array_namespace(x) == "torch" else x)
    return t.to(device=device, dtype=dtype).contiguous()


# ----------------------------------------------------------------------------- input checks


def check_X(X: Any, name: str = "X", *, n_features: int | None = None, min_rows: int = 1):
    """Check a (n_samples, n_features) real array (finite values); return it unchanged.

    With ``n_features`` (the width seen by ``fit``), a different width raises.
    """
    X = check_latents(X, name, min_rows=min_rows)
    if n_features is not None and int(X.shape[1]) != n_features:
        raise InvalidInputError(
            f"{name} has {int(X.shape[1])} columns but the model was fitted on {n_features}; "
            "pass the same latent dimensions, in the same order, as in fit."
        )
    return X


def check_XY(X: Any, Y: Any, *, min_rows: int = 2, min_classes: int = 1):
    """Check inputs ``X`` (N, L) and integer class targets ``Y`` (N, K) for ``fit``.

    A 1-D ``Y`` is taken as a single factor (K = 1). Returns ``(X, Y)`` with ``X`` unchanged
    and ``Y`` as int64 NumPy.
    """
    X = check_X(X, "X", min_rows=min_rows)
    if getattr(Y, "ndim", np.ndim(Y)) == 1:
        Y = to_numpy(Y)[:, None]
    Y = check_factors(Y, "Y", n_rows=int(X.shape[0]), min_classes=min_classes)
    return X, Y


def check_Y_float(Y: Any, n_rows: int, name: str = "Y") -> np.ndarray:
    """Check real-valued targets (N, K) (1-D is one target); return float64 NumPy."""
    arr = to_numpy(Y)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} must have shape (n_samples, n_targets); got {arr.shape}.")
    if arr.shape[0] != n_rows:
        raise InvalidInputError(
            f"{name} has {arr.shape[0]} rows but X has {n_rows}; both need one row per data "
            "point, in the same order."
        )
    if arr.dtype.kind not in "fiub":
        raise InvalidInputError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InvalidInputError(f"{name} contains NaN or inf; drop or fix those rows first.")
    return arr


# ----------------------------------------------------------------------------- classes


@dataclass(frozen=True)
class ClassEncoding:
    """The classes of every factor and their positions in a stacked class axis.

    ``classes[k]`` holds factor k's sorted distinct labels; the stacked axis concatenates
    the factors' classes, factor k occupying ``offsets[k]:offsets[k + 1]``.
    """

    classes: tuple[np.ndarray, ...]

    @property
    def n_factors(self) -> int:
        return len(self.classes)

    @property
    def n_classes(self) -> tuple[int, ...]:
        return tuple(int(c.size) for c in self.classes)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.n_classes)]).astype(np.int64)

    @property
    def total(self) -> int:
        return int(sum(self.n_classes))

    def slices(self) -> list[slice]:
        o = self.offsets
        return [slice(int(o[k]), int(o[k + 1])) for k in range(self.n_factors)]

    def encode(self, Y: np.ndarray) -> np.ndarray:
        """Labels (N, K) as class positions (N, K) int64; a label absent from ``classes`` is -1."""
        Y = np.asarray(Y)
        out = np.full(Y.shape, -1, dtype=np.int64)
        for k, c in enumerate(self.classes):
            pos = np.clip(np.searchsorted(c, Y[:, k]), 0, c.size - 1)
            hit = c[pos] == Y[:, k]
            out[hit, k] = pos[hit]
        return out

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Map class positions (N, K) back to the original labels (N, K) int64."""
        out = np.empty(codes.shape, dtype=np.int64)
        for k, c in enumerate(self.classes):
            out[:, k] = c[codes[:, k]]
        return out


def encode_classes(Y: np.ndarray) -> tuple[ClassEncoding, np.ndarray]:
    """Sorted distinct labels per factor and ``Y`` re-coded as class positions (N, K) int64."""
    classes = []
    codes = np.empty(Y.shape, dtype=np.int64)
    for k in range(Y.shape[1]):
        c, inv = np.unique(Y[:, k], return_inverse=True)
        classes.append(c.astype(np.int64))
        codes[:, k] = inv.reshape(-1)
    return ClassEncoding(tuple(classes)), codes


def per_factor_accuracy(pred: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Fraction of rows where ``pred[:, k] == Y[:, k]``, per factor: (K,) float64."""
    return np.mean(np.asarray(pred) == np.asarray(Y), axis=0).astype(np.float64)


# ----------------------------------------------------------------------------- scaling


@dataclass(frozen=True)
class Standardizer:
    """Column means and scales (population standard deviation; 1 for constant columns,
    as scikit-learn's ``StandardScaler``), held as float64 tensors on the fit device."""

    mean: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def fit(cls, X: torch.Tensor, enabled: bool = True) -> "Standardizer":
        L = X.shape[1]
        if not enabled:
            one = torch.ones(L, dtype=torch.float64, device=X.device)
            return cls(torch.zeros_like(one), one)
        Xd = X.to(torch.float64)
        mean = Xd.mean(dim=0)
        var = ((Xd - mean) ** 2).mean(dim=0)
        scale = torch.sqrt(var)
        # a column is constant when its spread is at rounding level of its magnitude
        tiny = 10 * torch.finfo(X.dtype).eps * torch.clamp(mean.abs(), min=1.0)
        scale = torch.where(scale <= tiny, torch.ones_like(scale), scale)
        return cls(mean, scale)

    def transform(self, X: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        dtype = dtype or X.dtype
        return ((X.to(torch.float64) - self.mean) / self.scale).to(dtype)


# ----------------------------------------------------------------------------- base class


class EstimatorParams:
    """``get_params`` / ``set_params`` / ``repr`` from the ``__init__`` signature (sklearn manners)."""

    # -- parameters (scikit-learn's get_params/set_params, enough for clone-like use)
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params: Any):
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise InvalidInputError(
                    f"{type(self).__name__} has no parameter {k!r}; valid: {sorted(valid)}."
                )
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"



class BatchedClassifier(EstimatorParams):
    """Base of the batched per-factor classifiers (scikit-learn manners).

    Subclasses set, in ``fit``: ``classes_`` (list of K arrays), ``n_features_in_``,
    ``device_`` (torch.device), ``feature_importances_`` (L, K); and implement
    ``_proba_torch(Xt) -> list of K tensors (N, n_classes_k)`` where ``Xt`` is the raw input
    as a float tensor on ``device_`` (dtype ``_dtype``).
    """

    _dtype: torch.dtype = torch.float64

    # -- fitted state
    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise InvalidInputError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, Y) before using it."
            )

    @property
    def n_factors_(self) -> int:
        self._check_fitted()
        return len(self.classes_)

    def _input(self, X: Any) -> torch.Tensor:
        self._check_fitted()
        X = check_X(X, "X", n_features=self.n_features_in_)
        return to_device_tensor(X, self.device_, self._dtype)

    def _proba_torch(self, Xt: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    # -- public predictions
    def predict_proba(self, X: Any) -> list[np.ndarray]:
        """Class probabilities per factor.

        Parameters
        ----------
        X : array (N, L)

        Returns
        -------
        list of K float64 arrays (N, n_classes_k)
            Column j of entry k is the probability of ``classes_[k][j]``.
        """
        Xt = self._input(X)
        return [to_numpy(p).astype(np.float64, copy=False) for p in self._proba_torch(Xt)]

    def _predict_codes(self, Xt: torch.Tensor) -> np.ndarray:
        probs = self._proba_torch(Xt)
        return np.stack([to_numpy(torch.argmax(p, dim=1)) for p in probs], axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per factor: (N, K) int64 labels (from ``classes_``)."""
        Xt = self._input(X)
        codes = self._predict_codes(Xt)
        return ClassEncoding(tuple(self.classes_)).decode(codes)

    def score(self, X: Any, Y: Any) -> np.ndarray:
        """Per-factor accuracy of :meth:`predict` on ``(X, Y)``: (K,) float64."""
        self._check_fitted()
        X = check_X(X, "X", n_features=self.n_features_in_)
        if getattr(Y, "ndim", np.ndim(Y)) == 1:
            Y = to_numpy(Y)[:, None]
        Y = check_factors(Y, "Y", n_rows=int(X.shape[0]))
        if Y.shape[1] != self.n_factors_:
            raise InvalidInputError(
                f"Y has {Y.shape[1]} factor columns but the model was fitted on "
                f"{self.n_factors_}; pass the same factors as in fit."
            )
        return per_factor_accuracy(self.predict(X), Y)


def settings_of(estimator: Any) -> dict[str, Any]:
    """The estimator's parameters as plain JSON-able values (for result records)."""
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, (int, float, str, bool)) or v is None:
            out[k] = v
        else:
            out[k] = repr(v)
    return out


def as_list(x: Sequence[Any] | Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]
