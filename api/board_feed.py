"""Fan-out of board deltas to this process's websocket clients (docs/board.md).

Every API process runs one feed: a thread that wakes when the views move (PostgreSQL NOTIFY on
the channel the projector signals at each page commit, wherever that projector runs; a short
poll on SQLite), reads the new deltas from the store once, and hands them to the event loop,
which queues each on every client's bounded queue. Boards thus never depend on which process
applied an event, and a client is never waited for: a full queue drops it.

The feed also keeps the whole board in memory, current from the same deltas, and its JSON per
role: a snapshot (GET /api/board, a websocket's first frame) then costs one small query to
check it is current, instead of reading and encoding every row of the board again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
import psycopg
from psycopg import sql
from starlette.concurrency import run_in_threadpool

from domain.staff import Role
from projections.board import Board, apply_delta, visible
from projections.queries import read_board, read_board_feed, read_board_head
from projections.schema import VIEWS_CHANNEL
from tracking.sidestore import SideStore

log = logging.getLogger(__name__)
SQLITE_POLL_S = 0.02
SAFETY_POLL_S = 1.0  # with NOTIFY, still look now and then (a lost connection, say)
FEED_PAGE = 2000  # deltas read at a time


async def board_json(feed: BoardFeed, store: SideStore, role: Role) -> tuple[int, bytes]:
    """(position, the board now as `role` sees it, as JSON): from the feed's memory when it is
    current (one small query says so), else read afresh."""
    position, rebuilding = await run_in_threadpool(read_board_head, store)
    if not rebuilding:
        cached = feed.encoded(role, position)
        if cached is not None:
            return position, cached
    board = await run_in_threadpool(read_board, store)
    return int(board["position"]), orjson.dumps(visible(board, role))


class Client:
    """One websocket's queue of frames; the connection's writer drains it."""

    def __init__(self, role: Role, queue_limit: int) -> None:
        self.role = role
        self.queue_limit = queue_limit  # frames it may fall behind before it is dropped
        self.frames: deque[tuple[int, str]] = deque()  # (position, frame)
        self.ready = asyncio.Event()
        self.dropped = False
        self.gone = False  # the client went away
        self.closed_by_server: tuple[int, str] | None = None
        self.discarding = False  # closed for its member: nothing more is queued
        self.position = 0  # the last position queued for it

    def offer(self, position: int, frame: str) -> None:
        if self.dropped or self.discarding or position <= self.position:
            return  # already covered by its snapshot or resume
        if len(self.frames) >= self.queue_limit:
            self.dropped = True
            self.frames.clear()
        else:
            self.frames.append((position, frame))
            self.position = position
        self.ready.set()

    def left(self) -> None:
        self.gone = True
        self.ready.set()

    def close(self, code: int, reason: str, *, discard: bool = False) -> None:
        """Close once the queue is sent; with `discard` (the member may no longer see the
        board) at once, sending nothing more."""
        if self.discarding:
            return  # already closed for its member; that reason stands
        if discard:
            self.discarding = True
            self.frames.clear()
            self.dropped = False
        self.closed_by_server = (code, reason)
        self.ready.set()


class BoardFeed:
    def __init__(self, store: SideStore, conninfo: str | None, queue_limit: int) -> None:
        self.store = store
        self.queue_limit = queue_limit
        self.conninfo = conninfo  # PostgreSQL: LISTEN there; None: poll
        self.clients: set[Client] = set()
        self.position = 0
        # The board as of its "position", touched only on the event loop; JSON per role.
        self.board: Board | None = None
        self._encoded: dict[Role, bytes] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the event loop's side ---------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread = threading.Thread(target=self._run, name="board-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for client in list(self.clients):
            client.close(1001, "server shutting down")

    def subscribe(self, role: Role) -> Client:
        client = Client(role, self.queue_limit)
        self.clients.add(client)
        return client

    def unsubscribe(self, client: Client) -> None:
        self.clients.discard(client)

    def encoded(self, role: Role, position: int) -> bytes | None:
        """The board as `role` sees it, as JSON, if the feed's board is at `position`."""
        if self.board is None or self.board["position"] != position:
            return None
        found = self._encoded.get(role)
        if found is None:
            found = self._encoded[role] = orjson.dumps(visible(self.board, role))
        return found

    def _set_board(self, board: Board) -> None:
        board["rebuilding"] = False  # served only while the views are not rebuilding
        self.board = board
        self._encoded.clear()

    def _publish(self, deltas: list[Board]) -> None:
        if self.board is not None:
            self._encoded.clear()
            for delta in deltas:
                if delta["position"] > self.board["position"]:
                    apply_delta(self.board, delta)
        for delta in deltas:
            frames: dict[Role, str] = {}
            for client in self.clients:
                frame = frames.get(client.role)
                if frame is None:
                    shown = dict(delta, changes=visible(delta["changes"], client.role))
                    frame = frames[client.role] = orjson.dumps(shown).decode()
                client.offer(delta["position"], frame)

    def _reset(self) -> None:
        for client in list(self.clients):
            client.close(1012, "the board was rebuilt; reconnect")

    # -- the feed thread ---------------------------------------------------------------------
    def _run(self) -> None:
        listener: psycopg.Connection[Any] | None = None
        loaded = False
        while not self._stop.is_set():
            try:
                if self.conninfo is not None and listener is None:
                    listener = psycopg.connect(self.conninfo, autocommit=True)
                    listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(VIEWS_CHANNEL)))
                if not loaded:
                    self._load()
                    loaded = True
                self._catch_up()
                self._wait(listener)
            except Exception:
                log.exception("board feed failed; retrying")
                if listener is not None:
                    listener.close()
                    listener = None
                self._stop.wait(1.0)
        if listener is not None:
            listener.close()

    def _wait(self, listener: psycopg.Connection[Any] | None) -> None:
        if listener is None:
            self._stop.wait(SQLITE_POLL_S)
            return
        for _ in listener.notifies(timeout=SAFETY_POLL_S, stop_after=1):
            return

    def _catch_up(self) -> None:
        while True:
            position, rebuilding, deltas = read_board_feed(self.store, self.position, FEED_PAGE)
            if rebuilding:
                # Wait: a rebuild writes the same deltas again, and once it has passed our
                # position they follow on from where the clients are.
                return
            if position < self.position or (deltas and deltas[0]["after"] > self.position):
                # The views were replaced by others: every client starts again.
                self._call(self._reset)
                self._load()
                return
            if deltas:
                self._call(self._publish, deltas)
            if len(deltas) < FEED_PAGE:
                self.position = position  # every delta up to the views' position is sent
                return
            self.position = deltas[-1]["position"]

    def _load(self) -> None:
        board = read_board(self.store)
        self.position = board["position"]  # deltas follow on from the board's last one
        self._call(self._set_board, board)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)
