"""Scale-out on Dask (the ``dask`` extra): many latents files, one file beyond memory, and
training sweeps.

- :func:`evaluate_many`: one task per latents file, results stored per file as they complete,
  one table back (:mod:`.many`);
- :func:`information_out_of_core`: the information metrics of one file as a reduction over its
  row ranges, exact (:mod:`.out_of_core`);
- :func:`sweep`: train, encode and evaluate a grid of models, every step resumable
  (:mod:`.grid`); :func:`summarize` / :func:`plot_comparison`: mean ± sd over seeds
  (:mod:`.compare`).

Every function takes an existing ``dask.distributed.Client`` or starts a ``LocalCluster``
(:func:`local_client`). Workers receive paths, never open file handles.
"""

from .compare import plot_comparison, summarize
from .grid import sweep
from .many import evaluate_many, local_client
from .out_of_core import information_out_of_core

__all__ = ["evaluate_many", "information_out_of_core", "local_client", "plot_comparison", "summarize", "sweep"]
