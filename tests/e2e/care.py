"""Walking travellers down the line over HTTP to the room door, for the tests of what follows
it: the survey, the quarantine order, tests and hospital referral."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from domain.staff import Role
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live

DECISION = {
    "reason": "close contact of a confirmed case on the same flight",
    "legal_basis": "《中华人民共和国传染病防治法》第三十九条",
    "decided_by": "荔湾区疫情防控指挥部 李主任",
}


@dataclass
class Place:
    entry: str
    hotel: str
    plates: list[str]


@dataclass
class Staff:
    screener: Api
    dispatcher: Api
    escort: Api
    receiver: Api
    surveyor: Api
    commander: Api
    admin: Api


def staff_of(live: Live) -> Staff:
    return Staff(*(Api.signed_in(live.url, live.settings, role) for role in (
        Role.SCREENER, Role.DISPATCHER, Role.ESCORT, Role.RECEIVER, Role.SURVEYOR,
        Role.COMMANDER, Role.ADMIN,
    )))


def open_place(staff: Staff, rooms: int = 6, vehicles: int = 2) -> Place:
    tag = uuid4().hex[:6].upper()
    place = Place(f"EP-{tag}", f"H-{tag}", [f"粤A·{tag}{i}" for i in range(vehicles)])
    staff.admin.post("/api/entry-points", {"code": place.entry, "name": "白云机场 T2"},
                     expect=201)
    staff.admin.post(
        "/api/sites",
        {"code": place.hotel, "name": "荔湾酒店", "kind": "hotel",
         "rooms": [str(301 + i) for i in range(rooms)]},
        expect=201,
    )
    for plate in place.plates:
        staff.admin.post("/api/vehicles", {"plate": plate, "seats": 12}, expect=201)
    return place


def register(live: Live, place: Place, *people: dict[str, Any]) -> list[str]:
    answer = Api(live.url).post(
        "/api/registrations", {"entry_point": place.entry, "travellers": list(people)},
        expect=201,
    )
    journeys: list[str] = answer["journey_ids"]
    return journeys


def person(number: str, name: str = "测试 旅客", **extra: Any) -> dict[str, Any]:
    return traveller(number, name, **extra)


def to_room_door(staff: Staff, place: Place, parties: list[list[str]], plate: str,
                 risk: str = "low") -> str:
    """Screen, dispatch to the hotel, seat on a new run of `plate`, board, drive and check in
    every party; returns the run's id."""
    for party in parties:
        for member in party:
            staff.screener.post(f"/api/journeys/{member}/screening",
                                {"risk": risk, "temperature": 36.7})
    run = staff.dispatcher.post(
        "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": place.entry},
        expect=201,
    )["run_id"]
    for party in parties:
        staff.dispatcher.post(f"/api/journeys/{party[0]}/dispatch",
                              {"site": place.hotel, "run_id": run})
    for party in parties:
        for member in party:
            staff.escort.post(f"/api/journeys/{member}/boarding",
                              {"run_id": run, "scan_id": f"car-{uuid4()}"})
    staff.escort.post(f"/api/runs/{run}/departure", {})
    staff.escort.post(f"/api/runs/{run}/arrival", {})
    for party in parties:
        for member in party:
            staff.receiver.post(f"/api/journeys/{member}/check-in",
                                {"site": place.hotel, "scan_id": f"door-{uuid4()}"})
    return str(run)


def survey_answers(**extra: Any) -> dict[str, Any]:
    return {
        "travel_history": [{"place": "London, UK"}],
        "close_contacts": [{"name": "Mary Smith", "relation": "colleague"}],
        "symptoms": [],
        "vaccination": {"doses": 2, "vaccine": "Sinovac"},
        "tests_so_far": [],
        "risk_reason": "no symptoms, came from a low-incidence area",
        **extra,
    }
