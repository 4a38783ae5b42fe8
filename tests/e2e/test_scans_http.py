"""A scanned personal code over HTTP: who it is, what to check, and go / check / stop, with a
machine reason code; an off-route scan posted anyway is recorded once as misdirected and moves
nothing; the scanner page carries both languages for every code."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest

from domain.handoff import OFF_ROUTE, ReasonCode
from domain.staff import Role
from domain.stages import Stage
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live

CJK = re.compile(r"[\u4e00-\u9fff]")
MISDIRECTED = "MisdirectedScanRecorded"


def test_a_scan_tells_staff_who_it_is_and_whether_to_go_on(live: Live) -> None:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    entry, hotel, plate, other = f"EP-{tag}", f"H-{tag}", f"粤A·{tag[:5]}", f"粤B·{tag[:5]}"
    admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T2"}, expect=201)
    admin.post(
        "/api/sites", {"code": hotel, "name": "荔湾酒店", "kind": "hotel", "rooms": ["305"]},
        expect=201,
    )
    for vehicle in (plate, other):
        admin.post("/api/vehicles", {"plate": vehicle, "seats": 8}, expect=201)
    family = Api(live.url).post(
        "/api/registrations",
        {"entry_point": entry, "travellers": [
            traveller(f"Q{tag}1", "王小明"), traveller(f"Q{tag}2", "王𠮷")]},
        expect=201,
    )
    lead = family["journey_ids"][0]
    code = family["status_urls"][0].rsplit("/", 1)[1]
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    receiver = Api.signed_in(live.url, live.settings, Role.RECEIVER)

    at_desk = screener.get(f"/api/scans/{code}?handoff=desk&entry_point={entry}")
    assert at_desk["verdict"] == "go" and at_desk["name_native"] == "王小明"
    assert at_desk["reason_code"] == "screen"
    assert at_desk["document_last4"] == f"{tag}1"[-4:] and at_desk["party_size"] == 2
    elsewhere = screener.get(f"/api/scans/{code}?handoff=desk&entry_point=EP-OTHER")
    assert (elsewhere["verdict"], elsewhere["reason_code"]) == ("stop", "other_entry_point")
    for member in family["journey_ids"]:
        screener.post(f"/api/journeys/{member}/screening", {"risk": "low"})
    dispatcher.post(f"/api/journeys/{lead}/destination", {"site": hotel})
    run = dispatcher.post(
        "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": entry}, expect=201
    )
    wrong = dispatcher.post(
        "/api/runs", {"plate": other, "escort": "escort-2", "entry_point": entry}, expect=201
    )
    no_seat = escort.get(f"/api/scans/{code}?handoff=boarding&run_id={run['run_id']}")
    assert (no_seat["verdict"], no_seat["reason_code"]) == ("stop", "no_seat")
    dispatcher.post(f"/api/journeys/{lead}/seats", {"run_id": run["run_id"]})

    right_door = escort.get(f"/api/scans/{code}?handoff=boarding&run_id={run['run_id']}")
    assert (right_door["verdict"], right_door["plate"]) == ("go", plate)
    assert right_door["reason_code"] == "board"
    assert (right_door["destination_name"], right_door["room"]) == ("荔湾酒店", "305")
    wrong_door = escort.get(f"/api/scans/{code}?handoff=boarding&run_id={wrong['run_id']}")
    assert wrong_door["verdict"] == "stop" and "wrong vehicle" in wrong_door["reason"]
    assert wrong_door["reason_code"] == "wrong_vehicle"
    assert wrong_door["plate"] == plate  # where the traveller belongs, for the red screen
    too_early = receiver.get(f"/api/scans/{code}?handoff=check_in&site={hotel}")
    assert (too_early["verdict"], too_early["reason_code"]) == ("stop", "not_expected")
    no_run = escort.get(f"/api/scans/{code}?handoff=boarding")
    assert (no_run["verdict"], no_run["reason_code"]) == ("stop", "no_run_chosen")

    assert escort.http.get(f"/api/scans/{'x' * 43}?handoff=boarding").status_code == 404
    surveyor = Api.signed_in(live.url, live.settings, Role.SURVEYOR)
    assert surveyor.http.get(f"/api/scans/{code}?handoff=desk").status_code == 403
    assert httpx.get(f"{live.url}/api/scans/{code}?handoff=desk").status_code == 401
    assert escort.http.get(f"/api/scans/{code}?handoff=teleport").status_code == 422


def test_a_scanner_set_to_a_run_or_site_that_does_not_exist_is_told_so(live: Live) -> None:
    """The scanner's own setting is wrong, not the traveller's code: 422 naming the setting,
    never a 404 that would read as "this code does not work" nor a wrong-vehicle verdict that
    would have the page post a misdirected scan against a run that does not exist."""
    flight = Flight.seated(live)
    bad_run = flight.escort.http.get(
        f"/api/scans/{flight.code}?handoff=boarding&run_id={uuid4()}"
    )
    assert bad_run.status_code == 422 and "run" in bad_run.json()["detail"]
    bad_site = flight.receiver.http.get(f"/api/scans/{flight.code}?handoff=check_in&site=NOPE")
    assert bad_site.status_code == 422 and "NOPE" in bad_site.json()["detail"]
    # An unknown code is still 404 once the settings are good.
    unknown = flight.escort.http.get(f"/api/scans/{'y' * 43}?handoff=boarding&run_id={flight.run}")
    assert unknown.status_code == 404


@dataclass
class Flight:
    """One traveller seated on run `run` (plate `plate`) bound for hotel `hotel`; a second
    run `other_run` and a second hotel `other_hotel` at the same entry point."""

    live: Live
    journey: str
    code: str
    run: str
    plate: str
    other_run: str
    hotel: str
    other_hotel: str
    dispatcher: Api
    escort: Api
    receiver: Api

    @classmethod
    def seated(cls, live: Live) -> Flight:
        admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
        tag = uuid4().hex[:6].upper()
        entry, plate, other = f"EP-{tag}", f"粤A·{tag[:5]}", f"粤B·{tag[:5]}"
        admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T1"}, expect=201)
        for hotel in (f"H-{tag}", f"G-{tag}"):
            admin.post(
                "/api/sites",
                {"code": hotel, "name": f"酒店 {hotel}", "kind": "hotel", "rooms": ["101"]},
                expect=201,
            )
        for vehicle in (plate, other):
            admin.post("/api/vehicles", {"plate": vehicle, "seats": 4}, expect=201)
        answer = Api(live.url).post(
            "/api/registrations",
            {"entry_point": entry, "travellers": [traveller(f"R{tag}1", "李四")]},
            expect=201,
        )
        journey = answer["journey_ids"][0]
        dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
        Api.signed_in(live.url, live.settings, Role.SCREENER).post(
            f"/api/journeys/{journey}/screening", {"risk": "low"}
        )
        dispatcher.post(f"/api/journeys/{journey}/destination", {"site": f"H-{tag}"})
        runs = [
            dispatcher.post(
                "/api/runs", {"plate": p, "escort": f"escort-{p}", "entry_point": entry},
                expect=201,
            )["run_id"]
            for p in (plate, other)
        ]
        dispatcher.post(f"/api/journeys/{journey}/seats", {"run_id": runs[0]})
        return cls(
            live, journey, answer["status_urls"][0].rsplit("/", 1)[1], runs[0], plate, runs[1],
            f"H-{tag}", f"G-{tag}", dispatcher,
            Api.signed_in(live.url, live.settings, Role.ESCORT),
            Api.signed_in(live.url, live.settings, Role.RECEIVER),
        )

    def stage(self) -> str:
        return str(self.dispatcher.get(f"/api/journeys/{self.journey}")["stage"])

    def misdirected(self) -> list[dict[str, Any]]:
        self.dispatcher.wait_for_views()
        events = self.dispatcher.get(f"/api/journeys/{self.journey}/timeline")["events"]
        return [e for e in events if e["event_type"].endswith(MISDIRECTED)]


def scan_body(**fields: str) -> dict[str, str]:
    return {"scan_id": str(uuid4()), "occurred_at": "2026-03-28T09:15:00+08:00", **fields}


def test_an_off_route_scan_posted_anyway_is_recorded_once_and_moves_nothing(live: Live) -> None:
    """What the scanner page does on a red wrong-vehicle / wrong-site scan: it posts the
    command anyway with its own key, and the domain records it as misdirected."""
    flight = Flight.seated(live)

    # The escort of the other run scans the traveller: red, off-route, where they belong.
    seen = flight.escort.get(
        f"/api/scans/{flight.code}?handoff=boarding&run_id={flight.other_run}"
    )
    assert (seen["verdict"], seen["reason_code"], seen["plate"]) == (
        "stop", "wrong_vehicle", flight.plate,
    )
    key, body = str(uuid4()), scan_body(run_id=flight.other_run, where="车门 car door")
    path = f"/api/journeys/{flight.journey}/boarding"
    first = flight.escort.post(path, body, key=key)
    assert first["outcome"] == "misdirected"
    # The phone replays its queue (lost answer): the first answer again, nothing new stored.
    assert flight.escort.post(path, body, key=key) == first
    [event] = flight.misdirected()
    assert event["role"] == "escort" and event["occurred_at"]
    assert flight.stage() == Stage.SEAT_ASSIGNED.value

    # Boarded, driven and arrived on its own run; a receiver at the other hotel scans them.
    right = flight.escort.post(path, scan_body(run_id=flight.run), key=str(uuid4()))
    assert right["outcome"] == "accepted"
    elsewhere = flight.receiver.get(
        f"/api/scans/{flight.code}?handoff=check_in&site={flight.other_hotel}"
    )
    assert (elsewhere["verdict"], elsewhere["reason_code"]) == ("stop", "expected_elsewhere")
    flight.escort.post(f"/api/runs/{flight.run}/departure", {})
    flight.escort.post(f"/api/runs/{flight.run}/arrival", {})
    wrong_door = flight.receiver.get(
        f"/api/scans/{flight.code}?handoff=check_in&site={flight.other_hotel}"
    )
    assert (wrong_door["verdict"], wrong_door["reason_code"]) == ("stop", "wrong_site")
    assert wrong_door["destination_name"] == f"酒店 {flight.hotel}"
    check_in = f"/api/journeys/{flight.journey}/check-in"
    posted = flight.receiver.post(
        check_in, scan_body(site=flight.other_hotel, where="房门 room door"), key=str(uuid4())
    )
    assert posted["outcome"] == "misdirected"
    assert len(flight.misdirected()) == 2
    assert flight.stage() == Stage.ARRIVED.value

    right_door = flight.receiver.get(
        f"/api/scans/{flight.code}?handoff=check_in&site={flight.hotel}"
    )
    assert (right_door["verdict"], right_door["reason_code"]) == ("go", "check_in")
    done = flight.receiver.post(check_in, scan_body(site=flight.hotel), key=str(uuid4()))
    assert done["outcome"] == "accepted" and flight.stage() == Stage.CHECKED_IN.value
    assert len(flight.misdirected()) == 2


@pytest.mark.parametrize("role", [Role.SCREENER, Role.ESCORT, Role.RECEIVER])
def test_every_scanning_role_reads_the_lists_its_picker_shows(live: Live, role: Role) -> None:
    flight = Flight.seated(live)
    staff = Api.signed_in(live.url, live.settings, role)
    flight.dispatcher.wait_for_views()
    reference = staff.get("/api/reference")
    assert {flight.hotel, flight.other_hotel} <= {s["code"] for s in reference["sites"]}
    assert all({"code", "name", "kind"} <= set(site) for site in reference["sites"])
    assert all({"code", "name"} <= set(point) for point in reference["entry_points"])
    if role is Role.ESCORT:
        # The car-door picker's list (api/routers/runs.py): every field the option shows.
        runs = {r["run_id"]: r for r in staff.get("/api/runs?open=true")["runs"]}
        mine = runs[flight.run]
        assert mine["plate"] == flight.plate and mine["status"] == "planned"
        assert (mine["seats"], mine["seated"], mine["boarded"]) == (4, 1, 0)
        assert {"entry_point", "escort", "free", "handed_over"} <= set(mine)


def test_the_scanner_page_words_every_code_in_both_languages(live: Live) -> None:
    page = httpx.get(f"{live.url}/scan")
    assert page.status_code == 200
    island = re.search(
        r'<script type="application/json" id="scanner-words">(.*?)</script>', page.text, re.S
    )
    assert island is not None
    words = json.loads(island.group(1))
    assert set(words["reasons"]) == {code.value for code in ReasonCode}
    for code, entry in words["reasons"].items():
        assert CJK.search(entry["zh"]), code
        assert entry["en"] and not CJK.search(entry["en"]), code
        assert entry["off_route"] == (ReasonCode(code) in OFF_ROUTE)
    assert set(words["stages"]) == {stage.value for stage in Stage}
    assert all(CJK.search(w["zh"]) and w["en"] for w in words["stages"].values())
