"""One flight of 40 travellers — three families and two people who register twice — goes from
QR registration to the room or home door; the board and every timeline match what happened."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from itertools import count
from typing import Any
from uuid import uuid4

from domain.staff import Role
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live

FAMILY_SIZES = (3, 2, 4)
SINGLES = 40 - sum(FAMILY_SIZES)
HOTEL_ROOMS = [f"{floor}{n:02d}" for floor in (1, 2) for n in range(1, 16)]


def test_flight_of_forty_from_registration_to_the_door(live: Live) -> None:
    tag = uuid4().hex[:5].upper()
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    public = Api(live.url)
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    receiver = Api.signed_in(live.url, live.settings, Role.RECEIVER)
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)
    entry, hotel, street = f"CZ{tag}", f"HOTEL{tag}", f"STREET{tag}"
    admin.post("/api/entry-points", {"code": entry, "name": "Arrival hall"}, expect=201)
    admin.post(
        "/api/sites",
        {"code": hotel, "name": "荔湾酒店", "kind": "hotel", "rooms": HOTEL_ROOMS},
        expect=201,
    )
    admin.post(
        "/api/sites",
        {"code": street, "name": "沙面街道", "kind": "home", "capacity": 30},
        expect=201,
    )
    plates = [f"粤A{tag}{i}" for i in range(5)]
    for plate in plates:
        admin.post("/api/vehicles", {"plate": plate, "seats": 12}, expect=201)

    numbers = (f"N{tag}{i:03d}" for i in count())
    parties: list[list[str]] = []  # journey ids, one list per party
    for size in FAMILY_SIZES:
        members = [traveller(next(numbers), "家庭成员") for _ in range(size)]
        answer = public.post(
            "/api/registrations", {"entry_point": entry, "travellers": members}, expect=201
        )
        parties.append(answer["journey_ids"])
    singles: list[tuple[str, dict[str, Any]]] = []
    for _ in range(SINGLES):
        details = traveller(next(numbers), "单人旅客")
        answer = public.post(
            "/api/registrations", {"entry_point": entry, "travellers": [details]}, expect=201
        )
        parties.append(answer["journey_ids"])
        singles.append((answer["journey_ids"][0], details))
    # Two travellers scan the poster again and change their phone: same journey, amended.
    twice = singles[:2]
    for journey_id, details in twice:
        again = public.post(
            "/api/registrations",
            {"entry_point": entry, "travellers": [details | {"phone": "+447911123999"}]},
            expect=201,
        )
        assert again | {"status_urls": []} == {
            "journey_ids": [journey_id],
            "party_id": journey_id,
            "already_registered": True,
            "pre_registered": False,
            "changed_fields": ["phone"],
            "status_urls": [],
        }
        assert len(again["status_urls"]) == 1
    everyone = [j for party in parties for j in party]
    assert len(everyone) == len(set(everyone)) == 40

    high_risk = set(everyone[::7])
    for journey_id in everyone:
        screener.post(
            f"/api/journeys/{journey_id}/screening",
            {"risk": "high" if journey_id in high_risk else "low", "where": "desk 1"},
        )

    # Families and high-risk travellers to the hotel, the other singles home via the street.
    destination: dict[str, str] = {}
    rooms: dict[str, str] = {}
    for party in parties:
        site = hotel if len(party) > 1 or party[0] in high_risk else street
        answer = dispatcher.post(f"/api/journeys/{party[0]}/destination", {"site": site})
        for member in party:
            destination[member] = site
            rooms[member] = answer["room"]
    runs = [
        dispatcher.post(
            "/api/runs", {"plate": p, "escort": "escort-on-duty", "entry_point": entry}, expect=201
        )["run_id"]
        for p in plates
    ]
    free = dict.fromkeys(runs, 12)
    carries_high_risk: dict[str, bool] = {}  # high-risk travellers ride apart from others
    run_of: dict[str, str] = {}
    for party in sorted(parties, key=len, reverse=True):  # fill vehicles, families first
        high = any(member in high_risk for member in party)
        run_id = next(
            r for r in runs
            if free[r] >= len(party) and carries_high_risk.setdefault(r, high) == high
        )
        dispatcher.post(f"/api/journeys/{party[0]}/seats", {"run_id": run_id})
        free[run_id] -= len(party)
        run_of.update(dict.fromkeys(party, run_id))

    for journey_id in everyone:
        scan = {"run_id": run_of[journey_id], "scan_id": f"car-{journey_id}"}
        assert escort.post(f"/api/journeys/{journey_id}/boarding", scan)["outcome"] == "accepted"
    used_runs = sorted(set(run_of.values()))
    for run_id in used_runs:
        escort.post(f"/api/runs/{run_id}/departure", {})
        escort.post(f"/api/runs/{run_id}/arrival", {})
    for journey_id in everyone:
        door = {"site": destination[journey_id], "scan_id": f"door-{journey_id}"}
        assert receiver.post(f"/api/journeys/{journey_id}/check-in", door)["outcome"] == "accepted"
        if destination[journey_id] == hotel:
            receiver.post(
                f"/api/journeys/{journey_id}/quarantine",
                {"planned_end": str(date.today() + timedelta(days=14))},
            )

    in_hotel = sum(1 for j in everyone if destination[j] == hotel)
    at_home = 40 - in_hotel
    families_rooms = [{rooms[m] for m in party} for party in parties if len(party) > 1]
    assert all(len(r) == 1 for r in families_rooms)  # a family shares one room
    hotel_parties = {rooms[j] for j in everyone if destination[j] == hotel}
    assert len(hotel_parties) == sum(1 for p in parties if destination[p[0]] == hotel)

    commander.wait_for_views()
    board = commander.get("/api/board")
    stages = board["stages"]
    assert stages["under_quarantine"] >= in_hotel
    assert stages["checked_in"] >= at_home
    by_site = {s["code"]: s for s in board["sites"].values()}
    assert by_site[hotel]["occupied"] == len(hotel_parties)
    assert by_site[hotel]["held"] == 0

    amended = set()
    for journey_id in everyone:
        events = commander.get(f"/api/journeys/{journey_id}/timeline")["events"]
        kinds = [e["event_type"] for e in events]
        if "Amended" in kinds:
            amended.add(journey_id)
            kinds.remove("Amended")
        expected = [
            "Registered",
            "Screened",
            "DestinationAssigned",
            "SeatAssigned",
            "CustodyOffered",
            "CustodyAccepted",
            "Boarded",
            "Departed",
            "Arrived",
            "CustodyOffered",
            "CustodyAccepted",
            "CheckedIn",
        ]
        if destination[journey_id] == hotel:
            expected.append("QuarantineStarted")
        assert kinds == expected, (journey_id, kinds)
        custody = [
            e["summary"].get("custodian")
            for e in events
            if e["event_type"] in ("Screened", "CustodyAccepted")
        ]
        assert custody[0] == f"desk:{entry}"
        assert custody[1] == f"escort:{run_of[journey_id]}"
        assert custody[2].startswith("receiver:")
        recorded = [e["recorded_at"] for e in events]
        assert recorded == sorted(recorded)
    assert amended == {j for j, _ in twice}
    stage_counts = Counter(commander.get(f"/api/journeys/{j}")["stage"] for j in everyone)
    assert stage_counts == {"under_quarantine": in_hotel, "checked_in": at_home}
