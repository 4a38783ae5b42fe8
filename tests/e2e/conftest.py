from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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


@pytest.fixture(scope="module", params=POSTGRES_MARKED)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """One real server process per backend, shared by a module's tests (codes are unique)."""
    data_dir = tmp_path_factory.mktemp(f"live-{request.param}")
    with fresh_settings(str(request.param), data_dir) as settings:
        # No alert monitor: it would add Alert events (an off-route scan raises one within a
        # sweep) to stores whose event counts tests compare; tests/e2e/test_alerts_http.py
        # runs servers with it.
        env = {"TRACKING_DATA_DIR": str(data_dir), "TRACKING_ALERTS": "off"}
        if settings.is_postgres:
            env["TRACKING_DATABASE_URL"] = settings.database_url
        server = LiveServer(env)
        try:
            yield Live(settings, server)
        finally:
            server.stop()
