"""Vehicle runs: planned at an entry point, departed, arrived."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from api.deps import AppDep, IdempotencyDep, allow, context_for
from api.routers.journeys import FieldFacts
from domain.staff import Role
from tracking.accounts import StaffMember

router = APIRouter(prefix="/api/runs", tags=["vehicle runs"])
Dispatcher = Annotated[StaffMember, Depends(allow(Role.DISPATCHER))]
Driver = Annotated[StaffMember, Depends(allow(Role.ESCORT, Role.DISPATCHER))]


class PlanRun(BaseModel):
    plate: str = Field(min_length=1, max_length=20)
    escort: str = Field(min_length=1, max_length=40)
    entry_point: str = Field(min_length=1, max_length=40)


@router.post("", status_code=201)
def plan_run(body: PlanRun, app: AppDep, _: Dispatcher, idem: IdempotencyDep) -> dict[str, Any]:
    return app.plan_run(body.plate, body.escort, body.entry_point, idem)


@router.get("/{run_id}")
def run_status(run_id: UUID, app: AppDep, _: Driver) -> dict[str, Any]:
    run = app.run(run_id)
    return {
        "run_id": str(run.id),
        "plate": run.plate,
        "status": run.status,
        "seats": run.seats,
        "free_seats": len(run.free_seats()),
        "passengers": {str(j): s for j, s in run.seat_of.items()},
        "boarded": sorted(str(j) for j in run.boarded),
    }


@router.post("/{run_id}/departure")
def depart_run(
    run_id: UUID, body: FieldFacts, app: AppDep, who: Driver, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.depart_run(run_id, context_for(who, body.where, body.occurred_at), idem)


@router.post("/{run_id}/arrival")
def arrive_run(
    run_id: UUID, body: FieldFacts, app: AppDep, who: Driver, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.arrive_run(run_id, context_for(who, body.where, body.occurred_at), idem)
