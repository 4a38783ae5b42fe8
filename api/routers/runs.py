"""Vehicle runs: planned at an entry point, departed, arrived."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AppDep, IdempotencyDep, ServicesDep, Staff, context_for
from api.errors import STAFF_ERRORS
from api.routers.journeys import FieldFacts
from projections.dispatch_queries import read_open_runs
from tracking.application import TrackingApp

router = APIRouter(prefix="/api/runs", tags=["vehicle runs"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
Dispatcher = Staff
Driver = Staff
RunViewer = Staff


class PlanRun(BaseModel):
    plate: str = Field(min_length=1, max_length=20)
    escort: str = Field(min_length=1, max_length=40)
    entry_point: str = Field(min_length=1, max_length=40)


@router.post("", status_code=201)
def plan_run(body: PlanRun, app: AppDep, _: Dispatcher, idem: IdempotencyDep) -> dict[str, Any]:
    return app.plan_run(body.plate, body.escort, body.entry_point, idem)


@router.get("")
def open_runs(
    services: ServicesDep,
    _: RunViewer,
    entry_point: Annotated[str, Query(max_length=40)] = "",
) -> dict[str, Any]:
    """Runs not yet closed (planned, boarding, on the road, arrived), for pickers and the
    console; from the views, so a run planned a moment ago may take a moment to appear."""
    answer = read_open_runs(services.store, entry_point.strip())
    for run in answer["runs"]:
        for private in ("site_ids", "high_risk_aboard", "others_aboard"):
            run.pop(private, None)
    return answer


@router.get("/{run_id}")
def run_status(run_id: UUID, app: AppDep, _: RunViewer) -> dict[str, Any]:
    """The run and its boarding list, read from the write model (always current)."""
    run = app.run(run_id)
    return {
        "run_id": str(run.id),
        "plate": run.plate,
        "status": run.status,
        "escort": run.escort,
        "entry_point": run.entry_point,
        "seats": run.seats,
        "free_seats": len(run.free_seats()),
        "passengers": _boarding_list(app, run.seat_of, run.boarded),
        "boarded": sorted(str(j) for j in run.boarded),
    }


def _boarding_list(
    app: TrackingApp, seat_of: dict[UUID, int], boarded: set[UUID]
) -> list[dict[str, Any]]:
    passengers = []
    sites: dict[UUID, tuple[str, str]] = {}
    for journey_id, seat in sorted(seat_of.items(), key=lambda item: item[1]):
        journey = app.journey(journey_id)
        details = app.personal_details(journey)
        if journey.site_id is not None and journey.site_id not in sites:
            site = app.site_by_id(journey.site_id)
            sites[journey.site_id] = (site.code, site.name)
        code, name = sites.get(journey.site_id, ("", "")) if journey.site_id else ("", "")
        passengers.append({
            "journey_id": str(journey_id),
            "party_id": str(journey.party_id),
            "name_native": str(details.get("name_native", "")),
            "name_latin": str(details.get("name_latin", "")),
            "seat": seat,
            "stage": journey.stage.value,
            "boarded": journey_id in boarded,
            "site_code": code,
            "site_name": name,
            "room": journey.room,
        })
    return passengers


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
