"""The command board over HTTP (docs/board.md): now, or as it was at a past moment."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.board_feed import board_json
from api.deps import ServicesDep, Staff
from api.errors import STAFF_ERRORS
from projections.board import visible
from projections.queries import read_board_as_of, read_board_range
from tracking.settings import Settings

router = APIRouter(tags=["board"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
BoardViewer = Staff


# Built as bytes (the live board is shared, serialised once per change), so its type is declared
# here; docs/board.md describes its fields.
BOARD_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}}
}


@router.get("/api/board", response_class=Response, responses=BOARD_ANSWER)
async def board(
    request: Request,
    services: ServicesDep,
    member: BoardViewer,
    as_of: Annotated[datetime | None, Query(
        description="show the board as it was live at this moment (ISO 8601 with a time zone)"
    )] = None,
    position: Annotated[int | None, Query(ge=0, description="... or at this log position")] = None,
) -> Response:
    """The whole board (docs/board.md) as the caller's role may see it."""
    if as_of is not None and position is not None:
        raise HTTPException(422, "give as_of or position, not both")
    if as_of is not None and as_of.tzinfo is None:
        raise HTTPException(422, "as_of needs a time zone, e.g. 2026-11-26T12:00:00+08:00")
    if as_of is None and position is None:
        _, body = await board_json(request.app.state.board_feed, services.store, member.role)
    else:
        shown = await run_in_threadpool(
            read_board_as_of, services.store, position=position, moment=as_of
        )
        body = orjson.dumps(visible(shown, member.role))
    return Response(body, media_type="application/json")


@router.get("/api/board/range")
def board_range(services: ServicesDep, _: BoardViewer) -> dict[str, Any]:
    """The first and last moments the board can be shown as of, and the SLA clocks' limits."""
    return read_board_range(services.store) | {"sla": sla_minutes(services.settings)}


def sla_minutes(settings: Settings) -> dict[str, int]:
    """Minutes each leg may take before its loop-not-closed alert (the SLA clocks' limits)."""
    return asdict(settings.alert_thresholds)
