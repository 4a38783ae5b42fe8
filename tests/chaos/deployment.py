"""The production layout the faults are made in: `tracking migrate` once, one projector process,
API processes with `TRACKING_PROJECTOR=off`, all sharing the database, `TRACKING_SECRET` and
`TRACKING_CIPHER_KEYS` (README, "Running on PostgreSQL"), each with a data directory of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx

from domain.staff import Role
from tests.e2e.client import PASSWORD
from tests.e2e.processes import (
    ApiProcess,
    Process,
    ProjectorProcess,
    deployment_env,
    migrate,
)
from tracking.services import open_services
from tracking.settings import Settings


class Deployment:
    def __init__(self, settings: Settings, root: Path) -> None:
        self.settings = settings
        self.root = root
        self.logs = root / "logs"
        self.env = deployment_env(settings)
        self.processes: list[Process] = []
        self.projector: ProjectorProcess | None = None
        self.tokens: dict[Role, str] = {}
        self.usernames: dict[Role, str] = {}
        self.entry_point = f"EP-{uuid4().hex[:6].upper()}"

    def _dir(self, name: str) -> dict[str, str]:
        return {"TRACKING_DATA_DIR": str(self.root / name)}

    def migrate(self) -> None:
        migrate(self.env | self._dir("migrate"))

    def start_projector(self) -> ProjectorProcess:
        n = sum(isinstance(p, ProjectorProcess) for p in self.processes)
        self.projector = ProjectorProcess(
            self.env | self._dir(f"projector-{n}"), self.logs / f"projector-{n}.log"
        )
        self.processes.append(self.projector)
        return self.projector

    def start_api(self, workers: int = 1) -> ApiProcess:
        """A new API process (not yet ready: call its `wait_ready()`)."""
        n = sum(isinstance(p, ApiProcess) for p in self.processes)
        api = ApiProcess(
            self.env | self._dir(f"api-{n}") | {"TRACKING_PROJECTOR": "off"},
            self.logs, workers=workers,
        )
        self.processes.append(api)
        return api

    def prepare(self, url: str) -> None:
        """Staff accounts (a screener, a commander) signed in on `url`, and the entry point
        the travellers arrive at, in the views."""
        services = open_services(self.settings)
        try:
            for role in (Role.SCREENER, Role.COMMANDER):
                username = f"{role.value}-{uuid4().hex[:6]}"
                services.accounts.add(username, role, f"Chaos {role.value}", PASSWORD)
                self.usernames[role] = username
            services.app.register_entry_point(self.entry_point, "白云机场 T2 (chaos)")
        finally:
            services.close()
        for role, username in self.usernames.items():
            answer = httpx.post(f"{url}/api/auth/token",
                                json={"username": username, "password": PASSWORD}, timeout=15)
            answer.raise_for_status()
            self.tokens[role] = answer.json()["access_token"]

    def serve(self, apis: int = 2) -> list[ApiProcess]:
        """The projector and `apis` API processes started and answering, the staff signed in
        and the entry point registered: a deployment ready for its load."""
        self.start_projector()
        started = [self.start_api() for _ in range(apis)]
        for api in started:
            api.wait_ready()
        self.prepare(started[0].url)
        return started

    def stop(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                process.stop()

    def logs_text(self) -> str:
        return "\n".join(
            f"--- {p.log.name} (exit {p.process.poll()}) ---\n{p.output()[-3000:]}"
            for p in self.processes
        )


@contextlib.contextmanager
def deployed(settings: Settings, root: Path) -> Iterator[Deployment]:
    """A deployment on `settings`' (empty) database, migrated; every process it started is
    stopped at the end, and their logs shown if the block failed."""
    d = Deployment(settings, root)
    try:
        d.migrate()
        yield d
    except BaseException:
        print(d.logs_text())
        raise
    finally:
        d.stop()
