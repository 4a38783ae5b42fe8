"""Erasure that is real, end to end on PostgreSQL: travellers registered with sentinel values
in every personal field go down the whole line over HTTP, `tracking retention run` (the real
CLI) erases them, and then a `pg_dump` of the database, the event log decrypted with the store
key (as an operator holding it could), every view, every export and the server's captured logs
(with every request line) hold none of the sentinels; the counts and times are unchanged, and
a rebuild of every view from zero gives the same views.

Before the erasure the same reads must show the sentinels, so that the test can fail."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import openpyxl
import psycopg
import pypdf
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from projections.schema import VIEW_TABLES
from tests.databases import fresh_settings
from tests.e2e.care import DECISION, Staff, open_place, staff_of, survey_answers
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live
from tests.e2e.server import ROOT, LiveServer
from tracking.persistence import events_table
from tracking.store_cipher import store_cipher

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

# One value per personal field, each unique in the whole store; names in two scripts, one
# with a character that has a decomposed form (the store must not hold it in either form).
NAME_NATIVE = ("哨兵甲乙", "哨兵丙丁", "哨兵戊己")
NAME_LATIN = ("QUOXXA ZOË", "QUOXXB SENT", "QUOXXC SENT")
NUMBERS = ("QX7731950", "QX7731951", "QX7731952")
PHONES = ("+447911190351", "+447911190352", "+447911190353")
ADDRESS = "77 Quoxxsentinel Road"
CAME_FROM = "Quoxxville"
FLIGHT = "QX7731"
TRAVEL_PLACE = "Quoxxtown, UK"
CONTACT_NAME = "Quoxxcontact Person"
CONTACT_PHONE = "+447911190359"
SURVEY_NOTE = "Quoxxsurveynote"
RISK_REASON = "Quoxxriskreason"
LAB_NOTE = "Quoxxlabnote"
EXTEND_REASON = "Quoxxextendreason"
RELEASE_REASON = "Quoxxreleasereason"
REFERRAL_REASON = "Quoxxreferralreason"
CANCEL_REASON = "Quoxxcancelreason"
SENTINELS = (
    *NAME_NATIVE, *NAME_LATIN, *NUMBERS, *PHONES, ADDRESS, CAME_FROM, FLIGHT, TRAVEL_PLACE,
    CONTACT_NAME, CONTACT_PHONE, SURVEY_NOTE, RISK_REASON, LAB_NOTE, EXTEND_REASON,
    RELEASE_REASON, REFERRAL_REASON, CANCEL_REASON,
)


def forms(value: str) -> set[str]:
    """The ways a value can be written down: NFC and NFD, and JSON with \\uXXXX escapes."""
    out = set()
    for norm in ("NFC", "NFD"):
        text = unicodedata.normalize(norm, value)
        out |= {text, json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    return out


def found_in(text: str, sentinels: tuple[str, ...] = SENTINELS) -> set[str]:
    return {s for s in sentinels if any(f in text for f in forms(s))}


def pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def xlsx_text(book: bytes) -> str:
    workbook = openpyxl.load_workbook(io.BytesIO(book), read_only=True)
    return "\n".join(
        str(cell) for sheet in workbook for row in sheet.iter_rows(values_only=True)
        for cell in row if cell is not None
    )


def cli(live: Live, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRACKING_DATA_DIR": str(live.settings.data_dir),
           "TRACKING_DATABASE_URL": live.settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "tracking.cli", *args], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False,
    )


def pg_dump(live: Live) -> str:
    found = shutil.which("pg_dump") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))), None
    )
    assert found, "pg_dump not found"
    p = live.settings.postgres_params
    dumped = subprocess.run(
        [found, "-h", p["host"], "-p", p["port"], "-U", p["user"], "-d", p["dbname"]],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return dumped.stdout


def decrypted_log(live: Live) -> str:
    """The event log as an operator holding the store key reads it."""
    cipher = store_cipher(live.settings)
    with psycopg.connect(live.settings.postgres_conninfo) as conn:
        rows = conn.execute(f"SELECT state FROM {events_table(live.settings)}").fetchall()
    return "\n".join(cipher.decrypt(bytes(r[0])).decode() for r in rows)


def opened_log(live: Live) -> str:
    """The log as an operator holding the store key and the database's data keys reads it:
    every sealed personal field opened with its traveller's key, where that key still exists."""
    cipher = store_cipher(live.settings)
    with psycopg.connect(live.settings.postgres_conninfo) as conn:
        rows = conn.execute(
            f"SELECT originator_id, state FROM {events_table(live.settings)}"
        ).fetchall()
        keys = {UUID(k): bytes(v) for k, v in conn.execute(
            "SELECT subject_id, data_key FROM personal_data_keys").fetchall()}
    opened = []
    for originator, state in rows:
        plain = cipher.decrypt(bytes(state)).decode()
        opened.append(plain)
        key = keys.get(UUID(str(originator)))
        for sealed in re.findall(r"v1:[A-Za-z0-9+/=]+", plain):
            if key is not None:
                raw = base64.b64decode(sealed[3:])
                opened.append(AESGCM(key).decrypt(raw[:12], raw[12:], originator.bytes).decode())
    return "\n".join(opened)


