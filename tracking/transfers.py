"""Hospital transfers as commands: dispatch assigns a vehicle, the escort records the pick-up
and the delivery. A referral to hospital (TrackingApp.refer_to_hospital) creates the request.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.context import Context
from domain.transfer import HospitalTransfer
from domain.transport import Vehicle
from tracking.application import TrackingApp
from tracking.unit_of_work import Answer, Decision, Idempotency, execute


def _answer(transfer: HospitalTransfer) -> Answer:
    return {
        "transfer_id": str(transfer.id), "journey_id": str(transfer.journey_id),
        "status": transfer.status, "plate": transfer.plate, "version": transfer.version,
    }


def assign_vehicle(
    app: TrackingApp, transfer_id: UUID, plate: str, ctx: Context,
    idempotency: Idempotency | None = None,
) -> Answer:
    """The vehicle takes the transfer as its one trip; a vehicle it replaces is freed."""

    def decide() -> Decision:
        transfer = app.transfer(transfer_id)
        vehicle = app.vehicle(plate)
        previous = transfer.assign_vehicle(vehicle.id, vehicle.plate, ctx)
        vehicle.assign_run(transfer.id)
        changed: list[Aggregate] = [transfer, vehicle]
        if previous is not None:
            changed.append(_freed(app, previous, transfer.id))
        return Decision(changed, _answer(transfer))

    return execute(app, decide, idempotency, app.saver)


def pick_up(
    app: TrackingApp, transfer_id: UUID, ctx: Context, idempotency: Idempotency | None = None
) -> Answer:
    """The traveller is in the vehicle: a room they waited in is free again (when the rest
    of their party has left it too)."""

    def decide() -> Decision:
        transfer = app.transfer(transfer_id)
        transfer.pick_up(ctx)
        return Decision([transfer, *_room_left(app, transfer, "taken to hospital")],
                        _answer(transfer))

    return execute(app, decide, idempotency, app.saver)


def deliver(
    app: TrackingApp, transfer_id: UUID, hospital: str, ctx: Context,
    idempotency: Idempotency | None = None,
) -> Answer:
    def decide() -> Decision:
        transfer = app.transfer(transfer_id)
        transfer.deliver(hospital, ctx)
        assert transfer.vehicle_id is not None
        return Decision([transfer, _freed(app, transfer.vehicle_id, transfer.id)],
                        _answer(transfer))

    return execute(app, decide, idempotency, app.saver)


def cancel(
    app: TrackingApp, transfer_id: UUID, reason: str, ctx: Context,
    idempotency: Idempotency | None = None,
) -> Answer:
    def decide() -> Decision:
        transfer = app.transfer(transfer_id)
        vehicle_id = transfer.vehicle_id
        transfer.cancel(reason, ctx)
        # Not our vehicle, but the traveller left all the same (e.g. a 120 ambulance).
        changed: list[Aggregate] = [transfer, *_room_left(app, transfer, reason)]
        if vehicle_id is not None:
            changed.append(_freed(app, vehicle_id, transfer.id))
        return Decision(changed, _answer(transfer))

    return execute(app, decide, idempotency, app.saver)


def _room_left(app: TrackingApp, transfer: HospitalTransfer, why: str) -> list[Aggregate]:
    if not transfer.pickup.startswith("site:"):
        return []  # collected at the desk or from a vehicle: the referral freed the room
    return app.free_room_if_party_closed(app.journey(transfer.journey_id), why)


def _freed(app: TrackingApp, vehicle_id: UUID, transfer_id: UUID) -> Vehicle:
    vehicle = app.vehicle_by_id(vehicle_id)
    vehicle.finish_run(transfer_id)
    return vehicle
