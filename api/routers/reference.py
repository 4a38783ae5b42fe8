"""Reference data: entry points, quarantine sites, vehicles (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AppDep, IdempotencyDep, ServicesDep, Staff
from api.errors import STAFF_ERRORS
from domain.stages import DestinationKind
from projections.queries import read_reference

router = APIRouter(tags=["reference data"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
Admin = Staff
AnyStaff = Staff


class RegisterEntryPoint(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)


class RegisterSite(BaseModel):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=100)
    kind: DestinationKind
    rooms: list[str] = Field(default_factory=list, max_length=5000)
    capacity: int = Field(default=0, ge=0, le=100_000)


class RegisterVehicle(BaseModel):
    plate: str = Field(min_length=1, max_length=20)
    seats: int = Field(ge=1, le=80)


@router.post("/api/entry-points", status_code=201)
def register_entry_point(
    body: RegisterEntryPoint, app: AppDep, _: Admin, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.register_entry_point(body.code, body.name, idem)


@router.post("/api/sites", status_code=201)
def register_site(
    body: RegisterSite, app: AppDep, _: Admin, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.register_site(body.code, body.name, body.kind, body.rooms, body.capacity, idem)


@router.post("/api/vehicles", status_code=201)
def register_vehicle(
    body: RegisterVehicle, app: AppDep, _: Admin, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.register_vehicle(body.plate, body.seats, idem)


@router.get("/api/reference")
def reference(services: ServicesDep, _: AnyStaff) -> dict[str, Any]:
    return read_reference(services.store)
