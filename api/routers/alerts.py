"""Loop-not-closed alerts, as the views hold them (raised and cleared by the monitor)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import ServicesDep, allow
from domain.staff import Role
from projections.queries import read_alert_summary
from tracking.accounts import StaffMember

router = APIRouter(tags=["alerts"])
AlertViewer = Annotated[
    StaffMember, Depends(allow(Role.DISPATCHER, Role.COMMANDER, Role.ADMIN))
]


@router.get("/api/alerts")
def alerts(
    services: ServicesDep,
    _: AlertViewer,
    status: Annotated[Literal["open", "all"], Query()] = "open",
) -> dict[str, Any]:
    """Open alerts (or every alert, newest first), each with its `kind` code, an English
    `message`, and the open ones counted by kind."""
    return read_alert_summary(services.store, open_only=status == "open")
