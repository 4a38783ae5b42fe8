"""The operator's commands, run as an operator runs them: `tracking ...` in a shell."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

from domain.alerts import Alert
from domain.staff import Role
from domain.stages import RiskLevel
from projections.queries import read_reference
from tests.e2e.server import ROOT
from tests.support import ctx, person, seed_line
from tracking.services import open_services
from tracking.settings import load_settings


def tracking(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACKING_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tracking.cli", *args],
        env=env,
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_users_add_creates_an_account_that_can_sign_in(tmp_path: Path) -> None:
    assert tracking(tmp_path, "migrate").returncode == 0
    done = tracking(
        tmp_path,
        "users",
        "add",
        "li.dispatch",
        "--role",
        "dispatcher",
        "--name",
        "李调度",
        "--password",
        "a long enough password",
    )
    assert done.returncode == 0, done.stderr
    short = tracking(tmp_path, "users", "add", "wang", "--role", "escort", "--password", "short")
    assert short.returncode == 1
    assert "at least 10 characters" in short.stderr
    services = open_services(load_settings({"TRACKING_DATA_DIR": str(tmp_path)}))
    try:
        member = services.accounts.authenticate("li.dispatch", "a long enough password")
        assert member is not None
        assert member.role is Role.DISPATCHER
        assert services.accounts.authenticate("li.dispatch", "wrong password!!") is None
        assert services.accounts.authenticate("wang", "short") is None
    finally:
        services.close()


def test_seed_demo_then_rebuild_the_views_from_zero(tmp_path: Path) -> None:
    assert tracking(tmp_path, "migrate").returncode == 0
    assert tracking(tmp_path, "seed-demo").stdout.strip() == "seeded"
    assert tracking(tmp_path, "seed-demo").stdout.strip() == "already seeded"
    rebuilt = tracking(tmp_path, "projections", "rebuild", "--fresh")
    assert rebuilt.returncode == 0, rebuilt.stderr
    status = tracking(tmp_path, "projections", "status")
    assert status.returncode == 0, status.stderr
    assert " lag 0 " in status.stdout
    services = open_services(load_settings({"TRACKING_DATA_DIR": str(tmp_path)}))
    try:
        reference = read_reference(services.store)
    finally:
        services.close()
    assert len(reference["entry_points"]) == 2
    assert len([s for s in reference["sites"] if s["kind"] == "home"]) == 22
    assert len([s for s in reference["sites"] if s["kind"] == "hotel"]) == 3
    assert len(reference["vehicles"]) == 10


def test_alerts_run_raises_an_off_route_alert_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The monitor as its own process, for API processes started with TRACKING_ALERTS=off."""
    assert tracking(tmp_path, "migrate").returncode == 0
    settings = load_settings({"TRACKING_DATA_DIR": str(tmp_path)})
    services = open_services(settings)
    try:
        app = services.app
        line = seed_line(app, extra_vehicle=True)
        answer = app.register_travellers(line.entry_point, [person("CLI00001")], ctx())
        traveller = UUID(answer["journey_ids"][0])
        app.screen(traveller, RiskLevel.LOW, None, False, False, ctx())
        run_a = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
        run_b = UUID(app.plan_run(line.other_plate, "escort-2", line.entry_point)["run_id"])
        app.dispatch(traveller, ctx("dispatcher-1", "dispatcher"), line.street, "", run_a)
        app.scan_boarding(traveller, run_b, "scan-cli-1", ctx("escort-2", "escort"))
    finally:
        services.close()
    assert tracking(tmp_path, "projections", "rebuild").returncode == 0

    env = {**os.environ, "TRACKING_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT),
           "TRACKING_ALERT_SWEEP_SECONDS": "0.2"}
    monitor = subprocess.Popen(
        [sys.executable, "-m", "tracking.cli", "alerts", "run"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        raised: list[Alert.Raised] = []
        deadline = time.monotonic() + 30
        while not raised and time.monotonic() < deadline and monitor.poll() is None:
            time.sleep(0.2)
            services = open_services(settings)
            try:
                notifications = services.app.recorder.select_notifications(start=1, limit=10**6)
                events = [services.app.mapper.to_domain_event(n) for n in notifications]
            finally:
                services.close()
            raised = [e for e in events if isinstance(e, Alert.Raised)]
        assert [(e.kind, e.journey_id) for e in raised] == [("off_route", traveller)]
    finally:
        monitor.send_signal(signal.SIGTERM)
        out, err = monitor.communicate(timeout=30)
    assert monitor.returncode == 0, err
    assert "sweeping every 0.2 s" in out
