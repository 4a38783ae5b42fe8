"""What the care side of a journey changes in the views, folded beside the line's views
(projections/fold.py): the tests of quarantine orders, hospital transfers, the access log of
health data, and the per-day counts of the daily report.

Like the rest of the fold, it depends on the events alone: counts are per local day of the
event's recorded time, never of the moment the projector runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from domain import quarantine
from domain.alerts import Alert
from domain.journey import Journey
from domain.transfer import HospitalTransfer
from projections import decode
from projections.board_fold import local_day
from projections.events import Event, Row

if TYPE_CHECKING:
    from projections.fold import Fold, JourneyRow

# Journey events counted per day (by entry point and by site besides the total).
DAILY_JOURNEY_METRICS = {
    Journey.Registered.__name__: "registered",
    Journey.Screened.__name__: "screened",
    Journey.CheckedIn.__name__: "checked_in",
    Journey.QuarantineStarted.__name__: "quarantine_started",
    Journey.QuarantineExtended.__name__: "quarantine_extended",
    Journey.QuarantineShortened.__name__: "quarantine_shortened",
    Journey.Released.__name__: "released",
    Journey.ReferredToHospital.__name__: "referred_to_hospital",
    Journey.MarkedNoShow.__name__: "no_show",
    Journey.Cancelled.__name__: "cancelled",
}
DAILY_TRANSFER_METRICS = {
    HospitalTransfer.Requested.__name__: "transfers_requested",
    HospitalTransfer.Delivered.__name__: "transfers_delivered",
    HospitalTransfer.Cancelled.__name__: "transfers_cancelled",
}
TRANSFER_STATUS_AFTER = {
    HospitalTransfer.VehicleAssigned.__name__: "vehicle_assigned",
    HospitalTransfer.PickedUp.__name__: "picked_up",
    HospitalTransfer.Delivered.__name__: "delivered",
    HospitalTransfer.Cancelled.__name__: "cancelled",
}
SURVEYED, TESTS_RECORDED = "surveyed", "tests_recorded"


def alert_metric(kind: str) -> str:
    return f"alerts_raised:{kind}"


@dataclass(slots=True)
class TransferRow:
    journey_id: str | None
    status: str
    status_at: str
    requested_at: str
    entry_point: str
    pickup: str
    room: str
    urgency: str
    vehicle_id: str | None
    plate: str
    hospital: str


class CareFold:
    def __init__(self, fold: Fold, transfers: Iterable[Row]) -> None:
        self.fold = fold
        self.transfers = {r[0]: TransferRow(*r[1:]) for r in transfers}
        self.touched_transfers: set[str] = set()
        self.tests: dict[tuple[str, int], Row | None] = {}
        self.accesses: list[Row] = []
        self.daily: Counter[tuple[str, str, str, str]] = Counter()
        self._surveyed_before: str | None = None

    # -- per event -------------------------------------------------------------------------
    def before(self, e: Event) -> None:
        if e.kind == "journey":
            row = self.fold.journeys.get(e.originator_id)
            self._surveyed_before = None if row is None else row.surveyed_at

    def after(self, e: Event) -> None:
        if e.kind == "journey":
            self._journey(e, self.fold.journeys[e.originator_id])
        elif e.kind == "alert" and e.name == Alert.Raised.__name__:
            self._count(alert_metric(e.state["kind"]), e, e.state["entry_point"], None)

    def _journey(self, e: Event, row: JourneyRow) -> None:
        metric = DAILY_JOURNEY_METRICS.get(e.name)
        if e.name == Journey.SurveyRecorded.__name__ and self._surveyed_before is None:
            metric = SURVEYED  # the backlog and the report count first surveys
        elif e.name == Journey.TestResultRecorded.__name__ and not e.state["correction"]:
            metric = TESTS_RECORDED
        if metric is not None:
            self._count(metric, e, row.entry_point, row.site_id)
        jid, s = e.originator_id, e.state
        if e.name == Journey.QuarantineStarted.__name__:
            for day in s.get("test_days") or ():
                self._schedule(jid, row, day)
        elif e.name in (Journey.QuarantineExtended.__name__, Journey.QuarantineShortened.__name__):
            for day in s["dropped_tests"]:
                self.tests[(jid, day)] = None
            for day in s["added_tests"]:
                self._schedule(jid, row, day)
        elif e.name == Journey.TestResultRecorded.__name__:
            self._schedule(jid, row, s["test_day"], recorded=True)

    def _schedule(self, jid: str, row: JourneyRow, day: int, *, recorded: bool = False) -> None:
        due = None
        if row.quarantine_starts_on is not None:
            due = quarantine.due_on(date.fromisoformat(row.quarantine_starts_on), day).isoformat()
        self.tests[(jid, day)] = (jid, day, due, row.site_id, 1 if recorded else 0)

    def transfer(self, e: Event) -> None:
        s, tid = e.state, e.originator_id
        recorded = decode.recorded_at(s)
        self.touched_transfers.add(tid)
        if e.name == HospitalTransfer.Requested.__name__:
            self.transfers[tid] = TransferRow(
                decode.uuid(s["journey_id"]), "requested", recorded, recorded, s["entry_point"],
                s["pickup"], s["room"], s["urgency"], None, "", "",
            )
        else:
            row = self.transfers.get(tid)
            if row is None:
                raise self.fold.missing(e)
            row.status, row.status_at = TRANSFER_STATUS_AFTER[e.name], recorded
            if e.name == HospitalTransfer.VehicleAssigned.__name__:
                row.vehicle_id, row.plate = decode.uuid(s["vehicle_id"]), s["plate"]
            elif e.name == HospitalTransfer.Delivered.__name__:
                row.hospital = s["hospital"]
        metric = DAILY_TRANSFER_METRICS.get(e.name)
        if metric is not None:
            self._count(metric, e, self.transfers[tid].entry_point, None)

    def access(self, e: Event) -> None:
        s = e.state
        actor, role, _, _ = decode.context(s)
        self.accesses.append((
            e.originator_id, decode.uuid(s["journey_id"]), actor, role, ",".join(s["what"]),
            s["purpose"], decode.recorded_at(s), e.position,
        ))

    def _count(self, metric: str, e: Event, entry_point: str | None, site_id: str | None) -> None:
        day = local_day(decode.recorded_at(e.state))
        self.daily[(day, metric, "all", "")] += 1
        if entry_point:
            self.daily[(day, metric, "entry_point", entry_point)] += 1
        if site_id:
            self.daily[(day, metric, "site", site_id)] += 1

    # -- the page's writes -----------------------------------------------------------------
    def test_rows(self) -> list[Row]:
        return [row for _, row in sorted(self.tests.items()) if row is not None]

    def dropped_tests(self) -> list[Row]:
        return [key for key, row in sorted(self.tests.items()) if row is None]

    def transfer_rows(self) -> list[Row]:
        return [
            (tid, *(getattr(self.transfers[tid], f) for f in TransferRow.__slots__))
            for tid in sorted(self.touched_transfers)
        ]

    def daily_rows(self) -> list[Row]:
        return [(*key, n) for key, n in sorted(self.daily.items())]
