"""A scanned personal code over HTTP: who it is, what to check, and go / check / stop."""

from __future__ import annotations

from uuid import uuid4

import httpx

from domain.staff import Role
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live


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
    assert at_desk["document_last4"] == f"{tag}1"[-4:] and at_desk["party_size"] == 2
    for member in family["journey_ids"]:
        screener.post(f"/api/journeys/{member}/screening", {"risk": "low"})
    dispatcher.post(f"/api/journeys/{lead}/destination", {"site": hotel})
    run = dispatcher.post(
        "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": entry}, expect=201
    )
    wrong = dispatcher.post(
        "/api/runs", {"plate": other, "escort": "escort-2", "entry_point": entry}, expect=201
    )
    dispatcher.post(f"/api/journeys/{lead}/seats", {"run_id": run["run_id"]})

    right_door = escort.get(f"/api/scans/{code}?handoff=boarding&run_id={run['run_id']}")
    assert (right_door["verdict"], right_door["plate"]) == ("go", plate)
    assert (right_door["destination_name"], right_door["room"]) == ("荔湾酒店", "305")
    wrong_door = escort.get(f"/api/scans/{code}?handoff=boarding&run_id={wrong['run_id']}")
    assert wrong_door["verdict"] == "stop" and "wrong vehicle" in wrong_door["reason"]
    too_early = receiver.get(f"/api/scans/{code}?handoff=check_in&site={hotel}")
    assert too_early["verdict"] == "stop"

    assert escort.http.get(f"/api/scans/{'x' * 43}?handoff=boarding").status_code == 404
    surveyor = Api.signed_in(live.url, live.settings, Role.SURVEYOR)
    assert surveyor.http.get(f"/api/scans/{code}?handoff=desk").status_code == 403
    assert httpx.get(f"{live.url}/api/scans/{code}?handoff=desk").status_code == 401
    assert escort.http.get(f"/api/scans/{code}?handoff=teleport").status_code == 422
