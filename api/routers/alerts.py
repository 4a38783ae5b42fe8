"""Loop-not-closed alerts, as the views hold them (raised and cleared by the monitor)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.deps import ServicesDep, Staff
from api.errors import STAFF_ERRORS
from projections.queries import read_alert_summary

router = APIRouter(tags=["alerts"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
AlertViewer = Staff


@router.get("/api/alerts")
def alerts(
    services: ServicesDep,
    _: AlertViewer,
    status: Annotated[Literal["open", "all"], Query()] = "open",
) -> dict[str, Any]:
    """Open alerts (or every alert, newest first), each with its `kind` code, an English
    `message`, and the open ones counted by kind."""
    return read_alert_summary(services.store, open_only=status == "open")
