"""The dispatcher's reads: the waiting queue with live capacity, a long-poll that says when
the views moved, and a suggestion for one party (which the dispatcher confirms or changes)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from api.deps import AppDep, ServicesDep, Staff
from api.errors import STAFF_ERRORS
from projections.dispatching import dispatch_snapshot, suggestion_for
from projections.queries import read_alerts, read_position

router = APIRouter(tags=["dispatch"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
Dispatcher = Staff
DispatchViewer = Staff
LONG_POLL_S = 20.0
POLL_EVERY_S = 0.25


@router.get("/api/dispatch")
def dispatch_board(app: AppDep, services: ServicesDep, _: DispatchViewer) -> dict[str, Any]:
    """Parties waiting for a destination or a seat (oldest first, by entry point), with the
    sites' and runs' free capacity, the open loop-not-closed alerts, and the hospital
    transfers waiting for a vehicle or on their way."""
    snapshot = dispatch_snapshot(app, services.store, datetime.now(UTC))
    snapshot["alerts"] = read_alerts(services.store)
    return snapshot


@router.get("/api/dispatch/changes")
async def dispatch_changes(
    request: Request,
    services: ServicesDep,
    _: DispatchViewer,
    after: Annotated[int, Query(ge=0)] = 0,
    wait: Annotated[float, Query(ge=0, le=LONG_POLL_S)] = LONG_POLL_S,
) -> dict[str, int]:
    """Answers as soon as the views are past `after`, or after `wait` seconds unchanged."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        position = await run_in_threadpool(read_position, services.store)
        # A client that left (page closed, server shutting down) frees its poll at once.
        if position > after or loop.time() >= deadline or await request.is_disconnected():
            return {"position": position}
        await asyncio.sleep(POLL_EVERY_S)


@router.get("/api/journeys/{journey_id}/suggestion")
def suggestion(
    journey_id: UUID, app: AppDep, services: ServicesDep, _: Dispatcher
) -> dict[str, Any]:
    """Advice for the traveller's whole party; nothing is recorded until the dispatcher
    confirms it with POST /api/journeys/{id}/dispatch."""
    return suggestion_for(app, services.store, journey_id, services.settings.dispatch_policy)

