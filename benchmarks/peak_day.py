"""peak_day: Baiyun's record day x10 (5,049 arrivals on 28 Mar 2020, so 50,490) compressed
into 10 minutes, played through the drill simulator (drill/) against the production layout.

Layout (README, "Running on PostgreSQL"): `tracking migrate`, the demo's reference data and
staff accounts (tracking/demo.py seed_demo), one projector process and uvicorn with
BENCH_API_WORKERS (default 2) API processes with no projector. The drill (`run_day`, in this
process) plays `plan_day(arrivals)` at the speed that fits the whole planned day — first
pre-registration to last survey — into `seconds`: phones pre-registering, flights landing,
the desk screening, the dispatcher, vehicles loading and driving, the doors, the surveys; it
retries what the server asks it to (429 / 503) with the same Idempotency-Key.

Two watchers run in their own processes, so that neither takes the load's event loop:
- benchmarks/board_socket.py's store poller: the views' position and the log's head every
  BENCH_PEAK_POLL_INTERVAL s (default 10 ms; 1 ms would take a core from the system). The
  projection lag of an event is the time from the poll that first saw it in the log (its
  commit, as a reader sees it) to the poll that first saw the views at or past it;
- benchmarks/peak_watch.py's board reader: a commander's `GET /api/board` every
  BENCH_PEAK_BOARD_INTERVAL s (default 0.5 s, closed loop), each timed.

Each of the three figures is set beside the same figure of an idle day played just before in
the same run, on a fresh database: a twentieth of the arrivals (BENCH_PEAK_IDLE_SHARE) planned
over the same hours and played at the same speed (the same pace structure: flights over the
same landing window and the same line after them, a twentieth of the people; the plan fills
flights of ~150, so the idle day has fewer flights, not emptier ones).

Command latency is the drill's own: from the moment the day issues a command to its
acknowledgement. It is open-loop: the wait for one of the drill's connections (its
`concurrency`) is in it, as are a 429 or 503 answered on the way and the retry after it, so
an overloaded server shows as the queue it leaves in front of it. The drill's journal (one JSON
line per acknowledgement) gives when each command was answered: "behind schedule" is the last
acknowledgement minus the planned end of the day (the start plus plan span / speed; the span
is the plan's upper estimate, with the longest transit, so a day that kept up ends a little
below zero), and the
arrivals achieved are the travellers checked in at a door by the planned end (and by the end).
If the server cannot keep up at all, the day is cut off after BENCH_PEAK_MAX_SECONDS (default
twice `seconds` and a minute) and its figures are those of what was answered until then.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks.board_socket import percentile
from benchmarks.live import (
    ROOT,
    LiveSystem,
    backend_pids,
    cpu_seconds,
    machine_busy,
    migrate,
    tree_cpu_seconds,
)
from benchmarks.peak_watch import Series, unpickle
from domain.staff import Role
from drill.plan import DayPlan, plan_day
from drill.run import Progress, run_day
from drill.summary import DaySummary
from tracking.demo import seed_demo
from tracking.persistence import events_table
from tracking.services import open_services
from tracking.settings import Settings

BAIYUN_RECORD = 5049  # international arrivals at Guangzhou Baiyun, 28 Mar 2020
DOOR_KINDS = ("check_in",)  # the journal's kind of a traveller reaching the room/home door
# (kind, acknowledged at (monotonic), ms from issue, journey ids)
Ack = tuple[str, float, float, tuple[str, ...]]


@dataclass
class DayRun:
    """What one played day measured."""

    label: str
    plan: DayPlan
    speed: float
    started: float  # monotonic, when the drill began to play the day
    scheduled_s: float  # plan span / speed: the day's planned real length
    acks: list[Ack]
    board: list[tuple[float, float, int]]  # (started, ms, status)
    lags: list[float]  # ms, one per event committed during the day
    never_projected: int
    summary: DaySummary | None  # None when the day was cut off
    cut_off: bool
    played_s: float
    catch_up_s: float  # from the drill's end until the views had everything
    cpu: dict[str, float] = field(default_factory=dict)  # cores, over the played day
    machine_busy: float = 0.0
    polls: int = 0

    @property
    def end(self) -> float:
        return max((at for _, at, _, _ in self.acks), default=self.started)

    @property
    def scheduled_end(self) -> float:
        return self.started + self.scheduled_s

    def latencies(self) -> list[float]:
        return [ms for _, _, ms, _ in self.acks]

    def kinds(self) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for kind, _, ms, _ in self.acks:
            found.setdefault(kind, []).append(ms)
        return found

    def _journeys(self, kinds: Sequence[str], by: float | None) -> int:
        return len({j for kind, at, _, ids in self.acks
                    if kind in kinds and (by is None or at <= by) for j in ids})

    def at_door(self, by: float | None = None) -> int:
        """Travellers checked in at their room or home door (by `by`)."""
        return self._journeys(DOOR_KINDS, by)

    def registered(self, by: float | None = None) -> int:
        """Travellers registered (a second registration reaches the same journey)."""
        return self._journeys(("registration",), by)

    def board_ms(self) -> list[float]:
        return [ms for started, ms, status in self.board
                if self.started <= started <= self.end and status == 200]

    def board_failed(self) -> int:
        return sum(1 for started, _, status in self.board
                   if self.started <= started <= self.end and status != 200)


def event_lags(
    polled: Sequence[tuple[float, int, int]], since: float
) -> tuple[list[float], int]:
    """ms from each event's commit to the views holding it, for the events first seen in the
    log at or after `since`; and how many of them the views never reached while polled.

    `polled`: the poller's (time, views' position, log's head) at each change. An event whose
    notification id lies in (previous head, head] was first seen committed at that poll."""
    views = Series([(t, v) for t, v, _ in polled])
    lags: list[float] = []
    never = 0
    previous = 0
    for t, _, head in polled:
        if head > previous and t >= since:
            for position in range(previous + 1, head + 1):
                reached = views.reached(position)
                if reached is None:
                    never += 1
                else:
                    lags.append(max(reached - t, 0.0) * 1000)
        previous = max(previous, head)
    return lags, never


def _journal(path: Path, since_wall: float, offset: float) -> list[Ack]:
    """Every acknowledgement of the drill's journal from `since_wall` (time.time())."""
    found: list[Ack] = []
    if not path.exists():
        return found
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a line cut off by the cut-off
        if row["at"] < since_wall:
            continue
        ids = row.get("journey_ids") or ([row["journey_id"]] if row.get("journey_id") else [])
        found.append(
            (str(row["kind"]), float(row["at"]) - offset, float(row["ms"]), tuple(ids))
        )
    return found


