"""`tracking simulate` against a real server on both backends: a small day through the public
HTTP API, whose summary equals the board, and whose double registrations amend one journey."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from domain.staff import Role
from tests.e2e.client import PASSWORD, Api, add_staff
from tests.e2e.conftest import Live
from tests.e2e.server import ROOT

ARRIVALS = 40


@dataclass
class Day:
    returncode: int
    output: str
    summary: dict[str, Any]
    journal: list[dict[str, Any]]
    before: dict[str, Any]
    after: dict[str, Any]
    commander: Api


@pytest.fixture(scope="module")
def day(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Day:
    """One drill day of 40 arrivals at full speed, with the board read around it."""
    folder = tmp_path_factory.mktemp("drill")
    accounts = folder / "accounts.txt"
    roles = (Role.ADMIN, Role.SCREENER, Role.DISPATCHER, Role.ESCORT, Role.RECEIVER,
             Role.SURVEYOR, Role.COMMANDER)
    accounts.write_text(
        "".join(f"{add_staff(live.settings, r)}\t{r.value}\t{PASSWORD}\n" for r in roles)
    )
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)
    commander.wait_for_views()
    before = commander.get("/api/board")
    summary, journal = folder / "summary.json", folder / "journal.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "tracking.cli", "simulate", "--url", live.url,
         "--arrivals", str(ARRIVALS), "--speed", "0", "--seed", "7",
         "--accounts", str(accounts), "--json", str(summary), "--journal", str(journal)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    commander.wait_for_views()
    after = commander.get("/api/board")
    lines = [json.loads(line) for line in journal.read_text().splitlines()] \
        if journal.exists() else []
    return Day(
        done.returncode, done.stdout + done.stderr,
        json.loads(summary.read_text()) if summary.exists() else {}, lines, before, after,
        commander,
    )


def test_the_summary_of_a_drill_day_equals_the_board(day: Day) -> None:
    assert day.returncode == 0, day.output
    summary = day.summary
    assert summary["ok"] and summary["differences"] == [] and summary["refused"] == []
    # The board's own change over the day, read here, is what the drill counted.
    moved = {s: n - day.before["stages"][s] for s, n in day.after["stages"].items()}
    assert summary["counts"]["stages"] == moved == summary["board"]["stages"]
    due = day.after["counters"]["survey_due"] - day.before["counters"]["survey_due"]
    assert summary["counts"]["counters"] == {"survey_due": due}
    assert sum(moved.values()) == summary["counts"]["journeys"] == ARRIVALS
    # A believable day: families, exits of every kind, most of them through the door.
    assert summary["families"] >= 1 and summary["family_members"] >= 2
    assert summary["exits"] == {"referred_to_hospital": 1, "no_show": 1, "cancelled": 1}
    assert moved["checked_in"] + moved["under_quarantine"] == ARRIVALS - 3
    assert summary["pre_registrations"] > summary["hall_registrations"] > 0
    assert 0 < summary["surveys"] < ARRIVALS - 3
    # Every acknowledgement is in the journal, each with its own idempotency key.
    assert Counter(line["kind"] for line in day.journal) == Counter(summary["commands"])
    keys = [line["key"] for line in day.journal]
    assert len(keys) == len(set(keys))
    assert all(200 <= line["status"] < 300 for line in day.journal)


def test_a_second_registration_amends_the_same_journey(day: Day) -> None:
    assert day.returncode == 0, day.output
    registrations = Counter(
        line["journey_id"] for line in day.journal if line["kind"] == "registration"
    )
    twice = [journey for journey, n in registrations.items() if n == 2]
    assert len(twice) == day.summary["double_registrations"] >= 1
    assert day.summary["duplicate_journeys"] == 0
    for journey in twice:
        kinds = Counter(
            e["event_type"]
            for e in day.commander.get(f"/api/journeys/{journey}/timeline")["events"]
        )
        assert kinds["Registered"] == 1 and kinds["Amended"] == 1
    # No registration reached a journey the day did not count.
    stages = day.summary["counts"]["stages"]
    assert sum(stages.values()) == len(registrations.keys() | _members(day.journal))


def _members(journal: list[dict[str, Any]]) -> set[str]:
    return {j for line in journal if line["kind"] == "registration"
            for j in line.get("journey_ids", [line["journey_id"]])}


def test_a_server_that_does_not_answer_stops_the_drill_before_its_day(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.txt"
    accounts.write_text(f"nobody\tscreener\t{PASSWORD}\n")
    done = subprocess.run(
        [sys.executable, "-m", "tracking.cli", "simulate", "--url", "http://127.0.0.1:9",
         "--arrivals", "5", "--speed", "0", "--accounts", str(accounts)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot run the drill" in done.stdout + done.stderr
