"""The door-to-door line as application commands: get → one aggregate method → save.

Every command takes a `Context` (who, where, device time) and an optional `Idempotency`,
and answers a small JSON-able dict; `unit_of_work.execute` saves its decision exactly once.
Lookups and the shapes commands share are in tracking/app_base.py; the survey, the quarantine
order and the exits in tracking/care.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from domain.context import Context
from domain.errors import InvalidInput, RuleBroken
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
from domain.reference import EntryPoint, entry_point_id
from domain.site import Site, site_id
from domain.stages import DestinationKind, RiskLevel, ScanOutcome, Stage
from domain.transport import TransportRun, Vehicle, vehicle_id
from tracking.app_base import (
    journey_answer,
    outcome_answer,
    party_answer,
    run_answer,
    site_key,
)
from tracking.care import CareCommands
from tracking.persistence import APP_NAME
from tracking.unit_of_work import Answer, Decision, Idempotency
from tracking.validation import clean_name

MIXED_RISK = (
    "high-risk travellers do not share a vehicle with others: choose a run carrying only "
    "high-risk travellers, or an empty one"
)


@dataclass(frozen=True)
class Person:
    """One traveller in a registration: the document that identifies them, and the rest."""

    doc_type: str
    country: str
    number: str
    details: dict[str, Any]


class TrackingApp(CareCommands):
    name = APP_NAME

    # -- reference data ------------------------------------------------------------------------

    def register_entry_point(
        self, code: str, name: str, idempotency: Idempotency | None = None
    ) -> Answer:
        def decide() -> Decision:
            self._must_be_new(entry_point_id(code), f"entry point {code!r}")
            entry = EntryPoint.register(code, clean_name(name))
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
            site = Site.register(code, clean_name(name), kind, list(rooms), capacity)
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
            return Decision([site, *party], party_answer(party) | {"room": held})

        return self._execute(decide, idempotency, one_at_a_time=site_key(site_code))

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
            answer = party_answer(party)
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
            decide, idempotency, one_at_a_time=site_key(site_code) if site_code else None
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
            return Decision([site, *party], party_answer(party))

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
            answer = party_answer(party) | {"seats": self._seat_party_on(party, run, ctx)}
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
            answer = party_answer(party) | {"run_id": str(new_run.id), "seats": seats}
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
            return Decision([run, *party], party_answer(party))

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
            return Decision([journey, run], journey_answer(journey) | outcome_answer(outcome))

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
            return Decision([run, *passengers], run_answer(run))

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
            return Decision(changed, run_answer(run))

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
            return Decision(changed, journey_answer(journey) | outcome_answer(outcome))

        return self._execute(decide, idempotency, one_at_a_time=site_key(site_code))

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


def _registration_answer(journeys: list[Journey], *, pre_registered: bool) -> Answer:
    return {
        "journey_ids": [str(j.id) for j in journeys],
        "party_id": str(journeys[0].party_id),
        "pre_registered": pre_registered,
    }


def _document_and_details(person: Person) -> dict[str, Any]:
    doc_type, country, number = normalise_document(
        person.doc_type, person.country, person.number
    ).split("|")
    return {"doc_type": doc_type, "country": country, "number": number, **person.details}
