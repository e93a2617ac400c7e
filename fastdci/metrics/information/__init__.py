"""Information-based metrics from binned latents: MIG, MIG-sup, JEMMIG, DCIMIG, modularity, InfoMEC.

Every metric here is a function of one table of int64 joint counts (:mod:`._counts`): the
statistics step counts, the finalizer (one module per metric) turns counts into the result.
Counts from several parts merge exactly (:meth:`InformationStats.merge`,
:class:`InformationAccumulator`), so streamed, batched and distributed inputs give the
in-memory numbers bit for bit. InfoMEC's InfoM and InfoC come from the same counts; its InfoE
fits a regression on the rows, so the registry lists it in the predictor family (it needs rows).
"""

from ._counts import InformationStats, information_stats
from ._stream import InformationAccumulator
from .dcimig import DCIMIGResult, dcimig
from .infomec import InfoMECResult, infomec
from .jemmig import JEMMIGResult, jemmig
from .mig import MIGResult, MIGSupResult, mig, mig_sup
from .modularity import ModularityResult, modularity

__all__ = [
    "DCIMIGResult",
    "InfoMECResult",
    "InformationAccumulator",
    "InformationStats",
    "JEMMIGResult",
    "MIGResult",
    "MIGSupResult",
    "ModularityResult",
    "dcimig",
    "information_stats",
    "infomec",
    "jemmig",
    "mig",
    "mig_sup",
    "modularity",
]
