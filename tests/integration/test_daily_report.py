"""The commander's daily report on real stores (every body on SQLite and on PostgreSQL).

A synthetic log, a few hospital referrals through the application and an alert sweep a day
later are projected; the report's figures are then recounted from the library's own reading of
the log and from the aggregates as the store holds them, never from the views' logic, and its
totals must be the board's. The CSV and the XLSX must carry the same numbers.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from openpyxl import load_workbook

from domain import alerts
from domain.alerts import Alert
from domain.calendar import local_date
from domain.errors import InvalidInput
from domain.journey import Journey
from domain.site import HELD, OCCUPIED, Site
from domain.stages import Stage
from domain.transfer import HospitalTransfer
from projections import synthetic
from projections.care_fold import DAILY_JOURNEY_METRICS, DAILY_TRANSFER_METRICS
from projections.projector import Projector
from projections.queries import read_alert_facts, read_board
from projections.report import (
    ARRIVALS,
    EXITS,
    HOSPITAL_TRANSFERS,
    QUARANTINE,
    read_daily_report,
    report_day,
)
from projections.report_files import CSV_HEADER, SHEETS, daily_report_csv, daily_report_xlsx
from tests.integration.test_projector import library_events
from tests.support import ctx
from tracking.alerts import AlertMonitor
from tracking.services import Services
from tracking.settings import Settings

BOM = b"\xef\xbb\xbf"
# The report's metric names are the ones the fold counts (projections/care_fold.py).
COUNTED = {*DAILY_JOURNEY_METRICS.values(), *DAILY_TRANSFER_METRICS.values(),
           "surveyed", "tests_recorded"}


def nearest_rank(values: list[int], q: float) -> int | None:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1] if ordered else None


class Recount:
    """The day's figures, from the library's events alone."""

    def __init__(self, events: list[tuple[int, Any]], day: date, sla_hours: int) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()  # (metric, entry point or "")
        self.checked_in_at_site: Counter[UUID] = Counter()
        self.door_to_door: list[int] = []
        self.late = 0
        self.overdue_raised = 0
        entry: dict[UUID, str] = {}
        transfer_entry: dict[UUID, str] = {}
        boarded: dict[UUID, datetime] = {}
        checked_in: dict[UUID, datetime] = {}
        surveyed: set[UUID] = set()
        for _, e in events:
            jid, today = e.originator_id, local_date(e.timestamp) == day
            metric = None
            if isinstance(e, Journey.Registered):
                entry[jid] = e.entry_point
                metric = "registered"
            elif isinstance(e, Journey.Screened):
                metric = "screened"
            elif isinstance(e, Journey.Boarded):
                boarded[jid] = e.timestamp
            elif isinstance(e, Journey.CheckedIn):
                checked_in[jid] = e.timestamp
                metric = "checked_in"
                if today:
                    self.checked_in_at_site[e.site_id] += 1
                    self.door_to_door.append(_minutes(boarded[jid], e.timestamp))
            elif isinstance(e, Journey.SurveyRecorded) and jid not in surveyed:
                surveyed.add(jid)
                metric = "surveyed"
                if today and e.timestamp - checked_in[jid] >= timedelta(hours=sla_hours):
                    self.late += 1
            elif isinstance(e, Journey.TestResultRecorded) and not e.correction:
                metric = "tests_recorded"
            elif type(e).__qualname__.startswith("Journey."):
                metric = DAILY_JOURNEY_METRICS.get(type(e).__name__)
            elif type(e).__qualname__.startswith("HospitalTransfer."):
                if isinstance(e, HospitalTransfer.Requested):
                    transfer_entry[jid] = e.entry_point
                metric = DAILY_TRANSFER_METRICS.get(type(e).__name__)
            elif isinstance(e, Alert.Raised) and e.kind == alerts.SURVEY_OVERDUE and today:
                self.overdue_raised += 1
            if metric is not None and today:
                where = transfer_entry[jid] if metric.startswith("transfers_") else entry[jid]
                self.counts[(metric, "")] += 1
                self.counts[(metric, where)] += 1


def _minutes(start: datetime, end: datetime) -> int:
    return max(int((end - start).total_seconds() // 60), 0)


@pytest.fixture
def seeded(services: Services) -> dict[str, Any]:
    """A projected log: synthetic travellers, three sent to hospital from quarantine, and the
    alerts a monitor raises when it looks a day later (unsurveyed travellers: overdue)."""
    settings = services.settings
    world = synthetic.seed(settings, 3_000, seed=11, batch=300)
    projector = Projector(settings, page_size=700)
    try:
        in_quarantine = [j for j in world.journeys if j.stage is Stage.UNDER_QUARANTINE]
        assert len(in_quarantine) >= 3
        for journey in in_quarantine[:3]:
            # Synthetic journeys have no data key, and a referral's reason is sealed with it.
            with services.store.transaction() as cur:
                cur.execute(
                    "INSERT INTO personal_data_keys (subject_id, data_key) VALUES (?, ?)",
                    (str(journey.id), services.vault.new_key()),
                )
            services.app.refer_to_hospital(journey.id, "fever", ctx(role="receiver"))
        projector.run_once()
        monitor = AlertMonitor(services.app, lambda: read_alert_facts(services.store), settings)
        raised = monitor.sweep(datetime.now(UTC) + timedelta(hours=25)).raised
        assert raised
        projector.run_once()
    finally:
        projector.close()
    return {"world": world, "events": library_events(settings)}


def test_the_report_recounts_the_log_and_its_totals_are_the_boards(
    services: Services, seeded: dict[str, Any]
) -> None:
    assert {*ARRIVALS, *EXITS, *QUARANTINE, *HOSPITAL_TRANSFERS, "checked_in"} <= COUNTED
    store, world, events = services.store, seeded["world"], seeded["events"]
    day = local_date(events[-1][1].timestamp)
    report = read_daily_report(store, day, 24, datetime.now(UTC))
    recount = Recount(events, day, 24)
    board = read_board(store)
    codes = {s.id: s.code for s in world.sites}

    assert report["day"] == day.isoformat()
    assert report["position"] == board["position"] > 0
    assert set(report["entry_points"]) == {e.code for e in world.entry_points}

    def check(figure: dict[str, Any], metric: str) -> None:
        assert figure["total"] == recount.counts[(metric, "")], metric
        for code, n in figure["by_entry_point"].items():
            assert n == recount.counts[(metric, code)], (metric, code)
        assert sum(figure["by_entry_point"].values()) == figure["total"], metric

    for metric in ARRIVALS:
        check(report["arrivals"][metric], metric)
    check(report["transfers"]["checked_in"], "checked_in")
    assert report["transfers"]["checked_in"]["by_site"] == {
        s["code"]: recount.checked_in_at_site[UUID(s["site_id"])]
        for s in report["occupancy"]["sites"]
    }
    for metric in EXITS:
        check(report["exits"][metric], metric)
    assert report["exits"]["referred_to_hospital"]["total"] >= 3
    assert report["exits"]["released"]["total"] > 0
    for metric in QUARANTINE:
        check(report["quarantine"][metric], metric)
    for metric in HOSPITAL_TRANSFERS:
        check(report["hospital_transfers"][metric], metric)
    assert report["hospital_transfers"]["transfers_requested"]["total"] >= 3  # ours, and more

    d2d = report["transfers"]["times"]["door_to_door"]["all"]
    assert (d2d["n"], d2d["p50"], d2d["p95"]) == (
        len(recount.door_to_door), nearest_rank(recount.door_to_door, 0.5),
        nearest_rank(recount.door_to_door, 0.95),
    )
    assert d2d["n"] == report["transfers"]["checked_in"]["total"] > 0

    survey = report["survey"]
    check(survey["surveyed"], "surveyed")
    assert survey["surveyed"]["total"] > 0
    assert survey["backlog"] == board["counters"]["survey_due"] > 0
    assert survey["late"]["total"] == recount.late == 0  # surveyed at once, SLA 24 h
    assert survey["overdue_alerts_raised"]["total"] == recount.overdue_raised > 0
    assert survey["overdue_alerts_open"] == board["alert_counts"][alerts.SURVEY_OVERDUE] > 0
    # With an SLA of zero hours every first survey of the day is past it.
    strict = read_daily_report(store, day, 0, datetime.now(UTC))
    assert strict["survey"]["late"]["total"] == Recount(events, day, 0).late
    assert strict["survey"]["late"]["total"] == survey["surveyed"]["total"]

    # Standing figures: the aggregates as the store holds them, and the board's own numbers.
    journeys = [services.app.repository.get(j.id) for j in world.journeys]
    stages = Counter(j.stage.value for j in journeys)
    assert report["board"]["stages"] == {s.value: stages[s.value] for s in Stage}
    assert report["board"]["stages"] == board["stages"]
    assert report["board"]["alert_counts"] == board["alert_counts"]
    assert report["board"]["survey_due"] == board["counters"]["survey_due"]
    sites: list[Site] = [services.app.repository.get(s.id) for s in world.sites]
    total = report["occupancy"]["total"]
    assert total["sites"] == len(sites)
    assert total["capacity"] == sum(s.capacity for s in sites)
    assert total["held"] == sum(s.counts[HELD] for s in sites)
    assert total["occupied"] == sum(s.counts[OCCUPIED] for s in sites) > 0
    assert total["free"] == total["capacity"] - total["held"] - total["occupied"]
    for kind, totals in report["occupancy"]["by_kind"].items():
        assert totals["capacity"] == sum(s.capacity for s in sites if s.kind.value == kind)
    assert {s["code"] for s in report["occupancy"]["sites"]} == set(codes.values())
    assert report["board"]["occupancy"]["total"] == total

    # No personal data: the report holds no traveller's id, and only counts and codes.
    text = str(report)
    assert not any(str(j.id) in text for j in world.journeys)


def _csv_figures(body: bytes) -> dict[tuple[str, str, str, str], str]:
    assert body.startswith(BOM)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_HEADER
    found = {}
    for section, figure, label, dimension, key, _name, value in rows[1:]:
        assert label
        found[(section, figure, dimension, key)] = value
    assert len(found) == len(rows) - 1  # one row per figure
    return found


def _sheet(book: Any, title: str) -> list[list[Any]]:
    return [list(row) for row in book[title].iter_rows(values_only=True)]


def test_the_csv_and_the_xlsx_carry_the_reports_numbers(
    services: Services, seeded: dict[str, Any]
) -> None:
    store = services.store
    day = local_date(seeded["events"][-1][1].timestamp)
    report = read_daily_report(store, day, 24, datetime.now(UTC))
    board = read_board(store)

    figures = _csv_figures(daily_report_csv(report))
    assert figures[("report", "position", "all", "")] == str(board["position"])
    registered = report["arrivals"]["registered"]
    assert figures[("arrivals", "registered", "all", "")] == str(registered["total"])
    for code, n in registered["by_entry_point"].items():
        assert figures[("arrivals", "registered", "entry_point", code)] == str(n)
    for stage, n in board["stages"].items():
        assert figures[("board", "journeys", "stage", stage)] == str(n)
    assert figures[("board", "survey_due", "all", "")] == str(board["counters"]["survey_due"])

    book = load_workbook(io.BytesIO(daily_report_xlsx(report)), read_only=True)
    assert book.sheetnames == list(SHEETS)
    totals = _sheet(book, "看板 Board totals")
    assert totals[0] == ["指标 figure", "说明 label", "维度 dimension", "键 key", "数值 value"]
    cells = {(figure, dimension, key or ""): value for figure, _, dimension, key, value
             in totals[1:]}
    assert cells[("position", "all", "")] == board["position"]
    assert cells[("at", "all", "")] == board["at"]
    assert {k: cells[("journeys", "stage", k)] for k in board["stages"]} == board["stages"]
    assert cells[("survey_due", "all", "")] == board["counters"]["survey_due"]
    assert {k: cells[("open_alerts", "alert_kind", k)] for k in alerts.KINDS} == (
        board["alert_counts"]
    )
    sites = board["sites"].values()
    for figure in ("capacity", "held", "occupied", "free"):
        assert cells[(figure, "all", "")] == sum(s[figure] for s in sites), figure
        for kind in ("hotel", "home"):
            assert cells[(figure, "site_kind", kind)] == sum(
                s[figure] for s in sites if s["kind"] == kind
            ), (figure, kind)

    summary = {(row[0], row[1]): row[3] for row in _sheet(book, "汇总 Summary")[1:]}
    assert summary[("arrivals", "registered")] == registered["total"]
    assert summary[("transfers", "checked_in")] == report["transfers"]["checked_in"]["total"]
    assert summary[("exits", "released")] == report["exits"]["released"]["total"]
    assert summary[("survey", "backlog")] == board["counters"]["survey_due"]

    by_entry = _sheet(book, "入境点 By entry point")
    header = by_entry[0]
    column = header.index("登记 registered")
    assert {row[0]: row[column] for row in by_entry[1:]} == registered["by_entry_point"]
    assert sum(row[column] for row in by_entry[1:]) == registered["total"]
    by_site = _sheet(book, "隔离点 By site")
    occupied = by_site[0].index("在住 occupied")
    assert sum(row[occupied] for row in by_site[1:]) == cells[("occupied", "all", "")]


def test_days_asked_for_and_a_quiet_day(services: Services, seeded: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    today = local_date(now)
    assert report_day(None, now) == today
    assert report_day(date(2000, 1, 1), now) == date(2000, 1, 1)
    with pytest.raises(InvalidInput, match="has not happened yet"):
        report_day(today + timedelta(days=1), now)
    with pytest.raises(InvalidInput, match="from 2000-01-01"):
        report_day(date(1999, 12, 31), now)

    # A day nothing happened: zeros and no times, but the board's totals as they stand.
    quiet = read_daily_report(services.store, date(2001, 1, 1), 24, now)
    board = read_board(services.store)
    assert quiet["arrivals"]["registered"]["total"] == 0
    assert set(quiet["arrivals"]["registered"]["by_entry_point"].values()) == {0}
    assert quiet["transfers"]["times"]["door_to_door"]["all"] == {"n": 0, "p50": None,
                                                                  "p95": None}
    assert quiet["board"]["stages"] == board["stages"]
    assert quiet["survey"]["backlog"] == board["counters"]["survey_due"]
    book = load_workbook(io.BytesIO(daily_report_xlsx(quiet)), read_only=True)
    assert _sheet(book, "看板 Board totals")[1][4] == board["position"]


def test_before_any_view_exists_the_report_is_empty(store_settings: Settings) -> None:
    from tracking.sidestore import SideStore

    store = SideStore(store_settings)
    try:
        now = datetime.now(UTC)
        report = read_daily_report(store, local_date(now), 24, now)
    finally:
        store.close()
    assert report["position"] == 0
    assert report["arrivals"]["registered"]["total"] == 0
    assert set(report["board"]["stages"].values()) == {0}
    assert daily_report_csv(report).startswith(BOM)
