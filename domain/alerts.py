"""Loop-not-closed alerts: a handoff that should have happened by now and has not.

An alert is raised when a loop of the door-to-door line has stayed open longer than its
threshold (a seat assigned but nobody boarded, a vehicle arrived and its passengers not
handed over, ...) and cleared when the loop closes. Detection is a pure function of the facts
the views hold and of `now`, which the caller passes: nothing here reads a clock.

Several monitors (one per API process) may sweep at once: an occurrence of a loop has a
deterministic id (kind, subject, since), so it is raised once whoever sees it first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import custody
from domain.errors import InvalidInput, RuleBroken
from domain.journey import Journey
from domain.stages import Stage
from domain.transport import ARRIVED, TransportRun

# The kinds of loop (plain strings: they are stored in events and shown to pages as codes).
NOT_BOARDED = "not_boarded"  # a seat assigned, the traveller not boarded
NOT_CHECKED_IN = "not_checked_in"  # boarded, not checked in at the destination
NOT_HANDED_OVER = "not_handed_over"  # the vehicle arrived, passengers not handed over
CUSTODY_NOT_ACCEPTED = "custody_not_accepted"  # custody offered, not accepted
OFF_ROUTE = "off_route"  # scanned at the wrong vehicle or the wrong site
SURVEY_OVERDUE = "survey_overdue"  # checked in, not surveyed within the survey's SLA
KINDS: tuple[str, ...] = (
    NOT_BOARDED, NOT_CHECKED_IN, NOT_HANDED_OVER, CUSTODY_NOT_ACCEPTED, OFF_ROUTE, SURVEY_OVERDUE
)
OPEN, CLEARED = "open", "cleared"

# From the car door until the room door (or the hospital) the traveller is on the road.
ON_BOARD = frozenset({Stage.BOARDED.value, Stage.IN_TRANSIT.value, Stage.ARRIVED.value})
CLOSED = frozenset(s.value for s in Stage if s.is_closed)
# Past the room door: where the survey's clock runs until the first survey.
AT_THE_DESTINATION = frozenset({Stage.CHECKED_IN.value, Stage.UNDER_QUARANTINE.value})
# The handoff of a misdirected scan, and the stage that closes it when reached.
OFF_ROUTE_CLOSED_BY = {"boarding": Stage.BOARDED, "check-in": Stage.CHECKED_IN}
MAX_THRESHOLD_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Thresholds:
    """Minutes a loop may stay open before it is an alert."""

    not_boarded: int = 60
    not_checked_in: int = 120
    not_handed_over: int = 20
    custody_not_accepted: int = 15
    off_route: int = 0  # a scan at the wrong place is an alert at once
    survey_overdue: int = 24 * 60

    def __post_init__(self) -> None:
        for kind in KINDS:
            minutes = getattr(self, kind)
            if not isinstance(minutes, int) or not 0 <= minutes <= MAX_THRESHOLD_MINUTES:
                raise InvalidInput(
                    f"the {kind} threshold must be a whole number of minutes between 0 and "
                    f"{MAX_THRESHOLD_MINUTES}, not {minutes!r}"
                )

    def minutes(self, kind: str) -> int:
        if kind not in KINDS:
            raise InvalidInput(f"unknown alert kind {kind!r}")
        value: int = getattr(self, kind)
        return value


# -- the facts detection reads (rows of the views) ---------------------------------------------


@dataclass(frozen=True)
class JourneyFacts:
    journey_id: str
    stage: str
    entered_at: datetime  # when the journey entered its stage (store time)
    entry_point: str
    run_id: str | None = None
    site_id: str | None = None
    boarded_at: datetime | None = None
    offered_to: str | None = None  # a custody offer not yet accepted or withdrawn
    offered_at: datetime | None = None
    off_route: str | None = None  # the handoff of a misdirected scan not yet put right
    off_route_at: datetime | None = None
    checked_in_at: datetime | None = None
    surveyed: bool = False


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    status: str
    status_at: datetime  # when the run entered its status (store time)
    entry_point: str
    plate: str = ""
    waiting: int = 0  # on board and not yet handed over


@dataclass(frozen=True)
class OpenAlert:
    alert_id: str
    kind: str
    subject: str
    journey_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class AlertFacts:
    """What one sweep reads, in one snapshot of the views."""

    position: int
    journeys: tuple[JourneyFacts, ...] = ()
    runs: tuple[RunFacts, ...] = ()
    open_alerts: tuple[OpenAlert, ...] = ()


def alert_id(kind: str, subject: str, since: datetime) -> UUID:
    """One occurrence of one loop: the same whichever monitor sees it."""
    if since.tzinfo is None:
        raise InvalidInput("alert times must carry a time zone")
    return uuid5(NAMESPACE_URL, f"/alerts/{kind}/{subject}/{since.astimezone(UTC).isoformat()}")


@dataclass(frozen=True)
class Condition:
    """A loop that is open now, and since when."""

    kind: str
    subject: str  # the journey (or, for a vehicle, the run) whose loop is open
    since: datetime
    entry_point: str
    journey_id: str | None = None
    run_id: str | None = None
    detail: str = ""  # offered to whom; which handoff was misdirected; the vehicle's plate

    @property
    def alert_id(self) -> UUID:
        return alert_id(self.kind, self.subject, self.since)

    def open_for(self, now: datetime) -> timedelta:
        return now - self.since

    def is_overdue(self, now: datetime, thresholds: Thresholds) -> bool:
        """Open at least as long as its threshold (a clock behind `since` is not overdue)."""
        return self.open_for(now) >= timedelta(minutes=thresholds.minutes(self.kind))


def is_planned_leg(j: JourneyFacts) -> bool:
    """The custody offers of the line itself (to the escort at seat assignment, to the
    receiver on arrival) are accepted by the car-door and room-door scans; those loops are
    watched as `not_boarded`, `not_handed_over` and `not_checked_in`, not twice."""
    if j.offered_to is None:
        return False
    if j.stage == Stage.SEAT_ASSIGNED.value and j.run_id is not None:
        return j.offered_to == custody.escort(UUID(j.run_id))
    if j.stage == Stage.ARRIVED.value and j.site_id is not None:
        return j.offered_to == custody.receiver(UUID(j.site_id))
    return False


def journey_conditions(j: JourneyFacts) -> list[Condition]:
    if j.stage in CLOSED:
        return []
    found = []

    def add(kind: str, since: datetime, detail: str = "") -> None:
        found.append(Condition(kind, j.journey_id, since, j.entry_point, j.journey_id, j.run_id,
                               detail))

    if j.stage == Stage.SEAT_ASSIGNED.value and j.run_id is not None:
        add(NOT_BOARDED, j.entered_at)
    if j.stage in ON_BOARD and j.boarded_at is not None:
        add(NOT_CHECKED_IN, j.boarded_at)
    if j.offered_to is not None and j.offered_at is not None and not is_planned_leg(j):
        add(CUSTODY_NOT_ACCEPTED, j.offered_at, j.offered_to)
    if j.off_route_at is not None:
        add(OFF_ROUTE, j.off_route_at, j.off_route or "")
    if j.stage in AT_THE_DESTINATION and j.checked_in_at is not None and not j.surveyed:
        add(SURVEY_OVERDUE, j.checked_in_at)
    return found


def run_conditions(r: RunFacts) -> list[Condition]:
    # An arrived run closes itself once nobody is left on board: arrived means waiting.
    if r.status != ARRIVED:
        return []
    return [Condition(NOT_HANDED_OVER, r.run_id, r.status_at, r.entry_point, None, r.run_id,
                      r.plate)]


def conditions(journeys: Iterable[JourneyFacts], runs: Iterable[RunFacts]) -> list[Condition]:
    """Every loop open in these facts, oldest first."""
    found = [c for j in journeys for c in journey_conditions(j)]
    found += [c for r in runs for c in run_conditions(r)]
    return sorted(found, key=lambda c: (c.since, c.kind, c.subject))


@dataclass(frozen=True)
class Plan:
    raise_: tuple[Condition, ...]
    clear: tuple[OpenAlert, ...]


def plan(
    holding: Iterable[Condition],
    open_alerts: Iterable[OpenAlert],
    now: datetime,
    thresholds: Thresholds,
) -> Plan:
    """Raise what is overdue and not yet open; clear what is open and no longer holds.

    An open alert stays open while its loop stays open, even if the threshold was since
    raised: it is cleared by the loop closing, never by a setting."""
    holding = list(holding)
    open_alerts = list(open_alerts)
    open_ids = {a.alert_id for a in open_alerts}
    holding_ids = {str(c.alert_id) for c in holding}
    to_raise = tuple(
        c for c in holding if str(c.alert_id) not in open_ids and c.is_overdue(now, thresholds)
    )
    to_clear = tuple(a for a in open_alerts if a.alert_id not in holding_ids)
    return Plan(to_raise, to_clear)


def overdue(
    journeys: Iterable[JourneyFacts],
    runs: Iterable[RunFacts],
    now: datetime,
    thresholds: Thresholds,
) -> list[Condition]:
    """The alerts that should be open at `now`: loops open at least their threshold."""
    return [c for c in conditions(journeys, runs) if c.is_overdue(now, thresholds)]


def closing_reason(
    alert: OpenAlert, journey: JourneyFacts | None, run: RunFacts | None
) -> str:
    """Why the loop of an open alert is closed, in words, from the facts as they are now."""
    if alert.kind == NOT_HANDED_OVER:
        if run is None or run.status != ARRIVED:
            return "every passenger was handed over"
        return "the run arrived again"  # a new occurrence (not expected on this line)
    if journey is None:
        return "the journey is no longer on the line"
    if journey.stage in CLOSED:
        return f"the journey ended ({journey.stage.replace('_', ' ')})"
    rank = Stage(journey.stage).rank
    if alert.kind == NOT_BOARDED:
        if rank >= Stage.BOARDED.rank:
            return "boarded"
        return "the seat was withdrawn or changed"
    if alert.kind == NOT_CHECKED_IN:
        return "checked in" if rank >= Stage.CHECKED_IN.rank else "no longer on board"
    if alert.kind == CUSTODY_NOT_ACCEPTED:
        if journey.offered_to is None:
            return "custody was accepted or the offer withdrawn"
        return "custody was offered again"
    if alert.kind == OFF_ROUTE:
        if rank >= Stage.CHECKED_IN.rank:
            return "checked in at the right place"
        if rank >= Stage.BOARDED.rank:
            return "boarded on the right vehicle"
        return "put right"
    if alert.kind == SURVEY_OVERDUE and journey.surveyed:
        return "surveyed"
    return "the loop closed"


def still_holds(
    condition: Condition, journey: Journey | None, run: TransportRun | None
) -> bool:
    """Whether the write model agrees that the loop is still open (the views may lag)."""
    if condition.kind == NOT_HANDED_OVER:
        return run is not None and run.status == ARRIVED and bool(run.on_board)
    if journey is None or journey.is_closed:
        return False
    if condition.kind == NOT_BOARDED:
        return journey.stage is Stage.SEAT_ASSIGNED and str(journey.run_id) == condition.run_id
    if condition.kind == NOT_CHECKED_IN:
        return journey.stage.value in ON_BOARD
    if condition.kind == CUSTODY_NOT_ACCEPTED:
        return journey.offered_to is not None and journey.offered_to == condition.detail
    if condition.kind == OFF_ROUTE:
        closed_by = OFF_ROUTE_CLOSED_BY.get(condition.detail)
        return closed_by is None or journey.stage.rank < closed_by.rank
    if condition.kind == SURVEY_OVERDUE:
        return journey.survey_risk is None
    return False


# -- the aggregate -------------------------------------------------------------------------------


class Alert(Aggregate):
    class Raised(Aggregate.Created):
        kind: str
        subject: str
        journey_id: UUID | None
        run_id: UUID | None
        entry_point: str
        detail: str
        since: datetime
        threshold_minutes: int
        detected_at: datetime

    class Cleared(Aggregate.Event):
        reason: str
        cleared_at: datetime

    @staticmethod
    def create_id(kind: str, subject: str, since: datetime) -> UUID:
        return alert_id(kind, subject, since)

    @event(Raised)
    def __init__(
        self,
        kind: str,
        subject: str,
        journey_id: UUID | None,
        run_id: UUID | None,
        entry_point: str,
        detail: str,
        since: datetime,
        threshold_minutes: int,
        detected_at: datetime,
    ) -> None:
        self.kind = kind
        self.subject = subject
        self.journey_id = journey_id
        self.run_id = run_id
        self.entry_point = entry_point
        self.detail = detail
        self.since = since
        self.threshold_minutes = threshold_minutes
        self.detected_at = detected_at
        self.status = OPEN
        self.reason = ""
        self.cleared_at: datetime | None = None

    @classmethod
    def raise_for(
        cls, condition: Condition, thresholds: Thresholds, detected_at: datetime
    ) -> Alert:
        """Raise the alert of an open loop that has been open at least its threshold."""
        if detected_at.tzinfo is None:
            raise InvalidInput("alert times must carry a time zone")
        threshold = thresholds.minutes(condition.kind)
        if not condition.is_overdue(detected_at, thresholds):
            raise RuleBroken(
                f"a {condition.kind} loop becomes an alert after {threshold} minutes; "
                f"this one has been open {condition.open_for(detected_at)}"
            )
        return cls(
            kind=condition.kind,
            subject=condition.subject,
            journey_id=None if condition.journey_id is None else UUID(condition.journey_id),
            run_id=None if condition.run_id is None else UUID(condition.run_id),
            entry_point=condition.entry_point,
            detail=condition.detail,
            since=condition.since.astimezone(UTC),
            threshold_minutes=threshold,
            detected_at=detected_at.astimezone(UTC),
        )

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    def clear(self, reason: str, cleared_at: datetime) -> bool:
        """The loop closed. Clearing a cleared alert changes nothing (another monitor did)."""
        reason = reason.strip()
        if not reason:
            raise InvalidInput("a reason is required")
        if cleared_at.tzinfo is None:
            raise InvalidInput("alert times must carry a time zone")
        if not self.is_open:
            return False
        self._cleared(reason=reason, cleared_at=cleared_at.astimezone(UTC))
        return True

    @event(Cleared)
    def _cleared(self, reason: str, cleared_at: datetime) -> None:
        self.status = CLEARED
        self.reason = reason
        self.cleared_at = cleared_at


def message(kind: str, detail: str, threshold_minutes: int) -> str:
    """The alert in English (pages translate by `kind`)."""
    n = threshold_minutes
    if kind == NOT_BOARDED:
        return f"Seat assigned but not boarded within {n} minutes"
    if kind == NOT_CHECKED_IN:
        return f"Boarded but not checked in at the destination within {n} minutes"
    if kind == NOT_HANDED_OVER:
        vehicle = f"Vehicle {detail}" if detail else "A vehicle"
        return f"{vehicle} arrived but passengers were not handed over within {n} minutes"
    if kind == CUSTODY_NOT_ACCEPTED:
        return f"Custody offered to {detail or 'a custodian'} but not accepted within {n} minutes"
    if kind == OFF_ROUTE:
        if detail == "boarding":
            return "Scanned at the wrong vehicle at boarding"
        if detail == "check-in":
            return "Scanned at the wrong destination at check-in"
        return "Scanned at the wrong place"
    if kind == SURVEY_OVERDUE:
        hours = f"{n // 60} hours" if n % 60 == 0 else f"{n} minutes"
        return f"Checked in but not surveyed within {hours}"
    return kind
