"""`/ws/board`: a snapshot (or what a returning client missed), then every delta in order.

The first frame the client sends carries its token (never the URL) and the last position it
saw. See docs/board.md for the protocol and api/board_feed.py for the fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from api.board_feed import BoardFeed, Client
from api.routers.board import sla_minutes
from projections.board import BOARD_ROLES, visible
from projections.queries import read_board, read_board_deltas
from tracking.services import Services

router = APIRouter()
HELLO_TIMEOUT_S = 10.0
NOT_JSON, UNAUTHENTICATED, FORBIDDEN, DROPPED = 4400, 4401, 4403, 4008


@router.websocket("/ws/board")
async def board_socket(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    feed: BoardFeed = websocket.app.state.board_feed
    await websocket.accept()
    hello = await _hello(websocket)
    if hello is None:
        return
    member = await run_in_threadpool(services.accounts.member_for_token, hello["token"])
    if member is None:
        await websocket.close(UNAUTHENTICATED, "sign in first: send a token from /api/auth/token")
        return
    if member.role not in BOARD_ROLES:
        await websocket.close(FORBIDDEN, "this role may not see the board")
        return
    client = feed.subscribe(member.role)  # before reading: nothing committed meanwhile is missed
    try:
        await _start(websocket, services, client, hello["after"])
        receiving = asyncio.ensure_future(_until_gone(websocket))
        try:
            await _send_frames(websocket, client, receiving)
        finally:
            receiving.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        feed.unsubscribe(client)


async def _hello(websocket: WebSocket) -> dict[str, Any] | None:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT_S)
        hello = orjson.loads(text)
        token, after = hello.get("token"), hello.get("after")
        if not isinstance(token, str) or not (after is None or isinstance(after, int)):
            raise ValueError
    except (TimeoutError, ValueError, AttributeError, KeyError, orjson.JSONDecodeError):
        with contextlib.suppress(Exception):
            await websocket.close(NOT_JSON, 'send {"token": "...", "after": null} first')
        return None
    except WebSocketDisconnect:
        return None
    return {"token": token, "after": after}


async def _start(
    websocket: WebSocket, services: Services, client: Client, after: int | None
) -> None:
    missed = None
    if after is not None:
        missed = await run_in_threadpool(read_board_deltas, services.store, after)
    if missed is None:
        board = await run_in_threadpool(read_board, services.store)
        position = board["position"]
        await websocket.send_text(orjson.dumps({
            "type": "snapshot", "position": position, "board": visible(board, client.role),
            "sla": sla_minutes(services.settings),
        }).decode())
    else:
        position = after or 0
        for delta in missed:
            shown = dict(delta, changes=visible(delta["changes"], client.role))
            await websocket.send_text(orjson.dumps(shown).decode())
            position = delta["position"]
    # Deltas the feed queued meanwhile that this start already covered are dropped.
    while client.frames and client.frames[0][0] <= position:
        client.frames.popleft()
    client.position = max(client.position, position)


async def _send_frames(
    websocket: WebSocket, client: Client, receiving: asyncio.Future[None]
) -> None:
    while not receiving.done():
        if not client.frames and client.closed_by_server is None and not client.dropped:
            client.ready.clear()
            waiting: asyncio.Future[Any] = asyncio.ensure_future(client.ready.wait())
            await asyncio.wait((waiting, receiving), return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            continue
        if client.dropped:
            await websocket.send_text('{"type":"dropped","reason":"slow"}')
            await websocket.close(DROPPED, "too slow: reconnect with your last position")
            return
        if client.closed_by_server is not None and not client.frames:
            await websocket.close(*client.closed_by_server)
            return
        while client.frames:
            await websocket.send_text(client.frames.popleft()[1])


async def _until_gone(websocket: WebSocket) -> None:
    """Reads (and ignores) what the client sends until it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
