"""The door-to-door line as application commands: get → one aggregate method → save.

Every command takes a `Context` (who, where, device time) and an optional `Idempotency`,
and answers a small JSON-able dict; `unit_of_work.execute` saves its decision exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder

from domain import quarantine
from domain.calendar import local_date
from domain.context import Context
from domain.errors import InvalidInput, NotFound, RuleBroken
from domain.identity import (
    IdentityRecord,
    flight_key,
    identity_key,
    identity_record_id,
    normalise_document,
    seat_row,
)
from domain.journey import Journey
from domain.party import TravelParty
from domain.quarantine import OrderDecision
from domain.reference import EntryPoint, entry_point_id
from domain.site import Site, site_id
from domain.stages import DestinationKind, RiskLevel, ScanOutcome, Stage
from domain.transfer import HospitalTransfer, pickup_for
from domain.transport import TransportRun, Vehicle, vehicle_id
from tracking.keyed_locks import KeyedLocks
from tracking.persistence import APP_NAME
from tracking.transcodings import ContextAsDict, DateAsISO
from tracking.unit_of_work import Answer, Decision, Idempotency, Saver, execute
from tracking.vault import PersonalDataVault

A = TypeVar("A", bound=Aggregate)
MIXED_RISK = (
    "high-risk travellers do not share a vehicle with others: choose a run carrying only "
    "high-risk travellers, or an empty one"
)
# Stages in which the traveller holds a seat or is with a vehicle.
ON_THE_ROAD = (Stage.SEAT_ASSIGNED, Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED)


@dataclass(frozen=True)
class QuarantinePlan:
    """The district's standing rules for a new quarantine order (settings may change them)."""

    length_days: int = quarantine.DEFAULT_LENGTH_DAYS
    test_days: tuple[int, ...] = quarantine.DEFAULT_TEST_DAYS
    legal_basis: str = "《中华人民共和国传染病防治法》《中华人民共和国国境卫生检疫法》"


@dataclass(frozen=True)
class Person:
    """One traveller in a registration: the document that identifies them, and the rest."""

    doc_type: str
    country: str
    number: str
    details: dict[str, Any]


