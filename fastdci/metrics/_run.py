"""Running a registered metric: the public functions' decorator, the seed check, and
statistics-then-finalize for checked options (re-exported by :mod:`fastdci.metrics.registry`)."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..errors import InvalidInputError

if TYPE_CHECKING:  # pragma: no cover
    from .registry import MetricSpec

__all__ = ["check_random_state", "compute", "metric_function", "run_metric"]


def _get(name: str):
    from .registry import get

    return get(name)


def metric_function(name: str) -> Callable:
    """Decorate a public metric function: an unknown keyword raises the option checker's one
    line (the valid options and the closest match) instead of Python's TypeError."""
    import functools
    import inspect

    def decorate(fn: Callable) -> Callable:
        params = inspect.signature(fn).parameters
        if any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return fn  # the options reach run_metric, which checks them

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            unknown = {k: v for k, v in kwargs.items() if k not in params}
            if unknown:
                _get(name).check(unknown)  # raises
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def check_random_state(random_state: Any) -> Any:
    """``random_state`` if it is None, an int or a NumPy Generator; anything else raises."""
    import numpy as np

    if random_state is None or isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        raise InvalidInputError(
            "random_state must be None, an int or a numpy.random.Generator; got a legacy "
            "numpy.random.RandomState. Pass an int seed (e.g. random_state=0)."
        )
    raise InvalidInputError(
        f"random_state must be None, a non-negative int or a numpy.random.Generator; got {random_state!r}."
    )


def run_metric(name: str, latents: Any, factors: Any, options: Mapping[str, Any], *, backend: str = "auto",
               random_state: Any = 0, factor_sizes=None, factor_names=None, test: tuple | None = None,
               factor_types: Any = None, factor_bins: int = 20):
    """What every public metric function does: check the options, wrap the data in a
    :class:`~fastdci.io.LatentsSource` (unless it is one), compute the statistics, finalize."""
    from ..io.reader import LatentsReader
    from ..io.source import LatentsSource

    spec = _get(name)
    checked = spec.check(options)
    random_state = check_random_state(random_state)
    if isinstance(latents, (str, os.PathLike, LatentsReader)):
        raise InvalidInputError(
            f"{name} takes arrays (latents, factors) or a fastdci.io.LatentsSource, not a file; for a file use "
            f"fastdci.evaluate(path, {name!r}) or {spec.public_name}(LatentsSource(path))."
        )
    if isinstance(latents, LatentsSource):
        if factors is not None or test is not None or factor_types is not None:
            raise InvalidInputError(f"{name}: arrays (or factor_types) were given with a LatentsSource, which holds "
                                    "its data already; set factor_types when building the source.")
        return compute(spec, latents, checked, backend=backend, random_state=random_state)
    with LatentsSource(latents, factors, factor_sizes=factor_sizes, factor_names=factor_names, test=test,
                       factor_types=factor_types, factor_bins=factor_bins) as source:
        return compute(spec, source, checked, backend=backend, random_state=random_state)


def compute(spec: "MetricSpec", source: Any, options: Mapping[str, Any], *, backend: str, random_state: Any):
    """Statistics then finalize for checked ``options``; the result records them in ``settings``."""
    from ..backend import resolve_device

    device = resolve_device(backend)
    if spec.needs_grid and source.has_continuous:
        raise InvalidInputError(
            f"{spec.name} intervenes on a grid of discrete factor classes, but factor(s) "
            f"{[n for n, t in zip(source.factor_names, source.factor_types) if t == 'continuous']} are continuous; "
            "evaluate it on the factors' classes (factor_types=None)."
        )
    single = source.single_class_factors() if spec.family != "unsupervised" else []
    if single:
        raise InvalidInputError(
            f"{spec.name}: factor(s) {single} take a single class in these rows. Every metric refuses such a "
            "factor: it carries no information (entropy 0), so it would divide by zero or add a trivial "
            "perfect score. Drop the column(s), or evaluate rows where every factor varies."
        )
    stat_opts, final_opts = spec.split_options(options)
    stats_fn: Callable = spec.load("statistics")
    finalize_fn: Callable = spec.load("finalize")
    stats = stats_fn(source, backend=device, random_state=random_state, **stat_opts)
    result = finalize_fn(stats, **final_opts)
    settings = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else type(v).__name__)
                for k, v in options.items()}
    if spec.family not in ("information", "unsupervised"):  # the others draw rows
        settings["random_state"] = random_state if isinstance(random_state, (int, type(None))) else "Generator"
    settings.update(result.settings)  # what the statistics recorded (regressor parameters, ...)
    prov = {"n_rows": source.n_rows, "backend": device if spec.on_device else "cpu", **result.provenance}
    return dataclasses.replace(result, settings=settings, provenance=prov)
