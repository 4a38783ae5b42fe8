"""Live board clients across API restarts (issue 8): two API processes, the one a board is on
killed (SIGKILL) or stopped (SIGTERM) in turn under load, and a new one started in its place.
Each board reconnects to a process still serving and says the last position it saw; each one's
sequence of positions, across all its connections, has no gap and no duplicate (it is the log's
board deltas after its first snapshot, less what a fresh snapshot covered), and its final board
equals `GET /api/board`. No acknowledged command is lost or duplicated either.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.staff import Role
from tests.board_watch import BoardWatch
from tests.chaos.checker import check, wait_current
from tests.chaos.deployment import deployed
from tests.chaos.load import Load
from tests.chaos.scale import Scale
from tests.e2e.processes import ApiProcess
from tracking.services import open_services
from tracking.settings import Settings

pytestmark = pytest.mark.postgres
WALLS = 4


def _shown(board: dict[str, Any] | None) -> dict[str, Any] | None:
    """A board as compared: all but "rebuilding" (a snapshot's flag; deltas do not carry it)."""
    return None if board is None else {k: v for k, v in board.items() if k != "rebuilding"}


class Wall:
    """One wall screen: a board client that, when its process goes away, reconnects to another
    with the board it held (so, its last position)."""

    def __init__(self, api: ApiProcess, token: str) -> None:
        self.token = token
        self.api = api
        self.sessions = [BoardWatch(api.url, token)]

    @property
    def watch(self) -> BoardWatch:
        return self.sessions[-1]

    def reconnect(self, api: ApiProcess) -> None:
        self.watch.wait_closed()
        self.api = api
        self.sessions.append(BoardWatch(api.url, self.token, board=self.watch.board))

    def frames(self) -> list[dict[str, Any]]:
        return [f for s in self.sessions for f in s.frames]

    def close(self) -> None:
        for session in self.sessions:
            session.close()


def chain(frames: list[dict[str, Any]], logged: list[int]) -> list[str]:
    """What is wrong with one client's frames: a delta again or out of order, a gap between
    deltas, or deltas missing from what the log's board deltas say it should have had."""
    problems: list[str] = []
    position: int | None = None
    first = 0
    covered: list[tuple[int, int]] = []  # (held, snapshot position): a fresh snapshot's span
    after_delta = False
    seen: list[int] = []
    for f in frames:
        if f["type"] == "snapshot":
            if position is None:
                first = f["position"]
            else:
                if f["position"] < position:
                    problems.append(f"a snapshot at {f['position']} after {position}")
                covered.append((position, f["position"]))
            position, after_delta = f["position"], False
        elif f["type"] == "delta" and position is not None:
            if f["position"] <= position:
                problems.append(f"delta {f['position']} again, or back, at {position}")
            elif f["after"] > position or (after_delta and f["after"] != position):
                problems.append(f"gap: delta {f['after']}->{f['position']} at {position}")
            seen.append(f["position"])
            position, after_delta = f["position"], True
        else:
            problems.append(f"unexpected frame {str(f)[:200]}")
    expected = [
        p for p in logged
        if first < p <= (position or 0) and not any(lo < p <= hi for lo, hi in covered)
    ]
    if seen != expected:
        missing, extra = sorted(set(expected) - set(seen)), sorted(set(seen) - set(expected))
        problems.append(f"deltas missing {missing[:10]}, unexpected {extra[:10]}")
    return problems


def logged_deltas(settings: Settings) -> list[int]:
    services = open_services(settings)
    try:
        with services.store.transaction(write=False) as cur:
            cur.execute("SELECT position FROM board_deltas ORDER BY position")
            return [int(p) for (p,) in cur.fetchall()]
    finally:
        services.close()


def test_board_clients_across_api_restarts(
    pg_settings: Settings, tmp_path: Path, scale: Scale
) -> None:
    with deployed(pg_settings, tmp_path) as d:
        live = d.serve()
        token = d.tokens[Role.COMMANDER]
        walls = [Wall(live[i % 2], token) for i in range(WALLS)]
        try:
            for wall in walls:
                wall.watch.wait_until(lambda w: w.board is not None)
            load = Load(lambda: [a.url for a in live], entry_point=d.entry_point,
                        screener_token=d.tokens[Role.SCREENER], clients=scale.clients).start()
            spare = d.start_api()  # started ahead, to take the place of the first one stopped
            restarts: list[str] = []
            try:
                for n in scale.every(scale.board_restart_every_s):
                    spare.wait_ready()
                    victim = live[0]
                    live[:] = [live[1], spare]
                    if n % 2 == 0:
                        victim.kill()
                        restarts.append("SIGKILL")
                    else:
                        # Shut down in time (else terminate() fails); uvicorn then re-raises
                        # the signal, so the exit status is SIGTERM's.
                        code = victim.terminate()
                        assert code in (0, -signal.SIGTERM), f"SIGTERM: exit {code}"
                        restarts.append("SIGTERM")
                    for i, wall in enumerate(walls):
                        if wall.api is victim:
                            wall.reconnect(live[i % 2])
                    spare = d.start_api()
            finally:
                load.stop()
            verdict = check("board-clients-api-restarts", pg_settings, load, live[0].url, token,
                            publish=False)
            wait_current(live[0].url)
            board = httpx.get(f"{live[0].url}/api/board", timeout=15,
                              headers={"Authorization": f"Bearer {token}"}).json()
            expected = _shown(board)
            for wall in walls:
                wall.watch.wait_until(lambda w: _shown(w.board) == expected, 15)
            logged = logged_deltas(pg_settings)
            problems = {i: chain(wall.frames(), logged) for i, wall in enumerate(walls)}
            errors = {i: [e for s in wall.sessions for e in s.errors]
                      for i, wall in enumerate(walls)}
            verdict.extra.update(
                walls=WALLS, restarts="+".join(restarts),
                reconnects=sum(len(w.sessions) - 1 for w in walls),
                deltas_per_wall=min(sum(f["type"] == "delta" for f in w.frames()) for w in walls),
                chain_problems=sum(map(len, problems.values())),
            )
            verdict.publish()
            print(load.summary())
        finally:
            for wall in walls:
                wall.close()
        assert len(restarts) >= 2 and {"SIGKILL", "SIGTERM"} <= set(restarts), restarts
        assert all(len(w.sessions) > 1 for w in walls), "a board never lost its process"
        assert all(_shown(w.watch.board) == expected for w in walls)
        assert all(p == [] for p in problems.values()), problems
        assert all(e == [] for e in errors.values()), errors
        assert verdict.lost == 0 and verdict.duplicated == 0, verdict.problems
        assert verdict.problems == []
