"""A real server process on a free port, spoken to over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.pgcluster import free_port

ROOT = Path(__file__).resolve().parents[2]


class LiveServer:
    def __init__(self, env: dict[str, str], *, log_level: str = "warning") -> None:
        """`log_level` "info" also logs every request line (tests of what logs may hold)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = Path(env["TRACKING_DATA_DIR"]) / f"server-{self.port}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        subprocess.run(
            [sys.executable, "-m", "tracking.cli", "migrate"],
            env=full_env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws-per-message-deflate",
                "false",
                "--log-level",
                log_level,
            ],
            env=full_env,
            cwd=ROOT,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
