"""The real system as it runs in production, for the board's benchmarks: `tracking migrate`
once, a uvicorn process serving the API (and boards), and optionally the projector as its own
process. Everything is spoken to over HTTP and websockets only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg

from domain.staff import Role
from tracking.services import open_services
from tracking.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery staple"  # noqa: S105  (a throw-away database)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TRACKING_DATA_DIR": str(settings.data_dir),
        "TRACKING_DATABASE_URL": settings.database_url,
        "TRACKING_ALERTS": "off",
        **extra,
    }


def migrate(settings: Settings) -> None:
    """`tracking migrate`, as a deployment runs it once before starting workers."""
    subprocess.run(
        [sys.executable, "-m", "tracking.cli", "migrate"], env=env_for(settings), cwd=ROOT,
        check=True, capture_output=True, timeout=120,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of a process and its children (uvicorn --workers: the workers)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                total += cpu_seconds(int(stat.parent.name))
    return total


def thread_seconds(pid: int) -> dict[str, float]:
    """CPU time so far of each thread of a process: "main" (the event loop of an API process)
    and the others by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            name = "main" if int(task.name) == pid else task.name
            found[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def backend_pids(conninfo: str) -> list[int]:
    """The PostgreSQL server processes serving the database of `conninfo` (not this one)."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(pid) for (pid,) in rows]


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far (every core, /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        self.process = subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class LiveSystem:
    """An API process (uvicorn) with its projector: `projector` is "process" (a projector
    process beside it, `python -m projections.cli run`, and none in the API), "embedded" (the
    API's own thread, the default of a deployment) or "off" (no projector at all)."""

    def __init__(self, settings: Settings, *, projector: str = "process",
                 migrated: bool = False, workers: int = 1) -> None:
        """`workers`: API processes behind the one port (uvicorn --workers), as deployed."""
        self.settings = settings
        if not migrated:
            migrate(settings)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir = settings.data_dir
        self.processes: list[Process] = []
        try:
            if projector == "process":
                self.projector: Process | None = Process(
                    "projector", [sys.executable, "-m", "projections.cli", "run"],
                    env_for(settings), log_dir,
                )
                self.processes.append(self.projector)
            else:
                self.projector = None
            self.api = Process(
                "api",
                [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                 "--ws-per-message-deflate", "false", "--workers", str(workers)],
                env_for(settings,
                        TRACKING_PROJECTOR="embedded" if projector == "embedded" else "off"),
                log_dir,
            )
            self.processes.append(self.api)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.processes:
                p.check()
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.api.log.read_text()}")

    def token(self, role: Role) -> str:
        """A new staff member of `role`, signed in over HTTP: their bearer token."""
        username = f"bench-{role.value}-{uuid4().hex[:6]}"
        services = open_services(self.settings)
        try:
            services.accounts.add(username, role, f"Bench {role.value}", PASSWORD)
        finally:
            services.close()
        answer = httpx.post(f"{self.url}/api/auth/token",
                            json={"username": username, "password": PASSWORD}, timeout=30)
        answer.raise_for_status()
        token: str = answer.json()["access_token"]
        return token

    def views_current(self, timeout: float = 60) -> None:
        """Until the views have applied everything recorded so far."""
        deadline = time.monotonic() + timeout
        while True:
            with suppress(httpx.TimeoutException):
                if not httpx.get(f"{self.url}/healthz", timeout=10).json()["projector"]["lag"]:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("the views still lag")
            time.sleep(0.05)

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()