def _prepare(settings: Settings) -> Path:
    """The demo's reference data and staff accounts; the accounts file the drill signs in
    with."""
    migrate(settings)
    services = open_services(settings)
    try:
        seed_demo(services)
    finally:
        services.close()
    return settings.data_dir / "demo-accounts.txt"


def play(
    settings: Settings, plan: DayPlan, speed: float, label: str, *, workers: int = 2,
    concurrency: int = 32, board_interval: float = 0.5, poll_interval: float = 0.01,
    cap_s: float | None = None,
) -> DayRun:
    """Play `plan` at `speed` against a fresh production layout on `settings`, watched."""
    accounts = _prepare(settings)
    system = LiveSystem(settings, projector="process", migrated=True, workers=workers)
    procs: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = settings.data_dir
    journal = out / f"{label}-journal.jsonl"
    try:
        commander = system.token(Role.COMMANDER)
        system.views_current(timeout=120)
        poller = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.board_socket", "poll", settings.postgres_conninfo,
             events_table(settings), str(poll_interval), str(out / f"{label}-poll.pickle")],
            env=env, cwd=ROOT,
        )
        procs.append(poller)
        reader = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.peak_watch", "board", system.url, commander,
             str(board_interval), str(out / f"{label}-board.pickle")],
            env=env, cwd=ROOT,
        )
        procs.append(reader)
        assert system.projector is not None
        watched = {"projector": system.projector.pid, "poller": poller.pid,
                   "board_reader": reader.pid, "load": os.getpid()}
        offset = time.time() - time.monotonic()
        marks: list[tuple[float, dict[str, float], tuple[float, float]]] = []

        def mark() -> None:
            cpu = {name: cpu_seconds(pid) for name, pid in watched.items()}
            cpu["api"] = tree_cpu_seconds(system.api.pid)
            cpu["postgres"] = sum(cpu_seconds(pid) for pid in backends)
            marks.append((time.monotonic(), cpu, machine_busy()))

        backends: list[int] = []

        def watch(progress: Progress) -> None:
            if not marks:  # the first tick: the day has begun to play
                backends.extend(backend_pids(settings.postgres_conninfo))
                mark()

        async def day() -> DaySummary | None:
            try:
                return await asyncio.wait_for(
                    run_day(system.url, plan, accounts, speed, concurrency, journal,
                            watch=watch),
                    cap_s,
                )
            except TimeoutError:
                return None

        summary = asyncio.run(day())
        if not marks:
            raise RuntimeError(f"the {label} day had not begun to play after {cap_s} s "
                               "(drill setup: sign-in, reference data, the board)")
        mark()
        played_to = time.monotonic()
        system.views_current(timeout=600)
        catch_up = time.monotonic() - played_to
        time.sleep(0.2)
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
        polled = unpickle(out / f"{label}-poll.pickle")
        board = unpickle(out / f"{label}-board.pickle")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        system.stop()
    (started, cpu_before, busy_before), (ended, cpu_after, busy_after) = marks
    acks = _journal(journal, started + offset, offset)
    lags, never = event_lags(polled["seen"], started)
    wall = max(ended - started, 1e-9)
    return DayRun(
        label=label, plan=plan, speed=speed, started=started,
        scheduled_s=plan.span / speed, acks=acks, board=board, lags=lags,
        never_projected=never, summary=summary, cut_off=summary is None,
        played_s=wall, catch_up_s=catch_up,
        cpu={k: (cpu_after[k] - cpu_before.get(k, 0.0)) / wall for k in cpu_after},
        machine_busy=(busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1.0),
        polls=int(polled["polls"]),
    )


