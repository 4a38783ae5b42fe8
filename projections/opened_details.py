"""What the dispatcher sees of a waiting traveller (names, street, room), opened from their
sealed details once per version of their journey rather than on every console read.

Opening means reading the journey's events and decrypting its details: ~1 ms each, so a queue
of hundreds re-read on every change would cost each dispatcher's console a second a time. The
cache is keyed by (journey, version): any new event on the journey (an amendment, an erasure)
makes a new key. Entries also expire after `TTL_S` and the cache is bounded, because it holds
personal data in memory; `forget(journey_id)` drops a journey at once (for erasure).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from uuid import UUID

from tracking.application import TrackingApp

TTL_S = 300.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Opened:
    name_native: str
    name_latin: str
    street: str
    room: str
    risk: str | None


class OpenedDetails:
    def __init__(self, ttl_s: float = TTL_S, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], tuple[float, Opened]] = OrderedDict()

    def get(self, app: TrackingApp, journey_id: str, version: int) -> Opened:
        key = (journey_id, version)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._entries.move_to_end(key)
                return hit[1]
        opened = _open(app, journey_id)
        with self._lock:
            self._entries[key] = (now, opened)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return opened

    def forget(self, journey_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == journey_id]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _open(app: TrackingApp, journey_id: str) -> Opened:
    journey = app.journey(UUID(journey_id))
    details = app.personal_details(journey)
    return Opened(
        name_native=str(details.get("name_native", "")),
        name_latin=str(details.get("name_latin", "")),
        street=str(details.get("destination_street", "")),
        room=journey.room,
        risk=None if journey.risk is None else journey.risk.value,
    )


OPENED = OpenedDetails()
