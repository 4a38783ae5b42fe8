"""The command board's figures (docs/board.md), each against a baseline of the same run.

board_snapshot: `GET /api/board` over HTTP from a real server process, on views holding 1M
    journeys of history with 50k open (benchmarks/board_fill.py writes them), against the very
    SQL statements `read_board_state` issues (recorded from it), run bare with psycopg.
board_as_of: time travel, `GET /api/board?as_of=...` at random moments of a synthetic log of
    1M events rebuilt by the projector (a checkpoint every 20,000 positions), against replaying
    the board's deltas from position 0 up to the same moments (no checkpoints).
event_to_ws: benchmarks/board_socket.py.

Besides value / baseline / ratio each figure carries what says where the time goes: the same
read in-process (`read_board` / `read_board_as_of`, no HTTP) and the answer's size.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson
import psycopg

from benchmarks.board_fill import Filled, fill_views
from benchmarks.live import LiveSystem, cpu_seconds, migrate
from domain.staff import Role
from projections.board import apply_delta, empty_board, position_at, read_board_state, read_deltas
from projections.projector import Projector
from projections.queries import read_board, read_board_as_of
from projections.schema import PROJECTION
from projections.synthetic import open_writer, seed
from tracking.settings import Settings
from tracking.sidestore import Cursor, PgCursor, SideStore, pg_sql

T = TypeVar("T")


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


def _ms(work: Callable[[], object]) -> float:
    return _timed(work)[0]


def _timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


class _Recording:
    """A cursor that remembers every statement run through it (as psycopg gets it)."""

    def __init__(self, cur: Cursor) -> None:
        self.cur = cur
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.statements.append((pg_sql(sql), tuple(params)))
        return self.cur.execute(sql, params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        self.statements += [(pg_sql(sql), tuple(p)) for p in params]
        return self.cur.executemany(sql, params)

    def fetchone(self) -> Any:
        return self.cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self.cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self.cur.rowcount


def _bare(conn: psycopg.Connection[Any], statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """The statements alone, in one read-only snapshot as the server takes them."""
    with conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for sql, params in statements:
            cur.execute(sql, params)
            cur.fetchall()
    conn.commit()


def _views_state(conninfo: str) -> tuple[int, int, int | None]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT position, schema_version, rebuild_target FROM projection_position "
            "WHERE name = %s", (PROJECTION,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), row[2]


@dataclass(frozen=True)
class FilledStore:
    """A migrated store whose views hold a long regime (benchmarks/board_fill.py)."""

    filled: Filled
    seconds: float


def fill_store(
    settings: Settings, *, journeys: int = 1_000_000, open_journeys: int = 50_000
) -> FilledStore:
    migrate(settings)
    started = time.perf_counter()
    filled = fill_views(settings.postgres_conninfo, journeys=journeys,
                        open_journeys=open_journeys, deltas=min(journeys, 1_000_000))
    return FilledStore(filled, time.perf_counter() - started)


def bench_board_snapshot(
    settings: Settings, store_filled: FilledStore, *, requests: int = 300, rounds: int = 10,
) -> dict[str, float | str]:
    filled, fill_seconds = store_filled.filled, store_filled.seconds
    journeys, open_journeys = filled.journeys, filled.open_journeys
    filled_state = _views_state(settings.postgres_conninfo)
    # A deployment's API process, embedded projector and all: it must serve the views as they
    # are (same schema version, nothing to rebuild).
    system = LiveSystem(settings, projector="embedded", migrated=True)
    store = SideStore(settings)
    conn = psycopg.connect(settings.postgres_conninfo)
    try:
        http = httpx.Client(base_url=system.url, timeout=60,
                            headers={"Authorization": f"Bearer {system.token(Role.COMMANDER)}"})
        with store.transaction(write=False) as cur:
            recording = _Recording(cur)
            read_board_state(recording)
        statements = recording.statements

        def ours() -> None:
            answer = http.get("/api/board")
            answer.raise_for_status()

        answer = http.get("/api/board")
        board = answer.json()
        assert board["position"] == filled.position and not board["rebuilding"], board["position"]
        assert len(board["on_road"]) == filled.on_road, len(board["on_road"])
        size = len(answer.content)
        times: dict[str, list[float]] = {"ours": [], "bare": [], "read_board": []}
        work: dict[str, Callable[[], object]] = {
            "ours": ours, "bare": lambda: _bare(conn, statements),
            "read_board": lambda: read_board(store),
        }
        for fn in work.values():
            for _ in range(20):
                fn()  # warm caches, pools and connections
        per_round = max(requests // rounds, 1)
        api_cpu = 0.0  # the API process's CPU seconds while answering ours
        for _ in range(rounds):  # interleaved: the machine is shared and its load drifts
            for name, fn in work.items():
                cpu = cpu_seconds(system.api.pid)
                times[name] += [_ms(fn) for _ in range(per_round)]
                if name == "ours":
                    api_cpu += cpu_seconds(system.api.pid) - cpu
        http.close()
    finally:
        conn.close()
        store.close()
        system.stop()
    assert _views_state(settings.postgres_conninfo) == filled_state, "the server rebuilt the views"
    value, baseline = p99(times["ours"]), p99(times["bare"])
    return {
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 2),
        "unit": f"ms p99 GET /api/board, {journeys // 1000}k journeys "
                f"{open_journeys // 1000}k open",
        "read_board_p99": round(p99(times["read_board"]), 1),
        "api_cpu_ms_per_request": round(api_cpu * 1000 / len(times["ours"]), 1),
        "p50": round(sorted(times["ours"])[len(times["ours"]) // 2], 1),
        "bare_p50": round(sorted(times["bare"])[len(times["bare"]) // 2], 1),
        "statements": len(statements),
        "bytes": size,
        "on_road": filled.on_road,
        "fill_s": round(fill_seconds, 1),
    }


def _replay_from_zero(
    conn: psycopg.Connection[Any], moments: list[datetime]
) -> dict[datetime, tuple[float, bytes]]:
    """The baseline of time travel: the board replayed from an empty one through every delta
    from position 0, without checkpoints. One pass serves every moment: read in pages of 5,000
    (`read_deltas`, as the server reads its deltas) and stopped exactly at each moment's
    position, the clock there reads what a replay from 0 to that moment takes. Returns, per
    moment, (ms, the board there as sorted JSON); comparing boards is not timed."""
    found: dict[datetime, tuple[float, bytes]] = {}
    with conn.cursor() as raw:
        raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur = PgCursor(raw)
        targets = []
        for moment in moments:
            ms, position = _timed(partial(position_at, cur, moment))
            targets.append((position, ms, moment))
        board = empty_board()
        after, elapsed = 0, 0.0
        for position, lookup_ms, moment in sorted(targets):
            started = time.perf_counter()
            while after < position:
                page = read_deltas(cur, after, upto=position, limit=5000)
                for delta in page:
                    apply_delta(board, delta)
                after = page[-1]["position"] if len(page) == 5000 else position
            elapsed += (time.perf_counter() - started) * 1000
            board["rebuilding"] = False
            found[moment] = (elapsed + lookup_ms, orjson.dumps(board, option=orjson.OPT_SORT_KEYS))
    conn.commit()
    return found


def _seed_log(settings: Settings, n_events: int, chunk: int = 200_000) -> None:
    """Top the log up to `n_events` synthetic events, in simulations of at most `chunk` events
    (each with its own codes and plates): one simulation's clock runs past the fixed planned
    end of quarantine in projections/synthetic.py (2020-04-11) somewhere beyond ~200k events,
    and the domain then refuses to start a quarantine."""
    while True:
        app = open_writer(settings)
        try:
            have = app.recorder.max_notification_id() or 0
        finally:
            app.close()
        if have >= n_events:
            return
        seed(settings, min(chunk, n_events - have), seed=2020 + have, tag=f"s{have}-")


def bench_board_as_of(
    settings: Settings, *, n_events: int = 1_000_000, moments: int = 20,
) -> dict[str, float | str]:
    migrate(settings)
    started = time.perf_counter()
    _seed_log(settings, n_events)
    seeded = time.perf_counter()
    projector = Projector(settings)
    try:
        events = projector.rebuild(fresh=True)
    finally:
        projector.close()
    rebuilt = time.perf_counter()
    system = LiveSystem(settings, projector="off", migrated=True)
    store = SideStore(settings)
    conn = psycopg.connect(settings.postgres_conninfo)
    try:
        http = httpx.Client(base_url=system.url, timeout=120,
                            headers={"Authorization": f"Bearer {system.token(Role.COMMANDER)}"})
        span = http.get("/api/board/range").json()
        first, last = (datetime.fromisoformat(span[k]) for k in ("first", "last"))
        rng = random.Random(2020)
        chosen = [first + (last - first) * rng.random() for _ in range(moments)]
        row = conn.execute("SELECT count(*) FROM board_checkpoints").fetchone()
        checkpoints = int(row[0]) if row else 0
        conn.commit()

        def ours(moment: datetime) -> dict[str, Any]:
            answer = http.get(f"/api/board?as_of={quote(moment.isoformat())}")
            answer.raise_for_status()
            shown: dict[str, Any] = answer.json()
            return shown

        for moment in (first + timedelta(seconds=1), last):
            ours(moment)  # warm the server's pool and caches
        times: dict[str, list[float]] = {"ours": [], "in_process": []}
        boards = {}
        for moment in chosen:
            ms, shown = _timed(partial(ours, moment))
            times["ours"].append(ms)
            boards[moment] = orjson.dumps(shown, option=orjson.OPT_SORT_KEYS)
            times["in_process"].append(
                _ms(partial(read_board_as_of, store, moment=moment.astimezone(UTC)))
            )
        replayed = _replay_from_zero(conn, chosen)
        http.close()
    finally:
        conn.close()
        store.close()
        system.stop()
    replay = [replayed[m][0] for m in chosen]
    same = sum(replayed[m][1] == boards[m] for m in chosen)
    value, baseline = max(times["ours"]), max(replay)
    return {
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3),
        "unit": f"ms max GET /api/board?as_of= of {moments} moments, {events // 1000}k events",
        "p50": round(sorted(times["ours"])[len(chosen) // 2], 1),
        "in_process_max": round(max(times["in_process"]), 1),
        "replay_p50": round(sorted(replay)[len(chosen) // 2], 1),
        "same_board": f"{same}/{len(chosen)}",
        "checkpoints": checkpoints,
        "seed_s": round(seeded - started, 1),
        "rebuild_s": round(rebuilt - seeded, 1),
    }
