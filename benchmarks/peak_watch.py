"""The watchers of a benchmark day, each its own process so that none takes the event loop or
the GIL of the load it watches, and what their records say.

- `board`: a commander's `GET /api/board` every INTERVAL seconds (closed loop), each timed;
- the store poller and the board websocket clients are benchmarks/board_socket.py's.

Every timestamp is CLOCK_MONOTONIC, one clock for every process of the machine.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import pickle
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.lean_http import LeanHttp


def _run_board_reader(url: str, token: str, interval: float, out: str) -> None:
    stopping = asyncio.Event()
    reads: list[tuple[float, float, int]] = []  # (started, ms, status)

    async def read() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
        http = LeanHttp(url, token=token)
        while not stopping.is_set():
            started = time.monotonic()
            try:
                status, _ = await asyncio.wait_for(
                    http.request("GET", "/api/board", decode=False), 60)
            except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                status = 0
                await http.close()
            reads.append((started, (time.monotonic() - started) * 1000, status))
            pause = interval - (time.monotonic() - started)
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), pause)
        await http.close()

    asyncio.run(read())
    with open(out, "wb") as f:
        pickle.dump(reads, f)


class Series:
    """A polled series of (time, position), the position never decreasing: when it first
    reached a position."""

    def __init__(self, samples: Sequence[tuple[float, int]]) -> None:
        self.times = [t for t, _ in samples]
        self.positions = [p for _, p in samples]

    def reached(self, position: int) -> float | None:
        i = bisect.bisect_left(self.positions, position)
        return self.times[i] if i < len(self.times) else None

    def at(self, moment: float) -> int | None:
        """The position of the first sample taken at or after `moment`."""
        i = bisect.bisect_left(self.times, moment)
        return self.positions[i] if i < len(self.times) else None


def projection_lags(
    polled: Sequence[tuple[float, int, int]], acks: Sequence[float]
) -> tuple[list[float], int]:
    """ms from each acknowledgement until the views reached the log's head as it stood then.

    The head seen by the first poll at or after the acknowledgement holds the command's own
    events (they were committed before the answer left), so this is the command's projection
    lag, or a little more (events committed by others meanwhile count too, and the poll's
    interval). Returns the lags and how many acknowledgements the views never reached."""
    views = Series([(t, v) for t, v, _ in polled])
    heads = Series([(t, h) for t, _, h in polled])
    lags, never = [], 0
    for acked in acks:
        head = heads.at(acked)
        reached = None if head is None else views.reached(head)
        if reached is None:
            never += 1
        else:
            lags.append(max(reached - acked, 0.0) * 1000)
    return lags, never


def frame_delays(
    polled: Sequence[tuple[float, int, int]], frames: Sequence[dict[int, float]],
    since: float, until: float,
) -> list[float]:
    """ms from each event's commit (when the poller first saw the log's head reach it) to each
    board client's frame that carries it, for frames received in [since, until)."""
    heads = Series([(t, h) for t, _, h in polled])
    delays = []
    for got in frames:
        for position, received in got.items():
            if since <= received < until:
                committed = heads.reached(position)
                if committed is not None:
                    delays.append(max(received - committed, 0.0) * 1000)
    return delays


def main() -> None:
    role = sys.argv[1]
    if role == "board":
        _run_board_reader(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(f"unknown role {role!r}")


def unpickle(path: Any) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301  (our own child's file)


if __name__ == "__main__":
    main()
