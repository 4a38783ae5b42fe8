"""Fan-out of board deltas to this process's websocket clients (docs/board.md).

Every API process runs one feed: a thread that wakes when the views move (PostgreSQL NOTIFY on
the channel the projector signals at each page commit, wherever that projector runs; a short
poll on SQLite), reads the new deltas from the store once, and hands them to the event loop,
which queues each on every client's bounded queue. Boards thus never depend on which process
applied an event, and a client is never waited for: a full queue drops it.
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

from domain.staff import Role
from projections.board import Board, visible
from projections.queries import read_board_feed, read_position
from projections.schema import VIEWS_CHANNEL
from tracking.sidestore import SideStore

log = logging.getLogger(__name__)
SQLITE_POLL_S = 0.02
SAFETY_POLL_S = 1.0  # with NOTIFY, still look now and then (a lost connection, say)
FEED_PAGE = 2000  # deltas read at a time


class Client:
    """One websocket's queue of frames; the connection's writer drains it."""

    def __init__(self, role: Role, queue_limit: int) -> None:
        self.role = role
        self.queue_limit = queue_limit  # frames it may fall behind before it is dropped
        self.frames: deque[tuple[int, str]] = deque()  # (position, frame)
        self.ready = asyncio.Event()
        self.dropped = False
        self.closed_by_server: tuple[int, str] | None = None
        self.position = 0  # the last position queued for it

    def offer(self, position: int, frame: str) -> None:
        if self.dropped or position <= self.position:
            return  # already covered by its snapshot or resume
        if len(self.frames) >= self.queue_limit:
            self.dropped = True
            self.frames.clear()
        else:
            self.frames.append((position, frame))
            self.position = position
        self.ready.set()

    def close(self, code: int, reason: str) -> None:
        self.closed_by_server = (code, reason)
        self.ready.set()


class BoardFeed:
    def __init__(self, store: SideStore, conninfo: str | None, queue_limit: int) -> None:
        self.store = store
        self.queue_limit = queue_limit
        self.conninfo = conninfo  # PostgreSQL: LISTEN there; None: poll
        self.clients: set[Client] = set()
        self.position = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the event loop's side ---------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.position = read_position(self.store)
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

    def _publish(self, deltas: list[Board]) -> None:
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
        while not self._stop.is_set():
            try:
                if self.conninfo is not None and listener is None:
                    listener = psycopg.connect(self.conninfo, autocommit=True)
                    listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(VIEWS_CHANNEL)))
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
                self.position = position
                self._call(self._reset)
                return
            if deltas:
                self._call(self._publish, deltas)
            if len(deltas) < FEED_PAGE:
                self.position = position  # every delta up to the views' position is sent
                return
            self.position = deltas[-1]["position"]

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)
