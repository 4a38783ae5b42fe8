"""http_commands: commands/s and latency over HTTP for the line's busiest commands, beside the
library's bare create+save rate on the same server in the same run.

The system runs in the README's production layout: `tracking migrate`, one projector process,
and uvicorn with BENCH_API_WORKERS (default 2) API processes with no projector. The mix, in
equal thirds, shuffled: public registrations (`POST /api/registrations`; one in four a family
of three), boarding scans at the car door (`POST /api/journeys/{id}/boarding`, signed-in
escorts) and check-in scans at the room door (`POST /api/journeys/{id}/check-in`, signed-in
receivers). Every command carries its own Idempotency-Key, as the scanner page and partner
apps send; registrations come from many client addresses (X-Forwarded-For, which uvicorn
trusts from 127.0.0.1, as phones on mobile networks behind one proxy) with their own
documents and phones, so no throttle refuses them. The travellers scanned were made ready
beforehand through the application layer (benchmarks/line_prep.py), outside the window.

`clients` keep-alive connections send closed loop (each its next command once answered). The
value is the commands answered in the timed window over its wall time (a warm-up of the same
mix goes first); the baseline is the library's bare aggregate create+save with 4 threads
(benchmarks/registration.py's BareApp) measured just before and just after, the better kept.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from benchmarks.board_socket import percentile
from benchmarks.lean_http import LeanHttp
from benchmarks.line_prep import ENTRY_POINT, Ready, ready_travellers
from benchmarks.live import (
    LiveSystem,
    backend_pids,
    cpu_seconds,
    machine_busy,
    migrate,
    tree_cpu_seconds,
)
from benchmarks.registration import BareApp, BareTraveller, _rate
from domain.staff import Role
from tracking.persistence import store_env
from tracking.settings import Settings

KINDS = ("registration", "boarding", "check_in")
EXPECTED = {"registration": 201, "boarding": 200, "check_in": 200}
STAFF_PER_ROLE = 4


@dataclass(frozen=True)
class Command:
    kind: str
    path: str
    body: dict[str, Any]
    address: str = ""  # a registration's X-Forwarded-For


@dataclass(frozen=True)
class Answered:
    kind: str
    started: float
    ms: float
    status: int


def public_address(i: int) -> str:
    """One of 508 client addresses (the documentation ranges: no such hosts exist)."""
    block = ("198.51.100", "203.0.113")[i % 2]
    return f"{block}.{1 + (i // 2) % 254}"


def traveller(i: int, tag: str) -> dict[str, Any]:
    return {
        "doc_type": "passport", "doc_country": "GBR", "doc_number": f"H{tag}{i:07d}",
        "name_native": "测试 旅客", "name_latin": "TEST TRAVELLER", "birth_date": "1985-04-12",
        "phone": f"+447911{i % 1_000_000:06d}", "flight": "CZ3100", "came_from": "London",
    }


def registrations(n: int, tag: str, first: int = 0) -> list[Command]:
    """`n` public registrations: one in four a family of three, the rest alone."""
    found, person = [], first * 3
    for i in range(first, first + n):
        size = 3 if i % 4 == 3 else 1
        found.append(Command(
            "registration", "/api/registrations",
            {"entry_point": ENTRY_POINT,
             "travellers": [traveller(person + m, tag) for m in range(size)]},
            public_address(i),
        ))
        person += size
    return found


def warm_up_size(n: int) -> int:
    return max(n // 20, 30)


def mix(
    n: int, tag: str, ready: Ready, rng: random.Random
) -> tuple[list[Command], list[Command]]:
    """(warm-up, timed) commands of the mix: `n` timed, a twentieth more to warm up first."""
    warm = warm_up_size(n)
    per_kind = -(-(n + warm) // 3)
    boarding = [
        Command("boarding", f"/api/journeys/{s.journey_id}/boarding",
                {"run_id": s.run_id, "scan_id": f"car-{uuid4()}", "where": "car door"})
        for s in ready.at_car_door[:per_kind]
    ]
    check_in = [
        Command("check_in", f"/api/journeys/{s.journey_id}/check-in",
                {"site": s.hotel, "scan_id": f"door-{uuid4()}", "where": "room door",
                 "start_quarantine": True})
        for s in ready.at_room_door[:per_kind]
    ]
    commands = [*registrations(per_kind, tag), *boarding, *check_in]
    rng.shuffle(commands)
    return commands[:warm], commands[warm:warm + n]


async def drive(
    url: str, commands: list[Command], clients: int, tokens: dict[str, list[str]],
) -> list[Answered]:
    """Send every command from `clients` connections, closed loop; answers in send order."""
    pending = iter(range(len(commands)))
    answered: list[Answered | None] = [None] * len(commands)

    async def client(k: int) -> None:
        http = LeanHttp(url)
        try:
            for i in pending:
                command = commands[i]
                headers = {"Idempotency-Key": str(uuid4())}
                if command.kind == "registration":
                    headers["X-Forwarded-For"] = command.address
                else:
                    staff = tokens[command.kind]
                    headers["Authorization"] = f"Bearer {staff[k % len(staff)]}"
                started = time.monotonic()
                try:
                    status, _ = await asyncio.wait_for(
                        http.request("POST", command.path, command.body, headers, decode=False),
                        60,
                    )
                except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
                    status = 0
                    await http.close()
                answered[i] = Answered(command.kind, started,
                                       (time.monotonic() - started) * 1000, status)
        finally:
            await http.close()

    await asyncio.gather(*(client(k) for k in range(clients)))
    return [a for a in answered if a is not None]


def _bare_rate(settings: Settings, n: int, offset: int) -> float:
    bare = BareApp(store_env(settings, create_tables=True) | {"POSTGRES_POOL_SIZE": "8"})
    try:
        return _rate(n, lambda i: bare.save(BareTraveller(number=f"B{offset + i:08d}")))
    finally:
        bare.close()


def bench_http_commands(
    settings: Settings, *, commands: int = 9000, clients: int = 32, bare_saves: int = 2000,
) -> dict[str, float | str]:
    workers = int(os.environ.get("BENCH_API_WORKERS", "2"))
    tag = uuid4().hex[:4].upper()
    rng = random.Random(2020)
    migrate(settings)
    prep_started = time.perf_counter()
    per_kind = -(-(commands + warm_up_size(commands)) // 3)
    ready = ready_travellers(settings, per_kind, per_kind, tag)
    prep_s = time.perf_counter() - prep_started
    warm, timed = mix(commands, tag, ready, rng)
    bare_before = _bare_rate(settings, bare_saves, 0)
    system = LiveSystem(settings, projector="process", migrated=True, workers=workers)
    try:
        tokens = {
            "boarding": [system.token(Role.ESCORT) for _ in range(STAFF_PER_ROLE)],
            "check_in": [system.token(Role.RECEIVER) for _ in range(STAFF_PER_ROLE)],
        }
        system.views_current(timeout=300)
        asyncio.run(drive(system.url, warm, clients, tokens))
        system.views_current(timeout=300)
        assert system.projector is not None
        backends = backend_pids(settings.postgres_conninfo)
        watched = {"projector": system.projector.pid, "load": os.getpid()}

        def cpu_now() -> dict[str, float]:
            found = {name: cpu_seconds(pid) for name, pid in watched.items()}
            found["api"] = tree_cpu_seconds(system.api.pid)
            found["postgres"] = sum(cpu_seconds(pid) for pid in backends)
            return found

        cpu_before, busy_before = cpu_now(), machine_busy()
        answers = asyncio.run(drive(system.url, timed, clients, tokens))
        cpu_after, busy_after = cpu_now(), machine_busy()
        wall = max(a.started + a.ms / 1000 for a in answers) - min(a.started for a in answers)
        lag_started = time.perf_counter()
        system.views_current(timeout=300)
        views_behind_s = time.perf_counter() - lag_started
    finally:
        system.stop()
    bare_after = _bare_rate(settings, bare_saves, 10_000_000)
    baseline = max(bare_before, bare_after)
    value = len(answers) / wall
    statuses = Counter(f"{a.kind}:{a.status}" for a in answers)
    server_errors = sum(n for key, n in statuses.items() if key.split(":")[1][0] in "50")
    ms = {kind: [a.ms for a in answers if a.kind == kind] for kind in KINDS}
    every = [a.ms for a in answers]
    cpu = {k: (cpu_after[k] - cpu_before[k]) / wall for k in cpu_after}
    return {
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3),
        "unit": f"commands/s over HTTP, {clients} clients, registration:boarding:check-in "
                f"1:1:1, {workers} API workers + projector process",
        "p50_ms": round(percentile(every, 0.5), 1),
        "p99_ms": round(percentile(every, 0.99), 1),
        **{f"{kind}_p50_ms": round(percentile(ms[kind], 0.5), 1) for kind in KINDS},
        **{f"{kind}_p99_ms": round(percentile(ms[kind], 0.99), 1) for kind in KINDS},
        "statuses": " ".join(f"{k}x{n}" for k, n in sorted(statuses.items())),
        "unexpected": sum(n for k, n in statuses.items()
                          if int(k.split(":")[1]) != EXPECTED[k.split(":")[0]]),
        "server_errors": server_errors,
        "commands": len(answers),
        "clients": clients,
        "window_s": round(wall, 1),
        "views_behind_at_end_s": round(views_behind_s, 2),
        "bare_before": round(bare_before, 1),
        "bare_after": round(bare_after, 1),
        "api_cpu_ms_per_command": round(cpu["api"] * 1000 / value, 1),
        "cpu_cores": " ".join(f"{k}={v:.2f}" for k, v in cpu.items()),
        "machine_busy": round(
            (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1]), 2),
        "prep_s": round(prep_s, 1),
    }
