"""Exceptions raised by fastdci.

Every exception subclasses :class:`FastDCIError` *and* the builtin that matches the
problem (``ValueError``, ``TypeError``, ``FileExistsError``, ``ImportError``), so callers
can catch either. Messages name the argument, what was seen, and the fix.
"""

from __future__ import annotations

FORMAT_DOC = "docs/latents-format.md"
"""Where the latents file format is specified (relative to the fastdci repository)."""


class FastDCIError(Exception):
    """Base class of every error fastdci raises on purpose."""


class InvalidInputError(FastDCIError, ValueError):
    """An argument has the wrong shape, range or contents (NaN, out-of-range classes, ...)."""


class InvalidDTypeError(FastDCIError, TypeError):
    """An array has a dtype fastdci cannot use (e.g. float factor classes)."""


class BackendMismatchError(FastDCIError, TypeError):
    """Arrays from different libraries or devices were mixed in one call."""


class MissingDependencyError(FastDCIError, ImportError):
    """An optional dependency (CuPy, Dask, ...) is needed but not installed."""


class LatentsFileError(FastDCIError, ValueError):
    """A latents file is not a valid fastdci latents file (see ``docs/latents-format.md``)."""


class ForeignFileError(LatentsFileError):
    """The file is HDF5 (or not even that) but was not written as a fastdci latents file."""


class FormatVersionError(LatentsFileError):
    """The file was written in a newer format version than this fastdci reads."""


class IncompleteFileError(LatentsFileError):
    """The writer never closed the file cleanly (killed, crashed, or still running)."""


class MissingFileError(FastDCIError, FileNotFoundError):
    """An input file does not exist."""


class OutputExistsError(FastDCIError, FileExistsError):
    """An output already exists and would be overwritten."""


class CheckpointError(FastDCIError, ValueError):
    """A training checkpoint is missing, half-written or from another model."""


class DatasetFileError(FastDCIError, ValueError):
    """A dataset file (e.g. the dSprites .npz) is missing, corrupt or has the wrong layout."""


__all__ = [
    "FORMAT_DOC",
    "BackendMismatchError",
    "CheckpointError",
    "DatasetFileError",
    "FastDCIError",
    "FormatVersionError",
    "ForeignFileError",
    "IncompleteFileError",
    "InvalidDTypeError",
    "InvalidInputError",
    "LatentsFileError",
    "MissingDependencyError",
    "MissingFileError",
    "OutputExistsError",
]
