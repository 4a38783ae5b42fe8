"""A board client for tests and benchmarks: a websocket kept in a thread, applying every frame.

It records each frame it received (in order) and the board it held after each one, so tests can
compare what a wall screen showed at any position with what the server says now or as of then.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from projections.board import apply_delta


class BoardWatch:
    def __init__(self, base_url: str, token: str, *, board: dict[str, Any] | None = None,
                 keep_boards: bool = False) -> None:
        """`board`: the board a returning client held; it resumes from its position."""
        self.url = base_url.replace("http://", "ws://", 1) + "/ws/board"
        self.frames: list[dict[str, Any]] = []
        self.board = copy.deepcopy(board)
        after = None if board is None else int(board["position"])
        self.boards: dict[int, dict[str, Any]] = {}  # position -> the board held there
        self.keep_boards = keep_boards
        self.close_code: int | None = None
        self.errors: list[str] = []
        self.on_frame: Callable[[dict[str, Any]], None] | None = None
        self._changed = threading.Condition()
        self._connecting = connect(self.url, open_timeout=10, max_size=2**26)
        self.ws: ClientConnection = self._connecting.__enter__()
        self.ws.send(orjson.dumps({"token": token, "after": after}).decode())
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @property
    def position(self) -> int | None:
        return None if self.board is None else int(self.board["position"])

    def _read(self) -> None:
        try:
            for text in self.ws:
                frame = orjson.loads(text)
                # A batch means exactly its deltas one by one: they are recorded so.
                for one in frame["deltas"] if frame["type"] == "deltas" else [frame]:
                    self._take(one)
        except ConnectionClosed:
            pass
        finally:
            code = self.ws.close_code
            self.close_code = code if code is not None else -1
            with self._changed:
                self._changed.notify_all()

    def _take(self, frame: dict[str, Any]) -> None:
        with self._changed:
            self.frames.append(frame)
            if frame["type"] == "snapshot":
                self.board = copy.deepcopy(frame["board"])  # the frame stays as received
            elif frame["type"] == "delta":
                if self.board is None:
                    self.errors.append("a delta before any snapshot")
                    return
                # A delta follows the previous one; `after` may be below the position held
                # (a snapshot's position can lie past events no board shows), never above.
                if frame["after"] > self.board["position"] or (
                    frame["position"] <= self.board["position"]
                ):
                    self.errors.append(
                        f"delta {frame['after']}->{frame['position']} at {self.board['position']}"
                    )
                apply_delta(self.board, frame)
            if self.keep_boards and self.board is not None:
                self.boards[int(self.board["position"])] = copy.deepcopy(self.board)
            if self.on_frame is not None:
                self.on_frame(frame)
            self._changed.notify_all()

    def deltas(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "delta"]

    def wait_until(self, what: Callable[[BoardWatch], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not what(self):
                left = deadline - time.monotonic()
                if left <= 0 or (self.close_code is not None and not what(self)):
                    raise AssertionError(
                        f"board never got there: position {self.position}, "
                        f"closed {self.close_code}, last frames {self.frames[-3:]}"
                    )
                self._changed.wait(min(left, 0.2))

    def wait_for_position(self, position: int, timeout: float = 15.0) -> None:
        self.wait_until(lambda w: (w.position or 0) >= position, timeout)

    def wait_closed(self, timeout: float = 15.0) -> int:
        self._thread.join(timeout)
        assert self.close_code is not None, "still open"
        return self.close_code

    def close(self) -> None:
        self.ws.close()
        self._thread.join(10)
