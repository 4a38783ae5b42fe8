"""A hospital transfer: the transport a referral to hospital asks of dispatch.

requested → vehicle assigned → picked up → delivered, or cancelled before the pick-up. The
vehicle drives one trip at a time (`Vehicle.assign_run` with the transfer's id), so a vehicle
on a transfer is not offered for a run and the other way round.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.context import Context
from domain.errors import InvalidInput, RuleBroken
from domain.stages import Stage

REQUESTED, VEHICLE_ASSIGNED, PICKED_UP, DELIVERED, CANCELLED = (
    "requested", "vehicle_assigned", "picked_up", "delivered", "cancelled",
)
OPEN_STATUSES = (REQUESTED, VEHICLE_ASSIGNED, PICKED_UP)
URGENCIES = ("urgent", "routine")
AT_A_SITE = frozenset({Stage.CHECKED_IN, Stage.UNDER_QUARANTINE})
ON_A_VEHICLE = frozenset({Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED})


def transfer_id(journey_id: UUID) -> UUID:
    """A journey is referred to hospital once (the referral closes it): one transfer each."""
    return uuid5(NAMESPACE_URL, f"/hospital-transfers/{journey_id}")


def pickup_for(
    stage: Stage, entry_point: str, site_id: UUID | None, run_id: UUID | None
) -> str:
    """Where the vehicle collects the traveller, from where the line last had them: their
    room or home (`site:<id>`), the vehicle they are on (`run:<id>`), or the entry point's
    desk (`desk:<code>`)."""
    if stage in AT_A_SITE and site_id is not None:
        return f"site:{site_id}"
    if stage in ON_A_VEHICLE and run_id is not None:
        return f"run:{run_id}"
    return f"desk:{entry_point}"


class HospitalTransfer(Aggregate):
    class Requested(Aggregate.Created):
        journey_id: UUID
        entry_point: str
        pickup: str
        room: str
        urgency: str
        ctx: Context

    class VehicleAssigned(Aggregate.Event):
        vehicle_id: UUID
        plate: str
        ctx: Context

    class PickedUp(Aggregate.Event):
        ctx: Context

    class Delivered(Aggregate.Event):
        hospital: str
        ctx: Context

    class Cancelled(Aggregate.Event):
        reason: str
        ctx: Context

    @staticmethod
    def create_id(
        journey_id: UUID, entry_point: str, pickup: str, room: str, urgency: str, ctx: Context
    ) -> UUID:
        return transfer_id(journey_id)

    @event(Requested)
    def __init__(
        self, journey_id: UUID, entry_point: str, pickup: str, room: str, urgency: str,
        ctx: Context,
    ) -> None:
        self.journey_id = journey_id
        self.entry_point = entry_point
        self.pickup = pickup
        self.room = room
        self.urgency = urgency
        self.status = REQUESTED
        self.vehicle_id: UUID | None = None
        self.plate = ""
        self.hospital = ""

    @classmethod
    def request(
        cls, journey_id: UUID, entry_point: str, pickup: str, room: str, urgency: str,
        ctx: Context,
    ) -> HospitalTransfer:
        if urgency not in URGENCIES:
            raise InvalidInput(f"urgency is one of: {', '.join(URGENCIES)}")
        return cls(journey_id=journey_id, entry_point=entry_point, pickup=pickup, room=room,
                   urgency=urgency, ctx=ctx)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def _require(self, *statuses: str, doing: str) -> None:
        if self.status not in statuses:
            raise RuleBroken(
                f"cannot {doing}: the hospital transfer is {self.status.replace('_', ' ')}"
            )

    def assign_vehicle(self, vehicle_id: UUID, plate: str, ctx: Context) -> UUID | None:
        """Returns the vehicle it had before (to be freed), if it is a change of vehicle."""
        self._require(REQUESTED, VEHICLE_ASSIGNED, doing="assign a vehicle")
        if vehicle_id == self.vehicle_id:
            raise RuleBroken(f"vehicle {plate} is already assigned to this transfer")
        previous = self.vehicle_id
        self._vehicle_assigned(vehicle_id=vehicle_id, plate=plate, ctx=ctx)
        return previous

    def pick_up(self, ctx: Context) -> None:
        self._require(VEHICLE_ASSIGNED, doing="record the pick-up")
        self._picked_up(ctx=ctx)

    def deliver(self, hospital: str, ctx: Context) -> None:
        self._require(PICKED_UP, doing="record the delivery")
        hospital = hospital.strip()
        if not hospital or len(hospital) > 100:
            raise InvalidInput("name the hospital that took the traveller (up to 100 characters)")
        self._delivered(hospital=hospital, ctx=ctx)

    def cancel(self, reason: str, ctx: Context) -> None:
        self._require(REQUESTED, VEHICLE_ASSIGNED, doing="cancel")
        reason = reason.strip()
        if not reason:
            raise InvalidInput("a reason is required")
        self._cancelled(reason=reason, ctx=ctx)

    @event(VehicleAssigned)
    def _vehicle_assigned(self, vehicle_id: UUID, plate: str, ctx: Context) -> None:
        self.status = VEHICLE_ASSIGNED
        self.vehicle_id = vehicle_id
        self.plate = plate

    @event(PickedUp)
    def _picked_up(self, ctx: Context) -> None:
        self.status = PICKED_UP

    @event(Delivered)
    def _delivered(self, hospital: str, ctx: Context) -> None:
        self.status = DELIVERED
        self.hospital = hospital

    @event(Cancelled)
    def _cancelled(self, reason: str, ctx: Context) -> None:
        self.status = CANCELLED
