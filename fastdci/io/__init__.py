"""The latents file (a streaming, resumable HDF5 format, see docs/latents-format.md), the source the
metrics read, and encode_model: any model or function and a dataset in, a source out."""

from ._format import FORMAT_NAME, FORMAT_VERSION
from .model_input import encode_model, encode_model_to_file
from .reader import LatentsChunk, LatentsReader, open_latents
from .source import LatentsSource
from .writer import LatentsWriter

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "LatentsChunk", "LatentsReader", "LatentsSource", "LatentsWriter",
           "encode_model", "encode_model_to_file", "open_latents"]
