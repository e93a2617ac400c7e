"""Information-based metrics from binned latents: MIG, MIG-sup, JEMMIG, DCIMIG, modularity.

Every metric here is a function of one table of int64 joint counts (:mod:`._counts`): the
statistics step counts, the finalizer (one module per metric) turns counts into the result.
Counts from several parts merge exactly (:meth:`InformationStats.merge`,
:class:`InformationAccumulator`), so streamed, batched and distributed inputs give the
in-memory numbers bit for bit.
"""

from ._counts import InformationStats, information_stats
from ._stream import InformationAccumulator
from .dcimig import DCIMIGResult, dcimig
from .jemmig import JEMMIGResult, jemmig
from .mig import MIGResult, MIGSupResult, mig, mig_sup
from .modularity import ModularityResult, modularity

__all__ = [
    "DCIMIGResult",
    "InformationAccumulator",
    "InformationStats",
    "JEMMIGResult",
    "MIGResult",
    "MIGSupResult",
    "ModularityResult",
    "dcimig",
    "information_stats",
    "jemmig",
    "mig",
    "mig_sup",
    "modularity",
]
