"""With PostgreSQL stopped a command answers 503 within 3 s; after it returns, commands succeed
without restarting the server. Uses a cluster of its own so the shared one keeps running."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from uuid import uuid4

import httpx
import pytest

from domain.staff import Role
from tests.e2e.client import Api, traveller
from tests.e2e.server import LiveServer
from tests.pgcluster import PG_BIN, TempCluster
from tracking.settings import load_settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[TempCluster]:
    if not (PG_BIN / "initdb").exists():
        message = f"PostgreSQL server binaries not found at {PG_BIN}"
        if os.environ.get("TRACKING_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    cluster = TempCluster()
    cluster.start()
    yield cluster
    cluster.destroy()


def test_a_stopped_database_answers_503_fast_and_recovery_needs_no_restart(
    cluster: TempCluster, tmp_path: os.PathLike[str]
) -> None:
    env = {"TRACKING_DATA_DIR": str(tmp_path), "TRACKING_DATABASE_URL": cluster.url}
    settings = load_settings(env)
    server = LiveServer(env)
    try:
        admin = Api.signed_in(server.url, settings, Role.ADMIN)
        admin.post("/api/entry-points", {"code": "EP-OUT", "name": "Outage test"}, expect=201)
        public = Api(server.url)
        public.post(
            "/api/registrations",
            {"entry_point": "EP-OUT", "travellers": [traveller("O6000001")]},
            expect=201,
        )

        cluster.stop()
        for number in ("O6000002", "O6000003"):
            started = time.monotonic()
            down = public.http.post(
                "/api/registrations",
                json={"entry_point": "EP-OUT", "travellers": [traveller(number)]},
            )
            elapsed = time.monotonic() - started
            print(f"store down: {down.status_code} in {elapsed:.2f} s")
            assert down.status_code == 503, down.text
            assert elapsed < 3.0, f"503 took {elapsed:.2f}s"
            assert down.headers["Retry-After"]
            assert "retry" in down.json()["detail"]
        staff_down = admin.http.post("/api/vehicles", json={"plate": "X1", "seats": 4})
        assert staff_down.status_code == 503

        cluster.start()
        deadline = time.monotonic() + 10
        while True:
            answer = public.http.post(
                "/api/registrations",
                json={"entry_point": "EP-OUT", "travellers": [traveller("O6000004")]},
                headers={"Idempotency-Key": str(uuid4())},
            )
            if answer.status_code == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert answer.status_code == 201, answer.text
        assert admin.http.post("/api/vehicles", json={"plate": "X1", "seats": 4}).status_code == 201
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
