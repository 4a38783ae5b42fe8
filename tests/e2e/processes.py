"""The production layout as separate OS processes: `tracking migrate` once, one projector
(`tracking projections run`) and any number of API processes started with
`TRACKING_PROJECTOR=off` (README, "Running on PostgreSQL").

Unlike tests/e2e/server.py's `LiveServer`, nothing here migrates on start: the test runs the
migrate step once, as a deployment does, and then starts the workers (concurrently if it likes).
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.pgcluster import free_port
from tracking.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def deployment_env(settings: Settings) -> dict[str, str]:
    """What every process of one deployment shares: the store, the secret and the store key
    ring (every process reads every event)."""
    return {
        "TRACKING_DATABASE_URL": settings.database_url,
        "TRACKING_SECRET": settings.secret.hex(),
        "TRACKING_CIPHER_KEYS": ",".join(
            f"{kid}:{base64.b64encode(key).decode()}" for kid, key in settings.cipher_keys
        ),
        "TRACKING_ALERTS": "off",
    }


def migrate(env: dict[str, str]) -> None:
    """`tracking migrate`: every table, once, before any worker starts."""
    subprocess.run(
        [sys.executable, "-m", "tracking.cli", "migrate"],
        env=_env(env), check=True, cwd=ROOT, capture_output=True, timeout=60,
    )


class Process:
    """A child process whose output goes to a log file (shown when something goes wrong)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as out:
            self.process = subprocess.Popen(
                argv, env=_env(env), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, as a service manager stops a worker; the exit code it ended with."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"pid {self.pid} ignored SIGTERM for {timeout}s:\n{self.output()}"
            ) from None

    def kill(self) -> None:
        """SIGKILL: the process dies without cleaning up (a crash, an OOM kill)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=15)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(AssertionError):  # it was killed: nothing to add
                self.terminate()


class ProjectorProcess(Process):
    """`tracking projections run`: the one projector of the deployment."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__(
            [sys.executable, "-m", "tracking.cli", "projections", "run"], env, log
        )


class ApiProcess(Process):
    """`uvicorn api.main:create_app --factory` on a free port. Call `wait_ready()`.

    `workers` > 1: uvicorn's supervisor process (this pid) with that many worker processes,
    which it respawns when one dies."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [
                sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                "--ws-per-message-deflate", "false",
                *(["--workers", str(workers)] if workers > 1 else []),
            ],
            env,
            log_dir / f"api-{self.port}.log",
        )

    def wait_ready(self, timeout: float = 60) -> ApiProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"API process exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"API process not ready in {timeout}s:\n{self.output()}")
