"""event_to_ws: from a command's acknowledgement to the `/ws/board` frame that shows it.

The real system runs as in production on a fresh PostgreSQL database: `tracking migrate`, one
uvicorn API process (TRACKING_PROJECTOR=off) and the projector as its own process
(`python -m projections.cli run`). Three more processes take part, so that none of them steals
the event loop of another:

- the board clients: N websockets in one asyncio loop (`python -m benchmarks.board_socket
  clients`), each sending its token, taking its snapshot, then timestamping every delta frame;
- the baseline, a tight-poll reader of the same store (`... poll`): it reads the views' position
  (committed in the projector's transaction, with the board's deltas) and the log's head every
  BENCH_POLL_INTERVAL seconds (default 1 ms: a poll without any pause would take one of the
  machine's two cores away from the system it measures) and timestamps every change;
- this process drives the commands at a fixed rate, open loop, from 64 loopback addresses
  (public registration is throttled per address) with a lean keep-alive HTTP client, and
  timestamps each HTTP answer (the acknowledgement). By default the commands are public
  registrations of families of 4 (`BENCH_WS_FAMILY`): each makes 4 board deltas, one per
  journey, so 200 events/s are 50 commands/s; `BENCH_WS_COMMAND=screening` makes one delta
  per command instead (at 200/s that is more commands than one API process answers here).

The positions of each command's journey events are read from the log afterwards; a command is
shown by the frame of its last delta. The latency of a (command, client) pair is the client's
receive time of that frame minus the command's acknowledgement; the baseline's is the time the
poller first saw the views at that position minus the same acknowledgement. All timestamps
are CLOCK_MONOTONIC, one clock for every process of the machine. Only commands sent in the
steady part (after the warm-up) count; CPU per process is read from /proc over that part.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import math
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import websockets

from benchmarks.lean_http import LeanHttp
from benchmarks.live import (
    ROOT,
    LiveSystem,
    backend_pids,
    cpu_seconds,
    machine_busy,
    thread_seconds,
    tree_cpu_seconds,
)
from domain.context import Context
from domain.staff import Role
from projections.schema import PROJECTION
from tracking.application import Person
from tracking.persistence import events_table
from tracking.services import open_services
from tracking.settings import Settings

# Public registration is throttled per client address (600/minute): the load comes from this
# many loopback addresses, as travellers behind many phones would.
ADDRESSES = 64


def p99(values: list[float]) -> float:
    """Nearest-rank 99th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.99 * len(ordered)) - 1, 0)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


# -- the board clients (their own process) ----------------------------------------------------

def _position_of(frame: str) -> int:
    """The `position` of a frame, without parsing the whole of it."""
    at = frame.index('"position":') + 11
    end = at
    while frame[end].isdigit():
        end += 1
    return int(frame[at:end])


