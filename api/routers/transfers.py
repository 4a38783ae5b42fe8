"""Hospital transfers: the transport a referral to hospital asks of dispatch. Dispatchers
assign a vehicle; the escort (or the dispatcher on their behalf) records pick-up and delivery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import Field

from api.deps import AppDep, IdempotencyDep, ServicesDep, Staff
from api.errors import STAFF_ERRORS
from api.routers.journeys import FieldFacts, WithReason, field_context
from projections.surveying import open_transfers
from tracking import transfers

router = APIRouter(prefix="/api/transfers", tags=["hospital transfers"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
Dispatcher = Staff
Crew = Staff
# Admins read the dispatch console (transfers included), so they may read these too.
Watchers = Staff


class AssignVehicle(FieldFacts):
    plate: str = Field(min_length=1, max_length=20)


class Deliver(FieldFacts):
    hospital: str = Field(min_length=1, max_length=100)


@router.get("")
def open_hospital_transfers(app: AppDep, services: ServicesDep, _: Watchers) -> dict[str, Any]:
    """Transfers not yet delivered, urgent first, then the longest waiting."""
    return open_transfers(app, services.store, datetime.now(UTC))


@router.post("/{transfer_id}/vehicle")
def assign_vehicle(
    transfer_id: UUID, body: AssignVehicle, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return transfers.assign_vehicle(
        app, transfer_id, body.plate.strip(), field_context(who, body), idem
    )


@router.post("/{transfer_id}/pickup")
def pick_up(
    transfer_id: UUID, body: FieldFacts, app: AppDep, who: Crew, idem: IdempotencyDep
) -> dict[str, Any]:
    return transfers.pick_up(app, transfer_id, field_context(who, body), idem)


@router.post("/{transfer_id}/delivery")
def deliver(
    transfer_id: UUID, body: Deliver, app: AppDep, who: Crew, idem: IdempotencyDep
) -> dict[str, Any]:
    return transfers.deliver(app, transfer_id, body.hospital, field_context(who, body), idem)


@router.post("/{transfer_id}/cancellation")
def cancel(
    transfer_id: UUID, body: WithReason, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return transfers.cancel(app, transfer_id, body.reason, field_context(who, body), idem)
