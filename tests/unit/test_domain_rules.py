"""The rules of the door-to-door line (DESIGN.md §3), one example at a time.

Pure domain only: aggregates are constructed directly, nothing is stored, nothing is read from
the clock except the events' own timestamps. Each test says which rule it guards; those whose
docstring starts with "Regression" guard defects found while writing these tests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, CanMutateAggregate

from domain import custody
from domain.context import Context
from domain.errors import CapacityExhausted, InvalidInput, RuleBroken
from domain.identity import (
    IdentityRecord,
    identity_key,
    identity_record_id,
    normalise_document,
)
from domain.journey import Journey
from domain.party import MAX_PARTY_SIZE, TravelParty
from domain.quarantine import OrderDecision
from domain.site import FREE, HELD, OCCUPIED, Site
from domain.stages import LINE, DestinationKind, RiskLevel, ScanOutcome, Stage
from domain.transport import ARRIVED, BOARDING, CLOSED, DEPARTED, TransportRun, Vehicle

ENTRY = "CAN-T2"
SECRET = b"\x01" * 32
NOW = datetime(2020, 3, 28, 9, 30, tzinfo=UTC)
DECISION = OrderDecision("14 days completed", "district notice 2020-12", "commander Li")


def open_nothing(sealed: str) -> dict[str, Any]:
    raise AssertionError("an order without tests has no result to open")


# -- builders -------------------------------------------------------------------------------


def SEAL(findings: dict[str, Any]) -> str:
    """Stands in for the vault: tests see the findings, the event holds only this string."""
    return "sealed:" + json.dumps(findings, sort_keys=True)


def ctx(actor: str = "desk-1", role: str = "screener", where: str = ENTRY) -> Context:
    return Context(command_id=uuid4(), actor=actor, role=role, where=where, occurred_at=NOW)


def drain(*aggregates: Aggregate) -> list[Any]:
    """All pending events of the given aggregates (and forget them, as a save would)."""
    return [e for a in aggregates for e in a.collect_events()]


def registered(party_id: UUID | None = None, number: str = "E12345678") -> Journey:
    journey_id = uuid4()
    journey = Journey.register(
        journey_id,
        identity_key(SECRET, "passport", "CHN", number),
        party_id or journey_id,
        ENTRY,
        "v1:sealed",
        ctx(),
    )
    drain(journey)
    return journey


def screened(party_id: UUID | None = None) -> Journey:
    journey = registered(party_id)
    journey.screen(RiskLevel.LOW, 36.6, False, False, ctx(), SEAL)
    drain(journey)
    return journey


def hotel(rooms: Sequence[str] = ("101", "102")) -> Site:
    site = Site.register("H-01", "Liwan Hotel", DestinationKind.HOTEL, list(rooms))
    drain(site)
    return site


def street(capacity: int = 2) -> Site:
    site = Site.register("ST-01", "Shamian", DestinationKind.HOME, [], capacity)
    drain(site)
    return site


def run_of(seats: int = 3, plate: str = "YUE-A-0001") -> TransportRun:
    vehicle = Vehicle.register(plate, seats)
    run = TransportRun.plan(vehicle, "escort-1", ENTRY)
    drain(vehicle, run)
    return run


def with_destination(journey: Journey, site: Site) -> Journey:
    room = site.hold(journey.party_id)
    journey.assign_destination(
        site.kind, site.id, room if site.kind is DestinationKind.HOTEL else "", ctx()
    )
    drain(journey, site)
    return journey


def seated(site: Site | None = None, run: TransportRun | None = None) -> tuple[
    Journey, Site, TransportRun
]:
    site = site or hotel()
    run = run or run_of()
    journey = with_destination(screened(), site)
    seats = run.assign_seats([journey.id])
    journey.assign_seat(run.id, seats[journey.id], ctx())
    drain(journey, run)
    return journey, site, run


def boarded() -> tuple[Journey, Site, TransportRun]:
    journey, site, run = seated()
    assert journey.board(run.id, "scan-board", ctx("escort-1", "escort")) is ScanOutcome.ACCEPTED
    run.record_boarding(journey.id)
    drain(journey, run)
    return journey, site, run


def arrived() -> tuple[Journey, Site, TransportRun]:
    journey, site, run = boarded()
    run.depart()
    journey.depart(run.id, ctx("escort-1", "escort"))
    run.arrive()
    journey.arrive(run.id, ctx("escort-1", "escort"))
    drain(journey, run)
    return journey, site, run


def checked_in() -> tuple[Journey, Site, TransportRun]:
    journey, site, run = arrived()
    assert journey.check_in(site.id, "scan-door", ctx("hotel-1", "receiver")) is (
        ScanOutcome.ACCEPTED
    )
    drain(journey)
    return journey, site, run


def stage_of(journey: Journey) -> Stage:
    """The stage, read without letting the type checker pin it (it changes under its feet)."""
    return journey.stage


def custody_of(journey: Journey) -> tuple[str | None, str | None]:
    """(custodian, standing offer)."""
    return journey.custodian, journey.offered_to


def full_width(text: str) -> str:
    """The text as a Chinese IME types it: full-width letters and digits (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def replay(events: Sequence[CanMutateAggregate[UUID]]) -> Aggregate:
    """The aggregate rebuilt from its events alone: the created event, then each in turn."""
    aggregate: Aggregate | None = None
    for e in events:
        aggregate = e.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def names(events: Sequence[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def assert_handoffs_offered(events: Sequence[Any], standing: str | None = None) -> None:
    """Every acceptance of custody (after the desk's, which screening takes) answers an offer
    to that very custodian that is still standing: not withdrawn, not superseded. `standing`:
    the offer standing before the first of `events`."""
    for e in events:
        if isinstance(e, Journey.CustodyOffered):
            standing = e.offered_to
        elif isinstance(e, Journey.CustodyOfferWithdrawn):
            standing = None
        elif isinstance(e, Journey.CustodyAccepted):
            assert standing == e.custodian, (
                f"custody accepted by {e.custodian!r} but the standing offer was to {standing!r}"
            )
            standing = None


# -- stage order ----------------------------------------------------------------------------

StepCommand = Callable[[Journey, TransportRun, Site], object]
WRONG_STAGE_COMMANDS: dict[str, StepCommand] = {
    "screen": lambda j, r, s: j.screen(RiskLevel.LOW, 36.6, False, False, ctx(), SEAL),
    "assign_destination": lambda j, r, s: j.assign_destination(
        DestinationKind.HOTEL, s.id, "101", ctx()
    ),
    "assign_seat": lambda j, r, s: j.assign_seat(r.id, 1, ctx()),
    "board": lambda j, r, s: j.board(r.id, f"scan-{uuid4()}", ctx()),
    "depart": lambda j, r, s: j.depart(r.id, ctx()),
    "arrive": lambda j, r, s: j.arrive(r.id, ctx()),
    "check_in": lambda j, r, s: j.check_in(s.id, f"scan-{uuid4()}", ctx()),
    "start_quarantine": lambda j, r, s: j.start_quarantine(NOW.date() + timedelta(14), ctx()),
    "release": lambda j, r, s: j.release(DECISION, NOW.date(), ctx(), open_nothing, SEAL),
}
# The stage each command needs; every other stage must refuse it.
NEEDS = {
    "screen": Stage.REGISTERED,
    "assign_destination": Stage.SCREENED,
    "assign_seat": Stage.DESTINATION_ASSIGNED,
    "board": Stage.SEAT_ASSIGNED,
    "depart": Stage.BOARDED,
    "arrive": Stage.IN_TRANSIT,
    "check_in": Stage.ARRIVED,
    "start_quarantine": Stage.CHECKED_IN,
    "release": Stage.UNDER_QUARANTINE,
}


def journey_at(stage: Stage) -> tuple[Journey, Site, TransportRun]:
    """A journey walked along the line (with its site and run) until it reaches `stage`."""
    site, run = hotel(), run_of()
    journey = registered()
    steps: list[Callable[[], object]] = [
        lambda: journey.screen(RiskLevel.LOW, 36.6, False, False, ctx(), SEAL),
        lambda: journey.assign_destination(
            DestinationKind.HOTEL, site.id, site.hold(journey.party_id), ctx()
        ),
        lambda: journey.assign_seat(run.id, run.assign_seats([journey.id])[journey.id], ctx()),
        lambda: journey.board(run.id, "scan-1", ctx()),
        lambda: journey.depart(run.id, ctx()),
        lambda: journey.arrive(run.id, ctx()),
        lambda: journey.check_in(site.id, "scan-2", ctx()),
        lambda: journey.start_quarantine(NOW.date() + timedelta(14), ctx()),
        lambda: journey.release(DECISION, NOW.date(), ctx(), open_nothing, SEAL),
    ]
    for step in steps[: LINE.index(stage)]:
        step()
    assert journey.stage is stage
    drain(journey, site, run)
    return journey, site, run


@pytest.mark.parametrize("command", sorted(NEEDS))
@pytest.mark.parametrize("stage", LINE, ids=lambda s: s.value)
def test_each_step_needs_the_stage_before_it(command: str, stage: Stage) -> None:
    journey, site, run = journey_at(stage)
    if stage is NEEDS[command]:
        WRONG_STAGE_COMMANDS[command](journey, run, site)
        assert journey.stage.rank == stage.rank + 1
        return
    before = journey.state()
    with pytest.raises(RuleBroken, match="cannot"):
        WRONG_STAGE_COMMANDS[command](journey, run, site)
    assert drain(journey) == []
    assert journey.state() == before


def test_cannot_board_before_a_seat_is_assigned() -> None:
    journey = with_destination(screened(), hotel())
    run = run_of()
    with pytest.raises(RuleBroken, match="cannot board"):
        journey.board(run.id, "scan-1", ctx())
    assert journey.stage is Stage.DESTINATION_ASSIGNED
    assert journey.custodian == custody.desk(ENTRY)
    assert "scan-1" not in journey.seen_scans  # a refused scan can be retried
    assert drain(journey) == []


def test_cannot_check_in_before_arrival() -> None:
    journey, site, run = boarded()
    with pytest.raises(RuleBroken, match="cannot check in"):
        journey.check_in(site.id, "scan-door", ctx())
    run.depart()
    journey.depart(run.id, ctx())
    with pytest.raises(RuleBroken, match="cannot check in"):
        journey.check_in(site.id, "scan-door", ctx())
    assert journey.stage is Stage.IN_TRANSIT
    assert journey.custodian == custody.escort(run.id)


def test_depart_and_arrive_only_on_the_travellers_own_run() -> None:
    journey, _, run = boarded()
    other = run_of(plate="YUE-A-0002")
    with pytest.raises(RuleBroken, match="not on this vehicle run"):
        journey.depart(other.id, ctx())
    journey.depart(run.id, ctx())
    with pytest.raises(RuleBroken, match="not on this vehicle run"):
        journey.arrive(other.id, ctx())
    assert journey.stage is Stage.IN_TRANSIT


def test_the_whole_line_in_order_with_custody_at_each_leg() -> None:
    site, run = hotel(), run_of()
    journey = Journey.register(uuid4(), "key", uuid4(), ENTRY, "v1:sealed", ctx())
    desk, escort, receiver = custody.desk(ENTRY), custody.escort(run.id), custody.receiver(site.id)
    assert custody_of(journey) == (None, None)

    journey.screen(RiskLevel.MEDIUM, 37.2, False, True, ctx(), SEAL)
    assert stage_of(journey) is Stage.SCREENED
    assert custody_of(journey) == (desk, None)

    room = site.hold(journey.party_id)
    journey.assign_destination(DestinationKind.HOTEL, site.id, room, ctx("disp", "dispatcher"))
    journey.assign_seat(run.id, run.assign_seats([journey.id])[journey.id], ctx())
    assert custody_of(journey) == (desk, escort)  # an offer is not yet a handoff

    assert journey.board(run.id, "scan-1", ctx("esc", "escort")) is ScanOutcome.ACCEPTED
    run.record_boarding(journey.id)
    assert custody_of(journey) == (escort, None)

    run.depart()
    journey.depart(run.id, ctx())
    run.arrive()
    journey.arrive(run.id, ctx())
    assert custody_of(journey) == (escort, receiver)

    assert journey.check_in(site.id, "scan-2", ctx("rcv", "receiver")) is ScanOutcome.ACCEPTED
    site.occupy(journey.party_id)
    assert run.record_handover(journey.id) is True
    assert custody_of(journey) == (receiver, None)
    assert journey.room == room
    assert site.rooms[room] == OCCUPIED
    assert run.status == CLOSED

    journey.start_quarantine(NOW.date() + timedelta(days=14), ctx())
    journey.release(DECISION, NOW.date() + timedelta(days=14), ctx(), open_nothing, SEAL)
    assert stage_of(journey) is Stage.RELEASED
    assert journey.is_closed
    assert custody_of(journey) == (None, None)

    events = drain(journey)
    assert names(events) == [
        "Registered", "Screened", "DestinationAssigned", "SeatAssigned", "CustodyOffered",
        "CustodyAccepted", "Boarded", "Departed", "Arrived", "CustodyOffered",
        "CustodyAccepted", "CheckedIn", "QuarantineStarted", "Released",
    ]
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    assert_handoffs_offered(events)
    assert replay(events) == journey


def test_every_event_after_registration_carries_its_context() -> None:
    journey, *_ = checked_in()
    c = ctx("hotel-9", "receiver", "H-01")
    journey.start_quarantine(NOW.date() + timedelta(days=14), c)
    (event,) = drain(journey)
    assert event.ctx == c
    assert event.ctx.occurred_at == NOW  # device time is data, kept as given


def test_screening_refuses_a_temperature_that_is_not_a_body_temperature() -> None:
    journey = registered()
    for bad in (29.9, 45.1, -1.0):
        with pytest.raises(InvalidInput, match="body temperature"):
            journey.screen(RiskLevel.LOW, bad, False, False, ctx(), SEAL)
    assert journey.stage is Stage.REGISTERED
    journey.screen(RiskLevel.HIGH, None, True, True, ctx(), SEAL)
    assert journey.risk is RiskLevel.HIGH


def test_hotel_destination_needs_a_room_and_home_has_none() -> None:
    journey = screened()
    with pytest.raises(InvalidInput):
        journey.assign_destination(DestinationKind.HOTEL, uuid4(), "", ctx())
    with pytest.raises(InvalidInput):
        journey.assign_destination(DestinationKind.HOME, uuid4(), "101", ctx())
    assert journey.stage is Stage.SCREENED


def test_quarantine_must_end_after_it_starts() -> None:
    journey, *_ = checked_in()
    for planned_end in (NOW.date(), NOW.date() - timedelta(days=1)):
        with pytest.raises(InvalidInput, match="after its start"):
            journey.start_quarantine(planned_end, ctx())
    assert journey.stage is Stage.CHECKED_IN


def test_amend_records_changed_fields_and_nothing_when_nothing_changed() -> None:
    journey = registered()
    assert journey.amend("v1:other", [], ctx()) is False
    assert drain(journey) == []
    assert journey.amend("v1:other", ["phone", "address"], ctx()) is True
    (event,) = drain(journey)
    assert isinstance(event, Journey.Amended)
    assert event.changed_fields == ["address", "phone"]
    assert journey.personal == "v1:other"


# -- corrections need a reason ------------------------------------------------------------------

BLANK_REASONS = ["", "   ", "\t\n"]


@pytest.mark.parametrize("reason", BLANK_REASONS)
def test_withdrawing_a_destination_needs_a_reason(reason: str) -> None:
    journey = with_destination(screened(), hotel())
    with pytest.raises(InvalidInput, match="reason"):
        journey.withdraw_destination(reason, ctx())
    assert journey.stage is Stage.DESTINATION_ASSIGNED
    assert drain(journey) == []


@pytest.mark.parametrize("reason", BLANK_REASONS)
def test_withdrawing_a_seat_needs_a_reason(reason: str) -> None:
    journey, _, _ = seated()
    with pytest.raises(InvalidInput, match="reason"):
        journey.withdraw_seat(reason, ctx())
    assert journey.stage is Stage.SEAT_ASSIGNED
    assert journey.run_id is not None


@pytest.mark.parametrize("reason", BLANK_REASONS)
def test_a_refused_seat_withdrawal_leaves_no_trace(reason: str) -> None:
    """Regression (fixed in c5e56b2): ``withdraw_seat`` recorded ``CustodyOfferWithdrawn`` before
    it checked the reason, so a refused withdrawal left a seated journey with no offer to its
    escort and a pending event that any caller keeping the object (a batch retry) would save."""
    journey, _, run = seated()
    before = journey.state()
    with pytest.raises(InvalidInput, match="reason"):
        journey.withdraw_seat(reason, ctx())
    assert drain(journey) == []
    assert journey.state() == before
    assert journey.offered_to == custody.escort(run.id)  # the escort's offer still stands


@pytest.mark.parametrize("reason", BLANK_REASONS)
def test_cancelling_and_referring_need_a_reason(reason: str) -> None:
    journey = screened()
    with pytest.raises(InvalidInput, match="reason"):
        journey.cancel(reason, ctx(), SEAL)
    with pytest.raises(InvalidInput, match="reason"):
        journey.refer_to_hospital(reason, ctx(), SEAL)
    assert journey.stage is Stage.SCREENED
    assert drain(journey) == []


def test_withdrawals_go_back_one_step_as_their_own_events_with_the_reason() -> None:
    journey, _, _ = seated()
    journey.withdraw_seat("  vehicle broke down ", ctx())
    assert stage_of(journey) is Stage.DESTINATION_ASSIGNED
    assert (journey.run_id, journey.seat, journey.offered_to) == (None, None, None)
    assert journey.custodian == custody.desk(ENTRY)
    journey.withdraw_destination("room flooded", ctx())
    assert journey.stage is Stage.SCREENED
    assert (journey.site_id, journey.room, journey.destination_kind) == (None, "", None)
    events = drain(journey)
    assert names(events) == ["CustodyOfferWithdrawn", "SeatWithdrawn", "DestinationWithdrawn"]
    assert events[1].reason == "vehicle broke down"
    assert events[2].reason == "room flooded"


# -- exits ------------------------------------------------------------------------------------

BEFORE_CAR_DOOR = LINE[: LINE.index(Stage.BOARDED)]
AFTER_CAR_DOOR = LINE[LINE.index(Stage.BOARDED) : LINE.index(Stage.RELEASED)]


@pytest.mark.parametrize("stage", BEFORE_CAR_DOOR, ids=lambda s: s.value)
def test_cancel_and_no_show_are_possible_before_the_car_door(stage: Stage) -> None:
    for close in ("cancel", "no_show"):
        journey, _, _ = journey_at(stage)
        if close == "cancel":
            journey.cancel("flight diverted", ctx(), SEAL)
        else:
            journey.mark_no_show(ctx())
        assert journey.is_closed
        assert (journey.custodian, journey.offered_to) == (None, None)


@pytest.mark.parametrize("stage", AFTER_CAR_DOOR, ids=lambda s: s.value)
def test_after_the_car_door_only_the_hospital_exit_remains(stage: Stage) -> None:
    journey, _, _ = journey_at(stage)
    holder = journey.custodian
    with pytest.raises(RuleBroken, match="cannot cancel"):
        journey.cancel("changed mind", ctx(), SEAL)
    with pytest.raises(RuleBroken, match="cannot mark no-show"):
        journey.mark_no_show(ctx())
    assert (journey.stage, journey.custodian) == (stage, holder)
    journey.refer_to_hospital("fever 39.1", ctx(), SEAL)
    assert journey.stage is Stage.REFERRED_TO_HOSPITAL
    assert journey.custodian == custody.HOSPITAL
    assert journey.offered_to is None


def test_a_closed_journey_refuses_every_further_step() -> None:
    closes: list[Callable[[Journey], object]] = [
        lambda j: j.cancel("duplicate booking", ctx(), SEAL),
        lambda j: j.mark_no_show(ctx()),
        lambda j: j.refer_to_hospital("fever", ctx(), SEAL),
    ]
    attempts: list[Callable[[Journey], object]] = [
        lambda j: j.amend("v1:x", ["phone"], ctx()),
            lambda j: j.screen(RiskLevel.LOW, None, False, False, ctx(), SEAL),
            lambda j: j.assign_destination(DestinationKind.HOME, uuid4(), "", ctx()),
            lambda j: j.cancel("again", ctx(), SEAL),
            lambda j: j.mark_no_show(ctx()),
            lambda j: j.refer_to_hospital("again", ctx(), SEAL),
        lambda j: j.offer_custody("desk:LW-RC", ctx()),
        lambda j: j.accept_custody("desk:LW-RC", ctx()),
    ]
    for close in closes:
        journey = screened()
        close(journey)
        drain(journey)
        for attempt in attempts:
            with pytest.raises(RuleBroken):
                attempt(journey)
        assert drain(journey) == []


def test_survey_is_refused_only_for_journeys_that_never_started() -> None:
    journey = screened()
    journey.refer_to_hospital("fever", ctx(), SEAL)
    journey.record_survey(RiskLevel.HIGH, "v1:answers", ctx("survey-1", "surveyor"))
    assert journey.survey_risk is RiskLevel.HIGH
    cancelled = screened()
    cancelled.cancel("flight cancelled", ctx(), SEAL)
    with pytest.raises(RuleBroken):
        cancelled.record_survey(RiskLevel.LOW, "v1:answers", ctx())


# -- sites: one party per room -------------------------------------------------------------------


def test_a_room_is_held_by_one_party_at_a_time() -> None:
    site = hotel(("101", "102"))
    family, stranger, third = uuid4(), uuid4(), uuid4()
    assert site.hold(family, "101") == "101"
    with pytest.raises(CapacityExhausted, match="already taken"):
        site.hold(stranger, "101")
    assert site.holder == {"101": family}
    assert site.hold(stranger) == "102"  # the next free room
    with pytest.raises(CapacityExhausted, match="no free room"):
        site.hold(third)
    assert site.counts == {FREE: 0, HELD: 2, OCCUPIED: 0}
    assert names(drain(site)) == ["RoomHeld", "RoomHeld"]


def test_holding_again_for_the_same_party_is_idempotent() -> None:
    site = hotel(("101", "102"))
    family = uuid4()
    assert site.hold(family, "101") == "101"
    drain(site)
    version = site.version
    assert site.hold(family, "101") == "101"
    assert site.hold(family, "102") == "101"  # whatever room is asked: it keeps its own
    assert site.hold(family) == "101"
    assert drain(site) == []
    assert site.version == version
    assert site.rooms == {"101": HELD, "102": FREE}


def test_an_unknown_room_is_invalid_input() -> None:
    site = hotel(("101",))
    with pytest.raises(InvalidInput, match="no room 999"):
        site.hold(uuid4(), "999")
    assert drain(site) == []


def test_releasing_frees_the_room_for_another_party() -> None:
    site = hotel(("101",))
    family, stranger = uuid4(), uuid4()
    site.hold(family)
    site.occupy(family)
    assert site.rooms["101"] == OCCUPIED
    site.release(stranger, "not theirs")  # a party that holds nothing releases nothing
    assert site.rooms["101"] == OCCUPIED
    site.release(family, "released from quarantine")
    assert site.rooms == {"101": FREE}
    assert (site.holder, site.room_of) == ({}, {})
    assert site.hold(stranger) == "101"
    assert names(drain(site)) == ["RoomHeld", "RoomOccupied", "RoomReleased", "RoomHeld"]


def test_occupying_needs_a_hold_and_happens_once() -> None:
    site = hotel(("101",))
    with pytest.raises(RuleBroken, match="holds no room"):
        site.occupy(uuid4())
    family = uuid4()
    site.hold(family)
    site.occupy(family)
    site.occupy(family)
    assert names(drain(site)) == ["RoomHeld", "RoomOccupied"]


def test_street_capacity_is_a_number_of_households() -> None:
    site = street(capacity=2)
    assert site.kind is DestinationKind.HOME
    a, b, c = uuid4(), uuid4(), uuid4()
    place_a, place_b = site.hold(a), site.hold(b)
    assert place_a != place_b
    with pytest.raises(CapacityExhausted):
        site.hold(c)
    site.release(a, "withdrawn")
    assert site.hold(c) == place_a
    assert site.counts[FREE] == 0


@pytest.mark.parametrize(
    ("kind", "rooms", "capacity"),
    [
        (DestinationKind.HOTEL, [], 0),
        (DestinationKind.HOTEL, ["101", "101"], 0),
        (DestinationKind.HOME, ["1"], 2),
        (DestinationKind.HOME, [], 0),
    ],
)
def test_site_registration_is_checked(
    kind: DestinationKind, rooms: list[str], capacity: int
) -> None:
    with pytest.raises(InvalidInput):
        Site.register("X-1", "Somewhere", kind, rooms, capacity)


# -- runs: seats for a whole party, departure only when everyone boarded ------------------------


def test_a_run_seats_a_whole_party_or_none_of_it() -> None:
    run = run_of(seats=3)
    family = [uuid4(), uuid4()]
    assert run.assign_seats(family) == {family[0]: 1, family[1]: 2}
    drain(run)
    other_family = [uuid4(), uuid4()]
    with pytest.raises(CapacityExhausted, match="1 free seats, the party needs 2"):
        run.assign_seats(other_family)
    assert drain(run) == []
    assert set(run.seat_of) == set(family)
    solo = uuid4()
    assert run.assign_seats([solo]) == {solo: 3}


def test_seating_an_already_seated_party_again_gives_the_same_seats() -> None:
    run = run_of(seats=2)
    family = [uuid4(), uuid4()]
    first = run.assign_seats(family)
    drain(run)
    assert run.assign_seats(family) == first
    assert drain(run) == []


def test_departure_is_refused_while_a_seated_traveller_has_not_boarded() -> None:
    run = run_of(seats=3)
    a, b = uuid4(), uuid4()
    run.assign_seats([a, b])
    with pytest.raises(RuleBroken, match="nobody on board"):
        run.depart()
    run.record_boarding(a)
    assert run.status == BOARDING
    with pytest.raises(RuleBroken, match="1 seated traveller"):
        run.depart()
    assert run.status == BOARDING
    run.release_seat(a, "boarded travellers keep their seat")  # ignored: a is on board
    run.release_seat(b, "stayed behind for a retest")
    run.depart()
    assert run.status == DEPARTED
    assert run.seat_of == {a: 1}


def test_a_run_takes_no_passengers_after_departure_and_arrives_once() -> None:
    run = run_of(seats=3)
    a = uuid4()
    run.assign_seats([a])
    run.record_boarding(a)
    with pytest.raises(RuleBroken, match="cannot arrive"):
        run.arrive()
    run.depart()
    with pytest.raises(RuleBroken, match="takes no more passengers"):
        run.assign_seats([uuid4()])
    with pytest.raises(RuleBroken, match="cannot depart"):
        run.depart()
    run.arrive()
    assert run.status == ARRIVED
    with pytest.raises(RuleBroken):
        run.arrive()


def test_boarding_needs_a_seat_and_handover_needs_arrival() -> None:
    run = run_of(seats=2)
    with pytest.raises(RuleBroken, match="holds no seat"):
        run.record_boarding(uuid4())
    a, b = uuid4(), uuid4()
    run.assign_seats([a, b])
    run.record_boarding(a)
    run.record_boarding(a)
    run.record_boarding(b)
    assert names(drain(run)) == ["SeatAssigned", "SeatAssigned", "PassengerBoarded",
                                 "PassengerBoarded"]
    with pytest.raises(RuleBroken, match="after the vehicle arrived"):
        run.record_handover(a)
    run.depart()
    run.arrive()
    with pytest.raises(RuleBroken, match="not on this run"):
        run.record_handover(uuid4())
    assert run.record_handover(a) is False
    assert run.record_handover(a) is False
    assert run.record_handover(b) is True
    assert run.status == CLOSED


def test_a_passenger_who_left_for_hospital_does_not_hold_the_run() -> None:
    run = run_of(seats=3)
    sick, well = uuid4(), uuid4()
    run.assign_seats([sick, well])
    run.record_boarding(sick)
    run.record_boarding(well)
    assert run.record_exit(sick, "fever at the car door") is False
    assert run.record_exit(sick, "again") is False  # once
    assert run.on_board == {well}
    run.depart()
    assert run.arrive() is False  # somebody is still to be handed over
    assert run.record_handover(well) is True
    assert run.status == CLOSED
    assert names(drain(run)).count("PassengerLeft") == 1


def test_an_arrived_run_with_nobody_left_on_board_closes_at_once() -> None:
    run = run_of(seats=2)
    a = uuid4()
    run.assign_seats([a])
    run.record_boarding(a)
    run.depart()
    run.record_exit(a, "collapsed in the vehicle")
    assert run.arrive() is True
    assert run.status == CLOSED
    with pytest.raises(RuleBroken):
        run.record_handover(a)  # nobody to hand over at a door


def test_a_vehicle_drives_one_run_at_a_time() -> None:
    vehicle = Vehicle.register("YUE-A-0009", 12)
    first = TransportRun.plan(vehicle, "escort-1", ENTRY)
    vehicle.assign_run(first.id)
    second = TransportRun.plan(vehicle, "escort-2", ENTRY)
    with pytest.raises(RuleBroken, match="already on a trip"):
        vehicle.assign_run(second.id)
    vehicle.finish_run(second.id)  # not its run: ignored
    assert vehicle.active_run == first.id
    vehicle.finish_run(first.id)
    vehicle.assign_run(second.id)
    assert vehicle.active_run == second.id


def test_vehicle_and_run_inputs_are_checked() -> None:
    for seats in (0, 81):
        with pytest.raises(InvalidInput):
            Vehicle.register("YUE-A-0001", seats)
    with pytest.raises(InvalidInput):
        Vehicle.register("   ", 4)
    with pytest.raises(InvalidInput, match="escort"):
        TransportRun.plan(Vehicle.register("YUE-A-0001", 4), "  ", ENTRY)


# -- scans: misdirected and duplicate -----------------------------------------------------------


def test_misdirected_boarding_is_recorded_and_not_accepted() -> None:
    journey, _, run = seated()
    wrong = run_of(plate="YUE-A-0002")
    before = journey.state()
    outcome = journey.board(wrong.id, "scan-7", ctx("escort-2", "escort"))
    assert outcome is ScanOutcome.MISDIRECTED
    (event,) = drain(journey)
    assert isinstance(event, Journey.MisdirectedScanRecorded)
    assert (event.handoff, event.expected, event.scanned_at, event.scan_id) == (
        "boarding", str(run.id), str(wrong.id), "scan-7"
    )
    assert journey.stage is Stage.SEAT_ASSIGNED
    assert journey.custodian == custody.desk(ENTRY)
    assert journey.offered_to == custody.escort(run.id)  # the right escort's offer stands
    after = journey.state()
    assert after.pop("seen_scans") == {"scan-7"}
    assert after.pop("version") == before.pop("version") + 1
    before.pop("seen_scans")
    assert after == before
    # the right vehicle can still take the traveller, with a new scan
    assert journey.board(run.id, "scan-8", ctx()) is ScanOutcome.ACCEPTED


def test_misdirected_check_in_is_recorded_and_not_accepted() -> None:
    journey, site, run = arrived()
    wrong = Site.register("H-02", "Other Hotel", DestinationKind.HOTEL, ["201"])
    outcome = journey.check_in(wrong.id, "scan-9", ctx("hotel-2", "receiver"))
    assert outcome is ScanOutcome.MISDIRECTED
    (event,) = drain(journey)
    assert isinstance(event, Journey.MisdirectedScanRecorded)
    assert (event.handoff, event.expected, event.scanned_at) == (
        "check-in", str(site.id), str(wrong.id)
    )
    assert journey.stage is Stage.ARRIVED
    assert journey.custodian == custody.escort(run.id)
    assert journey.offered_to == custody.receiver(site.id)


def test_a_duplicate_boarding_scan_has_one_effect() -> None:
    journey, _, run = seated()
    assert journey.board(run.id, "scan-1", ctx()) is ScanOutcome.ACCEPTED
    drain(journey)
    state = journey.state()
    assert journey.board(run.id, "scan-1", ctx()) is ScanOutcome.DUPLICATE
    assert drain(journey) == []
    assert journey.state() == state
    # a new scan of a traveller already on board is not a second boarding
    with pytest.raises(RuleBroken, match="cannot board"):
        journey.board(run.id, "scan-2", ctx())


def test_a_replayed_misdirected_scan_is_a_duplicate_too() -> None:
    journey, _, _ = seated()
    wrong = run_of(plate="YUE-A-0002")
    assert journey.board(wrong.id, "scan-1", ctx()) is ScanOutcome.MISDIRECTED
    drain(journey)
    assert journey.board(wrong.id, "scan-1", ctx()) is ScanOutcome.DUPLICATE
    assert drain(journey) == []


def test_a_duplicate_check_in_scan_has_one_effect() -> None:
    journey, site, _ = arrived()
    assert journey.check_in(site.id, "door-1", ctx()) is ScanOutcome.ACCEPTED
    drain(journey)
    version = journey.version
    assert journey.check_in(site.id, "door-1", ctx()) is ScanOutcome.DUPLICATE
    assert drain(journey) == []
    assert journey.version == version
    assert journey.stage is Stage.CHECKED_IN


# -- custody --------------------------------------------------------------------------------


def test_nobody_holds_custody_before_screening_so_nobody_can_offer_it() -> None:
    journey = registered()
    with pytest.raises(RuleBroken, match="nobody holds custody"):
        journey.offer_custody("escort:someone", ctx())


def test_custody_is_not_offered_to_its_holder() -> None:
    journey = screened()
    with pytest.raises(RuleBroken, match="current holder"):
        journey.offer_custody(custody.desk(ENTRY), ctx())


def test_custody_is_accepted_only_by_whom_it_was_offered_to() -> None:
    journey = screened()
    with pytest.raises(RuleBroken, match="not offered"):
        journey.accept_custody("desk:LW-RC", ctx())
    journey.offer_custody("desk:LW-RC", ctx())
    journey.offer_custody("desk:LW-RC2", ctx())  # supersedes the first offer
    with pytest.raises(RuleBroken, match="not offered"):
        journey.accept_custody("desk:LW-RC", ctx())
    assert journey.custodian == custody.desk(ENTRY)
    journey.accept_custody("desk:LW-RC2", ctx())
    assert (journey.custodian, journey.offered_to) == ("desk:LW-RC2", None)
    events = drain(journey)
    assert names(events) == [
        "CustodyOffered", "CustodyOfferWithdrawn", "CustodyOffered", "CustodyAccepted"
    ]
    assert events[0].offered_by == custody.desk(ENTRY)
    with pytest.raises(RuleBroken, match="not offered"):
        journey.accept_custody("desk:LW-RC2", ctx())  # an accepted offer is spent
    assert_handoffs_offered(events)


def test_withdrawing_the_seat_withdraws_the_offer_to_the_escort() -> None:
    journey, _, run = seated()
    journey.withdraw_seat("wrong vehicle", ctx())
    with pytest.raises(RuleBroken, match="not offered"):
        journey.accept_custody(custody.escort(run.id), ctx("escort-1", "escort"))
    assert journey.custodian == custody.desk(ENTRY)


def test_closing_a_journey_ends_custody_except_at_the_hospital() -> None:
    journey, _, _ = seated()
    journey.cancel("flight missed", ctx(), SEAL)
    assert (journey.custodian, journey.offered_to) == (None, None)
    in_transit, _, _ = boarded()
    in_transit.refer_to_hospital("fever", ctx(), SEAL)
    assert in_transit.custodian == custody.HOSPITAL


def test_a_traveller_referred_before_screening_is_the_hospitals() -> None:
    journey = registered()
    journey.refer_to_hospital("collapsed in the hall", ctx(), SEAL)
    assert journey.custodian == custody.HOSPITAL


@pytest.mark.parametrize("nobody", ["", "   "])
def test_custody_cannot_be_handed_to_nobody(nobody: str) -> None:
    """Regression (fixed in c5e56b2): ``offer_custody("")`` then ``accept_custody("")`` left an
    open journey whose accountable custodian was the empty string."""
    journey = screened()
    with pytest.raises(InvalidInput):
        journey.offer_custody(nobody, ctx())
    with pytest.raises(RuleBroken):
        journey.accept_custody(nobody, ctx())
    assert journey.custodian is not None
    assert journey.custodian.strip(), f"custody was handed to {journey.custodian!r}"


def test_boarding_takes_custody_only_if_it_was_offered_to_the_escort() -> None:
    """Regression (fixed in c5e56b2): after the desk handed the traveller to somebody else
    (offer + accept), the car-door scan moved custody to the run's escort without any offer."""
    journey, _, run = seated()
    journey.offer_custody("escort:relief-team", ctx())
    journey.accept_custody("escort:relief-team", ctx("relief-1", "escort"))
    with pytest.raises(RuleBroken):
        journey.board(run.id, "scan-1", ctx())
    assert_handoffs_offered(drain(journey))
    assert journey.custodian == "escort:relief-team"


def test_check_in_takes_custody_only_if_it_was_offered_to_the_receiver() -> None:
    """Regression (fixed in c5e56b2): the same at the room door, for the receiver."""
    journey, site, _ = arrived()
    journey.offer_custody("escort:relief-team", ctx())
    journey.accept_custody("escort:relief-team", ctx("relief-1", "escort"))
    with pytest.raises(RuleBroken):
        journey.check_in(site.id, "door-1", ctx())
    assert_handoffs_offered(drain(journey))
    assert journey.stage is Stage.ARRIVED

    # the custodian hands over to the receiver explicitly, and the door scan then takes it
    journey.offer_custody(custody.receiver(site.id), ctx())
    assert journey.check_in(site.id, "door-1", ctx()) is ScanOutcome.ACCEPTED
    assert_handoffs_offered(drain(journey))


def test_an_escort_who_already_holds_custody_can_board_the_traveller() -> None:
    """Regression: with "custody only where offered" (c5e56b2) an escort who had accepted the
    offer from the phone could not scan the traveller aboard: the offer was spent and
    ``offer_custody`` refuses to offer custody to its holder (fixed by
    ``Journey._take_offered_custody``: the holder's scan takes nothing over)."""
    journey, _, run = seated()
    standing = journey.offered_to
    journey.accept_custody(custody.escort(run.id), ctx("escort-1", "escort"))
    assert journey.board(run.id, "scan-1", ctx("escort-1", "escort")) is ScanOutcome.ACCEPTED
    assert custody_of(journey) == (custody.escort(run.id), None)
    assert_handoffs_offered(drain(journey), standing)


def test_a_receiver_who_already_holds_custody_can_check_the_traveller_in() -> None:
    """Regression: the same at the room door, where it was a dead end (an arrived traveller
    has no withdrawal to fall back on)."""
    journey, site, _ = arrived()
    standing = journey.offered_to
    journey.accept_custody(custody.receiver(site.id), ctx("hotel-1", "receiver"))
    assert journey.check_in(site.id, "door-1", ctx("hotel-1", "receiver")) is (
        ScanOutcome.ACCEPTED
    )
    assert custody_of(journey) == (custody.receiver(site.id), None)
    assert_handoffs_offered(drain(journey), standing)


# -- identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "number"),
    [
        ("CHN", "E12345678"),
        ("chn", "e12345678"),
        (" CHN ", " E 1234 5678 "),
        ("CHN", "E-1234-5678"),
        ("CHN", full_width("E12345678")),
        ("CHN", "e" + full_width("1234 5678")),
    ],
)
def test_the_same_document_typed_differently_has_the_same_identity_key(
    country: str, number: str
) -> None:
    assert full_width("E1 2") == "\uff25\uff11 \uff12"
    reference = identity_key(SECRET, "passport", "CHN", "E12345678")
    assert identity_key(SECRET, "passport", country, number) == reference
    assert normalise_document("passport", country, number) == "passport|CHN|E12345678"


def test_different_documents_have_different_keys() -> None:
    keys = {
        identity_key(SECRET, "passport", "CHN", "E12345678"),
        identity_key(SECRET, "passport", "CHN", "E12345679"),
        identity_key(SECRET, "passport", "GBR", "E12345678"),
        identity_key(SECRET, "hk_macao_permit", "CHN", "E12345678"),
    }
    assert len(keys) == 4


def test_the_identity_key_depends_on_the_secret() -> None:
    one = identity_key(b"\x01" * 32, "passport", "CHN", "E12345678")
    other = identity_key(b"\x02" * 32, "passport", "CHN", "E12345678")
    assert one != other


def test_the_identity_key_is_a_keyed_hash_not_a_plain_one() -> None:
    key = identity_key(SECRET, "passport", "CHN", "E12345678")
    normalised = normalise_document("passport", "CHN", "E12345678")
    plain = {
        hashlib.sha256(text.encode()).hexdigest()
        for text in (normalised, "E12345678", "passport|CHN|E12345678", "CHNE12345678")
    }
    assert key not in plain
    assert key == hmac.new(SECRET, normalised.encode(), hashlib.sha256).hexdigest()
    assert len(key) == 64


@pytest.mark.parametrize(
    ("doc_type", "country", "number"),
    [
        ("visa", "CHN", "E12345678"),
        ("passport", "CN", "E12345678"),
        ("passport", "C1N", "E12345678"),
        ("passport", "CHN", "E123"),
        ("passport", "CHN", "E" + "1" * 20),
        ("passport", "CHN", "\u0415" + "12345678"),  # Cyrillic Ie, not Latin E
        ("passport", "CHN", "---- ----"),
    ],
)
def test_malformed_documents_are_invalid_input(doc_type: str, country: str, number: str) -> None:
    with pytest.raises(InvalidInput):
        identity_key(SECRET, doc_type, country, number)


def test_one_person_has_one_open_journey_at_a_time() -> None:
    key = identity_key(SECRET, "passport", "CHN", "E12345678")
    first, second = uuid4(), uuid4()
    record = IdentityRecord(identity_key=key, journey_id=first)
    assert record.id == identity_record_id(key)
    with pytest.raises(InvalidInput, match="still open"):
        record.open_next_journey(second, previous_is_closed=False)
    record.open_next_journey(second, previous_is_closed=True)
    assert record.journeys == [first, second]
    assert record.latest_journey == second


# -- travel parties ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, MAX_PARTY_SIZE + 1])
def test_a_travel_party_has_two_to_twelve_members(size: int) -> None:
    with pytest.raises(InvalidInput):
        TravelParty.form([uuid4() for _ in range(size)])


def test_a_travel_party_has_distinct_members() -> None:
    member = uuid4()
    with pytest.raises(InvalidInput):
        TravelParty.form([member, member])
    party = TravelParty.form([member, uuid4()])
    assert party.members[0] == member


# -- replay -----------------------------------------------------------------------------------


def test_replaying_the_events_rebuilds_every_aggregate() -> None:
    site = Site.register("H-01", "Liwan Hotel", DestinationKind.HOTEL, ["101", "102"])
    vehicle = Vehicle.register("YUE-A-0001", 2)
    run = TransportRun.plan(vehicle, "escort-1", ENTRY)
    vehicle.assign_run(run.id)
    family = TravelParty.form([uuid4(), uuid4()])
    members = [
        Journey.register(m, f"key-{m}", family.id, ENTRY, "v1:x", ctx()) for m in family.members
    ]
    history: dict[UUID, list[Any]] = {}

    def save(*aggregates: Aggregate) -> None:
        for a in aggregates:
            history.setdefault(a.id, []).extend(a.collect_events())

    save(site, vehicle, run, family, *members)
    for m in members:
        m.screen(RiskLevel.LOW, 36.5, False, False, ctx(), SEAL)
    room = site.hold(family.id)
    for m in members:
        m.assign_destination(DestinationKind.HOTEL, site.id, room, ctx())
    seats = run.assign_seats([m.id for m in members])
    for m in members:
        m.assign_seat(run.id, seats[m.id], ctx())
    members[1].withdraw_seat("needs a retest", ctx())
    run.release_seat(members[1].id, "needs a retest")
    members[0].board(uuid4(), "scan-2", ctx())  # misdirected, recorded
    members[0].board(run.id, "scan-1", ctx())
    run.record_boarding(members[0].id)
    run.depart()
    members[0].depart(run.id, ctx())
    members[0].refer_to_hospital("fever", ctx(), SEAL)
    members[1].record_survey(RiskLevel.MEDIUM, "v1:answers", ctx())
    save(site, vehicle, run, family, *members)

    for aggregate in (site, vehicle, run, family, *members):
        replayed = replay(history[aggregate.id])
        assert replayed == aggregate
        assert replayed.version == len(history[aggregate.id])
    assert members[0].seen_scans == {"scan-1", "scan-2"}



def test_custody_is_accepted_only_by_staff_of_the_kind_that_takes_it_over() -> None:
    journey, _, run = seated()
    escort = custody.escort(run.id)
    for wrong_role in ("screener", "dispatcher", "receiver", "commander"):
        with pytest.raises(RuleBroken, match="accepted by the escort"):
            journey.accept_custody(escort, ctx("someone", wrong_role))
    assert journey.custodian == custody.desk(ENTRY)
    journey.accept_custody(escort, ctx("escort-1", "escort"))
    assert journey.custodian == escort
