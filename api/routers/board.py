"""The command board snapshot (the position it reflects included)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import ServicesDep, allow
from domain.staff import Role
from projections.queries import read_board
from tracking.accounts import StaffMember

router = APIRouter(tags=["board"])
BoardViewer = Annotated[
    StaffMember, Depends(allow(Role.COMMANDER, Role.DISPATCHER, Role.ADMIN, Role.SURVEYOR))
]


@router.get("/api/board")
def board(services: ServicesDep, _: BoardViewer) -> dict[str, Any]:
    return read_board(services.store)
