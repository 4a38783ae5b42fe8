"""What a traveller may read about their own journey: their status, and a form pre-filled
from what we already hold (an upstream list, or their earlier trip).

These read the write model (the journey's own events), not the views: a traveller who has
just submitted the form must see their registration at once, whatever the projector's lag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.calendar import local_date
from domain.identity import IdentityRecord, identity_key, identity_record_id
from domain.party import TravelParty
from domain.site import Site
from domain.stages import Stage
from domain.transport import TransportRun
from tracking.application import TrackingApp
from tracking.records import quarantine_order

# What a returning traveller's next trip may reuse: who they are and how to reach them, not
# where they went, how they felt or where they stayed last time.
IDENTITY_FIELDS = ("name_native", "name_latin", "sex", "birth_date", "nationality", "phone")
# Health data is never sent back to a form, even to the same traveller.
NEVER_PREFILLED = ("symptoms", "temperature")


@dataclass(frozen=True)
class Prefill:
    """Details to show in the form. `open_journey` says whether the traveller is completing
    (or amending) a journey that already exists, rather than starting a new trip."""

    details: dict[str, Any]
    open_journey: bool
    pre_registered: bool


@dataclass(frozen=True)
class OrderTest:
    """A test day of the traveller's order: when it is due and whether it is done. Never
    the result: the traveller hears it from the medical staff."""

    day: int
    due_on: date | None
    done: bool


# The order's events as the traveller reads them.
CHANGE_KINDS = {
    "QuarantineStarted": "started",
    "QuarantineExtended": "extended",
    "QuarantineShortened": "shortened",
    "Released": "released",
}


@dataclass(frozen=True)
class OrderChange:
    """One decision on the order: `on` is the district's day it was made; `planned_end` is the
    end it set (None for a release) and `previous_end` the one it replaced."""

    kind: str  # one of CHANGE_KINDS' values
    on: date
    planned_end: date | None
    previous_end: date | None
    legal_basis: str
    decided_by: str
    reason: str
    early: bool = False


@dataclass(frozen=True)
class TravellerOrder:
    """The traveller's own quarantine order: it is their record, so they read the reasons
    of its changes too (staff at the hotel do not)."""

    starts_on: date | None
    planned_end: date
    legal_basis: str
    tests: tuple[OrderTest, ...]
    changes: tuple[OrderChange, ...]
    released_on: date | None
    # Still in force: neither released nor ended by a referral to hospital.
    running: bool = True


@dataclass(frozen=True)
class TravellerStatus:
    journey_id: UUID
    stage: str
    entry_point: str
    entry_point_name: str
    destination_kind: str | None
    destination_name: str
    destination_street_address: str
    room: str
    plate: str
    planned_end: date | None
    party_size: int
    name: str
    # Once the order has started, and only when asked for (it reads the journey's events).
    order: TravellerOrder | None = None


def prefill(
    app: TrackingApp, doc_type: str, country: str, number: str, birth_date: date
) -> Prefill | None:
    """The details we hold for this document, if the birth date matches them.

    The document number alone is a small space that others may know; the birth date is the
    second thing only the holder (or their passport) tells us. Both are on the data page.
    """
    key = identity_key(app.secret, doc_type, country, number)
    try:
        record: object = app.repository.get(identity_record_id(key))
    except AggregateNotFoundError:
        return None
    assert isinstance(record, IdentityRecord)
    journey = app.journey(record.latest_journey)
    details = app.personal_details(journey)
    if details.get("birth_date") != birth_date.isoformat():
        return None
    if journey.is_closed:
        kept = {k: details[k] for k in IDENTITY_FIELDS if k in details}
        return Prefill(kept, open_journey=False, pre_registered=False)
    kept = {k: v for k, v in details.items() if k not in NEVER_PREFILLED}
    return Prefill(
        kept, open_journey=True, pre_registered=not journey.confirmed_by_traveller
    )


def traveller_status(
    app: TrackingApp, journey_id: UUID, *, with_order: bool = False
) -> TravellerStatus:
    """`with_order`: also the quarantine order with its history (the traveller's own pages;
    a scanner at a handoff needs none of it)."""
    journey = app.journey(journey_id)
    details = app.personal_details(journey)
    destination_name = ""
    if journey.site_id is not None:
        site: object = app.repository.get(journey.site_id)
        assert isinstance(site, Site)
        destination_name = site.name
    plate = ""
    if journey.run_id is not None:
        run: object = app.repository.get(journey.run_id)
        assert isinstance(run, TransportRun)
        plate = run.plate
    party_size = 1
    if journey.party_id != journey.id:
        party: object = app.repository.get(journey.party_id)
        assert isinstance(party, TravelParty)
        party_size = len(party.members)
    return TravellerStatus(
        journey_id=journey.id,
        stage=journey.stage.value,
        entry_point=journey.entry_point,
        entry_point_name=app.entry_point(journey.entry_point).name,
        destination_kind=journey.destination_kind.value if journey.destination_kind else None,
        destination_name=destination_name,
        destination_street_address=str(details.get("destination_address", "")),
        room=journey.room,
        plate=plate,
        planned_end=journey.planned_end,
        party_size=party_size,
        name=_display_name(details),
        order=traveller_order(app, journey_id) if with_order and journey.planned_end else None,
    )


def traveller_order(app: TrackingApp, journey_id: UUID) -> TravellerOrder | None:
    """The order as the traveller may read it, None before it started."""
    found = quarantine_order(app, journey_id, with_reasons=True)
    if found is None:
        return None
    changes = tuple(
        OrderChange(
            kind=CHANGE_KINDS[c["event_type"]],
            on=_day_of(c),
            planned_end=_date(c.get("planned_end")),
            previous_end=_date(c.get("previous_end")),
            legal_basis=str(c.get("legal_basis") or ""),
            decided_by=str(c.get("decided_by") or ""),
            reason=str(c.get("reason") or ""),
            early=bool(c.get("early")),
        )
        for c in found["changes"]
        if c["event_type"] in CHANGE_KINDS
    )
    released = [c.on for c in changes if c.kind == "released"]
    end = _date(found["planned_end"])
    assert end is not None
    return TravellerOrder(
        starts_on=_date(found["starts_on"]),
        planned_end=end,
        legal_basis=str(found["legal_basis"] or ""),
        tests=tuple(
            OrderTest(day=int(t["day"]), due_on=_date(t["due_on"]), done=bool(t["recorded"]))
            for t in found["tests"]
        ),
        changes=changes,
        released_on=released[-1] if released else None,
        running=found["stage"] == Stage.UNDER_QUARANTINE.value,
    )


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _day_of(change: dict[str, Any]) -> date:
    """The district's day a decision was made: in the field if the device said so, else when
    it was recorded."""
    for key in ("occurred_at", "recorded_at"):
        if change.get(key):
            moment = datetime.fromisoformat(change[key])
            if moment.tzinfo is not None:
                return local_date(moment)
    return local_date(datetime.fromisoformat(change["recorded_at"]).astimezone())


def name_of(app: TrackingApp, journey_id: UUID) -> str:
    """The name a traveller's family sees next to their code (no run, site or party reads)."""
    return _display_name(app.personal_details(app.journey(journey_id)))


def _display_name(details: dict[str, Any]) -> str:
    return str(details.get("name_native") or details.get("name_latin") or "")


def party_journeys(app: TrackingApp, journey_id: UUID) -> list[UUID]:
    """The journeys registered together with this one, this one first."""
    journey = app.journey(journey_id)
    if journey.party_id == journey.id:
        return [journey.id]
    party: object = app.repository.get(journey.party_id)
    assert isinstance(party, TravelParty)
    return [journey.id, *(m for m in party.members if m != journey.id)]