class _Clients:
    def __init__(self, url: str, token: str, n: int) -> None:
        self.url = url.replace("http://", "ws://", 1) + "/ws/board"
        self.token = token
        self.n = n
        self.positions = [array.array("q") for _ in range(n)]
        self.times = [array.array("d") for _ in range(n)]
        self.last = [0] * n
        self.snapshots = 0
        self.reconnects = 0
        self.dropped = 0
        self.other = 0
        self.stop_at: int | None = None
        self.caught_up = asyncio.Event()  # every client has seen `stop_at`
        self.lag_times, self.lags = array.array("d"), array.array("d")

    async def client(self, i: int, ready: asyncio.Semaphore) -> None:
        after: int | None = None
        first = True
        while True:
            async with websockets.connect(
                self.url, max_size=2**26, open_timeout=60, ping_interval=None,
                # Browsers offer permessage-deflate, and so do these clients (BENCH_WS_DEFLATE=0:
                # not, to see what compressing every frame for every client costs the server).
                compression="deflate" if os.environ.get("BENCH_WS_DEFLATE", "1") != "0" else None,
            ) as ws:
                await ws.send(orjson.dumps({"token": self.token, "after": after}).decode())
                positions, times = self.positions[i], self.times[i]
                try:
                    async for message in ws:
                        now = time.monotonic()
                        assert isinstance(message, str)
                        if message.startswith('{"type":"delta"'):
                            position = _position_of(message)
                            positions.append(position)
                            times.append(now)
                            self.last[i] = position
                            if self.stop_at is not None and position >= self.stop_at and (
                                min(self.last) >= self.stop_at
                            ):
                                self.caught_up.set()
                        elif message.startswith('{"type":"deltas"'):
                            for delta in orjson.loads(message)["deltas"]:
                                positions.append(delta["position"])
                                times.append(now)
                            self.last[i] = positions[-1]
                            if self.stop_at is not None and self.last[i] >= self.stop_at and (
                                min(self.last) >= self.stop_at
                            ):
                                self.caught_up.set()
                        elif message.startswith('{"type":"snapshot"'):
                            self.last[i] = _position_of(message)
                            self.snapshots += 1
                            if first:
                                first = False
                                ready.release()
                        elif '"dropped"' in message:
                            self.dropped += 1
                        else:
                            self.other += 1
                except websockets.ConnectionClosed:
                    pass
            self.reconnects += 1
            after = self.last[i]

    async def watch_lag(self) -> None:
        """How late this process's own event loop runs (10 ms sleeps): a receive time is only
        as early as the loop gets to the frame, so this is the clients' share of any latency."""
        while True:
            started = time.monotonic()
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.lag_times.append(now)
            self.lags.append(now - started - 0.01)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        ready = asyncio.Semaphore(0)
        watcher = asyncio.ensure_future(self.watch_lag())
        tasks = []
        for i in range(self.n):
            tasks.append(asyncio.ensure_future(self.client(i, ready)))
            if i % 20 == 19:
                await asyncio.sleep(0.05)  # no connection storm
        for _ in range(self.n):
            await ready.acquire()
        print(f"ready {self.n}", flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)  # "stop <position>"
        self.stop_at = int(line.split()[1])
        if min(self.last) < self.stop_at:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.caught_up.wait(), 60)
        for task in [*tasks, watcher]:
            task.cancel()
        await asyncio.gather(*tasks, watcher, return_exceptions=True)
        late = sum(1 for last in self.last if last < self.stop_at)
        print(f"done late={late}", flush=True)


def _run_clients(url: str, token: str, n: int, out: str) -> None:
    clients = _Clients(url, token, n)
    started = time.process_time()
    try:
        import uvloop  # what uvicorn serves with, too
    except ImportError:
        asyncio.run(clients.run())
    else:
        uvloop.run(clients.run())
    with open(out, "wb") as f:
        pickle.dump({
            "positions": [p.tobytes() for p in clients.positions],
            "times": [t.tobytes() for t in clients.times],
            "reconnects": clients.reconnects, "dropped": clients.dropped,
            "other": clients.other, "snapshots": clients.snapshots,
            "lags": list(zip(clients.lag_times, clients.lags, strict=True)),
            "cpu": time.process_time() - started,
        }, f)


# -- the baseline: a tight-poll reader of the same store (its own process) --------------------

