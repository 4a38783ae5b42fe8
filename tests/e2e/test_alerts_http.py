"""Loop-not-closed alerts through real HTTP against a real server (SQLite and PostgreSQL).

The server runs its embedded monitor, sweeping often; a loop with a long threshold is made
overdue by a second monitor in the test process sweeping as of an hour later, against the
same store (as a second API process would). The server's views, board and monitor take it
from there: the alert shows, and clears itself when the loop closes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.staff import Role
from projections.queries import read_alert_facts
from tests.databases import POSTGRES_MARKED
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live, live_server_on
from tracking.alerts import AlertMonitor
from tracking.services import open_services


@pytest.fixture(scope="module", params=POSTGRES_MARKED)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """A server whose monitor sweeps every 0.2 s (the default is 30 s)."""
    data_dir = tmp_path_factory.mktemp(f"alerts-{request.param}")
    sweeps = {"TRACKING_ALERT_SWEEP_SECONDS": "0.2"}
    with live_server_on(str(request.param), data_dir, sweeps) as server:
        yield server


def _reference(live: Live) -> dict[str, str]:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    codes = {
        "entry": f"EP-{tag}", "street": f"ST-{tag}", "plate": f"粤A·{tag}",
        "other_plate": f"粤B·{tag}",
    }
    admin.post("/api/entry-points", {"code": codes["entry"], "name": "白云机场 T2"}, expect=201)
    admin.post(
        "/api/sites",
        {"code": codes["street"], "name": "沙面街道", "kind": "home", "capacity": 20},
        expect=201,
    )
    for plate in (codes["plate"], codes["other_plate"]):
        admin.post("/api/vehicles", {"plate": plate, "seats": 8}, expect=201)
    return codes


def _until(what: str, found: Callable[[], Any], timeout: float = 30) -> Any:
    """Wait for the server's monitor and projector (sweeps every 0.2 s) to get somewhere."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _mine(api: Api, journey_id: str, status: str = "open") -> list[dict[str, Any]]:
    api.wait_for_views()
    answer = api.get(f"/api/alerts?status={status}")
    return [a for a in answer["alerts"] if a["journey_id"] == journey_id]


def test_an_overdue_loop_shows_on_alerts_and_board_and_clears_itself(live: Live) -> None:
    codes = _reference(live)
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)

    (journey,) = Api(live.url).post(
        "/api/registrations",
        {"entry_point": codes["entry"], "travellers": [traveller(f"AL{uuid4().hex[:7]}")]},
        expect=201,
    )["journey_ids"]
    screener.post(f"/api/journeys/{journey}/screening", {"risk": "low", "temperature": 36.6})
    dispatcher.post(f"/api/journeys/{journey}/destination", {"site": codes["street"]})
    runs = [
        dispatcher.post(
            "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": codes["entry"]},
            expect=201,
        )["run_id"]
        for plate in (codes["plate"], codes["other_plate"])
    ]
    dispatcher.post(f"/api/journeys/{journey}/seats", {"run_id": runs[0]})
    dispatcher.wait_for_views()
    assert _mine(dispatcher, journey) == []  # seated a moment ago: no alert yet

    # An hour later (as another process's monitor sees it): seated, not boarded.
    services = open_services(live.settings)
    try:
        store = services.store
        hour_later = datetime.now(UTC) + timedelta(minutes=61)
        monitor = AlertMonitor(services.app, lambda: read_alert_facts(store), services.settings)
        assert len(monitor.sweep(hour_later).raised) == 1
    finally:
        services.close()
    (alert,) = _mine(dispatcher, journey)
    assert alert["kind"] == "not_boarded" and alert["status"] == "open"
    assert alert["message"] == "Seat assigned but not boarded within 60 minutes"
    assert alert["run_id"] == runs[0] and alert["entry_point"] == codes["entry"]
    assert alert["threshold_minutes"] == 60 and alert["cleared_at"] is None
    assert set(alert) == {
        "alert_id", "kind", "status", "subject", "journey_id", "run_id", "entry_point",
        "detail", "since", "threshold_minutes", "raised_at", "cleared_at", "reason", "message",
    }
    board = commander.get("/api/board")
    assert alert["alert_id"] in board["alerts"]
    assert board["alert_counts"]["not_boarded"] >= 1
    assert set(board["alert_counts"]) == {
        "not_boarded", "not_checked_in", "not_handed_over", "custody_not_accepted", "off_route",
        "survey_overdue",
    }

    # Scanned at the wrong vehicle: the server's own monitor raises it at once.
    wrong = escort.post(
        f"/api/journeys/{journey}/boarding", {"run_id": runs[1], "scan_id": f"s-{uuid4()}"}
    )
    assert wrong["outcome"] == "misdirected"
    off_route = _until(
        "the off-route alert",
        lambda: [a for a in _mine(commander, journey) if a["kind"] == "off_route"],
    )
    assert off_route[0]["message"] == "Scanned at the wrong vehicle at boarding"

    # Boarded on the right vehicle: both loops close and both alerts clear themselves.
    escort.post(
        f"/api/journeys/{journey}/boarding", {"run_id": runs[0], "scan_id": f"s-{uuid4()}"}
    )
    _until("the alerts to clear", lambda: not _mine(dispatcher, journey))
    cleared = {a["kind"]: a for a in _mine(dispatcher, journey, status="all")}
    assert set(cleared) == {"not_boarded", "off_route"}
    assert {a["status"] for a in cleared.values()} == {"cleared"}
    assert cleared["not_boarded"]["reason"] == "boarded"
    assert cleared["off_route"]["reason"] == "boarded on the right vehicle"
    assert alert["alert_id"] not in commander.get("/api/board")["alerts"]


def test_alerts_are_for_dispatchers_commanders_and_admins(live: Live) -> None:
    assert Api(live.url).http.get("/api/alerts").status_code == 401
    for role in (Role.SCREENER, Role.ESCORT, Role.RECEIVER, Role.SURVEYOR):
        api = Api.signed_in(live.url, live.settings, role)
        assert api.http.get("/api/alerts").status_code == 403, role
    for role in (Role.DISPATCHER, Role.COMMANDER, Role.ADMIN):
        api = Api.signed_in(live.url, live.settings, role)
        answer = api.get("/api/alerts?status=all")
        assert set(answer) == {"position", "alerts", "counts"}
        assert api.http.get("/api/alerts?status=closed").status_code == 422
