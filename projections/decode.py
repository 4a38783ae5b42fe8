"""Reading the library's stored event state without the library's mapper.

The store holds JSON written by eventsourcing's JSONTranscoder: typed values are objects
`{"_type_": name, "_data_": ...}` (uuid_hex, datetime_iso, and our own context and date_iso).
orjson plus these few helpers decode a page several times faster than the mapper, which
builds full domain event objects the views never need.
"""

from __future__ import annotations

from typing import Any

import orjson

Json = Any
# Never copied into a view: encrypted personal data (`personal`, survey `answers`), the keyed
# identity hash (it links journeys of one person), and what has its own timeline columns.
NOT_IN_SUMMARY = frozenset(
    {"personal", "answers", "health", "identity_key", "ctx", "timestamp", "originator_topic"}
    # A test's result (sealed); the keyed flight hash and seat row link travellers.
    | {"result", "flight_key", "flight_row"}
    # Health data is for survey staff and commanders only (DESIGN.md §6), and every read of it
    # is audited: the views every staff role reads hold none of it.
    | {"temperature", "symptomatic", "sample_taken"}
)
# Sealed reasons: a referral's is medical, an order's changes may be, a cancellation's is about
# the person. Even sealed they stay out of views every role reads.
HEALTH_REASON_EVENTS = frozenset(
    {"ReferredToHospital", "QuarantineExtended", "QuarantineShortened", "Released", "Cancelled"}
)


def loads(state: bytes) -> dict[str, Json]:
    value = orjson.loads(state)
    assert isinstance(value, dict)
    return value


def dashed(hex32: str) -> str:
    """A UUID's canonical text from its 32 hex digits (uuid_hex; SQLite's originator_id)."""
    if len(hex32) != 32:
        return hex32  # already canonical (PostgreSQL's uuid::text)
    h = hex32.lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid(value: Json) -> str | None:
    return None if value is None else dashed(value["_data_"])


def text(value: Json) -> str | None:
    """A typed scalar as text: datetime_iso and date_iso are already ISO strings."""
    return None if value is None else str(value["_data_"])


def context(state: dict[str, Json]) -> tuple[str, str, str, str | None]:
    """(actor, role, where, occurred_at) of an event's `ctx`."""
    ctx = state["ctx"]["_data_"]
    return ctx["actor"], ctx["role"], ctx["where"], text(ctx["occurred_at"])


def recorded_at(state: dict[str, Json]) -> str:
    # The library stamps every event with the store-side time it was created (UTC).
    return str(state["timestamp"]["_data_"])


def plain(value: Json) -> Json:
    """Typed values as plain JSON (uuids canonical, times ISO), for summaries."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            if value["_type_"] == "uuid_hex":
                return dashed(value["_data_"])
            return plain(value["_data_"])
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def summary(event_name: str, state: dict[str, Json]) -> str:
    """The event's own non-personal fields, as JSON text, in the order the event has them."""
    fields = {}
    for name, value in state.items():
        if name in NOT_IN_SUMMARY or (name == "reason" and event_name in HEALTH_REASON_EVENTS):
            continue
        # Most fields are plain scalars: only containers need the (slower) walk.
        fields[name] = plain(value) if isinstance(value, dict | list) else value
    return orjson.dumps(fields).decode()
