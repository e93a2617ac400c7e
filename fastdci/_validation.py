"""Validation at the public boundary: check once, name the argument, what was seen, the fix."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .backend import array_namespace, count_nonfinite, dtype_kind, to_numpy
from .errors import InvalidDTypeError, InvalidInputError

__all__ = ["check_factor_names", "check_factor_sizes", "check_factors", "check_latents", "check_orientation"]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def _as_array(x: Any, name: str):
    ns = array_namespace(x)
    if ns == "numpy" and not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise InvalidInputError(f"{name} could not be converted to an array: {exc}") from exc
    return x


def check_latents(latents: Any, name: str = "latents", *, min_rows: int = 2, check_finite: bool = True):
    """Check a (n_samples, n_latents) float array with finite values; return it unchanged.

    Raises
    ------
    InvalidInputError
        wrong number of dimensions, a transposed-looking shape, too few rows, NaN or inf.
    InvalidDTypeError
        a non-floating dtype (integers are accepted and converted by the caller).

    ``check_finite=False`` skips the NaN/inf scan, for callers whose own first pass finds
    non-finite values (they call this again with the default to raise the message).
    """
    latents = _as_array(latents, name)
    shape = _shape(latents)
    if len(shape) != 2:
        raise InvalidInputError(
            f"{name} must have shape (n_samples, n_latents); got an array with shape {shape}. "
            "Reshape it to 2-D, one row per data point."
        )
    n, l = shape
    kind = dtype_kind(latents)
    if kind not in "fiu":
        raise InvalidDTypeError(
            f"{name} must hold real numbers (float32 or float64); got dtype {latents.dtype}. "
            "Convert with latents.astype(np.float32)."
        )
    if l > n and l >= 1000:
        raise InvalidInputError(
            f"{name} must have shape (n_samples, n_latents); got {shape}, which looks transposed "
            "(disentanglement_lib layout, codes x points): pass latents.T or use "
            "fastdci.compat.disentanglement_lib."
        )
    if n < min_rows:
        raise InvalidInputError(f"{name} needs at least {min_rows} rows (data points); got {n}.")
    if l < 1:
        raise InvalidInputError(f"{name} needs at least one latent dimension; got shape {shape}.")
    if kind == "f" and check_finite:
        bad = count_nonfinite(latents)
        if bad:
            host = to_numpy(latents)
            rows, cols = np.nonzero(~np.isfinite(host))
            raise InvalidInputError(
                f"{name} contains {bad} NaN or inf value(s) (first at row {int(rows[0])}, latent "
                f"{int(cols[0])}); the encoder probably diverged. Drop or fix those rows (e.g. "
                f"{name}[np.isfinite({name}).all(axis=1)]) before computing metrics."
            )
    return latents


def check_factor_sizes(factor_sizes: Sequence[int] | None, n_factors: int, name: str = "factor_sizes"):
    """Check a list of per-factor class counts; return it as a tuple of ints (or None)."""
    if factor_sizes is None:
        return None
    sizes = tuple(int(s) for s in factor_sizes)
    if len(sizes) != n_factors:
        raise InvalidInputError(
            f"{name} has {len(sizes)} entries but there are {n_factors} factors; give one size "
            "per factor column."
        )
    if any(s < 1 for s in sizes):
        raise InvalidInputError(f"{name} must be positive class counts; got {list(sizes)}.")
    return sizes


def check_factors(
    factors: Any,
    name: str = "factors",
    *,
    n_rows: int | None = None,
    factor_sizes: Sequence[int] | None = None,
    min_classes: int = 1,
    factor_names: Sequence[str] | None = None,
):
    """Check a (n_samples, n_factors) array of integer class labels; return it as int64 numpy.

    Float arrays holding whole numbers are accepted (disentanglement_lib passes them so);
    anything fractional raises. With ``factor_sizes``, every class must lie in
    ``[0, size)``. With ``min_classes=2``, a factor whose column holds a single class
    raises (its entropy is 0 and every normalised metric would divide by zero).
    """
    factors = _as_array(factors, name)
    shape = _shape(factors)
    if len(shape) == 1:
        raise InvalidInputError(
            f"{name} must have shape (n_samples, n_factors); got a 1-D array of shape {shape}. "
            f"For a single factor pass {name}[:, None]."
        )
    if len(shape) != 2:
        raise InvalidInputError(f"{name} must have shape (n_samples, n_factors); got {shape}.")
    if n_rows is not None and shape[0] != n_rows:
        hint = ""
        if shape[1] == n_rows:
            hint = f" It looks transposed: pass {name}.T."
        raise InvalidInputError(
            f"{name} has {shape[0]} rows but latents have {n_rows}; both need one row per data "
            f"point, in the same order.{hint}"
        )
    arr = to_numpy(factors)
    kind = arr.dtype.kind
    if kind == "f":
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
            raise InvalidDTypeError(
                f"{name} must hold integer class labels (0, 1, ..., size-1); got dtype {arr.dtype} "
                "with non-integer values. For real-valued factors pass factor_types='continuous' (or one "
                "type per factor); else pass their class indices."
            )
        arr = arr.astype(np.int64)
    elif kind == "b":
        arr = arr.astype(np.int64)
    elif kind not in "iu":
        raise InvalidDTypeError(
            f"{name} must hold integer class labels; got dtype {arr.dtype}. Map each factor's "
            "values to class indices 0..size-1 first."
        )
    else:
        arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        col = int(np.nonzero((arr < 0).any(axis=0))[0][0])
        raise InvalidInputError(
            f"{name} column {col} has negative class labels (min {int(arr[:, col].min())}); "
            "classes must be 0..size-1."
        )
    sizes = check_factor_sizes(factor_sizes, shape[1])
    if sizes is not None and arr.size:
        maxima = arr.max(axis=0)
        for k, (m, s) in enumerate(zip(maxima, sizes)):
            if m >= s:
                label = factor_names[k] if factor_names is not None else f"column {k}"
                raise InvalidInputError(
                    f"{name} {label} has class {int(m)} but its size is {s}: classes must lie in "
                    f"[0, {s}). Fix factor_sizes or re-encode the labels as 0..size-1."
                )
    if min_classes > 1:
        for k in range(shape[1]):
            n_classes = np.unique(arr[:, k]).size
            if n_classes < min_classes:
                label = factor_names[k] if factor_names is not None else f"column {k}"
                raise InvalidInputError(
                    f"{name} {label} takes only {n_classes} distinct value(s) in these rows; a "
                    "factor with one class carries no information and makes the metric undefined. "
                    "Drop that column or evaluate on rows where it varies."
                )
    return arr


def check_orientation(latents_shape: tuple, factors_shape: tuple) -> None:
    """Refuse arrays that look transposed: every metric here estimates statistics over rows, so
    a code needs more rows (data points) than latents, and more rows than factors."""
    n, n_latents = latents_shape
    fix = ("which looks transposed (disentanglement_lib's codes x points layout): pass latents.T and "
           "factors.T, or use fastdci.compat.disentanglement_lib. With truly fewer data points than that, "
           "no metric can be estimated: encode more rows.")
    if n <= n_latents:
        raise InvalidInputError(f"latents have shape {latents_shape}: {n} rows for {n_latents} latents, {fix}")
    if len(factors_shape) == 2 and factors_shape[0] <= factors_shape[1]:
        raise InvalidInputError(f"factors have shape {factors_shape}: {factors_shape[0]} rows for "
                                f"{factors_shape[1]} factors, {fix}")


def check_factor_names(factor_names, n_factors: int) -> tuple[str, ...]:
    """One name per factor (default ``factor_<k>``)."""
    if factor_names is None:
        return tuple(f"factor_{k}" for k in range(n_factors))
    names = tuple(str(n) for n in factor_names)
    if len(names) != n_factors:
        raise InvalidInputError(
            f"factor_names has {len(names)} entries but there are {n_factors} factors; give one name "
            "per factor column."
        )
    return names
