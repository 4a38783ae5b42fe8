"""What each event changes on the command board, folded beside the views (docs/board.md).

The fold (projections/fold.py) writes a page's net effect on the view tables; this records, for
every single event of the page, the board rows it changed as their whole new values (or None
for a row that left the board). A delta is therefore applied by plain replacement, the same way
in the browser and in time travel, and a board kept from deltas equals a board read afresh.

It also keeps the absolute counts the deltas carry (stages, per-site stages, open alerts, the
survey backlog) and the door-to-door leg times, as minute histograms per local day and cell.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from domain import alerts
from domain.calendar import ZONE
from domain.journey import Journey
from domain.stages import CLOSED_STAGES, Stage
from domain.transport import CLOSED, TransportRun
from projections import decode
from projections.events import Event, Json, Row

if TYPE_CHECKING:
    from projections.fold import Fold, JourneyRow, RunRow

# The command centre's day: timings are per local calendar day of the district (ZONE).
ON_ROAD = frozenset(
    s.value for s in (Stage.SEAT_ASSIGNED, Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED)
)
CLOSED_VALUES = frozenset(s.value for s in CLOSED_STAGES)
SURVEY_DUE = "survey_due"
# The aggregates whose events the board shows (one delta each).
BOARD_KINDS = frozenset({"journey", "site", "run", "vehicle", "entry_point", "alert"})
COUNTERS = (SURVEY_DUE,)

# (leg, the journey row's field the leg starts at) for each Journey event that ends legs.
JOURNEY_LEGS: dict[str, tuple[tuple[str, str], ...]] = {
    Journey.SeatAssigned.__name__: (("to_seat", "screened_at"),),
    Journey.Boarded.__name__: (("to_board", "seated_at"),),
    Journey.Arrived.__name__: (("transit", "boarded_at"),),
    Journey.CheckedIn.__name__: (
        ("handover", "arrived_at"), ("door_to_door", "boarded_at"), ("overall", "screened_at"),
    ),
    # The survey's clock runs from the room door (first surveys only: see _journey).
    Journey.SurveyRecorded.__name__: (("to_survey", "checked_in_at"),),
}
# Legs a vehicle is answerable for: these are also timed per plate.
VEHICLE_LEGS = frozenset({"to_board", "transit", "vehicle_wait"})


def utc_iso(value: Any) -> str | None:
    """One text form for a moment on both backends (PostgreSQL gives datetimes, SQLite and the
    log give ISO text): UTC, ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str) and value.endswith("+00:00") and value[10:11] == "T":
        return value  # already the form below (the log's timestamps are): most calls
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC).isoformat()


