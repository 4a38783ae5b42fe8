"""The operator's commands, run as an operator runs them: `tracking ...` in a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from domain.staff import Role
from projections.queries import read_reference
from tests.e2e.server import ROOT
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
