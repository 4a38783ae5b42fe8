"""The dispatcher's day over HTTP against a real server on SQLite and PostgreSQL: the queue
shows a screened family with names and waiting time, a suggestion is advice only, one
confirmed decision records room and seats, runs list and show their boarding list, a party
moves to another run with a reason, and the long-poll says when the views moved."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest

from domain.staff import Role
from tests.e2e.client import Api, event_count, traveller
from tests.e2e.conftest import Live


@dataclass
class Desk:
    live: Live
    entry: str
    hotel: str
    plates: list[str]
    family: list[str]
    dispatcher: Api

    def group(self) -> dict[str, Any]:
        self.dispatcher.wait_for_views()
        board = self.dispatcher.get("/api/dispatch")
        (group,) = [g for g in board["queue"] if g["entry_point"] == self.entry]
        return group  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def desk(live: Live) -> Desk:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    entry, hotel = f"EP-{tag}", f"H-{tag}"
    plates = [f"粤A·{tag[:4]}{n}" for n in range(2)]
    admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T2"}, expect=201)
    admin.post(
        "/api/sites", {"code": hotel, "name": "荔湾酒店", "kind": "hotel", "rooms": ["901", "902"]},
        expect=201,
    )
    for plate in plates:
        admin.post("/api/vehicles", {"plate": plate, "seats": 6}, expect=201)
    family = Api(live.url).post(
        "/api/registrations",
        {"entry_point": entry, "travellers": [
            traveller(f"Q{tag}01", "陈大文"), traveller(f"Q{tag}02", "陈小文"),
            traveller(f"Q{tag}03", "陈𠮷"),
        ]},
        expect=201,
    )["journey_ids"]
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    for member in family:
        screener.post(f"/api/journeys/{member}/screening", {"risk": "medium"})
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    return Desk(live, entry, hotel, plates, family, dispatcher)


def test_the_queue_shows_the_family_as_one_party_with_names(desk: Desk) -> None:
    group = desk.group()
    assert group["entry_point_name"] == "白云机场 T2"
    (party,) = group["parties"]
    assert party["size"] == 3 and party["risk"] == "medium" and party["stage"] == "screened"
    assert {m["name_native"] for m in party["members"]} == {"陈大文", "陈小文", "陈𠮷"}
    assert party["waiting_minutes"] >= 0 and party["waiting_since"]
    commander = Api.signed_in(desk.live.url, desk.live.settings, Role.COMMANDER)
    commander.get("/api/dispatch")
    Api.signed_in(desk.live.url, desk.live.settings, Role.ESCORT).get("/api/dispatch", expect=403)
    Api(desk.live.url).get("/api/dispatch", expect=401)


def test_a_suggestion_records_nothing_and_a_confirmed_dispatch_records_once(desk: Desk) -> None:
    lead = desk.family[0]
    before = event_count(desk.live.settings)
    advice = desk.dispatcher.get(f"/api/journeys/{lead}/suggestion")
    assert advice["site"]["code"] == desk.hotel and advice["run"] is None
    assert advice["new_run"]["plate"] in desk.plates and advice["problem"] is None
    assert "family_one_room" in [r["code"] for r in advice["reasons"]]
    assert event_count(desk.live.settings) == before

    run = desk.dispatcher.post(
        "/api/runs", {"plate": advice["new_run"]["plate"], "escort": "escort-1",
                      "entry_point": desk.entry}, expect=201,
    )
    body = {"site": desk.hotel, "run_id": run["run_id"]}
    key = uuid4().hex
    first = desk.dispatcher.post(f"/api/journeys/{lead}/dispatch", body, key=key)
    again = desk.dispatcher.post(f"/api/journeys/{lead}/dispatch", body, key=key)
    assert first == again and first["room"] == "901" and first["stage"] == "seat_assigned"
    assert desk.group()["parties"] == []

    listed = desk.dispatcher.get(f"/api/runs?entry_point={desk.entry}")["runs"]
    (mine,) = [r for r in listed if r["run_id"] == run["run_id"]]
    assert (mine["seated"], mine["free"], mine["status"]) == (3, 3, "planned")
    escort = Api.signed_in(desk.live.url, desk.live.settings, Role.ESCORT)
    assert run["run_id"] in {r["run_id"] for r in escort.get("/api/runs")["runs"]}
    board = escort.get(f"/api/runs/{run['run_id']}")
    assert sorted(p["seat"] for p in board["passengers"]) == [1, 2, 3]
    assert {p["name_native"] for p in board["passengers"]} == {"陈大文", "陈小文", "陈𠮷"}
    assert {(p["site_code"], p["room"], p["boarded"]) for p in board["passengers"]} == {
        (desk.hotel, "901", False)
    }


def test_a_party_moves_to_another_run_with_its_reason(desk: Desk) -> None:
    desk.dispatcher.wait_for_views()
    vehicles = desk.dispatcher.get("/api/dispatch")["vehicles"]
    (idle,) = [v["plate"] for v in vehicles if v["plate"] in desk.plates and not v["active_run"]]
    second = desk.dispatcher.post(
        "/api/runs", {"plate": idle, "escort": "escort-2", "entry_point": desk.entry},
        expect=201,
    )
    lead = desk.family[1]
    moved = desk.dispatcher.post(
        f"/api/journeys/{lead}/seats/reassignment",
        {"run_id": second["run_id"], "reason": "车辆故障 vehicle broke down"},
    )
    assert moved["run_id"] == second["run_id"] and sorted(moved["seats"].values()) == [1, 2, 3]
    desk.dispatcher.wait_for_views()
    timeline = desk.dispatcher.get(f"/api/journeys/{lead}/timeline")
    kinds = [e["event_type"] for e in timeline["events"]]
    assert kinds[-4:] == ["CustodyOfferWithdrawn", "SeatWithdrawn", "SeatAssigned",
                          "CustodyOffered"]


def test_bad_dispatch_requests_are_refused_in_words_and_store_nothing(desk: Desk) -> None:
    lead = desk.family[0]
    before = event_count(desk.live.settings)
    answer = desk.dispatcher.http.post(f"/api/journeys/{lead}/dispatch", json={})
    assert answer.status_code == 422 and "choose a destination" in answer.text
    answer = desk.dispatcher.http.post(
        f"/api/journeys/{lead}/dispatch", json={"site": "NO-SUCH-SITE"}
    )
    assert answer.status_code in (404, 409), answer.text
    answer = desk.dispatcher.http.post(
        f"/api/journeys/{lead}/seats/reassignment", json={"run_id": str(uuid4()), "reason": ""}
    )
    assert answer.status_code == 422
    answer = desk.dispatcher.http.post(
        f"/api/journeys/{lead}/dispatch", json={"run_id": "not-a-uuid"}
    )
    assert answer.status_code == 422
    assert event_count(desk.live.settings) == before


def test_the_long_poll_answers_when_the_views_move(desk: Desk) -> None:
    position = desk.dispatcher.wait_for_views()["projector"]["position"]
    idle = desk.dispatcher.get(f"/api/dispatch/changes?after={position}&wait=0.3")
    assert idle == {"position": position}
    answers: list[Any] = []
    poll = threading.Thread(target=lambda: answers.append(
        httpx.get(f"{desk.live.url}/api/dispatch/changes?after={position}&wait=15",
                  headers=desk.dispatcher.http.headers, timeout=30).json()
    ))
    poll.start()
    Api(desk.live.url).post(
        "/api/registrations",
        {"entry_point": desk.entry, "travellers": [traveller(f"LP{uuid4().hex[:8]}")]},
        expect=201,
    )
    poll.join(timeout=30)
    assert answers and answers[0]["position"] > position
