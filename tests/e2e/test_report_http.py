"""The commander's daily report through real HTTP against a real server (SQLite and PostgreSQL),
and the same report written by the CLI.

Travellers are walked down the line over HTTP at an entry point of this test's own (the
server is shared by the module), so the report's figures for that entry point are exactly what
the test did; its totals must be the board's at the position the report states.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import orjson
from openpyxl import load_workbook

from domain.calendar import local_date
from tests.e2e.care import (
    DECISION,
    Place,
    Staff,
    open_place,
    person,
    register,
    staff_of,
    survey_answers,
    to_room_door,
)
from tests.e2e.client import Api
from tests.e2e.conftest import Live
from tests.e2e.server import ROOT

BOM = b"\xef\xbb\xbf"
REPORT = "/api/reports/daily"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What each figure of the entry point's day should be after `walk_the_line`.
DONE = {
    ("arrivals", "registered"): 6, ("arrivals", "screened"): 4,
    ("transfers", "checked_in"): 3, ("survey", "surveyed"): 1,
    ("exits", "released"): 1, ("exits", "referred_to_hospital"): 1, ("exits", "no_show"): 0,
    ("exits", "cancelled"): 1, ("quarantine", "quarantine_started"): 3,
    ("quarantine", "tests_recorded"): 1,
    ("hospital_transfers", "transfers_requested"): 1,
}


def number() -> str:
    return f"R{uuid4().hex[:8].upper()}"


def walk_the_line(live: Live, staff: Staff, place: Place) -> dict[str, str]:
    """Six arrive: a family and one more go to the hotel (one released, one surveyed, one to
    hospital), one waits screened at the desk, one waits unscreened, one is cancelled."""
    mum, child = register(live, place, person(number(), "陈一"), person(number(), "陈二"))
    (alone,) = register(live, place, person(number(), "𠀀 李"))
    (waiting,) = register(live, place, person(number(), "王五"))
    (unscreened,) = register(live, place, person(number(), "赵六"))
    (cancelled,) = register(live, place, person(number(), "钱七"))
    to_room_door(staff, place, [[mum, child], [alone]], place.plates[0])
    staff.screener.post(f"/api/journeys/{waiting}/screening", {"risk": "low", "temperature": 36.5})
    staff.dispatcher.post(f"/api/journeys/{cancelled}/cancellation", {"reason": "flight diverted"})
    for journey in (mum, child, alone):
        staff.receiver.post(f"/api/journeys/{journey}/quarantine", {})
    staff.receiver.post(f"/api/journeys/{mum}/test-results",
                        {"day": 1, "result": {"outcome": "negative"}})
    staff.receiver.post(f"/api/journeys/{mum}/release", DECISION)
    staff.surveyor.post(f"/api/journeys/{child}/survey",
                        {"risk": "low", "answers": survey_answers()})
    staff.receiver.post(f"/api/journeys/{alone}/hospital-referral", {"reason": "fever"})
    staff.commander.wait_for_views()
    return {"mum": mum, "child": child, "alone": alone, "waiting": waiting,
            "unscreened": unscreened}


def get(api: Api, **params: str) -> httpx.Response:
    return api.http.get(REPORT, params=params)


def board_totals(book: Any) -> dict[tuple[str, str, str], Any]:
    rows = list(book["看板 Board totals"].iter_rows(values_only=True))
    assert rows[0] == ("指标 figure", "说明 label", "维度 dimension", "键 key", "数值 value")
    return {(figure, dimension, key or ""): value for figure, _, dimension, key, value in rows[1:]}


def assert_totals_are_the_boards(totals: dict[tuple[str, str, str], Any], board: Any) -> None:
    assert totals[("position", "all", "")] == board["position"]
    assert {s: totals[("journeys", "stage", s)] for s in board["stages"]} == board["stages"]
    assert totals[("survey_due", "all", "")] == board["counters"]["survey_due"]
    assert {k: totals[("open_alerts", "alert_kind", k)] for k in board["alert_counts"]} == (
        board["alert_counts"]
    )
    sites = list(board["sites"].values())
    for figure in ("capacity", "held", "occupied", "free"):
        assert totals[(figure, "all", "")] == sum(s[figure] for s in sites), figure
        for kind in ("hotel", "home"):
            assert totals[(figure, "site_kind", kind)] == sum(
                s[figure] for s in sites if s["kind"] == kind
            ), (figure, kind)
    assert totals[("sites", "all", "")] == len(sites)


def entry_point_figures(report: dict[str, Any], entry: str) -> dict[tuple[str, str], int]:
    return {(section, figure): report[section][figure]["by_entry_point"].get(entry, 0)
            for section, figure in DONE}


def test_the_daily_report_is_what_happened_and_its_totals_are_the_boards(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    first_day = local_date(datetime.now(UTC))
    walked = walk_the_line(live, staff, place)
    today = local_date(datetime.now(UTC))

    # What the test did, over the day(s) it ran on (a run across midnight splits it in two).
    reports = [staff.commander.get(f"{REPORT}?day={d}") for d in sorted({first_day, today})]
    done = {key: sum(entry_point_figures(r, place.entry)[key] for r in reports) for key in DONE}
    assert done == DONE
    report = reports[-1]
    assert report["day"] == today.isoformat()
    assert report["entry_points"][place.entry] == "白云机场 T2"
    hotel = {s["code"]: s for s in report["occupancy"]["sites"]}[place.hotel]
    # The family's room is still held by the child; the one referred to hospital waits in
    # theirs for the hospital's vehicle (the room is freed at the pick-up).
    assert (hotel["capacity"], hotel["occupied"], hotel["held"]) == (6, 2, 0)
    d2d = report["transfers"]["times"]["door_to_door"]["by_entry_point"][place.entry]
    assert d2d["n"] == report["transfers"]["checked_in"]["by_entry_point"][place.entry]
    assert d2d["p50"] is not None and d2d["p95"] >= d2d["p50"]
    text = orjson.dumps(report).decode()
    assert not any(journey in text for journey in walked.values())  # counts, never people
    assert "陈一" not in text and "𠀀" not in text

    # The XLSX: its totals are the board's at the position it states.
    answer = get(staff.commander, day=today.isoformat(), format="xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == XLSX_TYPE
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="daily-report-{today.isoformat()}.xlsx"'
    )
    assert answer.headers["cache-control"] == "no-store"
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    assert book.sheetnames == ["汇总 Summary", "入境点 By entry point", "隔离点 By site",
                               "看板 Board totals"]
    totals = board_totals(book)
    position = totals[("position", "all", "")]
    assert answer.headers["x-views-position"] == str(position)
    board = staff.commander.get(f"/api/board?position={position}")
    assert board["position"] == position
    assert_totals_are_the_boards(totals, board)
    by_entry = list(book["入境点 By entry point"].iter_rows(values_only=True))
    row = next(r for r in by_entry if r[0] == place.entry)
    figures = dict(zip(by_entry[0], row, strict=True))
    assert figures["登记 registered"] == report["arrivals"]["registered"]["by_entry_point"][
        place.entry]
    assert figures["转运完成(入住) transfers completed (checked in)"] == (
        report["transfers"]["checked_in"]["by_entry_point"][place.entry]
    )
    assert figures["解除隔离 released"] == report["exits"]["released"]["by_entry_point"][
        place.entry]
    summary = {(r[0], r[1]): r[3] for r in book["汇总 Summary"].iter_rows(values_only=True)}
    assert summary[("survey", "backlog")] == board["counters"]["survey_due"]
    assert summary[("report", "position")] == position

    # The CSV: a BOM, then one row per figure, with the same numbers.
    answer = get(staff.commander, day=today.isoformat(), format="csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="daily-report-{today.isoformat()}.csv"'
    )
    assert answer.content.startswith(BOM)
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0][0] == "部分 / section" and rows[0][-1] == "数值 / value"
    cells = {(s, f, d, k): v for s, f, _, d, k, _, v in rows[1:]}
    for (section, figure), n in entry_point_figures(report, place.entry).items():
        assert cells[(section, figure, "entry_point", place.entry)] == str(n), figure
    names = {(d, k): name for _, _, _, d, k, name, _ in rows[1:]}
    assert names[("entry_point", place.entry)] == "白云机场 T2"
    csv_board = {(f, d, k): v for s, f, _, d, k, _, v in rows[1:] if s == "board"}
    assert csv_board[("position", "all", "")] == str(position)
    assert {s: int(csv_board[("journeys", "stage", s)]) for s in board["stages"]} == (
        board["stages"]
    )

    # JSON: the same position in the header and the body.
    answer = get(staff.commander, day=today.isoformat())
    assert answer.status_code == 200
    assert answer.headers["x-views-position"] == str(answer.json()["position"]) == str(position)
    assert answer.json()["board"]["stages"] == board["stages"]


def test_only_commanders_read_the_report_and_bad_days_are_refused(live: Live) -> None:
    staff = staff_of(live)
    for who in (staff.dispatcher, staff.surveyor, staff.admin, staff.screener, staff.escort,
                staff.receiver):
        for fmt in ("json", "csv", "xlsx"):
            assert get(who, format=fmt).status_code == 403
    assert get(Api(live.url)).status_code == 401
    assert get(Api(live.url, "not-a-token"), format="xlsx").status_code == 401

    today = local_date(datetime.now(UTC))
    future = date(today.year + 1, 1, 1).isoformat()
    for day, says in ((future, "has not happened yet"), ("1999-12-31", "from 2000-01-01"),
                      ("2026-02-30", "day"), ("yesterday", "day")):
        answer = get(staff.commander, day=day)
        assert answer.status_code == 422, (day, answer.text)
        assert says in answer.json()["detail"], (day, answer.text)
    answer = get(staff.commander, format="pdf")
    assert answer.status_code == 422 and "format" in answer.json()["detail"]
    # Today is the default; any past day since 2000 answers, quiet or not.
    assert staff.commander.get(REPORT)["day"] == today.isoformat()
    quiet = staff.commander.get(f"{REPORT}?day=2000-01-01")
    assert quiet["arrivals"]["registered"]["total"] == 0


def tracking(live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    """`tracking ...` with the server's own environment (its store)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "TRACKING_DATA_DIR": str(live.settings.data_dir)}
    if live.settings.is_postgres:
        env["TRACKING_DATABASE_URL"] = live.settings.database_url
    return subprocess.run(
        [sys.executable, "-m", "tracking.cli", *args], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False,
    )


