"""What a scan at a handoff means before anyone records it: go, check, or stop.

The scanner shows this in green, amber or red. Like dddsample's handling events, a scan is
compared with the planned route: the wrong vehicle or the wrong destination is "misdirected"
and must stop the handoff, never pass silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from domain.journey import Journey
from domain.stages import Stage


class Handoff(Enum):
    DESK = "desk"  # the screener receives the traveller at the entry point
    BOARDING = "boarding"  # the escort at the car door
    CHECK_IN = "check_in"  # the receiver at the room or home door


class Verdict(Enum):
    GO = "go"
    CHECK = "check"
    STOP = "stop"


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    reason: str


CLOSED = "this journey is closed; do not take the traveller: call the duty officer"
OTHER_ENTRY_POINT = "registered at another entry point; check with the dispatcher"
SCREEN = "check the document against the name and birth date, then screen"
ALREADY_SCREENED = "already screened here; nothing to do at the desk"
BOARD = "this is the traveller's vehicle: let them board and scan each member of the party"
WRONG_VEHICLE = "wrong vehicle: the traveller is seated on another run; send them to it"
ALREADY_ON_BOARD = "already on board this vehicle"
NO_SEAT = "no seat on any vehicle yet: send the traveller to the dispatcher"
NOT_WAITING = "the traveller is not waiting for a vehicle"
CHECK_IN = "this is the traveller's destination: check them in"
WRONG_SITE = "wrong destination: this traveller is expected elsewhere; do not check in"
NOT_ARRIVED = "the vehicle is not marked as arrived yet; the escort marks arrival first"
ALREADY_IN = "already checked in here"
NOT_EXPECTED = "the traveller is not expected here now"


def assess(
    journey: Journey,
    handoff: Handoff,
    *,
    entry_point: str = "",
    run_id: UUID | None = None,
    site_id: UUID | None = None,
) -> Assessment:
    if journey.is_closed:
        return Assessment(Verdict.STOP, CLOSED)
    if handoff is Handoff.DESK:
        return _at_desk(journey, entry_point)
    if handoff is Handoff.BOARDING:
        return _at_car_door(journey, run_id)
    return _at_room_door(journey, site_id)


def _at_desk(journey: Journey, entry_point: str) -> Assessment:
    if entry_point and journey.entry_point != entry_point:
        return Assessment(Verdict.STOP, OTHER_ENTRY_POINT)
    if journey.stage is Stage.REGISTERED:
        return Assessment(Verdict.GO, SCREEN)
    return Assessment(Verdict.CHECK, ALREADY_SCREENED)


def _at_car_door(journey: Journey, run_id: UUID | None) -> Assessment:
    on_this_run = run_id is not None and journey.run_id == run_id
    if journey.stage is Stage.SEAT_ASSIGNED:
        return Assessment(Verdict.GO, BOARD) if on_this_run else Assessment(
            Verdict.STOP, WRONG_VEHICLE
        )
    if journey.stage in (Stage.BOARDED, Stage.IN_TRANSIT) and on_this_run:
        return Assessment(Verdict.CHECK, ALREADY_ON_BOARD)
    if journey.stage.rank < Stage.SEAT_ASSIGNED.rank:
        return Assessment(Verdict.STOP, NO_SEAT)
    return Assessment(Verdict.STOP, NOT_WAITING)


def _at_room_door(journey: Journey, site_id: UUID | None) -> Assessment:
    if site_id is None or journey.site_id != site_id:
        return Assessment(Verdict.STOP, WRONG_SITE)
    if journey.stage is Stage.ARRIVED:
        return Assessment(Verdict.GO, CHECK_IN)
    if journey.stage in (Stage.BOARDED, Stage.IN_TRANSIT):
        return Assessment(Verdict.CHECK, NOT_ARRIVED)
    if journey.stage in (Stage.CHECKED_IN, Stage.UNDER_QUARANTINE):
        return Assessment(Verdict.CHECK, ALREADY_IN)
    return Assessment(Verdict.STOP, NOT_EXPECTED)
