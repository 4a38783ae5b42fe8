"""What the machine was doing while each figure was measured, to explain noise: the machines
are shared, and a figure taken while something else used a core is not the same figure."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks.live import machine_busy

LOG: list[str] = []


def _own_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (servers, clients)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@contextmanager
def watched(label: str) -> Iterator[None]:
    """Note the machine's busy cores during the block, how many of them were this bench's own
    processes, and the load average at its end."""
    cores = os.cpu_count() or 1
    started, busy, own = time.monotonic(), machine_busy(), _own_cpu()
    try:
        yield
    finally:
        wall = time.monotonic() - started
        busy_after = machine_busy()
        share = (busy_after[0] - busy[0]) / max(busy_after[1] - busy[1], 1.0)
        mine = (_own_cpu() - own) / max(wall, 1e-9)
        load = os.getloadavg()
        LOG.append(
            f"  {label}: {wall:.0f} s, machine busy {share * cores:.2f} of {cores} cores, this "
            f"bench's processes {mine:.2f} (PostgreSQL and anything else the rest), "
            f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
        )
