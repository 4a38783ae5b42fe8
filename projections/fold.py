"""Folding one page of the log into the rows it changes.

A page is folded in memory against the prior rows of what it touches (loaded in the same
transaction that writes the result), so each table gets one set-based write per page however
many events touched it. Counts are maintained from before/after differences, never recounted.
The result depends only on the events, not on where page boundaries fall: rows whose count
reaches zero are deleted, so a killed-and-resumed rebuild ends identical to a clean one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from domain import custody, transport
from domain.alerts import OPEN, Alert
from domain.journey import Journey
from domain.site import HELD, OCCUPIED, Site
from domain.stages import Stage
from domain.transport import TransportRun, Vehicle
from projections import decode
from projections.board_fold import BoardFold
from projections.care_fold import CareFold
from projections.events import Event, Json, Row
from projections.schema import (
    ALERT_COUNTS,
    ALERTS,
    BOARD_COUNTERS,
    BOARD_DELTAS,
    BOARD_SITE_COUNTS,
    BOARD_STAGE_COUNTS,
    DAILY_COUNTS,
    DATA_ACCESS,
    ENTRY_POINTS,
    JOURNEY_STAGE,
    JOURNEY_TIMELINE,
    LEG_TIMES,
    QUARANTINE_TESTS,
    RUNS,
    SITE_OCCUPANCY,
    SITE_ROOMS,
    TRANSFERS,
    VEHICLES,
    Table,
)


class ProjectionError(Exception):
    """The log holds something the views cannot take (a bug or a damaged store)."""


# The stage a Journey event moves its journey into (journey.py's recording methods).
STAGE_AFTER: dict[str, str] = {
    Journey.Registered.__name__: Stage.REGISTERED.value,
    Journey.Screened.__name__: Stage.SCREENED.value,
    Journey.DestinationAssigned.__name__: Stage.DESTINATION_ASSIGNED.value,
    Journey.DestinationWithdrawn.__name__: Stage.SCREENED.value,
    Journey.SeatAssigned.__name__: Stage.SEAT_ASSIGNED.value,
    Journey.SeatWithdrawn.__name__: Stage.DESTINATION_ASSIGNED.value,
    Journey.Boarded.__name__: Stage.BOARDED.value,
    Journey.Departed.__name__: Stage.IN_TRANSIT.value,
    Journey.Arrived.__name__: Stage.ARRIVED.value,
    Journey.CheckedIn.__name__: Stage.CHECKED_IN.value,
    Journey.QuarantineStarted.__name__: Stage.UNDER_QUARANTINE.value,
    Journey.Released.__name__: Stage.RELEASED.value,
    Journey.ReferredToHospital.__name__: Stage.REFERRED_TO_HOSPITAL.value,
    Journey.MarkedNoShow.__name__: Stage.NO_SHOW.value,
    Journey.Cancelled.__name__: Stage.CANCELLED.value,
}


@dataclass(slots=True)
class JourneyRow:
    stage: str
    entered_at: str
    entry_point: str
    site_id: str | None
    run_id: str | None
    party_id: str | None
    custodian: str | None
    version: int
    risk: str | None  # the latest of screening's and the survey's risk level
    boarded_at: str | None
    offered_to: str | None
    offered_at: str | None
    off_route: str | None
    off_route_at: str | None
    screened_at: str | None
    seated_at: str | None
    arrived_at: str | None
    surveyed_at: str | None
    registered_at: str | None
    checked_in_at: str | None
    flight_key: str | None
    flight_row: int | None
    quarantine_starts_on: str | None
    planned_end: str | None


@dataclass(slots=True)
class SiteRow:
    code: str
    name: str
    kind: str
    capacity: int
    held: int
    occupied: int


@dataclass(slots=True)
class RunRow:
    vehicle_id: str | None
    plate: str
    status: str
    seats: int
    seated: int
    boarded: int
    handed_over: int
    escort: str
    entry_point: str
    status_at: str
    exited: int
    first_boarded_at: str | None


@dataclass(slots=True)
class AlertRow:
    kind: str
    subject: str
    journey_id: str | None
    run_id: str | None
    entry_point: str
    detail: str
    since: str
    threshold_minutes: int
    raised_at: str
    cleared_at: str | None
    status: str
    reason: str | None


@dataclass(slots=True)
class VehicleRow:
    plate: str
    seats: int
    active_run: str | None


# An effect sees the row, the event's state and the event's recorded (store) time.
Effect = Callable[[JourneyRow, Json, str], None]


def _set_custodian(row: JourneyRow, state: Json, recorded: str) -> None:
    row.custodian = state["custodian"]


def _set_risk(row: JourneyRow, state: Json, recorded: str) -> None:
    row.risk = state["risk"]


def _set_site(row: JourneyRow, state: Json, recorded: str) -> None:
    row.site_id = decode.uuid(state["site_id"])


def _clear_site(row: JourneyRow, state: Json, recorded: str) -> None:
    row.site_id = None


def _set_run(row: JourneyRow, state: Json, recorded: str) -> None:
    row.run_id = decode.uuid(state["run_id"])


def _clear_run(row: JourneyRow, state: Json, recorded: str) -> None:
    row.run_id = None


def _set_boarded_at(row: JourneyRow, state: Json, recorded: str) -> None:
    row.boarded_at = recorded


def _set_screened_at(row: JourneyRow, state: Json, recorded: str) -> None:
    row.screened_at = recorded


def _set_seated_at(row: JourneyRow, state: Json, recorded: str) -> None:
    row.seated_at = recorded


def _set_arrived_at(row: JourneyRow, state: Json, recorded: str) -> None:
    row.arrived_at = recorded


def _set_checked_in_at(row: JourneyRow, state: Json, recorded: str) -> None:
    row.checked_in_at = recorded


def _set_flight(row: JourneyRow, state: Json, recorded: str) -> None:
    if state.get("flight_key") is not None:  # amendments before flights were kept carry none
        row.flight_key = state["flight_key"] or None
        row.flight_row = state.get("flight_row")


def _start_order(row: JourneyRow, state: Json, recorded: str) -> None:
    row.quarantine_starts_on = decode.text(state.get("starts_on"))
    row.planned_end = decode.text(state["planned_end"])


def _move_end(row: JourneyRow, state: Json, recorded: str) -> None:
    row.planned_end = decode.text(state["planned_end"])


def _set_surveyed_at(row: JourneyRow, state: Json, recorded: str) -> None:
    if row.surveyed_at is None:  # the backlog counts journeys never surveyed
        row.surveyed_at = recorded


def _offer(row: JourneyRow, state: Json, recorded: str) -> None:
    row.offered_to = state["offered_to"]
    row.offered_at = recorded


def _clear_offer(row: JourneyRow, state: Json, recorded: str) -> None:
    row.offered_to = None
    row.offered_at = None


def _off_route(row: JourneyRow, state: Json, recorded: str) -> None:
    # The first misdirected scan opens the loop; more before it is put right keep it open.
    if row.off_route_at is None:
        row.off_route = state["handoff"]
        row.off_route_at = recorded


def _on_route(row: JourneyRow, state: Json, recorded: str) -> None:
    row.off_route = None
    row.off_route_at = None


def _to_hospital(row: JourneyRow, state: Json, recorded: str) -> None:
    row.custodian = custody.HOSPITAL  # the domain hands custody to the hospital on referral


def _close(row: JourneyRow, state: Json, recorded: str) -> None:
    row.custodian = None


# What else a Journey event changes on the journey's row (besides stage and version), in order.
JOURNEY_EFFECTS: dict[str, tuple[Effect, ...]] = {
    Journey.Screened.__name__: (_set_custodian, _set_risk, _set_screened_at),
    Journey.SurveyRecorded.__name__: (_set_risk, _set_surveyed_at),
    Journey.CustodyOffered.__name__: (_offer,),
    Journey.CustodyOfferWithdrawn.__name__: (_clear_offer,),
    Journey.CustodyAccepted.__name__: (_set_custodian, _clear_offer),
    Journey.DestinationAssigned.__name__: (_set_site,),
    Journey.CheckedIn.__name__: (_set_site, _on_route, _set_checked_in_at),
    Journey.Amended.__name__: (_set_flight,),
    Journey.QuarantineStarted.__name__: (_start_order,),
    Journey.QuarantineExtended.__name__: (_move_end,),
    Journey.QuarantineShortened.__name__: (_move_end,),
    Journey.DestinationWithdrawn.__name__: (_clear_site,),
    Journey.SeatAssigned.__name__: (_set_run, _set_seated_at),
    Journey.Arrived.__name__: (_set_arrived_at,),
    Journey.Boarded.__name__: (_set_run, _set_boarded_at, _on_route),
    Journey.MisdirectedScanRecorded.__name__: (_off_route,),
    Journey.SeatWithdrawn.__name__: (_clear_run,),
    Journey.ReferredToHospital.__name__: (_to_hospital, _clear_offer, _on_route),
    Journey.Released.__name__: (_close, _clear_offer, _on_route),
    Journey.MarkedNoShow.__name__: (_close, _clear_offer, _on_route),
    Journey.Cancelled.__name__: (_close, _clear_offer, _on_route),
}

ROOM_STATUS_AFTER = {Site.RoomHeld.__name__: HELD, Site.RoomOccupied.__name__: OCCUPIED}
RUN_STATUS_AFTER = {
    TransportRun.PassengerBoarded.__name__: transport.BOARDING,
    TransportRun.Departed.__name__: transport.DEPARTED,
    TransportRun.Arrived.__name__: transport.ARRIVED,
    TransportRun.Closed.__name__: transport.CLOSED,
}


@dataclass
class Changes:
    """A page's effect: rows to upsert (or add, for counters) and keys to delete, per table."""

    upserts: list[tuple[Table, list[Row]]]
    deletes: list[tuple[Table, list[Row]]]
    # Counter rows that may have dropped to zero; they are deleted so that the views do not
    # depend on page boundaries.
    zero_checks: list[tuple[Table, list[Row]]]