def _p(values: list[float], q: float) -> float | str:
    return round(percentile(values, q), 1) if values else "n/a"


def _ratio(value: float | str, baseline: float | str) -> float | str:
    if isinstance(value, str) or isinstance(baseline, str) or value <= 0 or baseline <= 0:
        return "n/a"
    return round(value / baseline, 2)


def _describe(run: DayRun, prefix: str = "") -> dict[str, float | str]:
    """A day's details, keyed with `prefix` (the idle day's are prefixed "idle_")."""
    latencies = run.latencies()
    kinds = run.kinds()
    # Cut off: the day was still going, so it is at least this far behind.
    behind = (run.started + run.played_s if run.cut_off else run.end) - run.scheduled_end
    summary = run.summary
    found: dict[str, float | str] = {
        "arrivals_planned": run.plan.arrivals,
        "registered_by_plan_end": run.registered(run.scheduled_end),
        "at_door_by_plan_end": run.at_door(run.scheduled_end),
        "at_door": run.at_door(),
        "behind_schedule_s": round(behind, 1) if not run.cut_off else f">{behind:.0f}",
        "last_ack_after_s": round(run.end - run.started, 1),
        "scheduled_s": round(run.scheduled_s, 1),
        "played_s": round(run.played_s, 1),
        "cut_off": "yes" if run.cut_off else "no",
        "commands": len(latencies),
        "commands_per_s": round(len(latencies) / max(run.end - run.started, 1e-9), 1),
        "command_p50_ms": _p(latencies, 0.5),
        "command_p99_ms": _p(latencies, 0.99),
        "command_max_ms": round(max(latencies), 1) if latencies else "n/a",
        "command_p99_by_kind": " ".join(
            f"{kind}={_p(ms, 0.99)}x{len(ms)}" for kind, ms in sorted(kinds.items())),
        "projection_lag_p50_ms": _p(run.lags, 0.5),
        "projection_lag_p99_ms": _p(run.lags, 0.99),
        "projection_lag_max_ms": round(max(run.lags), 1) if run.lags else "n/a",
        "events": len(run.lags),
        "never_projected": run.never_projected,
        "views_caught_up_after_s": round(run.catch_up_s, 2),
        "board_p50_ms": _p(run.board_ms(), 0.5),
        "board_p99_ms": _p(run.board_ms(), 0.99),
        "board_reads": len(run.board_ms()),
        "board_failed": run.board_failed(),
        "cpu_cores": " ".join(f"{k}={v:.2f}" for k, v in run.cpu.items()),
        "machine_busy": round(run.machine_busy, 2),
    }
    if summary is not None:
        found |= {
            "summary_ok": "yes" if summary.ok else
            "NO: " + "; ".join(f"{n} {a}!={b}" for n, a, b in summary.differences()[:5]),
            "retries": summary.retries, "throttled": summary.throttled,
            "unavailable": summary.unavailable, "transport_errors": summary.transport_errors,
            "gave_up": summary.gave_up,
            "refused": len(summary.refused),
            "refused_kinds": " ".join(
                f"{k}x{n}" for k, n in Counter(
                    f"{r.get('kind', r.get('error'))}:{r.get('status', '')}"
                    for r in summary.refused).most_common(4)) or "-",
        }
    return {f"{prefix}{k}": v for k, v in found.items()}


