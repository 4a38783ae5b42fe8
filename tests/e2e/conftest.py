from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.databases import POSTGRES_MARKED, fresh_settings
from tests.e2e.server import LiveServer
from tracking.settings import Settings


@dataclass
class Live:
    settings: Settings
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url


@contextmanager
def live_server_on(
    backend: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Live]:
    """A real server process on a fresh store of `backend`, stopped when the block ends."""
    with fresh_settings(backend, data_dir) as settings:
        env = {"TRACKING_DATA_DIR": str(data_dir), **(extra_env or {})}
        if settings.is_postgres:
            env["TRACKING_DATABASE_URL"] = settings.database_url
        server = LiveServer(env)
        try:
            yield Live(settings, server)
        finally:
            server.stop()


@pytest.fixture(scope="module", params=POSTGRES_MARKED)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """One real server process per backend, shared by a module's tests (codes are unique)."""
    data_dir = tmp_path_factory.mktemp(f"live-{request.param}")
    # No alert monitor: it would add Alert events (an off-route scan raises one within a
    # sweep) to stores whose event counts tests compare; tests/e2e/test_alerts_http.py runs
    # servers with it.
    with live_server_on(str(request.param), data_dir, {"TRACKING_ALERTS": "off"}) as server:
        yield server