class Fold:
    def __init__(self, loaded: dict[Table, list[Row]], previous_delta: int = 0) -> None:
        self.journeys = {r[0]: JourneyRow(*r[1:]) for r in loaded.get(JOURNEY_STAGE, ())}
        self.before: dict[str, tuple[str, str | None] | None] = {
            jid: (row.stage, row.site_id) for jid, row in self.journeys.items()
        }
        self.sites = {r[0]: SiteRow(*r[1:]) for r in loaded.get(SITE_OCCUPANCY, ())}
        self.rooms: dict[tuple[str, str], str | None] = {
            (r[0], r[1]): r[2] for r in loaded.get(SITE_ROOMS, ())
        }
        self.runs = {r[0]: RunRow(*r[1:]) for r in loaded.get(RUNS, ())}
        self.vehicles = {r[0]: VehicleRow(*r[1:]) for r in loaded.get(VEHICLES, ())}
        self.alerts = {r[0]: AlertRow(*r[1:]) for r in loaded.get(ALERTS, ())}
        self.open_before: dict[str, str | None] = {
            aid: row.kind if row.status == OPEN else None for aid, row in self.alerts.items()
        }
        self.entry_points: dict[str, str] = {}
        self.timeline: list[Row] = []
        self.touched: dict[str, set[str]] = {
            "site": set(), "run": set(), "vehicle": set(), "alert": set()
        }
        self.touched_rooms: set[tuple[str, str]] = set()
        # Quarantine tests, hospital transfers, reads of health data and the daily counts.
        self.care = CareFold(self, loaded.get(TRANSFERS, ()))
        # Loaded whole on every page (they are small): the board's absolute counts.
        self.board = BoardFold(self, {
            "stages": loaded.get(BOARD_STAGE_COUNTS, []),
            "site_stages": loaded.get(BOARD_SITE_COUNTS, []),
            "counters": loaded.get(BOARD_COUNTERS, []),
            "alert_counts": loaded.get(ALERT_COUNTS, []),
            "leg_times": loaded.get(LEG_TIMES, []),
        }, previous_delta)
        self._apply = {
            "journey": self._journey, "site": self._site, "run": self._run,
            "vehicle": self._vehicle, "entry_point": self._entry_point, "alert": self._alert,
            "transfer": self.care.transfer, "access": self.care.access,
        }

    def apply(self, events: Iterable[Event]) -> Changes:
        for e in events:
            self.board.before(e)
            self.care.before(e)
            self._apply[e.kind](e)
            self.care.after(e)
            self.board.after(e, decode.recorded_at(e.state))
        return self._changes()

    def missing(self, e: Event) -> ProjectionError:
        return ProjectionError(
            f"notification {e.position}: {e.kind} {e.originator_id} has event {e.name} "
            "but its creation was never projected"
        )

    def _journey(self, e: Event) -> None:
        s = e.state
        actor, role, where, occurred_at = decode.context(s)
        recorded = decode.recorded_at(s)
        self.timeline.append(
            (e.originator_id, e.version, e.position, e.name, actor, role, where, occurred_at,
             recorded, decode.summary(e.name, s))
        )
        if e.version == 1:
            self.before[e.originator_id] = None
            self.journeys[e.originator_id] = JourneyRow(
                stage=Stage.REGISTERED.value, entered_at=recorded, entry_point=s["entry_point"],
                site_id=None, run_id=None, party_id=decode.uuid(s["party_id"]), custodian=None,
                version=1, risk=None, boarded_at=None, offered_to=None, offered_at=None,
                off_route=None, off_route_at=None, screened_at=None, seated_at=None,
                arrived_at=None, surveyed_at=None, registered_at=recorded, checked_in_at=None,
                flight_key=s.get("flight_key") or None, flight_row=s.get("flight_row"),
                quarantine_starts_on=None, planned_end=None,
            )
            return
        row = self.journeys.get(e.originator_id)
        if row is None:
            raise self.missing(e)
        row.version = e.version
        stage = STAGE_AFTER.get(e.name)
        if stage is not None and stage != row.stage:
            row.stage = stage
            row.entered_at = recorded
        for effect in JOURNEY_EFFECTS.get(e.name, ()):
            effect(row, s, recorded)

    def _site(self, e: Event) -> None:
        s, sid = e.state, e.originator_id
        self.touched["site"].add(sid)
        if e.name == Site.Registered.__name__:
            self.sites[sid] = SiteRow(s["code"], s["name"], s["kind"], s["capacity"], 0, 0)
            return
        site = self.sites.get(sid)
        if site is None:
            raise self.missing(e)
        room = (sid, s["room"])
        before = self.rooms.get(room)
        self.touched_rooms.add(room)
        if before == HELD:
            site.held -= 1
        elif before == OCCUPIED:
            site.occupied -= 1
        after = ROOM_STATUS_AFTER.get(e.name)  # RoomReleased frees the room: no row
        if after == HELD:
            site.held += 1
        elif after == OCCUPIED:
            site.occupied += 1
        self.rooms[room] = after

    def _run(self, e: Event) -> None:
        s, rid = e.state, e.originator_id
        self.touched["run"].add(rid)
        if e.name == TransportRun.Planned.__name__:
            self.runs[rid] = RunRow(
                decode.uuid(s["vehicle_id"]), s["plate"], transport.PLANNED, s["seats"],
                0, 0, 0, s["escort"], s["entry_point"], decode.recorded_at(s), 0, None,
            )
            return
        run = self.runs.get(rid)
        if run is None:
            raise self.missing(e)
        if e.name == TransportRun.SeatAssigned.__name__:
            run.seated += 1
        elif e.name == TransportRun.SeatReleased.__name__:
            run.seated -= 1
        elif e.name == TransportRun.PassengerBoarded.__name__:
            run.boarded += 1
            if run.first_boarded_at is None:
                run.first_boarded_at = decode.recorded_at(s)
        elif e.name == TransportRun.PassengerHandedOver.__name__:
            run.handed_over += 1
        elif e.name == TransportRun.PassengerLeft.__name__:
            run.exited += 1
        status = RUN_STATUS_AFTER.get(e.name, run.status)
        if status != run.status:
            run.status = status
            run.status_at = decode.recorded_at(s)

    def _vehicle(self, e: Event) -> None:
        s, vid = e.state, e.originator_id
        self.touched["vehicle"].add(vid)
        if e.name == Vehicle.Registered.__name__:
            self.vehicles[vid] = VehicleRow(s["plate"], s["seats"], None)
            return
        vehicle = self.vehicles.get(vid)
        if vehicle is None:
            raise self.missing(e)
        if e.name == Vehicle.RunAssigned.__name__:
            vehicle.active_run = decode.uuid(s["run_id"])
        elif e.name == Vehicle.RunFinished.__name__:
            vehicle.active_run = None

    def _entry_point(self, e: Event) -> None:
        self.entry_points[e.state["code"]] = e.state["name"]

    def _alert(self, e: Event) -> None:
        s, aid = e.state, e.originator_id
        self.touched["alert"].add(aid)
        if e.name == Alert.Raised.__name__:
            self.open_before.setdefault(aid, None)
            self.alerts[aid] = AlertRow(
                s["kind"], s["subject"], decode.uuid(s["journey_id"]), decode.uuid(s["run_id"]),
                s["entry_point"], s["detail"], _text(s["since"]), s["threshold_minutes"],
                _text(s["detected_at"]), None, OPEN, None,
            )
            return
        alert = self.alerts.get(aid)
        if alert is None:
            raise self.missing(e)
        if e.name == Alert.Cleared.__name__:
            alert.status = "cleared"
            alert.cleared_at = _text(s["cleared_at"])
            alert.reason = s["reason"]

    def _changes(self) -> Changes:
        stage_delta: Counter[str] = Counter()
        site_delta: Counter[tuple[str, str]] = Counter()
        journey_rows: list[Row] = []
        for jid, before in self.before.items():
            row = self.journeys[jid]
            journey_rows.append((jid, *_values(row)))
            if before is not None and before == (row.stage, row.site_id):
                continue  # loaded but unchanged in stage and site (e.g. amended, surveyed)
            if before is not None:
                stage_delta[before[0]] -= 1
                if before[1] is not None:
                    site_delta[(before[1], before[0])] -= 1
            stage_delta[row.stage] += 1
            if row.site_id is not None:
                site_delta[(row.site_id, row.stage)] += 1
        rooms = sorted(self.touched_rooms)
        open_delta: Counter[str] = Counter()
        for aid in self.touched["alert"]:
            alert = self.alerts[aid]
            was_open = self.open_before.get(aid)
            if was_open is not None:
                open_delta[was_open] -= 1
            if alert.status == OPEN:
                open_delta[alert.kind] += 1
        return Changes(
            upserts=[
                (JOURNEY_STAGE, journey_rows),
                (JOURNEY_TIMELINE, self.timeline),
                (BOARD_STAGE_COUNTS, [(k, n) for k, n in sorted(stage_delta.items()) if n]),
                (BOARD_SITE_COUNTS, [(*k, n) for k, n in sorted(site_delta.items()) if n]),
                (SITE_OCCUPANCY, self._rows(self.sites, "site")),
                (SITE_ROOMS, [(*k, s) for k in rooms if (s := self.rooms[k]) is not None]),
                (RUNS, self._rows(self.runs, "run")),
                (VEHICLES, self._rows(self.vehicles, "vehicle")),
                (ENTRY_POINTS, sorted(self.entry_points.items())),
                (ALERTS, self._rows(self.alerts, "alert")),
                (ALERT_COUNTS, [(k, n) for k, n in sorted(open_delta.items()) if n]),
                (BOARD_COUNTERS, self.board.counter_rows()),
                (LEG_TIMES, self.board.leg_rows()),
                (BOARD_DELTAS, [d.row for d in self.board.deltas]),
                (QUARANTINE_TESTS, self.care.test_rows()),
                (TRANSFERS, self.care.transfer_rows()),
                (DATA_ACCESS, self.care.accesses),
                (DAILY_COUNTS, self.care.daily_rows()),
            ],
            deletes=[
                (SITE_ROOMS, [k for k in rooms if self.rooms[k] is None]),
                (QUARANTINE_TESTS, self.care.dropped_tests()),
            ],
            zero_checks=[(BOARD_SITE_COUNTS, [k for k, n in sorted(site_delta.items()) if n < 0])],
        )

    def _rows(self, rows: dict[str, Any], kind: str) -> list[Row]:
        return [(key, *_values(rows[key])) for key in sorted(self.touched[kind])]


def _text(value: Json) -> str:
    text = decode.text(value)
    assert text is not None
    return text


def _values(row: Any) -> tuple[Any, ...]:
    return tuple(getattr(row, f) for f in row.__slots__)