def test_the_cli_writes_the_same_report(live: Live, tmp_path: Path) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    walk_the_line(live, staff, place)
    today = local_date(datetime.now(UTC)).isoformat()

    out = tmp_path / "daily.json"
    done = tracking(live, "report", "daily", "--day", today, "--out", str(out))
    assert done.returncode == 0, done.stderr
    over_http = staff.commander.get(f"{REPORT}?day={today}")
    written = orjson.loads(out.read_bytes())
    assert str(out) in done.stdout and f"board position {written['position']}" in done.stdout
    assert {k: v for k, v in written.items() if k != "generated_at"} == {
        k: v for k, v in over_http.items() if k != "generated_at"
    }

    xlsx = tmp_path / "daily-report.xlsx"
    done = tracking(live, "report", "daily", "--day", today, "--format", "xlsx",
                    "--out", str(xlsx))
    assert done.returncode == 0, done.stderr
    book = load_workbook(xlsx, read_only=True)
    totals = board_totals(book)
    assert totals[("position", "all", "")] == written["position"]
    assert_totals_are_the_boards(
        totals, staff.commander.get(f"/api/board?position={written['position']}")
    )
    http_book = load_workbook(io.BytesIO(get(staff.commander, day=today, format="xlsx").content),
                              read_only=True)
    for sheet in ("入境点 By entry point", "隔离点 By site", "看板 Board totals"):
        assert list(book[sheet].iter_rows(values_only=True)) == list(
            http_book[sheet].iter_rows(values_only=True)
        ), sheet

    csv_out = tmp_path / "daily.csv"
    done = tracking(live, "report", "daily", "--out", str(csv_out))  # today; csv by suffix
    assert done.returncode == 0, done.stderr
    assert csv_out.read_bytes().startswith(BOM)
    assert csv_out.read_bytes().split(b"\n")[1:] and "csv" in done.stdout

    refused = tracking(live, "report", "daily", "--day", "2999-01-01", "--out",
                       str(tmp_path / "never.csv"))
    assert refused.returncode != 0 and "has not happened yet" in refused.stderr
    assert not (tmp_path / "never.csv").exists()