def _run_poller(conninfo: str, table: str, interval: float, out: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    seen: list[tuple[float, int, int]] = []
    polls = 0
    query = (
        f"SELECT (SELECT position FROM projection_position WHERE name = '{PROJECTION}'), "
        f"(SELECT max(notification_id) FROM {table})"
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        last = (-1, -1)
        prepared = conn.cursor()
        while not stop.is_set():
            row = prepared.execute(query, prepare=True).fetchone()
            now = time.monotonic()
            polls += 1
            current = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
            if current != last:
                seen.append((now, *current))
                last = current
            if interval:
                time.sleep(interval)
    with open(out, "wb") as f:
        pickle.dump({"seen": seen, "polls": polls}, f)


# -- the load (this process) ------------------------------------------------------------------

def _traveller(i: int, tag: str) -> dict[str, Any]:
    return {
        "doc_type": "passport", "doc_country": "GBR", "doc_number": f"W{tag}{i:07d}",
        "name_native": "测试 旅客", "name_latin": "TEST TRAVELLER", "birth_date": "1985-04-12",
        # One phone each (public registration is throttled per phone too).
        "phone": f"+447911{i % 1_000_000:06d}",
        "flight": "CZ3100", "came_from": "London",
    }


def _http_clients(url: str, token: str | None) -> list[LeanHttp]:
    return [LeanHttp(url, f"127.0.{1 + k // 250}.{1 + k % 250}", token) for k in range(ADDRESSES)]


Sent = tuple[float, float, int, Any]  # (scheduled, acknowledged, HTTP status, answer)


async def _drive(
    http: list[LeanHttp], commands: list[tuple[str, dict[str, Any]]], rate: float,
    warm: int, mark: Callable[[], None],
) -> list[Sent]:
    """POST each (path, body) at `rate` per second, open loop (a late answer delays nothing);
    `mark` is called as command `warm` (the first measured) is sent and after the last."""
    # Open a few connections per address first (a load generator's start-up is not load).
    await asyncio.gather(*(c.request("GET", "/healthz") for c in http for _ in range(4)))
    results: list[Sent | None] = [None] * len(commands)

    async def send(i: int, scheduled: float) -> None:
        path, body = commands[i]
        try:
            status, answer = await asyncio.wait_for(
                http[i % len(http)].request("POST", path, body), 30
            )
            results[i] = (scheduled, time.monotonic(), status, answer)
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as e:
            results[i] = (scheduled, time.monotonic(), 0, repr(e))

    start = time.monotonic() + 0.1
    tasks = []
    for i in range(len(commands)):
        if i == warm:
            mark()
        scheduled = start + i / rate
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(send(i, scheduled)))
    await asyncio.sleep(max(start + len(commands) / rate - time.monotonic(), 0))
    mark()
    await asyncio.gather(*tasks)
    for client in http:
        await client.close()
    return [r for r in results if r is not None]


def _registered(settings: Settings, n: int, tag: str) -> list[str]:
    """`n` journeys registered through the application (families of 10: quick to make)."""
    services = open_services(settings)
    try:
        def family(f: int) -> list[str]:
            people = [
                Person("passport", "GBR", f"F{tag}{f:05d}{m}",
                       {"name_native": "测试 旅客", "phone": f"+447911{f:05d}{m}"})
                for m in range(10)
            ]
            ctx = Context(command_id=uuid4(), actor="bench", role="traveller",
                          occurred_at=datetime.now(UTC))
            answer = services.app.register_travellers("BENCH", people, ctx)
            return list(answer["journey_ids"])

        with ThreadPoolExecutor(4) as pool:
            return [j for journeys in pool.map(family, range(-(-n // 10))) for j in journeys][:n]
    finally:
        services.close()


def _positions(settings: Settings, journeys: list[str], version: int) -> dict[str, int]:
    """The position in the log of each journey's event of `version`."""
    with psycopg.connect(settings.postgres_conninfo) as conn:
        rows = conn.execute(
            f"SELECT originator_id::text, notification_id FROM {events_table(settings)} "
            "WHERE originator_id = ANY(%s) AND originator_version = %s",
            ([UUID(j) for j in journeys], version),
        ).fetchall()
    return {jid: int(pos) for jid, pos in rows}


def _commands(
    settings: Settings, system: LiveSystem, command: str, n: int, family: int, tag: str
) -> tuple[list[tuple[str, dict[str, Any]]], list[LeanHttp], int, int]:
    """(path, body) of each command, the load's HTTP clients, the version of the journey event
    each command makes (the one whose delta the board shows) and the answer's status."""
    if command == "screening":
        journeys = _registered(settings, n, tag)
        return (
            [(f"/api/journeys/{j}/screening", {"risk": "low", "where": "desk 1"})
             for j in journeys],
            _http_clients(system.url, system.token(Role.SCREENER)), 2, 200,
        )
    if command == "registration":
        return (
            [("/api/registrations", {"entry_point": "BENCH", "travellers": [
                _traveller(i * family + m, tag) for m in range(family)]}) for i in range(n)],
            _http_clients(system.url, None), 1, 201,
        )
    raise ValueError(f"unknown command {command!r}")


def bench_event_to_ws(
    settings: Settings, *, clients: int = 200, rate: float = 200.0, warmup: float = 5.0,
    seconds: float = 20.0, command: str = "registration", family: int = 4,
) -> dict[str, float | str]:
    """`rate` board events (deltas) per second, made by `command`s: "registration" (public
    POST /api/registrations of a family of `family` travellers: `family` deltas, one per
    journey, the command shown once the last is) or "screening" (a screener's POST
    /api/journeys/{id}/screening of a journey registered beforehand: one delta)."""
    family = family if command == "registration" else 1
    per_second = rate / family
    # The production layout (README): API processes with no projector, one projector process.
    system = LiveSystem(settings, projector="process",
                        workers=int(os.environ.get("BENCH_API_WORKERS", "2")))
    procs: list[subprocess.Popen[str]] = []
    tag = uuid4().hex[:4].upper()
    try:
        token = system.token(Role.COMMANDER)
        services = open_services(settings)
        try:
            services.app.register_entry_point("BENCH", "Benchmark entry point")
        finally:
            services.close()
        commands, http, version, ok = _commands(
            settings, system, command, int(per_second * (warmup + seconds)), family, tag
        )
        system.views_current()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        clients_out = settings.data_dir / "clients.pickle"
        poll_out = settings.data_dir / "poll.pickle"
        board_clients = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.board_socket", "clients", system.url, token,
             str(clients), str(clients_out)],
            env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        procs.append(board_clients)
        assert board_clients.stdout is not None and board_clients.stdin is not None
        ready = board_clients.stdout.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"board clients failed: {ready!r}")
        poller = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.board_socket", "poll", settings.postgres_conninfo,
             events_table(settings), os.environ.get("BENCH_POLL_INTERVAL", "0.001"),
             str(poll_out)],
            env=env, cwd=ROOT, text=True,
        )
        procs.append(poller)
        assert system.projector is not None
        watched = {"api": system.api.pid, "projector": system.projector.pid,
                   "clients": board_clients.pid, "poller": poller.pid, "load": os.getpid()}
        time.sleep(0.5)
        backends = backend_pids(settings.postgres_conninfo)  # the pools are open by now
        marks: list[tuple[float, dict[str, float], tuple[float, float]]] = []

        def mark() -> None:
            cpu = {name: cpu_seconds(pid) for name, pid in watched.items()}
            cpu["api"] = tree_cpu_seconds(system.api.pid)  # with its workers
            cpu["postgres"] = sum(cpu_seconds(pid) for pid in backends)
            cpu |= {f"api:{k}": v for k, v in thread_seconds(system.api.pid).items()}
            marks.append((time.monotonic(), cpu, machine_busy()))

        sent = asyncio.run(_drive(http, commands, per_second, int(per_second * warmup), mark))
        (steady_from, cpu_before, busy_before), (steady_to, cpu_after, busy_after) = marks
        journeys = [
            [str(j) for j in answer["journey_ids"]] if version == 1 else [path.split("/")[3]]
            for (_, _, status, answer), (path, _) in zip(sent, commands, strict=True)
            if status == ok
        ]
        positions = _positions(settings, [j for js in journeys for j in js], version)
        board_clients.stdin.write(f"stop {max(positions.values())}\n")
        board_clients.stdin.flush()
        done = board_clients.stdout.readline().strip()
        board_clients.wait(timeout=120)
        system.views_current()
        time.sleep(0.2)
        poller.send_signal(signal.SIGTERM)
        poller.wait(timeout=30)
        with clients_out.open("rb") as f:
            received = pickle.load(f)  # noqa: S301  (our own child's file)
        with poll_out.open("rb") as f:
            polled = pickle.load(f)  # noqa: S301
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        system.stop()

    # The steady part's commands: the position of each one's last delta -> (sent, acknowledged).
    accepted = [(s_, a) for s_, a, status, _ in sent if status == ok]
    acks = {
        max(positions[j] for j in js): (scheduled, acked)
        for (scheduled, acked), js in zip(accepted, journeys, strict=True)
        if steady_from <= scheduled < steady_to and all(j in positions for j in js)
    }
    frames = _frame_times(received)
    acked = {p: a for p, (_, a) in acks.items()}
    sent_at = {p: s_ for p, (s_, _) in acks.items()}
    # When the poller first saw the views, and the log, reach each command's last position;
    # the log's is its commit as a reader sees it. An acknowledgement is late when the API is
    # saturated (it waits its turn on the event loop after the commit); a commit is not.
    views_at = _visible_at([(t, views) for t, views, _ in polled["seen"]], acks)
    committed = _visible_at([(t, head) for t, _, head in polled["seen"]], acks)
    ours, missing = _since(frames, acked)
    from_send, _ = _since(frames, sent_at)
    from_commit, _ = _since(frames, committed)
    baseline = _between(views_at, acked)
    log_visible = _between(committed, acked)
    views_from_commit = _between(views_at, committed)
    lags = [lag * 1000 for t, lag in received["lags"] if steady_from <= t < steady_to + 2]
    value, base = p99(ours), p99(baseline)
    wall = steady_to - steady_from
    cpu = {name: (cpu_after[name] - cpu_before.get(name, 0.0)) / wall for name in cpu_after}
    api_threads = sorted(((v, k) for k, v in cpu.items() if k.startswith("api:")), reverse=True)
    refused = Counter(str(status) for _, _, status, _ in sent if status != ok)
    steady_sent = sum(1 for s_, *_ in sent if steady_from <= s_ < steady_to)
    ack_p50 = percentile([(a - s_) for s_, a in acks.values()], 0.5)
    # Commands left unanswered (or answered seconds late) make every ack-based figure a
    # survivor's: say so where the figure is printed.
    saturated = steady_sent - len(acks) > 0.01 * steady_sent or ack_p50 > 1.0
    return {
        "value": round(value, 1),
        "baseline": round(base, 1),
        # Both can be below zero (the board shows a command before its answer is back; under
        # saturation, long before): a ratio then means nothing, and commit_ratio stands in.
        "ratio": round(value / base, 2) if value > 0 and base > 0 else "n/a",
        "unit": f"ms p99 ack->ws frame, {clients} clients, {rate:g} ev/s"
                + (f" (families of {family})" if family > 1 else f" ({command})")
                + (f"; SATURATED: {steady_sent - len(acks)}/{steady_sent} commands unanswered "
                   f"in 30 s, ack p50 {ack_p50:.1f} s" if saturated else ""),
        "p50": round(percentile(ours, 0.5), 1),
        "p90": round(percentile(ours, 0.9), 1),
        "max": round(max(ours), 1),
        "baseline_p50": round(percentile(baseline, 0.5), 1),
        "log_visible_p99": round(p99(log_visible), 1),
        "commit_to_frame_p99": round(p99(from_commit), 1),
        "commit_to_views_p99": round(p99(views_from_commit), 1),
        "commit_ratio": round(p99(from_commit) / p99(views_from_commit), 2),
        "send_to_frame_p99": round(p99(from_send), 1),
        "ack_p50": round(ack_p50 * 1000, 1),
        "ack_p99": round(p99([(a - s_) * 1000 for s_, a in acks.values()]), 1),
        "commands": len(acks),
        "refused": " ".join(f"{n}x{code}" for code, n in sorted(refused.items())) or 0,
        "errors": " | ".join(sorted({str(a)[:80] for _, _, status, a in sent if status == 0})),
        "pairs": len(ours),
        "missing_pairs": missing,
        "reconnects": received["reconnects"],
        "dropped": received["dropped"],
        "clients_loop_lag_p99": round(p99(lags), 1),
        "clients_loop_lag_max": round(max(lags), 1),
        "cpu_cores": " ".join(f"{k}={v:.2f}" for k, v in cpu.items() if ":" not in k),
        "api_threads": " ".join(f"{k[4:]}={v:.2f}" for v, k in api_threads[:4]),
        "machine_busy": round(
            (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]), 2),
        "clients_done": done,
    }