class TrackingApp(Application[UUID]):
    name = APP_NAME

    def __init__(self, env: dict[str, str], secret: bytes, vault: PersonalDataVault) -> None:
        super().__init__(env)
        self.secret = secret
        self.vault = vault
        self._known_entry_points: set[str] = set()
        # Set by the wiring to a GroupCommitter; None saves each command on its own.
        self.saver: Saver | None = None
        self._site_locks = KeyedLocks()
        self.quarantine_plan = QuarantinePlan()
        # The application's clock (the domain reads none): what day it is for the district.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def today(self) -> date:
        return local_date(self.clock())

    def _execute(
        self,
        decide: Callable[[], Decision],
        idempotency: Idempotency | None,
        *,
        one_at_a_time: str | None = None,
    ) -> Answer:
        """`one_at_a_time` names a hot aggregate the command writes (a hotel's rooms): commands
        naming the same one queue in this process instead of retrying each other's conflicts."""
        with self._site_locks.hold(one_at_a_time):
            return execute(self, decide, idempotency, self.saver)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ContextAsDict())
        transcoder.register(DateAsISO())

    # -- lookups -------------------------------------------------------------------------------

    def _get(self, kind: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"no such {what}") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"no such {what}")
        return aggregate

    def journey(self, journey_id: UUID) -> Journey:
        return self._get(Journey, journey_id, "journey")

    def site(self, code: str) -> Site:
        return self._get(Site, site_id(code), f"site {code!r}")

    def site_by_id(self, site: UUID) -> Site:
        return self._get(Site, site, "site")

    def run(self, run_id: UUID) -> TransportRun:
        return self._get(TransportRun, run_id, "vehicle run")

    def entry_point(self, code: str) -> EntryPoint:
        return self._get(EntryPoint, entry_point_id(code), f"entry point {code!r}")

    def vehicle(self, plate: str) -> Vehicle:
        return self._get(Vehicle, vehicle_id(plate), f"vehicle {plate!r}")

    def vehicle_by_id(self, vehicle: UUID) -> Vehicle:
        return self._get(Vehicle, vehicle, "vehicle")

    def transfer(self, transfer_id: UUID) -> HospitalTransfer:
        return self._get(HospitalTransfer, transfer_id, "hospital transfer")

    def personal_details(self, journey: Journey) -> dict[str, Any]:
        return self.vault.open(journey.id, journey.personal)

    def party_of(self, journey: Journey) -> list[Journey]:
        """The open journeys of the traveller's party, the traveller first."""
        if journey.party_id == journey.id:
            return [journey]
        party = self._get(TravelParty, journey.party_id, "travel party")
        others = [self.journey(m) for m in party.members if m != journey.id]
        return [journey, *(j for j in others if not j.is_closed)]

    # -- reference data ------------------------------------------------------------------------

    def register_entry_point(
        self, code: str, name: str, idempotency: Idempotency | None = None
    ) -> Answer:
        def decide() -> Decision:
            self._must_be_new(entry_point_id(code), f"entry point {code!r}")
            entry = EntryPoint.register(code, name)
            return Decision([entry], {"entry_point": entry.code, "id": str(entry.id)})

        return self._execute(decide, idempotency)

    def register_site(
        self,
        code: str,
        name: str,
        kind: DestinationKind,
        rooms: Sequence[str] = (),
        capacity: int = 0,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        def decide() -> Decision:
            self._must_be_new(site_id(code), f"site {code!r}")
            site = Site.register(code, name, kind, list(rooms), capacity)
            return Decision([site], {"site": site.code, "id": str(site.id)})

        return self._execute(decide, idempotency)

    def register_vehicle(
        self, plate: str, seats: int, idempotency: Idempotency | None = None
    ) -> Answer:
        def decide() -> Decision:
            self._must_be_new(vehicle_id(plate), f"vehicle {plate!r}")
            vehicle = Vehicle.register(plate, seats)
            return Decision([vehicle], {"vehicle": vehicle.plate, "id": str(vehicle.id)})

        return self._execute(decide, idempotency)

    def _must_be_new(self, aggregate_id: UUID, what: str) -> None:
        if aggregate_id in self.repository:
            raise RuleBroken(f"{what} is already registered")

    # -- registration --------------------------------------------------------------------------

    def register_travellers(
        self,
        entry_point: str,
        people: Sequence[Person],
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        source: str = "traveller",
    ) -> Answer:
        """Register a traveller (and the family travelling with them) once.

        The same document reaches the same open journey: a second submission by the traveller
        amends it (and confirms it, if it came from an upstream list). An upstream list
        (`source="manifest"`) only opens journeys: it never overwrites what a traveller typed.
        """
        if not people:
            raise InvalidInput("a registration names at least one traveller")
        self._check_entry_point(entry_point)
        keys = [identity_key(self.secret, p.doc_type, p.country, p.number) for p in people]
        if len(set(keys)) != len(keys):
            raise InvalidInput("the same document appears twice in one registration")
        # Most submissions are first registrations: try that without reading the identity
        # index; if a record exists, the save conflicts and we decide again having read it.
        first_attempt = True

        def decide() -> Decision:
            nonlocal first_attempt
            if first_attempt:
                first_attempt = False
                return self._register_new(
                    entry_point, people, keys, [None] * len(keys), ctx, source
                )
            records = [self._identity(k) for k in keys]
            open_journeys = [self._open_journey(r) for r in records]
            found = [j for j in open_journeys if j is not None]
            if source == "manifest" and found:
                return Decision([], _registration_answer(found, pre_registered=False) | {
                    "already_registered": True, "changed_fields": []})
            if len(found) == len(people):
                return self._amend_all(found, people, ctx)
            if found:
                raise RuleBroken(
                    "some of these travellers are already registered and some are not; "
                    "register the new ones separately or ask the desk to join them"
                )
            return self._register_new(entry_point, people, keys, records, ctx, source)

        return self._execute(decide, idempotency)

    def _check_entry_point(self, code: str) -> None:
        # Entry points are never removed, so one that was seen once stays known.
        if code not in self._known_entry_points:
            self._get(EntryPoint, entry_point_id(code), f"entry point {code!r}")
            self._known_entry_points.add(code)

    def _identity(self, key: str) -> IdentityRecord | None:
        try:
            record: object = self.repository.get(identity_record_id(key))
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdentityRecord)
        return record

    def _open_journey(self, record: IdentityRecord | None) -> Journey | None:
        if record is None:
            return None
        journey = self.journey(record.latest_journey)
        return None if journey.is_closed else journey

    def _register_new(
        self,
        entry_point: str,
        people: Sequence[Person],
        keys: list[str],
        records: list[IdentityRecord | None],
        ctx: Context,
        source: str,
    ) -> Decision:
        journey_ids = [uuid4() for _ in people]
        data_keys = {journey_id: self.vault.new_key() for journey_id in journey_ids}
        changed: list[Aggregate] = []
        party_id = journey_ids[0]
        if len(people) > 1:
            party = TravelParty.form(journey_ids)
            party_id = party.id
            changed.append(party)
        for person, key, record, journey_id in zip(people, keys, records, journey_ids, strict=True):
            personal = self.vault.seal(
                journey_id, _document_and_details(person), data_keys[journey_id]
            )
            journey = Journey.register(
                journey_id, key, party_id, entry_point, personal, ctx, source,
                *self._flight_of(person.details),
            )
            if record is None:
                record = IdentityRecord(identity_key=key, journey_id=journey_id)
            else:
                record.open_next_journey(journey_id, previous_is_closed=True)
            changed += [journey, record]
        return Decision(
            changed,
            {
                "journey_ids": [str(j) for j in journey_ids],
                "party_id": str(party_id),
                "already_registered": False,
                "pre_registered": False,
                "changed_fields": [],
            },
            personal_keys=data_keys,
        )

    def _amend_all(
        self, journeys: list[Journey], people: Sequence[Person], ctx: Context
    ) -> Decision:
        pre_registered = not journeys[0].confirmed_by_traveller
        changed_fields: list[str] = []
        for journey, person in zip(journeys, people, strict=True):
            old = self.personal_details(journey)
            new = _document_and_details(person)
            # The document alone is a small space and may be known to others: the birth date
            # on record must match before anyone may change the record.
            if old.get("birth_date") and old.get("birth_date") != new.get("birth_date"):
                raise RuleBroken(
                    "the details do not match the registration made with this document; "
                    "check the birth date, or ask the staff at the desk"
                )
            fields = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            journey.amend(self.vault.seal(journey.id, new), fields, ctx,
                          *self._flight_of(person.details))
            changed_fields += fields
        return Decision(
            journeys,
            _registration_answer(journeys, pre_registered=pre_registered)
            | {"already_registered": not pre_registered,
               "changed_fields": sorted(set(changed_fields))},
        )

    def _sealer(self, journey: Journey) -> Callable[[dict[str, Any]], str]:
        return lambda data: self.vault.seal(journey.id, data)

    def _flight_of(self, details: dict[str, Any]) -> tuple[str, int | None]:
        """(keyed flight hash, seat row) for the survey's derived contacts."""
        return (
            flight_key(self.secret, str(details.get("flight", ""))),
            seat_row(str(details.get("flight_seat", ""))),
        )

    # -- screening and dispatch ----------------------------------------------------------------

    def screen(
        self,
        journey_id: UUID,
        risk: RiskLevel,
        temperature: float | None,
        symptomatic: bool,
        sample_taken: bool,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(
            journey_id,
            lambda j: j.screen(
                risk, temperature, symptomatic, sample_taken, ctx,
                lambda findings: self.vault.seal(j.id, findings),
            ),
            idempotency,
        )

    def assign_destination(
        self,
        journey_id: UUID,
        site_code: str,
        ctx: Context,
        room: str = "",
        idempotency: Idempotency | None = None,
    ) -> Answer:
        """Hold a room (or a home place) for the traveller's whole party and assign it."""

        def decide() -> Decision:
            party = self.party_of(self.journey(journey_id))
            site = self.site(site_code)
            held = self._send_party_to(party, site, room, ctx)
            return Decision([site, *party], _party_answer(party) | {"room": held})

        return self._execute(decide, idempotency, one_at_a_time=_site_key(site_code))

    def dispatch(
        self,
        journey_id: UUID,
        ctx: Context,
        site_code: str = "",
        room: str = "",
        run_id: UUID | None = None,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        """The dispatcher's one decision for a party: where it goes (unless it already has a
        destination) and which run takes it, recorded together or not at all."""
        if not site_code and run_id is None:
            raise InvalidInput("choose a destination, a vehicle run, or both")

        def decide() -> Decision:
            party = self.party_of(self.journey(journey_id))
            changed: list[Aggregate] = [*party]
            answer = _party_answer(party)
            if site_code and party[0].stage is Stage.SCREENED:
                site = self.site(site_code)
                answer["room"] = self._send_party_to(party, site, room, ctx)
                changed.append(site)
            elif site_code and party[0].site_id != site_id(site_code):
                raise RuleBroken(
                    "the party already has another destination: withdraw it (with a reason) "
                    "before sending the party elsewhere"
                )
            if run_id is not None:
                run = self.run(run_id)
                answer["seats"] = self._seat_party_on(party, run, ctx)
                changed.append(run)
            answer["stage"] = party[0].stage.value
            return Decision(changed, answer)

        return self._execute(
            decide, idempotency, one_at_a_time=_site_key(site_code) if site_code else None
        )

    def _send_party_to(self, party: list[Journey], site: Site, room: str, ctx: Context) -> str:
        held = site.hold(party[0].party_id, room)
        for member in party:
            member.assign_destination(
                site.kind, site.id, held if site.kind is DestinationKind.HOTEL else "", ctx
            )
        return held

    def withdraw_destination(
        self,
        journey_id: UUID,
        reason: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        def decide() -> Decision:
            party = self.party_of(self.journey(journey_id))
            site_of = party[0].site_id
            if site_of is None:
                raise RuleBroken("the journey has no destination to withdraw")
            site = self._get(Site, site_of, "site")
            for member in party:
                member.withdraw_destination(reason, ctx)
            site.release(party[0].party_id, reason)
            return Decision([site, *party], _party_answer(party))

        return self._execute(decide, idempotency)

    def plan_run(
        self,
        plate: str,
        escort: str,
        entry_point: str,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        def decide() -> Decision:
            self._check_entry_point(entry_point)
            vehicle = self.vehicle(plate)
            run = TransportRun.plan(vehicle, escort, entry_point)
            vehicle.assign_run(run.id)
            return Decision([vehicle, run], {"run_id": str(run.id), "plate": vehicle.plate})

        return self._execute(decide, idempotency)

    def assign_seats(
        self,
        journey_id: UUID,
        run_id: UUID,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        """Seat the traveller's whole party on a run; custody is offered to the escort."""

        def decide() -> Decision:
            party = self.party_of(self.journey(journey_id))
            run = self.run(run_id)
            answer = _party_answer(party) | {"seats": self._seat_party_on(party, run, ctx)}
            return Decision([run, *party], answer)

        return self._execute(decide, idempotency)

    def _seat_party_on(
        self, party: list[Journey], run: TransportRun, ctx: Context
    ) -> dict[str, int]:
        if run.entry_point != party[0].entry_point:
            raise RuleBroken("the run leaves from a different entry point")
        self._check_risk_not_mixed(party, run)
        seats = run.assign_seats([m.id for m in party])
        for member in party:
            member.assign_seat(run.id, seats[member.id], ctx)
        return {str(k): v for k, v in seats.items()}

    def _check_risk_not_mixed(self, party: list[Journey], run: TransportRun) -> None:
        """High-risk travellers never share a vehicle with others (a party is as risky as its
        riskiest member: it travels together)."""
        members = {m.id for m in party}
        aboard = [
            self.journey(j) for j in run.seat_of
            if j not in members and j not in run.handed_over and j not in run.left
        ]
        high_party: dict[UUID, bool] = {}
        for journey in aboard:
            high_party[journey.party_id] = (
                high_party.get(journey.party_id, False) or journey.risk is RiskLevel.HIGH
            )
        if not high_party:
            return
        high = any(m.risk is RiskLevel.HIGH for m in party)
        if any(aboard_high != high for aboard_high in high_party.values()):
            raise RuleBroken(MIXED_RISK)

    def reassign_seats(
        self,
        journey_id: UUID,
        run_id: UUID,
        reason: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        """Move the whole party from its run to another before the car door: the old seats
        are withdrawn with the reason and the new ones assigned, in one transaction."""

        def decide() -> Decision:
            party = self.party_of(self.journey(journey_id))
            old_run_id = party[0].run_id
            if old_run_id is None:
                raise RuleBroken("the journey holds no seat to move")
            if old_run_id == run_id:
                raise RuleBroken("the party is already on this run")
            old_run, new_run = self.run(old_run_id), self.run(run_id)
            for member in party:
                member.withdraw_seat(reason, ctx)
                old_run.release_seat(member.id, reason)
            seats = self._seat_party_on(party, new_run, ctx)
            answer = _party_answer(party) | {"run_id": str(new_run.id), "seats": seats}
            return Decision([old_run, new_run, *party], answer)

        return self._execute(decide, idempotency)

    def withdraw_seats(
        self,
        journey_id: UUID,
        reason: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        """Take the traveller's whole party off its run (it was seated as one)."""

        def decide() -> Decision:
            party = self.party_of(self.journey(journey_id))
            run_id = party[0].run_id
            if run_id is None:
                raise RuleBroken("the journey holds no seat")
            run = self.run(run_id)
            for member in party:
                member.withdraw_seat(reason, ctx)
                run.release_seat(member.id, reason)
            return Decision([run, *party], _party_answer(party))

        return self._execute(decide, idempotency)

    # -- handoffs ------------------------------------------------------------------------------

    def scan_boarding(
        self,
        journey_id: UUID,
        run_id: UUID,
        scan_id: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        off_route_only: bool = False,
    ) -> Answer:
        """The escort scans the traveller at the car door."""

        def decide() -> Decision:
            journey = self.journey(journey_id)
            run = self.run(run_id)
            outcome = journey.board(run.id, scan_id, ctx, off_route_only=off_route_only)
            if outcome is ScanOutcome.ACCEPTED:
                run.record_boarding(journey.id)
            return Decision([journey, run], _journey_answer(journey) | _outcome(outcome))

        return self._execute(decide, idempotency)

    def depart_run(
        self, run_id: UUID, ctx: Context, idempotency: Idempotency | None = None
    ) -> Answer:
        def decide() -> Decision:
            run = self.run(run_id)
            run.depart()
            passengers = [self.journey(j) for j in sorted(run.on_board)]
            for passenger in passengers:
                passenger.depart(run.id, ctx)
            return Decision([run, *passengers], _run_answer(run))

        return self._execute(decide, idempotency)

    def arrive_run(
        self, run_id: UUID, ctx: Context, idempotency: Idempotency | None = None
    ) -> Answer:
        def decide() -> Decision:
            run = self.run(run_id)
            emptied = run.arrive()
            passengers = [self.journey(j) for j in sorted(run.on_board)]
            for passenger in passengers:
                passenger.arrive(run.id, ctx)
            changed: list[Aggregate] = [run, *passengers]
            if emptied:
                changed.append(self._finish_vehicle_run(run))
            return Decision(changed, _run_answer(run))

        return self._execute(decide, idempotency)

    def scan_check_in(
        self,
        journey_id: UUID,
        site_code: str,
        scan_id: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        off_route_only: bool = False,
        start_quarantine: bool = False,
    ) -> Answer:
        """The receiver scans the traveller at the room (or home) door; `start_quarantine`
        starts the district's standard order there too, in the same transaction."""

        def decide() -> Decision:
            journey = self.journey(journey_id)
            site = self.site(site_code)
            outcome = journey.check_in(site.id, scan_id, ctx, off_route_only=off_route_only)
            changed: list[Aggregate] = [journey]
            if outcome is ScanOutcome.ACCEPTED and start_quarantine:
                self._start_order(journey, None, ctx, "")
            if outcome is ScanOutcome.ACCEPTED:
                assert journey.run_id is not None
                site.occupy(journey.party_id)
                run = self.run(journey.run_id)
                if run.record_handover(journey.id):
                    changed.append(self._finish_vehicle_run(run))
                changed += [site, run]
            return Decision(changed, _journey_answer(journey) | _outcome(outcome))

        return self._execute(decide, idempotency, one_at_a_time=_site_key(site_code))

    def offer_custody(
        self,
        journey_id: UUID,
        offered_to: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(journey_id, lambda j: j.offer_custody(offered_to, ctx), idempotency)

    def accept_custody(
        self,
        journey_id: UUID,
        custodian: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(journey_id, lambda j: j.accept_custody(custodian, ctx), idempotency)

    # -- survey, quarantine and exits ----------------------------------------------------------

    def record_survey(
        self,
        journey_id: UUID,
        risk: RiskLevel,
        answers: dict[str, Any],
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(
            journey_id,
            lambda j: j.record_survey(risk, self.vault.seal(j.id, answers), ctx),
            idempotency,
        )

    def start_quarantine(
        self,
        journey_id: UUID,
        planned_end: date | None,
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        legal_basis: str = "",
    ) -> Answer:
        """The order starts at the room door (the device's day, else today) and lasts the
        district's standard length unless `planned_end` says otherwise; its tests follow the
        district's schedule."""
        return self._on_journey(
            journey_id, lambda j: self._start_order(j, planned_end, ctx, legal_basis),
            idempotency,
        )

    def _start_order(
        self, journey: Journey, planned_end: date | None, ctx: Context, legal_basis: str
    ) -> None:
        plan = self.quarantine_plan
        starts_on = local_date(ctx.occurred_at) if ctx.occurred_at else self.today()
        journey.start_quarantine(
            planned_end or starts_on + timedelta(days=plan.length_days), ctx,
            starts_on=starts_on, legal_basis=legal_basis or plan.legal_basis,
            test_days=plan.test_days,
        )

    def extend_quarantine(
        self,
        journey_id: UUID,
        planned_end: date,
        decision: OrderDecision,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(
            journey_id,
            lambda j: j.extend_quarantine(planned_end, decision, ctx, self._sealer(j)),
            idempotency,
        )

    def shorten_quarantine(
        self,
        journey_id: UUID,
        planned_end: date,
        decision: OrderDecision,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(
            journey_id,
            lambda j: j.shorten_quarantine(
                planned_end, decision, self.today(), ctx, self._sealer(j)
            ),
            idempotency,
        )

    def record_test_result(
        self,
        journey_id: UUID,
        test_day: int,
        result: dict[str, Any],
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        correction_reason: str = "",
    ) -> Answer:
        """`result` (outcome, kind, when the sample was taken, a note) is health data: the
        event holds it sealed with the traveller's key, with the reason of a correction."""
        if result.get("outcome") not in quarantine.OUTCOMES:
            raise InvalidInput(f"a test outcome is one of: {', '.join(quarantine.OUTCOMES)}")
        correction_reason = correction_reason.strip()
        sealed = result | ({"correction_reason": correction_reason} if correction_reason else {})
        return self._on_journey(
            journey_id,
            lambda j: j.record_test_result(
                test_day, self.vault.seal(j.id, sealed), ctx, correction_reason
            ),
            idempotency,
        )

    def release(
        self,
        journey_id: UUID,
        decision: OrderDecision,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._leave(
            journey_id,
            lambda j: j.release(
                decision, self.today(), ctx, lambda s: self.vault.open(j.id, s),
                self._sealer(j),
            ),
            "released",
            idempotency,
        )

    def refer_to_hospital(
        self,
        journey_id: UUID,
        reason: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        urgency: str = "urgent",
    ) -> Answer:
        """The journey ends in hospital care, and dispatch is asked for the transport there:
        a hospital transfer that collects the traveller where the line last had them."""

        def refer(journey: Journey) -> list[Aggregate]:
            pickup = pickup_for(journey.stage, journey.entry_point, journey.site_id,
                                journey.run_id)
            transfer = HospitalTransfer.request(
                journey.id, journey.entry_point, pickup,
                journey.room if pickup.startswith("site:") else "", urgency, ctx,
            )
            journey.refer_to_hospital(reason, ctx)
            return [transfer]

        return self._leave(journey_id, refer, "referred to hospital", idempotency)

    def mark_no_show(
        self, journey_id: UUID, ctx: Context, idempotency: Idempotency | None = None
    ) -> Answer:
        return self._leave(journey_id, lambda j: j.mark_no_show(ctx), "no-show", idempotency)

    def cancel(
        self,
        journey_id: UUID,
        reason: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._leave(journey_id, lambda j: j.cancel(reason, ctx), reason, idempotency)

    # -- shapes shared by the commands ---------------------------------------------------------

    def _on_journey(
        self,
        journey_id: UUID,
        act: Callable[[Journey], object],
        idempotency: Idempotency | None,
    ) -> Answer:
        """A command on one journey alone."""

        def decide() -> Decision:
            journey = self.journey(journey_id)
            act(journey)
            return Decision([journey], _journey_answer(journey))

        return self._execute(decide, idempotency)

    def _leave(
        self,
        journey_id: UUID,
        close: Callable[[Journey], object],
        why: str,
        idempotency: Idempotency | None,
    ) -> Answer:
        """A journey closes: its seat or its place on board, and (when the last of its party
        leaves) its room, are given back. `close` may return aggregates it created."""

        def decide() -> Decision:
            journey = self.journey(journey_id)
            stage_before = journey.stage
            created = close(journey) or []
            assert isinstance(created, list)
            transfers = [a for a in created if isinstance(a, HospitalTransfer)]
            changed: list[Aggregate] = [journey, *created]
            # A traveller waiting in their room for the hospital's vehicle still occupies it:
            # the room is freed at the pick-up (tracking/transfers.py).
            if not any(t.pickup.startswith("site:") for t in transfers):
                changed += self.free_room_if_party_closed(journey, why)
            extra: dict[str, Any] = {}
            if transfers:
                extra = {"transfer_ids": [str(t.id) for t in transfers]}
            if journey.run_id is not None and stage_before in ON_THE_ROAD:
                run = self.run(journey.run_id)
                if stage_before is Stage.SEAT_ASSIGNED:
                    run.release_seat(journey.id, why)
                elif run.record_exit(journey.id, why):
                    changed.append(self._finish_vehicle_run(run))
                changed.append(run)
            return Decision(changed, _journey_answer(journey) | extra)

        return self._execute(decide, idempotency)

    def _finish_vehicle_run(self, run: TransportRun) -> Vehicle:
        vehicle = self._get(Vehicle, run.vehicle_id, "vehicle")
        vehicle.finish_run(run.id)
        return vehicle

    def free_room_if_party_closed(self, journey: Journey, reason: str) -> list[Aggregate]:
        """The room goes back to the pool when the last member of its party leaves it."""
        if journey.site_id is None or any(not m.is_closed for m in self.party_of(journey)):
            return []
        site = self._get(Site, journey.site_id, "site")
        site.release(journey.party_id, reason)
        return [site]

    # -- loop-not-closed alerts (raised and cleared by tracking/alerts.py's monitor) ----------


def _site_key(code: str) -> str:
    return f"site:{code.strip()}"


def _journey_answer(journey: Journey) -> Answer:
    return {
        "journey_id": str(journey.id),
        "stage": journey.stage.value,
        "custodian": journey.custodian,
        "version": journey.version,
    }


def _party_answer(party: list[Journey]) -> Answer:
    return {
        "journey_ids": [str(m.id) for m in party],
        "party_id": str(party[0].party_id),
        "stage": party[0].stage.value,
    }


def _registration_answer(journeys: list[Journey], *, pre_registered: bool) -> Answer:
    return {
        "journey_ids": [str(j.id) for j in journeys],
        "party_id": str(journeys[0].party_id),
        "pre_registered": pre_registered,
    }


def _run_answer(run: TransportRun) -> Answer:
    return {"run_id": str(run.id), "status": run.status, "passengers": len(run.boarded)}


def _outcome(outcome: ScanOutcome) -> Answer:
    return {"outcome": outcome.value}


def _document_and_details(person: Person) -> dict[str, Any]:
    doc_type, country, number = normalise_document(
        person.doc_type, person.country, person.number
    ).split("|")
    return {"doc_type": doc_type, "country": country, "number": number, **person.details}
