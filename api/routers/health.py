"""Liveness with the facts an operator needs first: which store, how far the views lag."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep
from api.errors import error_responses
from projections.queries import read_position

router = APIRouter(tags=["health"], responses=error_responses(503))


@router.get("/healthz")
def healthz(services: ServicesDep) -> dict[str, Any]:
    head = services.app.recorder.max_notification_id() or 0
    position = read_position(services.store)
    return {
        "status": "ok",
        "store": services.settings.store_kind,
        "projector": {"position": position, "lag": max(head - position, 0)},
    }
