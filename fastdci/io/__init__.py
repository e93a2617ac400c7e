"""The latents file: a streaming, resumable HDF5 format (see docs/latents-format.md)."""

from ._format import FORMAT_NAME, FORMAT_VERSION
from .reader import LatentsChunk, LatentsReader, open_latents
from .source import LatentsSource
from .writer import LatentsWriter

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "LatentsChunk", "LatentsReader", "LatentsSource", "LatentsWriter", "open_latents"]
