"""SIGKILL an API worker every 10 s under load (issue 8): no acknowledged command lost or
duplicated, and service back within 5 s of each kill.

One API process is uvicorn with two workers under its supervisor, which must respawn a killed
worker. Each kill takes the oldest worker, so that from the second kill on, the worker left
serving is the one respawned after an earlier kill: service coming back proves it serves.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from domain.staff import Role
from tests.chaos.checker import check
from tests.chaos.deployment import deployed
from tests.chaos.load import Load
from tests.chaos.scale import Scale
from tracking.settings import Settings

pytestmark = pytest.mark.postgres
SERVICE_BACK_S = 5.0  # the bound


def worker_pids(supervisor: int) -> list[int]:
    """The uvicorn workers (multiprocessing spawn children) of a supervisor, oldest first."""
    children: list[int] = []
    for task in Path(f"/proc/{supervisor}/task").iterdir():
        children += [int(p) for p in (task / "children").read_text().split()]
    workers = []
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            started = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"spawn_main" in cmdline:
            workers.append((started, pid))
    return [pid for _, pid in sorted(workers)]


def wait_workers(supervisor: int, count: int, not_: int, timeout: float) -> tuple[list[int], float]:
    began = time.monotonic()
    while True:
        pids = [p for p in worker_pids(supervisor) if p != not_]
        if len(pids) == count or time.monotonic() - began > timeout:
            return pids, time.monotonic() - began
        time.sleep(0.05)


def test_sigkill_an_api_worker_under_load(
    pg_settings: Settings, tmp_path: Path, scale: Scale
) -> None:
    with deployed(pg_settings, tmp_path) as d:
        d.start_projector()
        api = d.start_api(workers=2).wait_ready()
        workers, _ = wait_workers(api.pid, 2, 0, 30)
        assert len(workers) == 2, f"uvicorn --workers 2 runs {workers}"
        d.prepare(api.url)
        load = Load(lambda: [api.url], entry_point=d.entry_point,
                    screener_token=d.tokens[Role.SCREENER], clients=scale.clients).start()
        backs: list[float | None] = []
        respawns: list[float] = []
        try:
            for _ in scale.every(scale.api_kill_every_s):
                victim = worker_pids(api.pid)[0]
                os.kill(victim, signal.SIGKILL)
                killed = time.monotonic()
                backs.append(load.wait_acknowledged_after(killed, 2 * SERVICE_BACK_S))
                workers, took = wait_workers(api.pid, 2, victim, 30)
                assert len(workers) == 2, f"no worker respawned for {victim}: {workers}"
                respawns.append(took)
        finally:
            load.stop()
        print(f"\n{load.summary()}; service back after each kill (s): "
              f"{[None if b is None else round(b, 2) for b in backs]}; "
              f"replacement worker started after (s): {[round(r, 2) for r in respawns]}")
        verdict = check(
            "api-worker-sigkill", pg_settings, load, api.url, d.tokens[Role.COMMANDER],
            kills=len(backs),
            service_back_max_s=round(max((b for b in backs if b is not None), default=-1), 2),
        )
        assert backs, "no worker was killed"
        assert api.process.poll() is None, api.output()  # the supervisor lived on
        assert all(b is not None and b <= SERVICE_BACK_S for b in backs), backs
        assert verdict.lost == 0 and verdict.duplicated == 0, verdict.problems
        assert verdict.problems == []