def local_day(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(ZONE).date().isoformat()


def minutes_between(start: str, end: str) -> int:
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return max(int(seconds // 60), 0)


def figures(histogram: dict[int, int]) -> dict[str, int]:
    """n, p50 and p95 (nearest rank) of minute-rounded durations."""
    n = sum(histogram.values())
    ranks = {"p50": math.ceil(0.5 * n), "p95": math.ceil(0.95 * n)}
    found = {"n": n, "p50": 0, "p95": 0}
    seen = 0
    pending = dict(ranks)
    for minute in sorted(histogram):
        seen += histogram[minute]
        for name, rank in list(pending.items()):
            if seen >= rank:
                found[name] = minute
                del pending[name]
        if not pending:
            break
    return found


def leg_days(events: list[Event] | Any) -> set[str]:
    """The local days whose leg times a page may change (their histograms are loaded)."""
    return {
        local_day(decode.recorded_at(e.state)) for e in events
        if e.name in JOURNEY_LEGS or (e.kind == "run" and e.name == "Departed")
    }


def site_row(site_id: str, site: Any, stages: dict[str, int]) -> Json:
    return {
        "site_id": site_id, "code": site.code, "name": site.name, "kind": site.kind,
        "capacity": site.capacity, "held": site.held, "occupied": site.occupied,
        "free": site.capacity - site.held - site.occupied,
        "stages": {stage: n for stage, n in sorted(stages.items()) if n},
    }


def run_row(run_id: str, run: RunRow) -> Json:
    return {
        "run_id": run_id, "vehicle_id": run.vehicle_id, "plate": run.plate,
        "status": run.status, "status_at": utc_iso(run.status_at), "seats": run.seats,
        "seated": run.seated, "boarded": run.boarded, "handed_over": run.handed_over,
        "exited": run.exited, "escort": run.escort, "entry_point": run.entry_point,
        "first_boarded_at": utc_iso(run.first_boarded_at),
    }


def on_road_row(journey_id: str, row: JourneyRow) -> Json:
    return {
        "journey_id": journey_id, "stage": row.stage, "entered_at": utc_iso(row.entered_at),
        "entry_point": row.entry_point, "run_id": row.run_id, "site_id": row.site_id,
        "risk": row.risk,
    }


def alert_row(alert_id: str, alert: Any) -> Json:
    return {
        "alert_id": alert_id, "kind": alert.kind, "subject": alert.subject,
        "journey_id": alert.journey_id, "run_id": alert.run_id,
        "entry_point": alert.entry_point, "detail": alert.detail,
        "since": utc_iso(alert.since), "threshold_minutes": alert.threshold_minutes,
        "raised_at": utc_iso(alert.raised_at),
        "message": alerts.message(alert.kind, alert.detail, alert.threshold_minutes),
    }


@dataclass
class Delta:
    position: int
    previous: int
    recorded_at: str
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.changes.setdefault(name, {})
        return found

    @property
    def row(self) -> Row:
        return (self.position, self.previous, self.recorded_at,
                orjson.dumps(self.changes).decode())


class BoardFold:
    """Fed each event before and after the view fold applies it; collects one Delta each."""

    def __init__(self, fold: Fold, loaded: dict[str, list[Row]], previous: int) -> None:
        self.fold = fold
        self.previous = previous
        self.stages: dict[str, int] = {s.value: 0 for s in Stage}
        self.stages.update({stage: int(n) for stage, n in loaded["stages"]})
        self.site_stages: dict[str, dict[str, int]] = {}
        for site_id, stage, n in loaded["site_stages"]:
            self.site_stages.setdefault(site_id, {})[stage] = int(n)
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.counters.update({name: int(n) for name, n in loaded["counters"]})
        self.counters_before = dict(self.counters)
        self.alert_counts: dict[str, int] = dict.fromkeys(alerts.KINDS, 0)
        self.alert_counts.update({kind: int(n) for kind, n in loaded["alert_counts"]})
        self.histograms: dict[tuple[str, str], Counter[int]] = {
            (day, cell): Counter({int(m): c for m, c in orjson.loads(histogram).items()})
            for day, cell, histogram, *_ in loaded["leg_times"]
        }
        self.touched_cells: set[tuple[str, str]] = set()
        self.deltas: list[Delta] = []
        self._before: Any = None

    # -- per event -------------------------------------------------------------------------
    def before(self, e: Event) -> None:
        if e.kind == "journey":
            row = self.fold.journeys.get(e.originator_id)
            self._before = None if row is None else (
                row.stage, row.site_id, row.run_id, row.risk, row.entered_at, row.surveyed_at
            )
        elif e.kind == "alert":
            alert = self.fold.alerts.get(e.originator_id)
            self._before = alert.kind if alert is not None and alert.status == alerts.OPEN else None

    def after(self, e: Event, recorded: str) -> None:
        if e.kind not in BOARD_KINDS:
            return  # reads of health data and hospital transfers change nothing on the board
        delta = Delta(e.position, self.previous, utc_iso(recorded) or recorded)
        self.previous = e.position
        handler = getattr(self, f"_{e.kind}", None)
        if handler is not None:
            handler(e, recorded, delta)
        self.deltas.append(delta)

    def _journey(self, e: Event, recorded: str, delta: Delta) -> None:
        jid, row = e.originator_id, self.fold.journeys[e.originator_id]
        before = self._before
        stage_before, site_before = (None, None) if before is None else before[:2]
        if (stage_before, site_before) != (row.stage, row.site_id):
            self._move(delta, stage_before, site_before, -1)
            self._move(delta, row.stage, row.site_id, +1)
        was_on_road = before is not None and before[0] in ON_ROAD
        if row.stage in ON_ROAD:
            now = (row.stage, row.site_id, row.run_id, row.risk, row.entered_at)
            if not was_on_road or before[:5] != now:
                delta.section("on_road")[jid] = on_road_row(jid, row)
        elif was_on_road:
            delta.section("on_road")[jid] = None
        was_due = before is not None and before[5] is None and before[0] not in CLOSED_VALUES
        due = row.surveyed_at is None and row.stage not in CLOSED_VALUES
        if was_due != due:
            self.counters[SURVEY_DUE] += 1 if due else -1
            delta.section("counters")[SURVEY_DUE] = self.counters[SURVEY_DUE]
        for leg, start_field in JOURNEY_LEGS.get(e.name, ()):
            start = getattr(row, start_field)
            if start is None:
                continue  # e.g. seated without a screening on record (an import's journey)
            if leg == "to_survey" and before is not None and before[5] is not None:
                continue  # a later survey updates the record; the clock stopped at the first
            plate = None
            if leg in VEHICLE_LEGS and (run := self.fold.runs.get(row.run_id or "")) is not None:
                plate = run.plate
            self._time(delta, leg, start, recorded, row.entry_point, row.site_id, plate)

    def _move(self, delta: Delta, stage: str | None, site_id: str | None, step: int) -> None:
        if stage is None:
            return
        self.stages[stage] = self.stages.get(stage, 0) + step
        delta.section("stages")[stage] = self.stages[stage]
        if site_id is not None:
            counts = self.site_stages.setdefault(site_id, {})
            counts[stage] = counts.get(stage, 0) + step
            site = self.fold.sites.get(site_id)
            if site is not None:
                delta.section("sites")[site_id] = site_row(site_id, site, counts)

    def _site(self, e: Event, recorded: str, delta: Delta) -> None:
        sid = e.originator_id
        site = self.fold.sites[sid]
        delta.section("sites")[sid] = site_row(sid, site, self.site_stages.get(sid, {}))

    def _run(self, e: Event, recorded: str, delta: Delta) -> None:
        rid = e.originator_id
        run = self.fold.runs[rid]
        delta.section("runs")[rid] = None if run.status == CLOSED else run_row(rid, run)
        if e.name == TransportRun.Departed.__name__ and run.first_boarded_at is not None:
            self._time(delta, "vehicle_wait", run.first_boarded_at, recorded, run.entry_point,
                       None, run.plate)

    def _entry_point(self, e: Event, recorded: str, delta: Delta) -> None:
        delta.section("entry_points")[e.state["code"]] = e.state["name"]

    def _alert(self, e: Event, recorded: str, delta: Delta) -> None:
        aid = e.originator_id
        alert = self.fold.alerts[aid]
        now_open = alert.kind if alert.status == alerts.OPEN else None
        delta.section("alerts")[aid] = alert_row(aid, alert) if now_open else None
        if self._before != now_open:
            counts = delta.section("alert_counts")
            for kind, step in ((self._before, -1), (now_open, +1)):
                if kind is not None:
                    self.alert_counts[kind] = self.alert_counts.get(kind, 0) + step
                    counts[kind] = self.alert_counts[kind]

    def _time(
        self, delta: Delta, leg: str, start: str, end: str, entry_point: str | None,
        site_id: str | None, plate: str | None,
    ) -> None:
        day = local_day(end)
        minute = minutes_between(start, end)
        cells = [f"{leg}|all|"]
        if entry_point:
            cells.append(f"{leg}|entry_point|{entry_point}")
        if site_id:
            cells.append(f"{leg}|hotel|{site_id}")
        if plate:
            cells.append(f"{leg}|vehicle|{plate}")
        timings = delta.section("timings").setdefault(day, {})
        for cell in cells:
            histogram = self.histograms.setdefault((day, cell), Counter())
            histogram[minute] += 1
            self.touched_cells.add((day, cell))
            timings[cell] = figures(histogram)

    # -- the page's writes -----------------------------------------------------------------
    def leg_rows(self) -> list[Row]:
        rows = []
        for day, cell in sorted(self.touched_cells):
            histogram = self.histograms[(day, cell)]
            f = figures(histogram)
            text = orjson.dumps({str(m): c for m, c in sorted(histogram.items())}).decode()
            rows.append((day, cell, text, f["n"], f["p50"], f["p95"]))
        return rows

    def counter_rows(self) -> list[Row]:
        """Net changes (the counters table is additive, like the stage counts)."""
        return [
            (name, n - self.counters_before.get(name, 0))
            for name, n in sorted(self.counters.items())
            if n != self.counters_before.get(name, 0)
        ]
