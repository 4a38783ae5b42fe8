"""schemathesis over every operation of /openapi.json, as every role and anonymously, against a
real server holding a seeded line: whatever it sends, 0 server errors and every answer is one
the published schema documents (status, content type and body).

schemathesis' own pytest plugin does not run under pytest 9, so hypothesis drives each
operation's strategy directly. Each generated request is sent once per caller, so the cost of
generating it is paid once, not eight times.
"""

from __future__ import annotations

import io
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import openpyxl
import pytest
import requests
import schemathesis
from fastapi.routing import APIRoute, APIWebSocketRoute
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err, Ok
from starlette.routing import Route

from api.main import ROUTERS, create_app
from tests.e2e.care import Staff, open_place, person, register, staff_of, to_room_door
from tests.e2e.conftest import Live, live_server_on
from tracking.settings import load_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLES = ("admin", "screener", "dispatcher", "escort", "receiver", "surveyor", "commander")
# Few examples per operation keep `make test` fast; TRACKING_FUZZ_EXAMPLES=50 digs deeper.
POSITIVE_EXAMPLES = int(os.environ.get("TRACKING_FUZZ_EXAMPLES", "3"))
NEGATIVE_EXAMPLES = max(POSITIVE_EXAMPLES * 2 // 3, 1)
# Served but not in /openapi.json, so not fuzzed by schema; each is tested where named.
TRAVELLER_PAGES = "travellers' HTML and QR pages: test_registration_pages.py, test_token_safety.py"
STAFF_PAGE = "a static staff page (its data comes from the fuzzed API): tests/browser/"
NOT_IN_THE_SCHEMA = {
    "WS /ws/board": "a websocket: test_board_socket.py",
    "GET /r/{entry_point}": TRAVELLER_PAGES,
    "POST /r/{entry_point}": TRAVELLER_PAGES + ", and its bad bodies below",
    "GET /t/{code}": TRAVELLER_PAGES,
    "GET /t/{code}/qr.svg": TRAVELLER_PAGES,
    "GET /t/{code}/qr.png": TRAVELLER_PAGES,
    "GET /admin/posters": STAFF_PAGE,
    "GET /board": STAFF_PAGE,
    "GET /dispatch": STAFF_PAGE,
    "GET /scan": STAFF_PAGE,
    "GET /survey": STAFF_PAGE,
    "GET /docs": "the API's documentation page",
    "GET /openapi.json": "the schema itself, which the fuzzer reads",
}
# Fixed values for parameters whose generated values would only make the run slow.
FIXED_QUERY = {
    # The long poll holds each request up to `wait` seconds (20 at most) when nothing moves.
    ("GET", "/api/dispatch/changes"): {"wait": 0},
}
# Signing out ends the caller's session: it runs last, so every other operation is fuzzed
# with live credentials.
LAST = ("POST", "/api/auth/sign-out")


@pytest.fixture(scope="module")
def fuzz_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    # One SQLite server: the storage paths are exercised on both backends elsewhere; this is
    # about the HTTP contract, and it has to stay fast.
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    with live_server_on("sqlite", data_dir, {"TRACKING_ALERTS": "off"}) as live:
        yield live


@pytest.fixture(scope="module")
def line(fuzz_live: Live) -> tuple[Staff, dict[str, list[str]]]:
    """Staff of every role and a line in motion: travellers at the desk, on a run, in a room,
    in quarantine and referred to hospital, whose ids the fuzzer mixes into paths."""
    staff = staff_of(fuzz_live)
    place = open_place(staff, rooms=6, vehicles=3)
    at_desk = register(fuzz_live, place, person("Z1000001"), person("Z1000002"))
    roomed = register(fuzz_live, place, person("Z1000003"))
    run = to_room_door(staff, place, [roomed], place.plates[0])
    staff.receiver.post(f"/api/journeys/{roomed[0]}/quarantine", {})
    sick = register(fuzz_live, place, person("Z1000004"))[0]
    staff.screener.post(f"/api/journeys/{sick}/screening", {"risk": "high", "temperature": 39})
    transfer = staff.screener.post(
        f"/api/journeys/{sick}/hospital-referral", {"reason": "fever", "urgency": "routine"}
    )["transfer_ids"][0]
    codes = [
        url.rsplit("/", 1)[1]
        for url in staff.admin.post(
            "/api/registrations",
            {"entry_point": place.entry, "travellers": [person("Z1000005")]},
            expect=201,
        )["status_urls"]
    ]
    staff.admin.wait_for_views()
    known = {
        "journey_id": [*at_desk, *roomed, sick],
        "run_id": [run],
        "transfer_id": [transfer],
        "code": [place.entry, place.hotel, *codes],
        "entry_point": [place.entry],
        "site": [place.hotel],
        "plate": place.plates,
    }
    return staff, known


def test_every_route_left_out_of_the_schema_is_named_with_its_reason() -> None:
    served = set()
    # The app's own routes (the schema) and each router's, as FastAPI nests routers.
    app_routes = create_app(load_settings({})).routes
    for route in [*app_routes, *(r for router in ROUTERS for r in router.routes)]:
        if isinstance(route, APIRoute) and route.include_in_schema:
            continue
        if isinstance(route, APIWebSocketRoute):
            served.add(f"WS {route.path}")
        elif isinstance(route, Route) and route.methods:
            served |= {f"{m} {route.path}" for m in route.methods if m != "HEAD"}
    assert served == set(NOT_IN_THE_SCHEMA)


def _credentials(staff: Staff) -> dict[str, str | None]:
    tokens: dict[str, str | None] = {
        role: getattr(staff, role).http.headers["Authorization"] for role in ROLES
    }
    return tokens | {"anonymous": None}


def _with_caller(case: Any, authorization: str | None) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif case.headers and "authorization" in case.headers:
        # Anonymous keeps whatever token the fuzzer made up: garbage must give 401, not 500.
        headers["authorization"] = case.headers["authorization"]
    case.headers = headers


def _with_known_ids(case: Any, known: dict[str, list[str]], pick: random.Random) -> None:
    """Half the time, put real ids into the path and query, so the fuzzer reaches past 404."""
    for where in (case.path_parameters, case.query):
        if not where:
            continue
        for name in list(where):
            if name in known and pick.random() < 0.5:
                where[name] = pick.choice(known[name])


def test_every_operation_holds_its_contract_for_every_caller(
    fuzz_live: Live, line: tuple[Staff, dict[str, list[str]]]
) -> None:
    _, known = line
    # Sessions of its own: the run ends by signing its callers out.
    callers = _credentials(staff_of(fuzz_live))
    schema = schemathesis.openapi.from_url(f"{fuzz_live.url}/openapi.json")
    results = list(schema.get_all_operations())
    assert [r.err() for r in results if isinstance(r, Err)] == []  # our schema parses whole
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    operations.sort(key=lambda op: (op.method.upper(), op.path) == LAST)
    published = {(op.method.upper(), op.path) for op in operations}
    assert len(published) >= 60 and LAST in published, published
    fuzzer = Fuzzer(callers, known)
    for operation in operations:
        fuzzer.run(operation, GenerationMode.POSITIVE, POSITIVE_EXAMPLES)
        if operation.body or operation.query or operation.path_parameters:
            fuzzer.run(operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
    assert fuzzer.sent >= len(operations) * len(callers) * POSITIVE_EXAMPLES // 2
    failures = fuzzer.failures + _tracebacks(fuzz_live)
    print(f"sent {fuzzer.sent} {sorted(fuzzer.statuses.items())}; "
          f"no negative cases for {fuzzer.no_negative_cases}")
    # Reaching past the session and role checks and the 404s is what makes the run worth it.
    assert sum(n for status, n in fuzzer.statuses.items() if status < 300) >= 100
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(failures[:15])


class Fuzzer:
    def __init__(self, callers: dict[str, str | None], known: dict[str, list[str]]) -> None:
        self.callers = callers
        self.known = known
        self.session = requests.Session()
        self.failures: list[str] = []
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.no_negative_cases: list[tuple[str, str]] = []

    def run(self, operation: Any, mode: GenerationMode, examples: int) -> None:
        key = (operation.method.upper(), operation.path)

        @given(case=operation.as_strategy(mode, query=FIXED_QUERY.get(key)), seed=st.integers())
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any, seed: int) -> None:
            _with_known_ids(case, self.known, random.Random(seed))
            generated = dict(case.headers or {})
            for caller, authorization in self.callers.items():
                case.headers = dict(generated)
                _with_caller(case, authorization)
                self.sent += 1
                try:
                    answer = case.call_and_validate(session=self.session, checks=CHECKS)
                    self.statuses[answer.status_code] += 1
                # Every failure of every caller, not only the first (schemathesis raises a
                # BaseExceptionGroup when one answer fails several checks).
                except (Exception, BaseExceptionGroup) as e:
                    self.failures.append(f"{caller} {key} {mode.value}: {str(e)[:1500]}")

        try:
            call()
        except Unsatisfiable:
            # Nothing the schema forbids can be sent there (only a path id of type string,
            # say): the positive run covered the operation; say so in the report.
            assert mode is GenerationMode.NEGATIVE, key
            self.no_negative_cases.append(key)


# -- bad bodies ---------------------------------------------------------------------------------

BAD_BODY_ROUNDS = 200
SLOWEST_ANSWER_S = 2.0
MOST_GROWTH_KB = 30 * 1024
JSON = {"content-type": "application/json"}


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A body sent chunked, with no Content-Length to refuse it by."""
    for _ in range(total // size):
        yield b" " * size


def _bad_bodies(journey: str, entry: str) -> list[tuple[str, str, dict[str, Any], int]]:
    """(name, path, httpx request arguments, expected status) of each kind of bad body."""
    deep_list = b"[" * 10_000 + b"]" * 10_000
    deep_object = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    assert len(deep_object) < 64 * 1024  # under the size limit: the depth guard answers
    too_deep_field = (
        b'{"entry_point":"' + entry.encode() + b'","travellers":'
        + b"[" * 40 + b"{}" + b"]" * 40 + b"}"
    )
    survey = f"/api/journeys/{journey}/survey"
    return [
        ("declared oversized", "/api/registrations",
         {"content": b"x" * 200_000, "headers": JSON}, 413),
        ("streamed oversized", "/api/registrations",
         {"content": _chunks(160 * 1024), "headers": JSON}, 413),
        ("streamed oversized, staff", survey,
         {"content": _chunks(160 * 1024), "headers": JSON}, 413),
        ("streamed oversized plain text", "/api/registrations/lookup",
         {"content": _chunks(160 * 1024), "headers": {"content-type": "text/plain"}}, 413),
        ("streamed oversized form", f"/r/{entry}", {"content": _chunks(160 * 1024), "headers": {
            "content-type": "application/x-www-form-urlencoded"}}, 413),
        ("10,000 nested lists", "/api/registrations", {"content": deep_list, "headers": JSON}, 422),
        ("10,000 nested objects", "/api/registrations/lookup",
         {"content": deep_object, "headers": JSON}, 422),
        ("10,000 nested objects, staff", survey, {"content": deep_object, "headers": JSON}, 422),
        ("nested objects, no content type", "/api/registrations",
         {"content": deep_object}, 422),
        ("40 levels in a field", "/api/registrations",
         {"content": too_deep_field, "headers": JSON}, 422),
        ("malformed JSON", "/api/registrations", {"content": b'{"entry_point": ', "headers": JSON},
         422),
        ("invalid UTF-8", "/api/registrations",
         {"content": b'{"entry_point": "\xff\xfe\xc3("}', "headers": JSON}, 422),
        ("invalid UTF-8, staff", survey, {"content": b'{"symptoms": ["\xc0\xaf"]}',
                                          "headers": JSON}, 422),
        ("plain text", "/api/registrations/lookup",
         {"content": b'{"doc_type": "passport"}', "headers": {"content-type": "text/plain"}}, 422),
        ("XML", "/api/registrations",
         {"content": b"<registration/>", "headers": {"content-type": "application/xml"}}, 422),
        ("a form to a JSON endpoint", "/api/auth/token",
         {"data": {"username": "admin", "password": "x"}}, 422),
        ("broken multipart to the form", f"/r/{entry}",
         {"content": b"--b\r\nContent-Disposition: form-data\r\n\r\nx",
          "headers": {"content-type": "multipart/form-data; boundary=b"}}, 422),
        ("JSON to the form", f"/r/{entry}", {"content": deep_list, "headers": JSON}, 422),
    ]


def _rss_kb(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def test_bad_bodies_get_413_or_422_fast_and_the_server_does_not_grow(
    fuzz_live: Live, line: tuple[Staff, dict[str, list[str]]]
) -> None:
    staff, known = line
    cases = _bad_bodies(known["journey_id"][0], known["entry_point"][0])
    token = staff.surveyor.http.headers["Authorization"]
    pid = fuzz_live.server.process.pid
    slowest: dict[str, float] = {}
    wrong: list[str] = []

    def send_all(http: httpx.Client) -> None:
        for name, path, arguments, expected in cases:
            arguments = dict(arguments)
            if isinstance(arguments.get("content"), Iterator):
                arguments["content"] = _chunks(160 * 1024)  # a generator is spent once sent
            started = time.monotonic()
            answer = http.post(path, **arguments)
            slowest[name] = max(slowest.get(name, 0.0), time.monotonic() - started)
            if answer.status_code != expected or "detail" not in answer.text:
                wrong.append(f"{name}: {answer.status_code} {answer.text[:200]}")

    with httpx.Client(base_url=fuzz_live.url, headers={"Authorization": token}, timeout=10) as http:
        send_all(http)  # warm: first use of each path loads code and fills caches
        before = _rss_kb(pid)
        for _ in range(BAD_BODY_ROUNDS // len(cases) + 1):
            send_all(http)
        after = _rss_kb(pid)
    assert wrong == [], wrong[:10]
    assert max(slowest.values()) < SLOWEST_ANSWER_S, slowest
    assert after - before < MOST_GROWTH_KB, (before, after)
    assert fuzz_live.server.process.poll() is None  # it is still serving
    assert _tracebacks(fuzz_live) == []


def _tracebacks(live: Live) -> list[str]:
    """What the server logged as crashes: an answer can look fine while a handler died."""
    log = live.server.log.read_text(errors="replace")
    return [f"server log: {part[:1500]}" for part in log.split("Traceback")[1:]]


def test_what_the_fuzzer_found_stays_fixed(
    fuzz_live: Live, line: tuple[Staff, dict[str, list[str]]]
) -> None:
    staff, _ = line
    # A site whose name held control characters (XML cannot) broke the XLSX daily report:
    # such a name is now refused at the door, and the report drops what XLSX cannot hold.
    tag = uuid4().hex[:6].upper()
    refused = staff.admin.post(
        "/api/sites", {"code": f"H-{tag}", "name": "酒店\x01\x0b\x1f", "kind": "hotel",
                       "rooms": ["1"]}, expect=422,
    )
    assert "control" in refused["detail"]
    staff.admin.post(
        "/api/sites", {"code": f"H-{tag}", "name": "酒店", "kind": "hotel", "rooms": ["1"]},
        expect=201,
    )
    staff.admin.wait_for_views()
    xlsx = staff.commander.http.get("/api/reports/daily", params={"format": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    cells = {c for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
             for c in row}
    assert "酒店" in cells
