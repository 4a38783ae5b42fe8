"""What a scan at a handoff means before anyone records it: go, check, or stop.

The scanner shows this in green, amber or red. Like dddsample's handling events, a scan is
compared with the planned route: the wrong vehicle or the wrong destination is "misdirected"
and must stop the handoff, never pass silently.

Every assessment carries a stable machine `code` beside its English `reason`, so that a client
(the phone scanner) words it in its own languages and decides what to do without matching
English text. The codes in `OFF_ROUTE` are exactly the scans that the journey's `board()` /
`check_in()` record as `MisdirectedScanRecorded`: a scanner posts those anyway, so that an
off-route traveller is on the record and raised, never silently turned away.
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


class ReasonCode(Enum):
    """Why a verdict, as a stable machine word: clients key their own wording on it."""

    CLOSED = "closed"
    # at the entry desk
    OTHER_ENTRY_POINT = "other_entry_point"
    SCREEN = "screen"
    ALREADY_SCREENED = "already_screened"
    # at the car door
    NO_RUN_CHOSEN = "no_run_chosen"
    BOARD = "board"
    WRONG_VEHICLE = "wrong_vehicle"
    ALREADY_ON_BOARD = "already_on_board"
    NO_SEAT = "no_seat"
    NOT_WAITING = "not_waiting"
    # at the room or home door
    NO_SITE_CHOSEN = "no_site_chosen"
    CHECK_IN = "check_in"
    WRONG_SITE = "wrong_site"
    EXPECTED_ELSEWHERE = "expected_elsewhere"
    NOT_ARRIVED = "not_arrived"
    ALREADY_IN = "already_in"
    NOT_EXPECTED = "not_expected"


# Posting the handoff command for these records a MisdirectedScanRecorded (and accepts nothing):
# a traveller seated on another run at the car door, or arrived at another site's door.
OFF_ROUTE = frozenset({ReasonCode.WRONG_VEHICLE, ReasonCode.WRONG_SITE})

CLOSED = "this journey is closed; do not take the traveller: call the duty officer"
OTHER_ENTRY_POINT = "registered at another entry point; check with the dispatcher"
SCREEN = "check the document against the name and birth date, then screen"
ALREADY_SCREENED = "already screened here; nothing to do at the desk"
NO_RUN_CHOSEN = "no vehicle run chosen on this scanner: choose the run first"
BOARD = "this is the traveller's vehicle: let them board and scan each member of the party"
WRONG_VEHICLE = "wrong vehicle: the traveller is seated on another run; send them to it"
ALREADY_ON_BOARD = "already on board this vehicle"
NO_SEAT = "no seat on any vehicle yet: send the traveller to the dispatcher"
NOT_WAITING = "the traveller is not waiting for a vehicle"
NO_SITE_CHOSEN = "no site chosen on this scanner: choose the hotel or street first"
CHECK_IN = "this is the traveller's destination: check them in"
WRONG_SITE = "wrong destination: this traveller is expected elsewhere; do not check in"
EXPECTED_ELSEWHERE = (
    "another destination: this traveller is expected at another site; do not check in"
)
NOT_ARRIVED = "the vehicle is not marked as arrived yet; the escort marks arrival first"
ALREADY_IN = "already checked in here"
NOT_EXPECTED = "the traveller is not expected here now"

REASONS: dict[ReasonCode, str] = {
    ReasonCode.CLOSED: CLOSED,
    ReasonCode.OTHER_ENTRY_POINT: OTHER_ENTRY_POINT,
    ReasonCode.SCREEN: SCREEN,
    ReasonCode.ALREADY_SCREENED: ALREADY_SCREENED,
    ReasonCode.NO_RUN_CHOSEN: NO_RUN_CHOSEN,
    ReasonCode.BOARD: BOARD,
    ReasonCode.WRONG_VEHICLE: WRONG_VEHICLE,
    ReasonCode.ALREADY_ON_BOARD: ALREADY_ON_BOARD,
    ReasonCode.NO_SEAT: NO_SEAT,
    ReasonCode.NOT_WAITING: NOT_WAITING,
    ReasonCode.NO_SITE_CHOSEN: NO_SITE_CHOSEN,
    ReasonCode.CHECK_IN: CHECK_IN,
    ReasonCode.WRONG_SITE: WRONG_SITE,
    ReasonCode.EXPECTED_ELSEWHERE: EXPECTED_ELSEWHERE,
    ReasonCode.NOT_ARRIVED: NOT_ARRIVED,
    ReasonCode.ALREADY_IN: ALREADY_IN,
    ReasonCode.NOT_EXPECTED: NOT_EXPECTED,
}


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    code: ReasonCode

    @property
    def reason(self) -> str:
        """The code in English words, for logs and API readers who want a sentence."""
        return REASONS[self.code]

    @property
    def records_off_route(self) -> bool:
        """Whether posting this handoff records a misdirected (off-route) scan."""
        return self.code in OFF_ROUTE


def assess(
    journey: Journey,
    handoff: Handoff,
    *,
    entry_point: str = "",
    run_id: UUID | None = None,
    site_id: UUID | None = None,
) -> Assessment:
    if journey.is_closed:
        return Assessment(Verdict.STOP, ReasonCode.CLOSED)
    if handoff is Handoff.DESK:
        return _at_desk(journey, entry_point)
    if handoff is Handoff.BOARDING:
        return _at_car_door(journey, run_id)
    return _at_room_door(journey, site_id)


def _at_desk(journey: Journey, entry_point: str) -> Assessment:
    if entry_point and journey.entry_point != entry_point:
        return Assessment(Verdict.STOP, ReasonCode.OTHER_ENTRY_POINT)
    if journey.stage is Stage.REGISTERED:
        return Assessment(Verdict.GO, ReasonCode.SCREEN)
    return Assessment(Verdict.CHECK, ReasonCode.ALREADY_SCREENED)


def _at_car_door(journey: Journey, run_id: UUID | None) -> Assessment:
    if run_id is None:
        return Assessment(Verdict.STOP, ReasonCode.NO_RUN_CHOSEN)
    on_this_run = journey.run_id == run_id
    if journey.stage is Stage.SEAT_ASSIGNED:
        # Mirrors Journey.board(): seated on another run is the misdirected case.
        code = ReasonCode.BOARD if on_this_run else ReasonCode.WRONG_VEHICLE
        return Assessment(Verdict.GO if on_this_run else Verdict.STOP, code)
    if journey.stage in (Stage.BOARDED, Stage.IN_TRANSIT) and on_this_run:
        return Assessment(Verdict.CHECK, ReasonCode.ALREADY_ON_BOARD)
    if journey.stage.rank < Stage.SEAT_ASSIGNED.rank:
        return Assessment(Verdict.STOP, ReasonCode.NO_SEAT)
    return Assessment(Verdict.STOP, ReasonCode.NOT_WAITING)


def _at_room_door(journey: Journey, site_id: UUID | None) -> Assessment:
    if site_id is None:
        return Assessment(Verdict.STOP, ReasonCode.NO_SITE_CHOSEN)
    if journey.site_id != site_id:
        # Mirrors Journey.check_in(): only an arrived traveller at another door is recorded as
        # misdirected; earlier or later, the command would be refused, so nothing is posted.
        if journey.stage is Stage.ARRIVED:
            return Assessment(Verdict.STOP, ReasonCode.WRONG_SITE)
        if journey.site_id is None:
            return Assessment(Verdict.STOP, ReasonCode.NOT_EXPECTED)
        return Assessment(Verdict.STOP, ReasonCode.EXPECTED_ELSEWHERE)
    if journey.stage is Stage.ARRIVED:
        return Assessment(Verdict.GO, ReasonCode.CHECK_IN)
    if journey.stage in (Stage.BOARDED, Stage.IN_TRANSIT):
        return Assessment(Verdict.CHECK, ReasonCode.NOT_ARRIVED)
    if journey.stage in (Stage.CHECKED_IN, Stage.UNDER_QUARANTINE):
        return Assessment(Verdict.CHECK, ReasonCode.ALREADY_IN)
    return Assessment(Verdict.STOP, ReasonCode.NOT_EXPECTED)