def bench_peak_day(
    peak_settings: Settings, idle_settings: Settings, *, arrivals: int = BAIYUN_RECORD * 10,
    seconds: float = 600, idle_share: int = 20, seed: int = 2020,
) -> dict[str, dict[str, float | str]]:
    """The three figures of the peak day: `peak_day` (command p99), `peak_day_projection_lag`
    and `peak_day_board`, each against the idle day's same figure."""
    workers = int(os.environ.get("BENCH_API_WORKERS", "2"))
    options: dict[str, Any] = {
        "workers": workers,
        "concurrency": int(os.environ.get("BENCH_PEAK_CONCURRENCY", "32")),
        "board_interval": float(os.environ.get("BENCH_PEAK_BOARD_INTERVAL", "0.5")),
        "poll_interval": float(os.environ.get("BENCH_PEAK_POLL_INTERVAL", "0.01")),
        "cap_s": float(os.environ.get("BENCH_PEAK_MAX_SECONDS", str(seconds * 2 + 60))),
    }
    # The pace structure of the peak (flights over the same hours, the same line after them)
    # with a twentieth of the people: plan_day's own window for the peak, for both.
    hours = min(14.0, max(2.0, arrivals / 360))
    planned = time.perf_counter()
    peak_plan = plan_day(arrivals, seed, hours=hours)
    idle_plan = plan_day(max(arrivals // idle_share, 20), seed, hours=hours)
    plan_s = time.perf_counter() - planned
    speed = peak_plan.span / seconds
    idle = play(idle_settings, idle_plan, speed, "idle", **options)
    peak = play(peak_settings, peak_plan, speed, "peak", **options)
    shape = (f"{arrivals:,} arrivals in {seconds:g} s (x{speed:.0f}), {workers} API workers + "
             f"projector process; idle: {idle_plan.arrivals:,} arrivals, same hours and speed")
    command = _p(peak.latencies(), 0.99), _p(idle.latencies(), 0.99)
    lag = _p(peak.lags, 0.99), _p(idle.lags, 0.99)
    board = _p(peak.board_ms(), 0.99), _p(idle.board_ms(), 0.99)
    return {
        "peak_day": {
            "value": command[0], "baseline": command[1], "ratio": _ratio(*command),
            "unit": f"ms p99 command latency (issued -> ack, open loop), {shape}",
            **_describe(peak), **_describe(idle, "idle_"),
            "speed": round(speed, 1), "plan_span_h": round(peak_plan.span / 3600, 1),
            "plan_s": round(plan_s, 1),
        },
        "peak_day_projection_lag": {
            "value": lag[0], "baseline": lag[1], "ratio": _ratio(*lag),
            "unit": "ms p99 event committed -> in the views, every event of the peak day",
            "p50_ms": _p(peak.lags, 0.5), "idle_p50_ms": _p(idle.lags, 0.5),
            "events": len(peak.lags), "idle_events": len(idle.lags),
            "poll_interval_ms": round(options["poll_interval"] * 1000, 1),
        },
        "peak_day_board": {
            "value": board[0], "baseline": board[1], "ratio": _ratio(*board),
            "unit": f"ms p99 GET /api/board during the peak day, a commander every "
                    f"{options['board_interval']:g} s",
            "p50_ms": _p(peak.board_ms(), 0.5), "idle_p50_ms": _p(idle.board_ms(), 0.5),
            "reads": len(peak.board_ms()), "idle_reads": len(idle.board_ms()),
            "failed": peak.board_failed(),
        },
    }
