"""The access table (api/policy.py) against a real server: every operation of its
/openapi.json, and every page and websocket route the schema leaves out, called once as every
caller (anonymous, a traveller, each staff role); the outcome must be the table's, and fields
the table keeps from a caller must be absent from that caller's answer. Then own/other records:
a receiver bound to one hotel, an escort on someone else's run.

The matrix sends every body as `[]` (JSON, but no body of this API is a list): a caller the
table admits gets past authorization to validation (422) and nothing is written, a caller it
refuses gets 401/403 before the body is read. So one seeded line serves every call in any order,
and the only events the matrix may write are the access-log records of the health reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from api.policy import (
    ANONYMOUS,
    CALLERS,
    FIELD_KEYS,
    POLICY,
    TRAVELLER,
    Access,
    FieldClass,
    Record,
)
from domain.staff import Role
from tests.e2e.care import DECISION, survey_answers
from tests.e2e.client import PASSWORD, Api, add_staff, event_count, traveller
from tests.e2e.conftest import Live
from tests.support import district_today
from tests.unit.test_route_roles import app_routes

SOCKET = "WS /ws/board"
HEALTH_READS = (
    "GET /api/journeys/{journey_id}/health-record",
    "GET /api/journeys/{journey_id}/contacts",
)


@dataclass
class Member:
    username: str
    api: Api

    @property
    def token(self) -> str:
        return str(self.api.http.headers["Authorization"]).split()[1]


def sign_in(live: Live, role: Role) -> Member:
    username = add_staff(live.settings, role)
    return Member(username, Api(live.url, session(live, username)))


def session(live: Live, username: str) -> str:
    answer = httpx.post(f"{live.url}/api/auth/token",
                        json={"username": username, "password": PASSWORD})
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def bind_to_sites(admin: Api, username: str, *sites: str) -> None:
    response = admin.http.patch(f"/api/staff/{username}", json={
        "site_codes": list(sites), "reason": "works at this hotel's door"})
    assert response.status_code == 200, response.text


@dataclass
class Line:
    """One seeded line: hotel A's traveller checked in under an extended order and surveyed,
    a second one of the same party at A's door, hotel B's traveller on the road with another
    escort, one waiting for dispatch, one referred to hospital."""

    live: Live
    staff: dict[str, Member]  # by role; the receiver is bound to hotel A, the escort runs R
    escort_b: Member  # the escort of hotel B's run
    entry: str
    hotel_a: str
    hotel_b: str
    run_a: str
    run_b: str
    at_a: str  # checked in at A
    at_a_door: str  # arrived at A, not checked in yet
    on_road_b: str  # dispatched to B, on B's run
    code_a: str  # at_a's personal code
    transfer: str


def _code(status_url: str) -> str:
    return status_url.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def line(live: Live) -> Line:
    tag = uuid4().hex[:6].upper()
    entry, hotel_a, hotel_b = f"EP-{tag}", f"HA-{tag}", f"HB-{tag}"
    plates = [f"粤A·{tag}{i}" for i in range(2)]
    staff = {role.value: sign_in(live, role) for role in Role}
    escort_b = sign_in(live, Role.ESCORT)
    admin, screener, dispatcher = (staff[r].api for r in ("admin", "screener", "dispatcher"))
    admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T2"}, expect=201)
    for hotel in (hotel_a, hotel_b):
        admin.post("/api/sites", {"code": hotel, "name": "荔湾酒店", "kind": "hotel",
                                  "rooms": ["301", "302", "303"]}, expect=201)
    bind_to_sites(admin, staff["receiver"].username, hotel_a)
    for plate in plates:
        admin.post("/api/vehicles", {"plate": plate, "seats": 12}, expect=201)

    public = Api(live.url)

    def register(*people: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = public.post(
            "/api/registrations", {"entry_point": entry, "travellers": list(people)},
            expect=201)
        for journey in answer["journey_ids"]:
            screener.post(f"/api/journeys/{journey}/screening",
                          {"risk": "low", "temperature": 36.7})
        return answer

    family = register(traveller(f"M{tag}1", "王小明"), traveller(f"M{tag}2", "王𠮷"))
    at_a, at_a_door = family["journey_ids"]
    on_road_b = register(traveller(f"M{tag}3", "李四"))["journey_ids"][0]
    waiting = register(traveller(f"M{tag}4", "张三"))["journey_ids"][0]
    referred = register(traveller(f"M{tag}5", "赵六"))["journey_ids"][0]

    def run_for(escort: Member, plate: str, journey: str, hotel: str) -> str:
        run = str(dispatcher.post("/api/runs", {"plate": plate, "escort": escort.username,
                                                "entry_point": entry}, expect=201)["run_id"])
        dispatcher.post(f"/api/journeys/{journey}/dispatch", {"site": hotel, "run_id": run})
        return run

    run_a = run_for(staff["escort"], plates[0], at_a, hotel_a)
    run_b = run_for(escort_b, plates[1], on_road_b, hotel_b)
    for journey, run, escort in ((at_a, run_a, staff["escort"]),
                                 (at_a_door, run_a, staff["escort"]),
                                 (on_road_b, run_b, escort_b)):
        escort.api.post(f"/api/journeys/{journey}/boarding",
                        {"run_id": run, "scan_id": f"car-{uuid4()}"})
    for run, escort in ((run_a, staff["escort"]), (run_b, escort_b)):
        escort.api.post(f"/api/runs/{run}/departure", {})
    staff["escort"].api.post(f"/api/runs/{run_a}/arrival", {})
    staff["receiver"].api.post(f"/api/journeys/{at_a}/check-in", {
        "site": hotel_a, "scan_id": f"door-{uuid4()}", "start_quarantine": True})
    surveyor = staff["surveyor"].api
    surveyor.post(f"/api/journeys/{at_a}/quarantine/extension",
                  dict(DECISION, planned_end=str(district_today() + timedelta(days=21))))
    surveyor.post(f"/api/journeys/{at_a}/survey", {"risk": "low", "answers": survey_answers()})
    transfer = screener.post(f"/api/journeys/{referred}/hospital-referral",
                             {"reason": "fever at the desk"})["transfer_ids"][0]
    assert waiting  # waits for dispatch: the console lists its party with its risk
    staff["commander"].api.wait_for_views()
    return Line(live, staff, escort_b, entry, hotel_a, hotel_b, run_a, run_b, at_a, at_a_door,
                on_road_b, _code(family["status_urls"][0]), str(transfer))


# -- the matrix ---------------------------------------------------------------------------


def _operations(base_url: str) -> dict[str, dict[str, Any]]:
    """Every operation: the schema's, then the app's routes it leaves out (pages, socket)."""
    schema = httpx.get(f"{base_url}/openapi.json").json()
    operations = {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }
    for key in app_routes():
        operations.setdefault(key, {})
    return operations


def _path(key: str, line: Line) -> str:
    template = key.split(" ", 1)[1]
    if template.startswith("/api/entry-points/") or template.startswith("/r/"):
        code = line.entry
    elif template.startswith("/api/sites/"):
        code = line.hotel_a
    else:
        code = line.code_a  # a personal code: the traveller's pages, the scanner
    values = {"journey_id": line.at_a, "run_id": line.run_a, "transfer_id": line.transfer,
              "code": code, "entry_point": line.entry, "path": "staff/session.js",
              "username": line.escort_b.username}
    return template.format(**values)


def _query(operation: dict[str, Any], line: Line) -> dict[str, str]:
    query: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter["in"] != "query":
            continue
        name, schema = parameter["name"], parameter.get("schema", {})
        if name == "run_id":
            query[name] = line.run_a
        elif name == "wait":
            query[name] = "0"  # the long poll answers at once
        elif parameter.get("required"):
            query[name] = str(schema["enum"][0]) if "enum" in schema else "x"
    return query


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def _shown(key: str, field_class: FieldClass, answer: Any) -> bool:
    keys = FIELD_KEYS[field_class]
    if field_class is FieldClass.JOURNEY_ROWS:  # the board's own sections
        return bool(keys & set(answer))
    return bool(keys & set(_keys(answer)))


def _call(http: httpx.Client, key: str, operation: dict[str, Any], line: Line) -> httpx.Response:
    method = key.split(" ", 1)[0]
    url, query = _path(key, line), _query(operation, line)
    if method == "GET":
        return http.get(url, params=query)
    if "requestBody" in operation:
        return http.request(method, url, params=query, json=[])
    return http.request(method, url, params=query, data={})  # a page's form, or no body


def _socket(line: Line, token: str) -> tuple[int | None, dict[str, Any] | None]:
    url = line.live.url.replace("http://", "ws://", 1) + "/ws/board"
    with connect(url, open_timeout=10, max_size=2**26) as ws:
        ws.send(orjson.dumps({"token": token, "after": None}).decode())
        try:
            return None, orjson.loads(ws.recv(timeout=10))
        except ConnectionClosed:
            return ws.close_code, None


def test_every_operation_as_every_caller_gets_what_the_table_says(line: Line) -> None:
    live = line.live
    operations = _operations(live.url)
    assert sorted(set(operations) - set(POLICY)) == [], "operations missing from the table"
    assert sorted(set(POLICY) - set(operations)) == [], "rows with no operation"
    clients = {caller: httpx.Client(base_url=live.url, timeout=30) for caller in CALLERS}
    # Sessions of their own: the matrix signs them out at the end.
    tokens = {role: session(live, member.username) for role, member in line.staff.items()}
    for role, token in tokens.items():
        clients[role].headers["Authorization"] = f"Bearer {token}"
    before = event_count(live.settings)
    wrong: list[str] = []
    # Signing out ends the caller's session: last, so every other call still has it.
    for key, operation in sorted(operations.items(), key=lambda o: ("sign-out" in o[0], o[0])):
        rule = POLICY[key]
        for caller in CALLERS:
            access = rule.of(caller)
            if key == SOCKET:
                token = tokens.get(caller, "")
                closed, first = _socket(line, token)
                status = {4401: 401, 4403: 403}.get(closed or 0, 200 if first else 500)
                answer = first.get("board") if first else None
            else:
                response = _call(clients[caller], key, operation, line)
                status = response.status_code
                is_json = response.headers.get("content-type", "").startswith(
                    "application/json")
                answer = response.json() if is_json and status == 200 else None
            if access is Access.DENY:
                expected = {401} if caller in (ANONYMOUS, TRAVELLER) else {403}
                if status not in expected:
                    wrong.append(f"{key} as {caller}: {status}, the table says deny")
            elif status in (401, 403) or status >= 500:
                wrong.append(f"{key} as {caller}: {status}, the table says {access.name}")
            if answer is None or key == "GET /openapi.json":  # the schema names, holds none
                continue
            for field_class, granted in rule.fields.items():
                if _shown(key, field_class, answer) != (caller in granted):
                    wrong.append(f"{key} as {caller}: {field_class.value} "
                                 f"{'shown' if caller not in granted else 'missing'}")
            if FieldClass.HEALTH not in rule.fields and _shown(key, FieldClass.HEALTH, answer):
                wrong.append(f"{key} as {caller}: health data in the answer")
    assert wrong == [], '\n'.join(wrong)
    # Nothing was written but the access log of each admitted health read.
    admitted = sum(len(POLICY[k].staff_roles) for k in HEALTH_READS)
    assert event_count(live.settings) - before == admitted


# -- own and other records (SQLite and PostgreSQL) ------------------------------------------


def _refused(api: Api, path: str, body: dict[str, Any] | None, rule: str) -> None:
    response = api.http.get(path) if body is None else api.http.post(path, json=body)
    assert response.status_code == 403, (path, response.status_code, response.text)
    assert rule in response.json()["detail"]


def test_a_receiver_bound_to_a_hotel_acts_only_on_its_travellers(line: Line) -> None:
    receiver = line.staff["receiver"].api
    before = event_count(line.live.settings)
    rule = "act only on travellers dispatched to their sites"
    other = line.on_road_b
    _refused(receiver, f"/api/journeys/{other}", None, rule)
    _refused(receiver, f"/api/journeys/{other}/timeline", None, rule)
    _refused(receiver, f"/api/journeys/{other}/check-in",
             {"site": line.hotel_a, "scan_id": f"door-{uuid4()}"}, rule)
    _refused(receiver, f"/api/journeys/{other}/custody/acceptance",
             {"custodian": f"receiver:{UUID(int=1)}"}, rule)
    _refused(receiver, f"/api/sites/{line.hotel_b}/door-labels.pdf", None,
             "act only at their sites")
    # Their own traveller, but at the other hotel's door: refused by the door in the body.
    _refused(receiver, f"/api/journeys/{line.at_a_door}/check-in",
             {"site": line.hotel_b, "scan_id": f"door-{uuid4()}"}, "act only at their sites")
    assert event_count(line.live.settings) == before  # no refusal wrote anything

    assert receiver.get(f"/api/journeys/{line.at_a}")["stage"] == "under_quarantine"
    checked = receiver.post(f"/api/journeys/{line.at_a_door}/check-in",
                            {"site": line.hotel_a, "scan_id": f"door-{uuid4()}"})
    assert checked["outcome"] == "accepted"
    # A receiver bound to no hotel works at every hotel.
    unbound = sign_in(line.live, Role.RECEIVER).api
    assert unbound.get(f"/api/journeys/{other}")["stage"] == "in_transit"


def test_an_escort_acts_only_on_their_own_run(line: Line) -> None:
    escort = line.staff["escort"].api
    before = event_count(line.live.settings)
    rule = "escorts act only on their own runs"
    for path in ("departure", "arrival"):
        _refused(escort, f"/api/runs/{line.run_b}/{path}", {}, rule)
    _refused(escort, f"/api/runs/{line.run_b}", None, rule)
    _refused(escort, f"/api/runs/{line.run_b}/manifest.pdf", None, rule)
    _refused(escort, f"/api/journeys/{line.on_road_b}/boarding",
             {"run_id": line.run_b, "scan_id": f"car-{uuid4()}"}, rule)
    _refused(escort, f"/api/scans/{line.code_a}?handoff=boarding&run_id={line.run_b}", None,
             rule)
    assert event_count(line.live.settings) == before

    assert escort.get(f"/api/runs/{line.run_a}")["escort"] == line.staff["escort"].username
    # The run's own escort and the dispatcher drive B's run on.
    line.escort_b.api.post(f"/api/runs/{line.run_b}/arrival", {})


def test_a_personal_code_opens_its_own_record_and_no_other(line: Line) -> None:
    code_rows = [k for k, r in POLICY.items() if Record.OWN_CODE in r.records]
    assert len(code_rows) == 4  # the status API, the code page and its two QR images
    staff = line.staff["commander"].api.http  # a staff token opens nothing more through it
    for key in code_rows:
        template = key.split(" ", 1)[1]
        for http in (httpx.Client(base_url=line.live.url), staff):
            assert http.get(template.format(code=line.code_a)).status_code == 200, key
            # Unknown and revoked codes look alike (tests of tokens cover expiry and revocation).
            unknown = http.get(template.format(code="x" * 43))
            assert unknown.status_code == 404, (key, unknown.status_code)