def views(live: Live) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table's rows. A counter row at zero equals no row: followed live, a count
    that went up and down keeps its row; rebuilt in one page, it never had one."""
    tables = {}
    with psycopg.connect(live.settings.postgres_conninfo) as conn:
        for t in VIEW_TABLES:
            rows = conn.execute(
                f"SELECT {', '.join(t.names)} FROM {t.name} ORDER BY {', '.join(t.key)}"
            ).fetchall()
            counters = [t.names.index(c) for c in t.additive]
            tables[t.name] = [r for r in rows if not counters or any(r[i] for i in counters)]
    return tables


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """A server of its own that logs every request line too (item 6: logs hold no sentinel)."""
    with fresh_settings("postgres", tmp_path) as settings:
        env = {"TRACKING_DATA_DIR": str(tmp_path), "TRACKING_DATABASE_URL": settings.database_url,
               "TRACKING_ALERTS": "off"}
        server = LiveServer(env, log_level="info")
        try:
            yield Live(settings, server)
        finally:
            server.stop()


class Reads:
    """Every read that can show a traveller, as text, gathered in one pass."""

    def __init__(self, live: Live, staff: Staff) -> None:
        self.live, self.staff = live, staff
        self.texts: dict[str, str] = {}

    def get(self, name: str, api: Api, path: str, kind: str = "text") -> httpx.Response:
        response = api.http.get(path)
        body = response.content
        if response.status_code == 200 and kind == "pdf":
            text = pdf_text(body)
        elif response.status_code == 200 and kind == "xlsx":
            text = xlsx_text(body)
        else:
            text = body.decode("utf-8", errors="replace")
        self.texts[name] = text
        return response

    def everything(self) -> set[str]:
        return set().union(*(found_in(t) for t in self.texts.values()))


def read_all(reads: Reads, journeys: list[str], place: Any, run: str, codes: list[str],
             day: str) -> None:
    s = reads.staff
    reads.get("dispatch console", s.dispatcher, "/api/dispatch")
    reads.get("board", s.commander, "/api/board")
    reads.get("survey worklist", s.surveyor, "/api/survey/worklist")
    reads.get("arrivals.csv", s.screener, f"/api/entry-points/{place.entry}/arrivals.csv")
    reads.get("manifest", s.dispatcher, f"/api/runs/{run}/manifest.pdf", "pdf")
    reads.get("run", s.dispatcher, f"/api/runs/{run}")
    reads.get("door labels", s.receiver, f"/api/sites/{place.hotel}/door-labels.pdf", "pdf")
    reads.get("tests due", s.receiver, f"/api/quarantine/tests-due?site={place.hotel}")
    reads.get("transfers", s.dispatcher, "/api/transfers")
    reads.get("report json", s.commander, f"/api/reports/daily?day={day}&format=json")
    reads.get("report csv", s.commander, f"/api/reports/daily?day={day}&format=csv")
    reads.get("report xlsx", s.commander, f"/api/reports/daily?day={day}&format=xlsx", "xlsx")
    for i, journey in enumerate(journeys):
        reads.get(f"journey {i}", s.commander, f"/api/journeys/{journey}")
        reads.get(f"timeline {i}", s.commander, f"/api/journeys/{journey}/timeline")
        reads.get(f"quarantine {i}", s.surveyor, f"/api/journeys/{journey}/quarantine")
        reads.get(f"health record {i}", s.surveyor,
                  f"/api/journeys/{journey}/health-record?purpose=survey")
        reads.get(f"contacts {i}", s.surveyor,
                  f"/api/journeys/{journey}/contacts?purpose=contact_tracing")
    for i, code in enumerate(codes):
        reads.get(f"status page {i}", Api(reads.live.url), f"/t/{code}")
        reads.get(f"status api {i}", Api(reads.live.url), f"/api/travellers/{code}")


def counts(staff: Staff, day: str) -> tuple[Any, ...]:
    board = staff.commander.get("/api/board")
    report = staff.commander.get(f"/api/reports/daily?day={day}&format=json")
    for moment in ("at", "views_position", "position", "generated_at", "rebuilding"):
        report.pop(moment, None)  # when it was read, not what it counts
        report.get("board", {}).pop(moment, None)
    return board["stages"], board.get("sites"), board.get("legs"), report


def test_erased_travellers_leave_no_trace_in_store_views_exports_or_logs(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    people = [
        traveller(NUMBERS[i], NAME_NATIVE[i], name_latin=NAME_LATIN[i], phone=PHONES[i],
                  flight=FLIGHT, came_from=CAME_FROM, destination_address=ADDRESS,
                  travel_history=[{"place": TRAVEL_PLACE}])
        for i in range(3)
    ]
    registered = [Api(live.url).post(
        "/api/registrations", {"entry_point": place.entry, "travellers": [p]}, expect=201
    ) for p in people]
    released, referred, cancelled = (r["journey_ids"][0] for r in registered)
    codes = [r["status_urls"][0].rsplit("/t/", 1)[1] for r in registered]

    # The whole line for two of them; the third is cancelled at the desk.
    for journey in (released, referred, cancelled):
        staff.screener.post(f"/api/journeys/{journey}/screening",
                            {"risk": "medium", "temperature": 36.9})
    run = staff.dispatcher.post(
        "/api/runs", {"plate": place.plates[0], "escort": "escort-1", "entry_point": place.entry},
        expect=201,
    )["run_id"]
    for journey in (released, referred):
        staff.dispatcher.post(f"/api/journeys/{journey}/dispatch",
                              {"site": place.hotel, "run_id": run})
        staff.escort.post(f"/api/journeys/{journey}/boarding",
                          {"run_id": run, "scan_id": f"car-{journey}"})
    staff.dispatcher.post(f"/api/journeys/{cancelled}/cancellation", {"reason": CANCEL_REASON})
    staff.escort.post(f"/api/runs/{run}/departure", {})
    staff.escort.post(f"/api/runs/{run}/arrival", {})
    for journey in (released, referred):
        staff.receiver.post(f"/api/journeys/{journey}/check-in",
                            {"site": place.hotel, "scan_id": f"door-{journey}"})
        staff.receiver.post(f"/api/journeys/{journey}/quarantine", {})
        staff.surveyor.post(f"/api/journeys/{journey}/survey", {
            "risk": "medium",
            "answers": survey_answers(
                travel_history=[{"place": TRAVEL_PLACE}],
                close_contacts=[{"name": CONTACT_NAME, "relation": "friend",
                                 "phone": CONTACT_PHONE}],
                risk_reason=RISK_REASON, notes=SURVEY_NOTE,
            ),
        })
        staff.receiver.post(f"/api/journeys/{journey}/test-results",
                            {"day": 1, "result": {"outcome": "negative", "note": LAB_NOTE}})
    order = staff.surveyor.get(f"/api/journeys/{released}/quarantine")
    later = (date.fromisoformat(order["planned_end"]) + timedelta(days=7)).isoformat()
    staff.surveyor.post(f"/api/journeys/{released}/quarantine/extension",
                        dict(DECISION, reason=EXTEND_REASON, planned_end=later))

    day = date.fromisoformat(order["starts_on"]).isoformat()
    staff.commander.wait_for_views()
    # While they are in their rooms: the door labels, the manifest and every other read.
    before = Reads(live, staff)
    read_all(before, [released, referred, cancelled], place, run, codes, day)
    staff.surveyor.post(f"/api/journeys/{referred}/hospital-referral",
                        {"reason": REFERRAL_REASON, "urgency": "urgent"})
    staff.receiver.post(f"/api/journeys/{released}/release",
                        dict(DECISION, reason=RELEASE_REASON))
    staff.commander.wait_for_views()
    ended = Reads(live, staff)
    read_all(ended, [released, referred, cancelled], place, run, codes, day)
    before.texts |= {f"ended {k}": v for k, v in ended.texts.items()}
    # The reads (with the health record's) show every typed value: the test can fail.
    shown_before = before.everything()
    assert found_in(before.texts["door labels"] + before.texts["manifest"]) & {
        *NAME_NATIVE, *NAME_LATIN
    }
    log_before = decrypted_log(live)
    health = found_in(log_before)
    # The event log's plaintext (store key only) never held a personal field, erased or not.
    assert health == set(), health
    # With the data keys every value is there, sealed: erasure has something to destroy.
    assert found_in(opened_log(live)) == set(SENTINELS)
    # And the reads show them to the staff who may see them (documents only masked, the
    # flight only as a keyed hash, the reasons of exits nowhere but the health record).
    shown = {*NAME_NATIVE, *NAME_LATIN, *PHONES[:2], ADDRESS, CAME_FROM, TRAVEL_PLACE,
             CONTACT_NAME, CONTACT_PHONE, SURVEY_NOTE, RISK_REASON, LAB_NOTE, EXTEND_REASON,
             RELEASE_REASON}
    assert shown - shown_before == set()
    counts_before = counts(staff, day)

    done = cli(live, "retention", "run", "--days", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 travellers erased"), done.stdout
    again = cli(live, "retention", "run", "--days", "0")
    assert again.stdout.startswith("0 travellers erased"), again.stdout  # idempotent
    staff.commander.wait_for_views()

    after = Reads(live, staff)
    read_all(after, [released, referred, cancelled], place, run, codes, day)
    leaks = {name: found_in(text) for name, text in after.texts.items() if found_in(text)}
    assert leaks == {}
    # The personal code now answers as an unknown one does.
    unknown = Api(live.url).http.get("/api/travellers/" + "A" * 43)
    for code in codes:
        answer = Api(live.url).http.get(f"/api/travellers/{code}")
        assert (answer.status_code, answer.content) == (unknown.status_code, unknown.content)
    # Erased travellers say so where their names were.
    assert "(erased)" in after.texts["dispatch console"] or "(erased)" in after.texts["run"]
    counts_after = counts(staff, day)
    for name, was, now in zip(("stages", "sites", "legs", "report"), counts_before, counts_after,
                              strict=True):
        assert now == was, (name, json.dumps(was, default=str), json.dumps(now, default=str))

    dump = pg_dump(live)
    assert "personal_data_keys" in dump and "COPY" in dump
    assert found_in(dump) == set()
    assert found_in(decrypted_log(live)) == set()
    assert found_in(opened_log(live)) == set()  # their keys are gone
    logs = live.server.log.read_text(errors="replace")
    assert "GET /api/dispatch" in logs  # request lines were captured
    assert found_in(logs) == set()

    # A rebuild of every view from zero gives the same views.
    snapshot = views(live)
    rebuilt = cli(live, "projections", "rebuild", "--fresh")
    assert rebuilt.returncode == 0, rebuilt.stderr
    staff.commander.wait_for_views()
    assert views(live) == snapshot
    assert found_in(str(snapshot)) == set()
