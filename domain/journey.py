"""One traveller's one inbound trip, from registration to the room door and release.

Public methods check the rules and decide; the private `@event` methods only assign, because
their bodies re-run on every replay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import field
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import custody, quarantine
from domain.context import Context
from domain.errors import InvalidInput, RuleBroken
from domain.quarantine import OrderDecision
from domain.stages import BEFORE_CAR_DOOR, DestinationKind, RiskLevel, ScanOutcome, Stage

# The role of a traveller acting on their own record (no staff account).
TRAVELLER = "traveller"
SOURCES = ("traveller", "manifest")
# Seals health data with the traveller's own key (the application holds it).
Seal = Callable[[dict[str, Any]], str]
NOT_OFF_ROUTE_NOW = (
    "this scan was sent to record a traveller off their route, but they are no longer off it "
    "here: nothing was recorded; scan them again and follow what the scanner says"
)


class Journey(Aggregate):
    class Registered(Aggregate.Created):
        identity_key: str
        party_id: UUID
        entry_point: str
        personal: str
        ctx: Context
        # "traveller" (the form), or "manifest" (an upstream list: airline manifest, customs
        # declarations) that the traveller completes when they scan the poster.
        source: str = "traveller"
        # A keyed hash of the flight (or vehicle) number and the seat row, if known: who
        # travelled with whom, for the survey's derived contacts, without the flight in clear.
        flight_key: str = ""
        flight_row: int | None = None

    class Amended(Aggregate.Event):
        changed_fields: list[str]
        personal: str
        ctx: Context
        # The flight as amended (None in amendments recorded before flights were kept).
        flight_key: str | None = None
        flight_row: int | None = None

    class Screened(Aggregate.Event):
        risk: str
        health: str
        custodian: str
        ctx: Context

    class DestinationAssigned(Aggregate.Event):
        kind: str
        site_id: UUID
        room: str
        ctx: Context

    class DestinationWithdrawn(Aggregate.Event):
        reason: str
        ctx: Context

    class SeatAssigned(Aggregate.Event):
        run_id: UUID
        seat: int
        ctx: Context

    class SeatWithdrawn(Aggregate.Event):
        reason: str
        ctx: Context

    class CustodyOffered(Aggregate.Event):
        offered_by: str
        offered_to: str
        ctx: Context

    class CustodyOfferWithdrawn(Aggregate.Event):
        offered_to: str
        ctx: Context

    class CustodyAccepted(Aggregate.Event):
        custodian: str
        ctx: Context

    class Boarded(Aggregate.Event):
        run_id: UUID
        scan_id: str
        ctx: Context

    class MisdirectedScanRecorded(Aggregate.Event):
        handoff: str
        expected: str
        scanned_at: str
        scan_id: str
        ctx: Context

    class Departed(Aggregate.Event):
        run_id: UUID
        ctx: Context

    class Arrived(Aggregate.Event):
        run_id: UUID
        ctx: Context

    class CheckedIn(Aggregate.Event):
        site_id: UUID
        room: str
        scan_id: str
        ctx: Context

    class SurveyRecorded(Aggregate.Event):
        risk: str
        answers: str
        ctx: Context

    class QuarantineStarted(Aggregate.Event):
        planned_end: date
        ctx: Context
        # Day 1 of the order and its test days (orders started before schedules have none).
        starts_on: date | None = None
        legal_basis: str = ""
        test_days: list[int] = field(default_factory=list)

    class QuarantineExtended(Aggregate.Event):
        planned_end: date
        previous_end: date
        reason: str  # sealed: why may be medical
        legal_basis: str
        decided_by: str
        added_tests: list[int]
        dropped_tests: list[int]
        ctx: Context

    class QuarantineShortened(Aggregate.Event):
        planned_end: date
        previous_end: date
        reason: str  # sealed
        legal_basis: str
        decided_by: str
        added_tests: list[int]
        dropped_tests: list[int]
        ctx: Context

    class TestResultRecorded(Aggregate.Event):
        test_day: int
        # Sealed: outcome, kind of test, when the sample was taken, a note, and for a
        # correction of an earlier result, why.
        result: str
        correction: bool
        ctx: Context

    class Released(Aggregate.Event):
        ctx: Context
        reason: str = ""  # sealed
        legal_basis: str = ""
        decided_by: str = ""
        early: bool = False

    class ReferredToHospital(Aggregate.Event):
        reason: str  # sealed: a medical reason
        ctx: Context

    class MarkedNoShow(Aggregate.Event):
        ctx: Context

    class Cancelled(Aggregate.Event):
        reason: str  # sealed: free text about the person (a flight missed, a family matter)
        ctx: Context

    class PersonalDataErased(Aggregate.Event):
        """The traveller's data key was destroyed: every sealed field of this journey is now
        unreadable. Holds no personal data; the counts and timings of the journey stay."""

        retention_days: int
        ctx: Context

    @event(Registered)
    def __init__(
        self,
        identity_key: str,
        party_id: UUID,
        entry_point: str,
        personal: str,
        ctx: Context,
        source: str = "traveller",
        flight_key: str = "",
        flight_row: int | None = None,
    ) -> None:
        self.identity_key = identity_key
        self.flight_key = flight_key
        self.flight_row = flight_row
        self.source = source
        # Whether the traveller has seen and submitted their details themselves.
        self.confirmed_by_traveller = source == "traveller"
        self.party_id = party_id
        self.entry_point = entry_point
        self.personal = personal
        self.stage = Stage.REGISTERED
        self.risk: RiskLevel | None = None
        self.survey_risk: RiskLevel | None = None
        self.destination_kind: DestinationKind | None = None
        self.site_id: UUID | None = None
        self.room = ""
        self.run_id: UUID | None = None
        self.seat: int | None = None
        self.custodian: str | None = None
        self.offered_to: str | None = None
        self.planned_end: date | None = None
        self.quarantine_starts_on: date | None = None
        self.legal_basis = ""
        # Test day of the order -> its latest result (sealed), None while there is none.
        self.tests: dict[int, str | None] = {}
        self.seen_scans: set[str] = set()
        self.erased = False

    @classmethod
    def register(
        cls,
        journey_id: UUID,
        identity_key: str,
        party_id: UUID,
        entry_point: str,
        personal: str,
        ctx: Context,
        source: str = "traveller",
        flight_key: str = "",
        flight_row: int | None = None,
    ) -> Journey:
        """Open a journey under an id chosen by the caller (a trip, not a person)."""
        if source not in SOURCES:
            raise InvalidInput(f"unknown registration source {source!r}")
        return cls._create(
            cls.Registered,
            id=journey_id,
            identity_key=identity_key,
            party_id=party_id,
            entry_point=entry_point,
            personal=personal,
            ctx=ctx,
            source=source,
            flight_key=flight_key,
            flight_row=flight_row,
        )

    # -- deciding ---------------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        return self.stage.is_closed

    def _require(self, *stages: Stage, doing: str) -> None:
        if self.stage not in stages:
            wanted = " or ".join(s.value for s in stages)
            raise RuleBroken(
                f"cannot {doing}: the journey is {self.stage.value}, it must be {wanted}"
            )

    def amend(
        self,
        personal: str,
        changed_fields: list[str],
        ctx: Context,
        flight_key: str | None = None,
        flight_row: int | None = None,
    ) -> bool:
        """Record changed details; a traveller confirming a pre-registration is recorded even
        when nothing changed, because the record is now theirs."""
        if self.is_closed:
            raise RuleBroken("cannot amend a closed journey; register the new trip instead")
        confirming = ctx.role == TRAVELLER and not self.confirmed_by_traveller
        if not changed_fields and not confirming:
            return False
        self._amended(
            changed_fields=sorted(changed_fields), personal=personal, ctx=ctx,
            flight_key=flight_key, flight_row=flight_row,
        )
        return True

    def screen(
        self,
        risk: RiskLevel,
        temperature: float | None,
        symptomatic: bool,
        sample_taken: bool,
        ctx: Context,
        seal: Callable[[dict[str, Any]], str],
    ) -> None:
        """The desk receives the traveller. The findings are health data: the event holds
        them only as sealed by `seal` (the traveller's own key), never in clear."""
        self._require(Stage.REGISTERED, doing="screen")
        if temperature is not None and not 30.0 <= temperature <= 45.0:
            raise InvalidInput(f"temperature {temperature} °C is not a body temperature")
        findings = {
            "temperature": temperature,
            "symptomatic": symptomatic,
            "sample_taken": sample_taken,
        }
        self._screened(
            risk=risk.value,
            health=seal(findings),
            custodian=custody.desk(self.entry_point),
            ctx=ctx,
        )

    def assign_destination(
        self, kind: DestinationKind, site_id: UUID, room: str, ctx: Context
    ) -> None:
        self._require(Stage.SCREENED, doing="assign a destination")
        if (kind is DestinationKind.HOTEL) != bool(room):
            raise InvalidInput("a hotel destination needs a room; a home destination has none")
        self._destination_assigned(kind=kind.value, site_id=site_id, room=room, ctx=ctx)

    def withdraw_destination(self, reason: str, ctx: Context) -> None:
        self._require(Stage.DESTINATION_ASSIGNED, doing="withdraw the destination")
        self._destination_withdrawn(reason=_reason(reason), ctx=ctx)

    def assign_seat(self, run_id: UUID, seat: int, ctx: Context) -> None:
        self._require(Stage.DESTINATION_ASSIGNED, doing="assign a seat")
        assert self.custodian is not None
        self._seat_assigned(run_id=run_id, seat=seat, ctx=ctx)
        self._custody_offered(offered_by=self.custodian, offered_to=custody.escort(run_id), ctx=ctx)

    def withdraw_seat(self, reason: str, ctx: Context) -> None:
        self._require(Stage.SEAT_ASSIGNED, doing="withdraw the seat")
        reason = _reason(reason)
        if self.offered_to is not None:
            self._custody_offer_withdrawn(offered_to=self.offered_to, ctx=ctx)
        self._seat_withdrawn(reason=reason, ctx=ctx)

    def board(
        self, run_id: UUID, scan_id: str, ctx: Context, *, off_route_only: bool = False
    ) -> ScanOutcome:
        """The escort scans the traveller at the car door: custody passes desk → escort.

        `off_route_only`: the scanner told staff to stop this traveller and sends the scan to
        record it; if the traveller has meanwhile been moved onto this run, that scan must not
        board them unseen (staff were told not to let them in)."""
        if scan_id in self.seen_scans:
            return ScanOutcome.DUPLICATE
        if self.stage is Stage.SEAT_ASSIGNED and self.run_id != run_id:
            self._misdirected(
                handoff="boarding",
                expected=str(self.run_id),
                scanned_at=str(run_id),
                scan_id=scan_id,
                ctx=ctx,
            )
            return ScanOutcome.MISDIRECTED
        if off_route_only:
            raise RuleBroken(NOT_OFF_ROUTE_NOW)
        self._require(Stage.SEAT_ASSIGNED, doing="board")
        self._take_offered_custody(custody.escort(run_id), ctx)
        self._boarded(run_id=run_id, scan_id=scan_id, ctx=ctx)
        return ScanOutcome.ACCEPTED

    def depart(self, run_id: UUID, ctx: Context) -> None:
        self._require(Stage.BOARDED, doing="depart")
        self._check_run(run_id)
        self._departed(run_id=run_id, ctx=ctx)

    def arrive(self, run_id: UUID, ctx: Context) -> None:
        """The vehicle is at the door: the escort offers custody to the destination's receiver."""
        self._require(Stage.IN_TRANSIT, doing="arrive")
        self._check_run(run_id)
        assert self.site_id is not None and self.custodian is not None
        self._arrived(run_id=run_id, ctx=ctx)
        self._custody_offered(
            offered_by=self.custodian, offered_to=custody.receiver(self.site_id), ctx=ctx
        )

    def check_in(
        self, site_id: UUID, scan_id: str, ctx: Context, *, off_route_only: bool = False
    ) -> ScanOutcome:
        """The receiver scans at the room (or home) door: custody passes escort → receiver.
        `off_route_only` as for `board`."""
        if scan_id in self.seen_scans:
            return ScanOutcome.DUPLICATE
        if self.stage is Stage.ARRIVED and self.site_id != site_id:
            self._misdirected(
                handoff="check-in",
                expected=str(self.site_id),
                scanned_at=str(site_id),
                scan_id=scan_id,
                ctx=ctx,
            )
            return ScanOutcome.MISDIRECTED
        if off_route_only:
            raise RuleBroken(NOT_OFF_ROUTE_NOW)
        self._require(Stage.ARRIVED, doing="check in")
        assert self.site_id is not None
        self._take_offered_custody(custody.receiver(self.site_id), ctx)
        self._checked_in(site_id=site_id, room=self.room, scan_id=scan_id, ctx=ctx)
        return ScanOutcome.ACCEPTED

    def offer_custody(self, offered_to: str, ctx: Context) -> None:
        """A hand-over between two custodians outside the planned legs (e.g. escort swap)."""
        offered_to = custody.validated(offered_to)
        if self.custodian is None or self.is_closed:
            raise RuleBroken("nobody holds custody of this journey, so nobody can hand it over")
        if offered_to == self.custodian:
            raise RuleBroken("custody cannot be offered to its current holder")
        if self.offered_to is not None:
            self._custody_offer_withdrawn(offered_to=self.offered_to, ctx=ctx)
        self._custody_offered(offered_by=self.custodian, offered_to=offered_to, ctx=ctx)

    def accept_custody(self, custodian: str, ctx: Context) -> None:
        if self.offered_to != custodian:
            raise RuleBroken(f"custody was not offered to {custodian}")
        accepting_role = custody.ACCEPTED_BY[custody.kind_of(custodian)]
        if ctx.role != accepting_role:
            raise RuleBroken(f"custody of a {custody.kind_of(custodian)} is accepted by the "
                             f"{accepting_role} who takes it over, not by a {ctx.role}")
        self._custody_accepted(custodian=custodian, ctx=ctx)

    def record_survey(self, risk: RiskLevel, answers: str, ctx: Context) -> None:
        if self.stage in (Stage.CANCELLED, Stage.NO_SHOW):
            raise RuleBroken("cannot survey a journey that never started")
        self._survey_recorded(risk=risk.value, answers=answers, ctx=ctx)

    def start_quarantine(
        self,
        planned_end: date,
        ctx: Context,
        *,
        starts_on: date | None = None,
        legal_basis: str = "",
        test_days: Sequence[int] = (),
    ) -> None:
        """The order begins at the room door: day 1 is `starts_on`, and the tests of
        `test_days` that fall inside it (and an exit test on its last day) are scheduled."""
        self._require(Stage.CHECKED_IN, doing="start quarantine")
        if ctx.occurred_at is not None and planned_end <= ctx.occurred_at.date():
            raise InvalidInput("the planned end of quarantine must be after its start")
        days: list[int] = []
        if starts_on is not None:
            quarantine.check_end(starts_on, planned_end)
            length = quarantine.length_of(starts_on, planned_end)
            days = quarantine.schedule(quarantine.check_test_days(test_days), length)
        elif test_days:
            raise InvalidInput("a test schedule needs the day the order starts")
        if len(legal_basis.strip()) > quarantine.MAX_BASIS:
            raise InvalidInput(f"the legal basis has at most {quarantine.MAX_BASIS} characters")
        self._quarantine_started(
            planned_end=planned_end, ctx=ctx, starts_on=starts_on,
            legal_basis=legal_basis.strip(), test_days=days,
        )

    def extend_quarantine(
        self, planned_end: date, decision: OrderDecision, ctx: Context, seal: Seal
    ) -> None:
        """`seal` seals the reason with the traveller's key: it may be medical."""
        self._require(Stage.UNDER_QUARANTINE, doing="extend the quarantine")
        assert self.planned_end is not None
        if planned_end <= self.planned_end:
            raise InvalidInput(
                f"an extension ends after the planned end ({self.planned_end.isoformat()}); "
                "to end earlier, shorten the order"
            )
        change = self._rescheduled(planned_end)
        self._quarantine_extended(
            planned_end=planned_end, previous_end=self.planned_end,
            reason=seal({"reason": decision.reason}),
            legal_basis=decision.legal_basis, decided_by=decision.decided_by,
            added_tests=change.added, dropped_tests=change.dropped, ctx=ctx,
        )

    def shorten_quarantine(
        self, planned_end: date, decision: OrderDecision, on: date, ctx: Context, seal: Seal
    ) -> None:
        """End the order earlier, but not before `on` (today): an order that should already
        be over is ended by a release."""
        self._require(Stage.UNDER_QUARANTINE, doing="shorten the quarantine")
        assert self.planned_end is not None
        if planned_end >= self.planned_end:
            raise InvalidInput(
                f"a shortened order ends before the planned end ({self.planned_end.isoformat()})"
                "; to end later, extend it"
            )
        if planned_end < on:
            raise InvalidInput("the new end is in the past: release the traveller instead")
        change = self._rescheduled(planned_end)
        self._quarantine_shortened(
            planned_end=planned_end, previous_end=self.planned_end,
            reason=seal({"reason": decision.reason}),
            legal_basis=decision.legal_basis, decided_by=decision.decided_by,
            added_tests=change.added, dropped_tests=change.dropped, ctx=ctx,
        )

    def _rescheduled(self, planned_end: date) -> quarantine.Reschedule:
        if self.quarantine_starts_on is None:
            return quarantine.Reschedule(added=[], dropped=[])  # an order without a schedule
        quarantine.check_end(self.quarantine_starts_on, planned_end)
        length = quarantine.length_of(self.quarantine_starts_on, planned_end)
        return quarantine.reschedule(self.tests, length)

    def record_test_result(
        self, test_day: int, result: str, ctx: Context, correction_reason: str = ""
    ) -> None:
        """A test's result (sealed by the caller: it is health data). A day that already has
        a result is recorded again only as a correction, with its reason (which the caller
        seals into the result)."""
        self._require(Stage.UNDER_QUARANTINE, doing="record a test result")
        if self.quarantine_starts_on is not None and self.planned_end is not None:
            length = quarantine.length_of(self.quarantine_starts_on, self.planned_end)
            if not 1 <= test_day <= length:
                raise InvalidInput(f"the order has days 1 to {length}; there is no day {test_day}")
        elif test_day < 1:
            raise InvalidInput("test days start at day 1")
        correction_reason = correction_reason.strip()
        if self.tests.get(test_day) is not None and not correction_reason:
            raise RuleBroken(
                f"the day {test_day} test already has a result; to correct it, give the reason"
            )
        if correction_reason and self.tests.get(test_day) is None:
            raise RuleBroken(f"the day {test_day} test has no result to correct")
        self._test_result_recorded(
            test_day=test_day, result=result, correction=bool(correction_reason), ctx=ctx
        )

    def release(
        self,
        decision: OrderDecision,
        on: date,
        ctx: Context,
        open_sealed: Callable[[str], dict[str, Any]],
        seal: Seal,
    ) -> None:
        """The order ends on `on`: every test due by then has a result and none is positive.
        `open_sealed` opens a sealed test result and `seal` seals the reason (the caller
        holds the traveller's key)."""
        self._require(Stage.UNDER_QUARANTINE, doing="release")
        assert self.planned_end is not None
        outcomes = {
            day: str(open_sealed(sealed).get("outcome", ""))
            for day, sealed in self.tests.items() if sealed is not None
        }
        quarantine.check_release(self.tests, self.quarantine_starts_on, on, outcomes)
        self._released(
            ctx=ctx, reason=seal({"reason": decision.reason}), legal_basis=decision.legal_basis,
            decided_by=decision.decided_by, early=on < self.planned_end,
        )

    def refer_to_hospital(self, reason: str, ctx: Context, seal: Seal) -> None:
        """`seal` seals the reason with the traveller's key: it is medical."""
        if self.is_closed:
            raise RuleBroken(f"cannot refer to hospital: the journey is {self.stage.value}")
        self._referred_to_hospital(reason=seal({"reason": _reason(reason)}), ctx=ctx)

    def mark_no_show(self, ctx: Context) -> None:
        self._require(*sorted(BEFORE_CAR_DOOR, key=lambda s: s.rank), doing="mark no-show")
        self._marked_no_show(ctx=ctx)

    def cancel(self, reason: str, ctx: Context, seal: Seal) -> None:
        """`seal` seals the reason with the traveller's key: staff type it about the person."""
        self._require(*sorted(BEFORE_CAR_DOOR, key=lambda s: s.rank), doing="cancel")
        self._cancelled(reason=seal({"reason": _reason(reason)}), ctx=ctx)

    def record_erasure(self, retention_days: int, ctx: Context) -> None:
        """The data key is destroyed with this event (tracking/retention.py): only a journey
        that has ended, and only once."""
        if not self.is_closed:
            raise RuleBroken(f"cannot erase an open journey: it is {self.stage.value}")
        if self.erased:
            raise RuleBroken("this traveller's personal data is already erased")
        self._personal_data_erased(retention_days=retention_days, ctx=ctx)

    def _take_offered_custody(self, custodian: str, ctx: Context) -> None:
        """The scan is the acceptance of the handoff offered to the scanner, unless the
        scanner already accepted it (from the phone) and holds custody."""
        if self.custodian == custodian:
            return
        # A handoff is offered and accepted: nobody takes custody that was not offered to them.
        if self.offered_to != custodian:
            raise RuleBroken(
                f"custody of this traveller is offered to {self.offered_to or 'nobody'}, "
                f"not to {custodian}"
            )
        self._custody_accepted(custodian=custodian, ctx=ctx)

    def _check_run(self, run_id: UUID) -> None:
        if self.run_id != run_id:
            raise RuleBroken("the traveller is not on this vehicle run")

    # -- recording (assignment only: these bodies re-run on every replay) --------------------

    @event(Amended)
    def _amended(
        self,
        changed_fields: list[str],
        personal: str,
        ctx: Context,
        flight_key: str | None = None,
        flight_row: int | None = None,
    ) -> None:
        self.personal = personal
        if flight_key is not None:
            self.flight_key = flight_key
            self.flight_row = flight_row
        if ctx.role == TRAVELLER:
            self.confirmed_by_traveller = True

    @event(Screened)
    def _screened(self, risk: str, health: str, custodian: str, ctx: Context) -> None:
        self.stage = Stage.SCREENED
        self.risk = RiskLevel(risk)
        self.custodian = custodian

    @event(DestinationAssigned)
    def _destination_assigned(self, kind: str, site_id: UUID, room: str, ctx: Context) -> None:
        self.stage = Stage.DESTINATION_ASSIGNED
        self.destination_kind = DestinationKind(kind)
        self.site_id = site_id
        self.room = room

    @event(DestinationWithdrawn)
    def _destination_withdrawn(self, reason: str, ctx: Context) -> None:
        self.stage = Stage.SCREENED
        self.destination_kind = None
        self.site_id = None
        self.room = ""

    @event(SeatAssigned)
    def _seat_assigned(self, run_id: UUID, seat: int, ctx: Context) -> None:
        self.stage = Stage.SEAT_ASSIGNED
        self.run_id = run_id
        self.seat = seat

    @event(SeatWithdrawn)
    def _seat_withdrawn(self, reason: str, ctx: Context) -> None:
        self.stage = Stage.DESTINATION_ASSIGNED
        self.run_id = None
        self.seat = None

    @event(CustodyOffered)
    def _custody_offered(self, offered_by: str, offered_to: str, ctx: Context) -> None:
        self.offered_to = offered_to

    @event(CustodyOfferWithdrawn)
    def _custody_offer_withdrawn(self, offered_to: str, ctx: Context) -> None:
        self.offered_to = None

    @event(CustodyAccepted)
    def _custody_accepted(self, custodian: str, ctx: Context) -> None:
        self.custodian = custodian
        self.offered_to = None

    @event(Boarded)
    def _boarded(self, run_id: UUID, scan_id: str, ctx: Context) -> None:
        self.stage = Stage.BOARDED
        self.seen_scans.add(scan_id)

    @event(MisdirectedScanRecorded)
    def _misdirected(
        self, handoff: str, expected: str, scanned_at: str, scan_id: str, ctx: Context
    ) -> None:
        self.seen_scans.add(scan_id)

    @event(Departed)
    def _departed(self, run_id: UUID, ctx: Context) -> None:
        self.stage = Stage.IN_TRANSIT

    @event(Arrived)
    def _arrived(self, run_id: UUID, ctx: Context) -> None:
        self.stage = Stage.ARRIVED

    @event(CheckedIn)
    def _checked_in(self, site_id: UUID, room: str, scan_id: str, ctx: Context) -> None:
        self.stage = Stage.CHECKED_IN
        self.seen_scans.add(scan_id)

    @event(SurveyRecorded)
    def _survey_recorded(self, risk: str, answers: str, ctx: Context) -> None:
        self.survey_risk = RiskLevel(risk)

    @event(QuarantineStarted)
    def _quarantine_started(
        self,
        planned_end: date,
        ctx: Context,
        starts_on: date | None = None,
        legal_basis: str = "",
        test_days: list[int] | None = None,
    ) -> None:
        self.stage = Stage.UNDER_QUARANTINE
        self.planned_end = planned_end
        self.quarantine_starts_on = starts_on
        self.legal_basis = legal_basis
        self.tests = dict.fromkeys(test_days or [])

    @event(QuarantineExtended)
    def _quarantine_extended(
        self, planned_end: date, previous_end: date, reason: str, legal_basis: str,
        decided_by: str, added_tests: list[int], dropped_tests: list[int], ctx: Context,
    ) -> None:
        self._move_end(planned_end, added_tests, dropped_tests)

    @event(QuarantineShortened)
    def _quarantine_shortened(
        self, planned_end: date, previous_end: date, reason: str, legal_basis: str,
        decided_by: str, added_tests: list[int], dropped_tests: list[int], ctx: Context,
    ) -> None:
        self._move_end(planned_end, added_tests, dropped_tests)

    def _move_end(self, planned_end: date, added: list[int], dropped: list[int]) -> None:
        self.planned_end = planned_end
        for day in dropped:
            self.tests.pop(day, None)
        for day in added:
            self.tests.setdefault(day, None)
        self.tests = dict(sorted(self.tests.items()))

    @event(TestResultRecorded)
    def _test_result_recorded(
        self, test_day: int, result: str, correction: bool, ctx: Context
    ) -> None:
        self.tests[test_day] = result
        self.tests = dict(sorted(self.tests.items()))

    @event(Released)
    def _released(
        self, ctx: Context, reason: str = "", legal_basis: str = "", decided_by: str = "",
        early: bool = False,
    ) -> None:
        self._close(Stage.RELEASED)

    @event(ReferredToHospital)
    def _referred_to_hospital(self, reason: str, ctx: Context) -> None:
        # The hospital takes custody from whoever held it; a traveller never in custody
        # (referred straight from registration) is the hospital's from then on too.
        self._close(Stage.REFERRED_TO_HOSPITAL)
        self.custodian = custody.HOSPITAL

    @event(MarkedNoShow)
    def _marked_no_show(self, ctx: Context) -> None:
        self._close(Stage.NO_SHOW)

    @event(Cancelled)
    def _cancelled(self, reason: str, ctx: Context) -> None:
        self._close(Stage.CANCELLED)

    @event(PersonalDataErased)
    def _personal_data_erased(self, retention_days: int, ctx: Context) -> None:
        self.erased = True

    def _close(self, stage: Stage) -> None:
        self.stage = stage
        self.custodian = None
        self.offered_to = None

    def state(self) -> dict[str, Any]:
        """The decision-relevant state, for comparing a live aggregate with its replay."""
        return {
            k: v for k, v in vars(self).items() if not k.startswith("_") and k not in ("personal",)
        } | {"personal": self.personal, "version": self.version}


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required")
    return reason
