"""What every command of the application shares: the store, the lookups, the unit of work
and the shapes of a command on one journey (tracking/application.py, tracking/care.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder

from domain import quarantine
from domain.calendar import local_date
from domain.errors import NotFound
from domain.journey import Journey
from domain.party import TravelParty
from domain.reference import EntryPoint, entry_point_id
from domain.site import Site, site_id
from domain.stages import ScanOutcome, Stage
from domain.transfer import HospitalTransfer
from domain.transport import TransportRun, Vehicle, vehicle_id
from tracking.keyed_locks import KeyedLocks
from tracking.persistence import APP_NAME
from tracking.transcodings import ContextAsDict, DateAsISO
from tracking.unit_of_work import Answer, Decision, Idempotency, Saver, execute
from tracking.vault import ERASED_DETAILS, PersonalDataVault

A = TypeVar("A", bound=Aggregate)
# Stages in which the traveller holds a seat or is with a vehicle.
ON_THE_ROAD = (Stage.SEAT_ASSIGNED, Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED)
RUN_ESCORTS_KEPT = 10_000  # runs whose escort a process remembers (a day has a few hundred)


@dataclass(frozen=True)
class QuarantinePlan:
    """The district's standing rules for a new quarantine order (settings may change them)."""

    length_days: int = quarantine.DEFAULT_LENGTH_DAYS
    test_days: tuple[int, ...] = quarantine.DEFAULT_TEST_DAYS
    legal_basis: str = "《中华人民共和国传染病防治法》《中华人民共和国国境卫生检疫法》"


class AppBase(Application[UUID]):
    name = APP_NAME

    def __init__(self, env: dict[str, str], secret: bytes, vault: PersonalDataVault) -> None:
        super().__init__(env)
        self.secret = secret
        self.vault = vault
        self._known_entry_points: set[str] = set()
        # Set by the wiring to a GroupCommitter; None saves each command on its own.
        self.saver: Saver | None = None
        self._site_locks = KeyedLocks()
        self._run_escorts: dict[UUID, str] = {}
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

    def run_escort(self, run_id: UUID) -> str:
        """The escort a run was planned with, remembered: no event changes it, so the escort
        check of every scan at its car door need not replay the run's history again."""
        escort = self._run_escorts.get(run_id)
        if escort is None:
            escort = self.run(run_id).escort
            if len(self._run_escorts) >= RUN_ESCORTS_KEPT:
                self._run_escorts.clear()
            self._run_escorts[run_id] = escort
        return escort

    def entry_point(self, code: str) -> EntryPoint:
        return self._get(EntryPoint, entry_point_id(code), f"entry point {code!r}")

    def vehicle(self, plate: str) -> Vehicle:
        return self._get(Vehicle, vehicle_id(plate), f"vehicle {plate!r}")

    def vehicle_by_id(self, vehicle: UUID) -> Vehicle:
        return self._get(Vehicle, vehicle, "vehicle")

    def transfer(self, transfer_id: UUID) -> HospitalTransfer:
        return self._get(HospitalTransfer, transfer_id, "hospital transfer")

    def personal_details(self, journey: Journey) -> dict[str, Any]:
        """The traveller's details, opened; an erased traveller's say so in place of a name."""
        details = self.vault.open(journey.id, journey.personal)
        return dict(ERASED_DETAILS) if details.get("erased") else details

    def party_of(self, journey: Journey) -> list[Journey]:
        """The open journeys of the traveller's party, the traveller first."""
        if journey.party_id == journey.id:
            return [journey]
        party = self._get(TravelParty, journey.party_id, "travel party")
        others = [self.journey(m) for m in party.members if m != journey.id]
        return [journey, *(j for j in others if not j.is_closed)]

    def _sealer(self, journey: Journey) -> Callable[[dict[str, Any]], str]:
        return lambda data: self.vault.seal(journey.id, data)

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
            return Decision([journey], journey_answer(journey))

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
            return Decision(changed, journey_answer(journey) | extra)

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


def site_key(code: str) -> str:
    return f"site:{code.strip()}"


def journey_answer(journey: Journey) -> Answer:
    return {
        "journey_id": str(journey.id),
        "stage": journey.stage.value,
        "custodian": journey.custodian,
        "version": journey.version,
    }


def party_answer(party: list[Journey]) -> Answer:
    return {
        "journey_ids": [str(m.id) for m in party],
        "party_id": str(party[0].party_id),
        "stage": party[0].stage.value,
    }


def run_answer(run: TransportRun) -> Answer:
    return {"run_id": str(run.id), "status": run.status, "passengers": len(run.boarded)}


def outcome_answer(outcome: ScanOutcome) -> Answer:
    return {"outcome": outcome.value}


