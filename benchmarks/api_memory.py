"""api_memory: the resident memory of one API process serving a district's views at 1M
journeys, beside the same process doing the same work on an empty store in the same run.

Layout: the README's production layout with one API process (uvicorn, TRACKING_PROJECTOR=off,
one worker, so the process measured is the one that serves) and the projector as its own
process; the projector's memory is reported beside. The store is the one board_snapshot read
(benchmarks/board_fill.py: 1M journeys, 50k open), made servable for the rest of the console:

- the fill's journeys exist in the views only, so the dispatch console (which opens each
  waiting traveller's sealed name from the event store) would answer 404: the waiting rows
  it lists (up to its queue limit) are given the ids of real travellers, registered and
  screened through the application before anything else is projected;
- the log's notification ids are moved past the views' position, so that commands sent now
  are projected after it and reach the boards as deltas.

The work, the same on both stores: GET /api/board as commander (20 times), GET /api/dispatch
as dispatcher (10 times), `ws_clients` board websockets open for `ws_seconds` while families
of four register over HTTP at `rate` a second (each journey a delta to every board), then the
board 5 times more. Then VmRSS (value) and VmHWM (the peak) are read from /proc. The baseline
is the empty store, not the process right after start: what the figure is asked to show is the
memory that the data costs, and a process that has served nothing has not yet loaded what
serving loads (its start-up RSS is reported beside, for both stores).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg

from benchmarks.board import FilledStore
from benchmarks.board_socket import _commands, _drive
from benchmarks.line_prep import ctx
from benchmarks.live import ROOT, LiveSystem, migrate
from domain.staff import Role
from domain.stages import RiskLevel
from projections.dispatch_queries import QUEUE_LIMIT, WAITING
from tracking.application import Person
from tracking.persistence import events_table
from tracking.services import open_services
from tracking.settings import Settings

MB = 1024 * 1024


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (the peak resident set) of a process, in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) * 1024 / MB, 1)
    return found


def _waiting_made_real(settings: Settings) -> int:
    """The filled waiting rows the console lists, carried by real (registered and screened)
    journeys; returns how many."""
    with psycopg.connect(settings.postgres_conninfo) as conn:
        rows = conn.execute(
            "SELECT journey_id FROM journey_stage WHERE stage = ANY(%s) "
            "ORDER BY entered_at, journey_id LIMIT %s",
            (list(WAITING), QUEUE_LIMIT),
        ).fetchall()
    services = open_services(settings)
    try:
        app = services.app
        app.register_entry_point("QUEUE", "排队 (benchmark)")

        def real(i: int) -> str:
            person = Person("passport", "GBR", f"Q{i:07d}",
                            {"name_native": f"旅客{i}", "phone": "+447700900000",
                             "destination_street": "沙面"})
            journey: str = app.register_travellers("QUEUE", [person], ctx("traveller"))[
                "journey_ids"][0]
            app.screen(UUID(journey), RiskLevel.LOW, 36.6, False, False, ctx("screener"))
            return journey

        with ThreadPoolExecutor(4) as pool:
            journeys = list(pool.map(real, range(len(rows))))
    finally:
        services.close()
    with psycopg.connect(settings.postgres_conninfo) as conn:
        # A solo traveller's party is the journey itself.
        conn.cursor().executemany(
            "UPDATE journey_stage SET journey_id = %s, party_id = %s WHERE journey_id = %s",
            [(UUID(j), UUID(j), fake) for j, (fake,) in zip(journeys, rows, strict=True)],
        )
    return len(rows)


def _log_moved_past_views(settings: Settings, position: int) -> None:
    table = events_table(settings)
    with psycopg.connect(settings.postgres_conninfo, autocommit=True) as conn:
        conn.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
            (table, position),
        )


def _register_entry_point(settings: Settings) -> None:
    services = open_services(settings)
    try:
        services.app.register_entry_point("BENCH", "白云机场 T2 (benchmark)")
    finally:
        services.close()


def _exercise(
    settings: Settings, *, ws_clients: int, ws_seconds: float, rate: float
) -> dict[str, Any]:
    """Start the layout on the store as it is, do the work, read the memory."""
    system = LiveSystem(settings, projector="process", migrated=True, workers=1)
    clients: subprocess.Popen[str] | None = None
    try:
        start = memory_mb(system.api.pid)
        commander = system.token(Role.COMMANDER)
        dispatcher = system.token(Role.DISPATCHER)
        board_ms, dispatch_ms, queued = [], [], 0
        with httpx.Client(base_url=system.url, timeout=120) as http:
            for _ in range(20):
                started = time.perf_counter()
                answer = http.get("/api/board", headers={"Authorization": f"Bearer {commander}"})
                answer.raise_for_status()
                board_ms.append((time.perf_counter() - started) * 1000)
            for _ in range(10):
                started = time.perf_counter()
                answer = http.get("/api/dispatch",
                                  headers={"Authorization": f"Bearer {dispatcher}"})
                answer.raise_for_status()
                dispatch_ms.append((time.perf_counter() - started) * 1000)
                queued = sum(p["size"] for g in answer.json()["queue"] for p in g["parties"])
            out = settings.data_dir / f"memory-clients-{uuid4().hex[:6]}.pickle"
            clients = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.board_socket", "clients", system.url,
                 commander, str(ws_clients), str(out)],
                env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            assert clients.stdout is not None and clients.stdin is not None
            ready = clients.stdout.readline()
            if not ready.startswith("ready"):
                raise RuntimeError(f"board clients failed: {ready!r}")
            commands, load, _, ok = _commands(
                settings, system, "registration", int(rate * ws_seconds), 4, uuid4().hex[:4]
            )
            sent = asyncio.run(_drive(load, commands, rate, 0, lambda: None))
            system.views_current(timeout=120)
            with psycopg.connect(settings.postgres_conninfo) as conn:
                row = conn.execute("SELECT max(position) FROM board_deltas").fetchone()
            clients.stdin.write(f"stop {int(row[0]) if row and row[0] else 0}\n")
            clients.stdin.flush()
            done = clients.stdout.readline().strip()
            clients.wait(timeout=120)
            with out.open("rb") as f:
                received = pickle.load(f)  # noqa: S301  (our own child's file)
            for _ in range(5):
                http.get("/api/board",
                         headers={"Authorization": f"Bearer {commander}"}).raise_for_status()
        assert system.projector is not None
        return {
            "api": memory_mb(system.api.pid), "start": start,
            "projector": memory_mb(system.projector.pid),
            "board_ms": sorted(board_ms)[len(board_ms) // 2],
            "dispatch_ms": sorted(dispatch_ms)[len(dispatch_ms) // 2],
            "queued": queued,
            "registered": sum(1 for answer in sent if answer[2] == ok),
            "frames": sum(len(p) // 8 for p in received["positions"]),
            "dropped": received["dropped"], "reconnects": received["reconnects"],
            "clients_done": done,
        }
    finally:
        if clients is not None and clients.poll() is None:
            clients.kill()
            clients.wait()
        system.stop()


def bench_api_memory(
    settings: Settings, filled: FilledStore, empty: Settings, *,
    ws_clients: int = 200, ws_seconds: float = 20, rate: float = 10,
) -> dict[str, float | str]:
    """`settings`: the store `filled` (left as board_snapshot read it); `empty`: a fresh
    database of the same server for the baseline."""
    made_real = _waiting_made_real(settings)
    _log_moved_past_views(settings, filled.filled.position)
    _register_entry_point(settings)
    ours = _exercise(settings, ws_clients=ws_clients, ws_seconds=ws_seconds, rate=rate)
    migrate(empty)
    _register_entry_point(empty)
    base = _exercise(empty, ws_clients=ws_clients, ws_seconds=ws_seconds, rate=rate)
    value, baseline = ours["api"]["VmRSS"], base["api"]["VmRSS"]
    return {
        "value": value,
        "baseline": baseline,
        "ratio": round(value / baseline, 2),
        "unit": f"MB RSS of one API process, {filled.filled.journeys // 1000}k journeys, "
                f"after board x25, console x10, {ws_clients} boards {ws_seconds:g} s",
        "hwm_mb": ours["api"]["VmHWM"],
        "baseline_hwm_mb": base["api"]["VmHWM"],
        "hwm_ratio": round(ours["api"]["VmHWM"] / base["api"]["VmHWM"], 2),
        "start_rss_mb": ours["start"]["VmRSS"],
        "baseline_start_rss_mb": base["start"]["VmRSS"],
        "projector_rss_mb": ours["projector"]["VmRSS"],
        "projector_hwm_mb": ours["projector"]["VmHWM"],
        "baseline_projector_rss_mb": base["projector"]["VmRSS"],
        "board_p50_ms": round(ours["board_ms"], 1),
        "dispatch_p50_ms": round(ours["dispatch_ms"], 1),
        "console_queue": ours["queued"],
        "waiting_made_real": made_real,
        "registered_during_ws": ours["registered"],
        "frames_received": ours["frames"],
        "baseline_frames_received": base["frames"],
        "dropped": ours["dropped"] + base["dropped"],
        "reconnects": ours["reconnects"] + base["reconnects"],
        "clients_done": f"{ours['clients_done']} / {base['clients_done']}",
    }
