"""How many Numba threads a CPU fit uses while other processes share the machine.

Numba's OpenMP pool splits every parallel loop statically over its threads and each loop ends
at a barrier: when another process keeps a core busy, one of the fit's threads waits for a
time slice at every barrier while the other spins, and a fit on two threads takes longer (in
wall and in CPU time) than on one. :func:`threads_for_load` sizes the pool to the cores that
are free now, between the kernels of a fit (only :func:`numba.set_num_threads`, which is local
to the calling thread, changes; no environment variable, so other OpenMP libraries in the
process are untouched). Results must not depend on the thread count, which the kernels that
use it guarantee (fixed reduction orders).
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Iterator

__all__ = ["free_cpus", "threads_for_load"]


def _running_elsewhere() -> int | None:
    """Runnable threads of other processes now: ``/proc/loadavg``'s running count less this
    process's running threads; None where ``/proc`` is not there (not Linux)."""
    try:
        with open("/proc/loadavg") as fh:
            running = int(fh.read().split()[3].split("/")[0])
        own = 0
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/stat") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if stat[stat.rindex(")") + 2] == "R":
                own += 1
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - own)


def free_cpus() -> int:
    """CPUs this process may use that no other process keeps busy now (at least 1).

    The CPUs of the affinity mask less the runnable threads of other processes (the lowest of
    three looks at ``/proc``, so a process that only wakes briefly does not count); the whole
    mask where ``/proc`` is not there.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    looks = [_running_elsewhere() for _ in range(3)]
    if any(x is None for x in looks):
        return cpus
    return max(1, cpus - min(looks))


@contextmanager
def threads_for_load(limit: int | None = None) -> Iterator["_Pool"]:
    """Within the block, Numba runs at most as many threads as :func:`free_cpus` finds (and
    at most ``limit``, and at most what was set before); ``pool.refresh()`` looks again (a long
    fit calls it between rounds). The previous thread count is restored on exit.
    """
    import numba

    before = numba.get_num_threads()
    pool = _Pool(min(before, limit) if limit else before)
    try:
        pool.refresh()
        yield pool
    finally:
        numba.set_num_threads(before)


class _Pool:
    _EVERY_S = 0.05  # look at /proc at most this often (a look costs about 0.1 ms)

    def __init__(self, cap: int):
        self.cap = max(1, cap)
        self.threads = self.cap
        self._last = -1.0

    def refresh(self) -> int:
        """Set Numba's thread count to the free CPUs now (within the cap); returns it."""
        import numba

        now = time.monotonic()
        if self._last < 0 or now - self._last >= self._EVERY_S:
            self._last = now
            self.threads = min(self.cap, free_cpus())
            numba.set_num_threads(self.threads)
        return self.threads
