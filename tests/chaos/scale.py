"""How hard the faults push: CHAOS_SCALE=full (`make chaos`) or the short version (`make test`).

Full: about 60 s of load per kill fault, kills every 10 s (API workers) or 15 s (the projector),
five database outages. Short: two of each under 15 s of load, so that the four faults together
add little to the suite (they spread over its two workers, one file each).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    load_s: float  # load per kill fault
    api_kill_every_s: float
    projector_kill_every_s: float
    outages: int
    outage_s: float  # how long PostgreSQL stays down each time
    board_restart_every_s: float
    clients: int

    def every(self, interval_s: float) -> Iterator[int]:
        """Sleeps `interval_s` before each of the faults that fit in the load, yielding their
        numbers (0, 1, ...); then sleeps out the rest of the load."""
        began = time.monotonic()
        n = 0
        while began + (n + 1) * interval_s < began + self.load_s:
            time.sleep(max(began + (n + 1) * interval_s - time.monotonic(), 0))
            yield n
            n += 1
        time.sleep(max(began + self.load_s - time.monotonic(), 0))


FULL = Scale("full", load_s=60, api_kill_every_s=10, projector_kill_every_s=15, outages=5,
             outage_s=4, board_restart_every_s=10, clients=8)
SHORT = Scale("short", load_s=15, api_kill_every_s=6, projector_kill_every_s=5, outages=2,
              outage_s=2, board_restart_every_s=5, clients=6)


def current() -> Scale:
    return FULL if os.environ.get("CHAOS_SCALE") == "full" else SHORT
