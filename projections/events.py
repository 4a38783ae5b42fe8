"""What the projector takes from the log: which events, and decoded how far.

Topics are derived from the domain's event classes, so a renamed event breaks here, at
import, and a new Journey event reaches the timeline without anyone listing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.alerts import Alert
from domain.audit import DataAccess
from domain.journey import Journey
from domain.reference import EntryPoint
from domain.site import Site
from domain.transfer import HospitalTransfer
from domain.transport import TransportRun, Vehicle
from projections import decode
from projections.schema import (
    ALERTS,
    JOURNEY_STAGE,
    RUNS,
    SITE_ROOMS,
    TRANSFERS,
    VEHICLES,
    Table,
)

Row = tuple[Any, ...]
Json = dict[str, Any]


def _events_of(aggregate: type[Aggregate]) -> dict[str, str]:
    # The bases the metaclass adds (Event, Created) are never stored.
    return {
        get_topic(cls): name
        for name, cls in vars(aggregate).items()
        if isinstance(cls, type) and issubclass(cls, Aggregate.Event)
        and name not in ("Event", "Created")
    }


# topic -> (aggregate kind, event name); events of other aggregates only advance the position.
TOPICS: dict[str, tuple[str, str]] = {
    topic: (kind, name)
    for kind, aggregate in (
        ("journey", Journey), ("site", Site), ("run", TransportRun), ("vehicle", Vehicle),
        ("entry_point", EntryPoint), ("alert", Alert), ("transfer", HospitalTransfer),
        ("access", DataAccess),
    )
    for topic, name in _events_of(aggregate).items()
}


@dataclass(slots=True)
class Event:
    position: int  # notification id
    kind: str
    name: str
    originator_id: str
    version: int
    state: Json


def decode_page(rows: Iterable[Row], decrypt: Callable[[bytes], bytes]) -> list[Event]:
    """Rows (notification_id, originator_id, version, topic, state) -> the events we project.

    `decrypt` opens the store-wide cipher (tracking/store_cipher.py). Events of aggregates no
    view shows are dropped here undecoded (and not decrypted); the page's last position still
    advances past them.
    """
    events = []
    for nid, oid, version, topic, state in rows:
        target = TOPICS.get(topic)
        if target is not None:
            events.append(
                Event(nid, target[0], target[1], decode.dashed(oid), version,
                      decode.loads(decrypt(state)))
            )
    return events


@dataclass
class Keys:
    """Rows the page needs as they stood before it (created-in-page aggregates need none)."""

    by_table: dict[Table, set[tuple[str, ...]]] = field(default_factory=dict)

    def add(self, table: Table, key: tuple[str, ...]) -> None:
        self.by_table.setdefault(table, set()).add(key)


# Sites are loaded whole on every page (the board shows each site's counts), not by key.
_TABLE_OF_KIND = {
    "journey": JOURNEY_STAGE, "run": RUNS, "vehicle": VEHICLES, "alert": ALERTS,
    "transfer": TRANSFERS,
}


def keys_to_load(events: list[Event]) -> Keys:
    keys = Keys()
    seen: set[str] = set()
    for e in events:
        table = _TABLE_OF_KIND.get(e.kind)
        if table is not None and e.originator_id not in seen:
            seen.add(e.originator_id)
            if e.version > 1:  # version 1 is the aggregate's creation
                keys.add(table, (e.originator_id,))
        if e.kind == "site" and e.name != "Registered":
            keys.add(SITE_ROOMS, (e.originator_id, e.state["room"]))
        elif e.kind == "journey" and "run_id" in e.state:
            # The run's plate: the board times the vehicle legs per vehicle.
            keys.add(RUNS, (decode.dashed(e.state["run_id"]["_data_"]),))
    return keys
