"""`/ws/board`: a snapshot (or what a returning client missed), then every delta in order.

The first frame the client sends carries its token (never the URL) and the last position it
saw. See docs/board.md for the protocol and api/board_feed.py for the fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from api.board_feed import BoardFeed, Client, board_json
from api.policy import admits
from api.routers.board import sla_minutes
from projections.board import visible
from projections.queries import read_board_deltas
from tracking.services import Services

router = APIRouter()
log = logging.getLogger(__name__)
HELLO_TIMEOUT_S = 10.0
RESUME_BATCH = 500  # missed deltas per message when a client comes back
NOT_JSON, UNAUTHENTICATED, FORBIDDEN, DROPPED = 4400, 4401, 4403, 4008
# The account's role changed: the board it may see differs, so the client starts afresh.
ROLE_CHANGED = 4012
# How often an open socket looks at its session and account again: disabling an account,
# signing out or changing a role reaches an open board within this (the goal is 5 s).
RECHECK_S = 1.0
BOARD_SOCKET = "WS /ws/board"  # its row in api/policy.py


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
    if not admits(BOARD_SOCKET, member.role):  # the table's row for this socket
        await websocket.close(FORBIDDEN, "this role may not see the board")
        return
    client = feed.subscribe(member.role)  # before reading: nothing committed meanwhile is missed
    watching = asyncio.ensure_future(_watch_member(services, hello["token"], client))
    try:
        await _start(websocket, services, feed, client, hello["after"])
        receiving = asyncio.ensure_future(_until_gone(websocket, client))
        try:
            await _send_frames(websocket, client)
        finally:
            receiving.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        watching.cancel()
        feed.unsubscribe(client)


async def _watch_member(services: Services, token: str, client: Client) -> None:
    """Close the socket once its session ends (sign-out, a disabled account, expiry) or its
    account's role changes; what was queued but not sent is not sent."""
    while not client.gone and client.closed_by_server is None:
        await asyncio.sleep(RECHECK_S)
        try:
            member = await run_in_threadpool(services.accounts.member_for_token, token)
        except Exception:  # the store not answering: the next look decides
            log.warning("board socket: could not re-check its session; keeping it open")
            continue
        if member is None:
            client.close(UNAUTHENTICATED, "signed out or the account was disabled", discard=True)
        elif member.role is not client.role:
            client.close(ROLE_CHANGED, "your role changed: reconnect for your board", discard=True)


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
    websocket: WebSocket, services: Services, feed: BoardFeed, client: Client, after: int | None
) -> None:
    missed = None
    if after is not None:
        missed = await run_in_threadpool(read_board_deltas, services.store, after)
    if missed is None:
        position, board = await board_json(feed, services.store, client.role)
        head = orjson.dumps({
            "type": "snapshot", "position": position, "sla": sla_minutes(services.settings),
        })
        await websocket.send_text((head[:-1] + b',"board":' + board + b"}").decode())
    else:
        position = after or 0
        for start in range(0, len(missed), RESUME_BATCH):
            frames = [
                orjson.dumps(dict(delta, changes=visible(delta["changes"], client.role))).decode()
                for delta in missed[start:start + RESUME_BATCH]
            ]
            await websocket.send_text(batch(frames))
            position = missed[min(start + RESUME_BATCH, len(missed)) - 1]["position"]
    # Deltas the feed queued meanwhile that this start already covered are dropped.
    while client.frames and client.frames[0][0] <= position:
        client.frames.popleft()
    client.position = max(client.position, position)


async def _send_frames(websocket: WebSocket, client: Client) -> None:
    while not client.gone:
        if not client.frames and client.closed_by_server is None and not client.dropped:
            client.ready.clear()
            await client.ready.wait()  # set by the feed, or by the client leaving
            continue
        if client.dropped:
            await websocket.send_text('{"type":"dropped","reason":"slow"}')
            await websocket.close(DROPPED, "too slow: reconnect with your last position")
            return
        if client.closed_by_server is not None and not client.frames:
            await websocket.close(*client.closed_by_server)
            return
        # Everything queued goes out as one message: the cost of a websocket message is mostly
        # per message, and a burst of deltas (a family, a page) is common.
        frames = [frame for _, frame in client.frames]
        client.frames.clear()
        await websocket.send_text(batch(frames))


def batch(frames: list[str]) -> str:
    """One delta frame as it is; several as one `deltas` frame (docs/board.md)."""
    if len(frames) == 1:
        return frames[0]
    return '{"type":"deltas","deltas":[' + ",".join(frames) + "]}"


async def _until_gone(websocket: WebSocket, client: Client) -> None:
    """Reads (and ignores) what the client sends until it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    client.left()
