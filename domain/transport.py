"""Vehicles and their runs: planned → boarding → departed → arrived → closed.

A seat is held by at most one journey; a vehicle drives one run at a time; a run leaves only
when everyone holding a seat has boarded, so a family is never split at the car door.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import CapacityExhausted, InvalidInput, RuleBroken

PLANNED, BOARDING, DEPARTED, ARRIVED, CLOSED = (
    "planned",
    "boarding",
    "departed",
    "arrived",
    "closed",
)


class Vehicle(Aggregate):
    class Registered(Aggregate.Created):
        plate: str
        seats: int

    class RunAssigned(Aggregate.Event):
        run_id: UUID

    class RunFinished(Aggregate.Event):
        run_id: UUID

    @staticmethod
    def create_id(plate: str, seats: int) -> UUID:
        return vehicle_id(plate)

    @event(Registered)
    def __init__(self, plate: str, seats: int) -> None:
        self.plate = plate
        self.seats = seats
        self.active_run: UUID | None = None

    @classmethod
    def register(cls, plate: str, seats: int) -> Vehicle:
        plate = plate.strip()
        if not plate:
            raise InvalidInput("a vehicle needs a plate number")
        if not 1 <= seats <= 80:
            raise InvalidInput("a vehicle has between 1 and 80 passenger seats")
        return cls(plate=plate, seats=seats)

    def assign_run(self, run_id: UUID) -> None:
        if self.active_run is not None:
            raise RuleBroken(
                f"vehicle {self.plate} is already on a trip (a run or a hospital transfer, "
                f"{self.active_run}); choose a free vehicle"
            )
        self._run_assigned(run_id=run_id)

    def finish_run(self, run_id: UUID) -> None:
        if self.active_run == run_id:
            self._run_finished(run_id=run_id)

    @event(RunAssigned)
    def _run_assigned(self, run_id: UUID) -> None:
        self.active_run = run_id

    @event(RunFinished)
    def _run_finished(self, run_id: UUID) -> None:
        self.active_run = None


class TransportRun(Aggregate):
    class Planned(Aggregate.Created):
        vehicle_id: UUID
        plate: str
        seats: int
        escort: str
        entry_point: str

    class SeatAssigned(Aggregate.Event):
        seat: int
        journey_id: UUID

    class SeatReleased(Aggregate.Event):
        seat: int
        journey_id: UUID
        reason: str

    class PassengerBoarded(Aggregate.Event):
        journey_id: UUID

    class Departed(Aggregate.Event):
        pass

    class Arrived(Aggregate.Event):
        pass

    class PassengerHandedOver(Aggregate.Event):
        journey_id: UUID

    class PassengerLeft(Aggregate.Event):
        journey_id: UUID
        reason: str

    class Closed(Aggregate.Event):
        pass

    @event(Planned)
    def __init__(
        self, vehicle_id: UUID, plate: str, seats: int, escort: str, entry_point: str
    ) -> None:
        self.vehicle_id = vehicle_id
        self.plate = plate
        self.seats = seats
        self.escort = escort
        self.entry_point = entry_point
        self.status = PLANNED
        self.seat_of: dict[UUID, int] = {}
        self.boarded: set[UUID] = set()
        self.handed_over: set[UUID] = set()
        self.left: set[UUID] = set()

    @classmethod
    def plan(cls, vehicle: Vehicle, escort: str, entry_point: str) -> TransportRun:
        if not escort.strip():
            raise InvalidInput("a run needs an escort")
        return cls(
            vehicle_id=vehicle.id,
            plate=vehicle.plate,
            seats=vehicle.seats,
            escort=escort.strip(),
            entry_point=entry_point,
        )

    def free_seats(self) -> list[int]:
        taken = set(self.seat_of.values())
        return [s for s in range(1, self.seats + 1) if s not in taken]

    def assign_seats(self, journey_ids: list[UUID]) -> dict[UUID, int]:
        """Seat a whole party, or none of it: families travel together."""
        if self.status not in (PLANNED, BOARDING):
            raise RuleBroken(f"run on {self.plate} has {self.status}; it takes no more passengers")
        new = [j for j in journey_ids if j not in self.seat_of]
        free = self.free_seats()
        if len(new) > len(free):
            raise CapacityExhausted(
                f"vehicle {self.plate} has {len(free)} free seats, the party needs {len(new)}"
            )
        for journey_id, seat in zip(new, free, strict=False):
            self._seat_assigned(seat=seat, journey_id=journey_id)
        return {j: self.seat_of[j] for j in journey_ids}

    def release_seat(self, journey_id: UUID, reason: str) -> None:
        if journey_id in self.seat_of and journey_id not in self.boarded:
            self._seat_released(seat=self.seat_of[journey_id], journey_id=journey_id, reason=reason)

    def record_boarding(self, journey_id: UUID) -> None:
        if journey_id not in self.seat_of:
            raise RuleBroken("the traveller holds no seat on this run")
        if journey_id not in self.boarded:
            self._passenger_boarded(journey_id=journey_id)

    def depart(self) -> None:
        if self.status not in (PLANNED, BOARDING) or not self.boarded:
            raise RuleBroken(
                f"run on {self.plate} cannot depart: it is {self.status}"
                + ("" if self.boarded else " with nobody on board")
            )
        missing = set(self.seat_of) - self.boarded
        if missing:
            raise RuleBroken(
                f"{len(missing)} seated traveller(s) have not boarded; board them or withdraw "
                "their seats with a reason before departure"
            )
        self._departed()

    def arrive(self) -> bool:
        """Returns True when nobody is left on board to hand over (the run closes at once)."""
        if self.status != DEPARTED:
            raise RuleBroken(f"run on {self.plate} cannot arrive: it is {self.status}")
        self._arrived()
        return self._close_if_empty()

    @property
    def on_board(self) -> set[UUID]:
        """Boarded and neither handed over at a door nor gone (e.g. to hospital)."""
        return self.boarded - self.handed_over - self.left

    def record_handover(self, journey_id: UUID) -> bool:
        """Returns True when this handover closes the run (everyone is through a door)."""
        if self.status != ARRIVED:
            raise RuleBroken("passengers are handed over only after the vehicle arrived")
        if journey_id not in self.boarded:
            raise RuleBroken("the traveller was not on this run")
        if journey_id not in self.handed_over:
            self._passenger_handed_over(journey_id=journey_id)
        return self._close_if_empty()

    def record_exit(self, journey_id: UUID, reason: str) -> bool:
        """A boarded passenger left the run another way (hospital); True if that closes it."""
        if journey_id not in self.on_board:
            return False
        self._passenger_left(journey_id=journey_id, reason=reason)
        return self._close_if_empty()

    def _close_if_empty(self) -> bool:
        if self.status == ARRIVED and not self.on_board:
            self._closed()
            return True
        return False

    @event(SeatAssigned)
    def _seat_assigned(self, seat: int, journey_id: UUID) -> None:
        self.seat_of[journey_id] = seat

    @event(SeatReleased)
    def _seat_released(self, seat: int, journey_id: UUID, reason: str) -> None:
        del self.seat_of[journey_id]

    @event(PassengerBoarded)
    def _passenger_boarded(self, journey_id: UUID) -> None:
        self.status = BOARDING
        self.boarded.add(journey_id)

    @event(Departed)
    def _departed(self) -> None:
        self.status = DEPARTED

    @event(Arrived)
    def _arrived(self) -> None:
        self.status = ARRIVED

    @event(PassengerHandedOver)
    def _passenger_handed_over(self, journey_id: UUID) -> None:
        self.handed_over.add(journey_id)

    @event(PassengerLeft)
    def _passenger_left(self, journey_id: UUID, reason: str) -> None:
        self.left.add(journey_id)

    @event(Closed)
    def _closed(self) -> None:
        self.status = CLOSED


def vehicle_id(plate: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/vehicles/{plate.strip()}")