def _frame_times(received: dict[str, Any]) -> list[dict[int, float]]:
    """Per client: position -> when its frame arrived."""
    found = []
    for pos_bytes, time_bytes in zip(received["positions"], received["times"], strict=True):
        ps, ts = array.array("q"), array.array("d")
        ps.frombytes(pos_bytes)
        ts.frombytes(time_bytes)
        found.append(dict(zip(ps, ts, strict=True)))
    return found


def _since(frames: list[dict[int, float]], starts: dict[int, float]) -> tuple[list[float], int]:
    """ms from each start to each client's frame of that position; and how many (position,
    client) pairs never got their frame."""
    latencies: list[float] = []
    missing = 0
    for got in frames:
        for position, start in starts.items():
            t = got.get(position)
            if t is None:
                missing += 1
            else:
                latencies.append((t - start) * 1000)
    return latencies, missing


def _visible_at(seen: list[tuple[float, int]], positions: dict[int, Any]) -> dict[int, float]:
    """When the poller first saw each position reached."""
    found = {}
    i = 0
    for position in sorted(positions):
        while i < len(seen) and seen[i][1] < position:
            i += 1
        if i < len(seen):
            found[position] = seen[i][0]
    return found


def _between(ends: dict[int, float], starts: dict[int, float]) -> list[float]:
    return [(ends[p] - start) * 1000 for p, start in starts.items() if p in ends]


def main() -> None:
    role = sys.argv[1]
    if role == "clients":
        _run_clients(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif role == "poll":
        _run_poller(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
