"""Every user flow of the door-to-door line, through real HTTP against a real server."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import httpx

from domain.staff import Role
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live


def _reference(live: Live) -> dict[str, str]:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    codes = {
        "entry": f"EP-{tag}",
        "hotel": f"H-{tag}",
        "street": f"ST-{tag}",
        "plate": f"粤A·{tag}",
    }
    admin.post("/api/entry-points", {"code": codes["entry"], "name": "白云机场 T2"}, expect=201)
    admin.post(
        "/api/sites",
        {
            "code": codes["hotel"],
            "name": "荔湾酒店",
            "kind": "hotel",
            "rooms": ["101", "102", "103"],
        },
        expect=201,
    )
    admin.post(
        "/api/sites",
        {"code": codes["street"], "name": "沙面街道", "kind": "home", "capacity": 20},
        expect=201,
    )
    admin.post("/api/vehicles", {"plate": codes["plate"], "seats": 12}, expect=201)
    return codes


def test_a_family_goes_from_registration_to_the_room_door(live: Live) -> None:
    codes = _reference(live)
    public = Api(live.url)
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    receiver = Api.signed_in(live.url, live.settings, Role.RECEIVER)
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)

    family = public.post(
        "/api/registrations",
        {
            "entry_point": codes["entry"],
            "travellers": [traveller("F1000001", "王小明"), traveller("F1000002", "王𠮷")],
        },
        expect=201,
    )
    mum, child = family["journey_ids"]
    for member in (mum, child):
        screener.post(
            f"/api/journeys/{member}/screening",
            {"risk": "low", "temperature": 36.6, "where": "T2 desk 3"},
        )
    assigned = dispatcher.post(f"/api/journeys/{child}/destination", {"site": codes["hotel"]})
    assert assigned["room"] == "101" and sorted(assigned["journey_ids"]) == sorted(
        family["journey_ids"]
    )
    run = dispatcher.post(
        "/api/runs",
        {"plate": codes["plate"], "escort": "escort-1", "entry_point": codes["entry"]},
        expect=201,
    )
    seats = dispatcher.post(f"/api/journeys/{mum}/seats", {"run_id": run["run_id"]})
    assert sorted(seats["seats"].values()) == [1, 2]

    scan = {
        "run_id": run["run_id"],
        "scan_id": f"scan-{uuid4()}",
        "where": "car door",
        "occurred_at": "2026-03-28T09:15:00+08:00",
    }
    boarded = escort.post(f"/api/journeys/{mum}/boarding", scan)
    assert boarded["outcome"] == "accepted"
    replay = escort.post(f"/api/journeys/{mum}/boarding", scan)  # offline queue replays it
    assert replay["outcome"] == "duplicate"
    # The family has not all boarded: the vehicle may not leave without the child.
    refused = escort.post(f"/api/runs/{run['run_id']}/departure", {}, expect=409)
    assert "not boarded" in refused["detail"]
    escort.post(f"/api/journeys/{child}/boarding", scan | {"scan_id": f"scan-{uuid4()}"})
    escort.post(f"/api/runs/{run['run_id']}/departure", {})
    escort.post(f"/api/runs/{run['run_id']}/arrival", {})
    for member in (mum, child):
        checked = receiver.post(
            f"/api/journeys/{member}/check-in",
            {"site": codes["hotel"], "scan_id": f"door-{uuid4()}"},
        )
        assert checked["outcome"] == "accepted" and checked["stage"] == "checked_in"
        receiver.post(
            f"/api/journeys/{member}/quarantine",
            {"planned_end": str(date.today() + timedelta(days=14))},
        )

    commander.wait_for_views()
    timeline = commander.get(f"/api/journeys/{mum}/timeline")["events"]
    kinds = [e["event_type"] for e in timeline]
    assert kinds == [
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
        "QuarantineStarted",
    ]
    boarding = timeline[kinds.index("Boarded")]
    assert boarding["where"] == "car door" and boarding["actor"].startswith("escort-")
    assert boarding["occurred_at"].startswith("2026-03-28T01:15:00")  # device time, in UTC
    assert all("personal" not in e["summary"] for e in timeline)
    screened = timeline[kinds.index("Screened")]["summary"]
    assert screened["risk"] == "low"
    assert "temperature" not in screened  # health data stays out of views every role reads
    board = commander.get("/api/board")
    assert board["stages"]["under_quarantine"] >= 2
    # The board's position is its last event's; the views may be past it (receipts, say).
    assert 0 < board["position"] <= commander.get("/healthz")["projector"]["position"]
    assert board["counters"]["survey_due"] >= 2  # neither was surveyed yet


def test_each_endpoint_admits_only_its_roles(live: Live) -> None:
    codes = _reference(live)
    journey = Api(live.url).post(
        "/api/registrations",
        {"entry_point": codes["entry"], "travellers": [traveller("R2000001")]},
        expect=201,
    )["journey_ids"][0]
    anonymous = httpx.post(f"{live.url}/api/journeys/{journey}/screening", json={"risk": "low"})
    assert anonymous.status_code == 401
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    forbidden = escort.post(f"/api/journeys/{journey}/screening", {"risk": "low"}, expect=403)
    assert "screener" in forbidden["detail"]
    escort.get("/api/board", expect=403)
    bad_token = Api(live.url, "not-a-token")
    bad_token.get("/api/board", expect=401)


def test_bad_input_gets_a_clear_4xx_and_stores_nothing(live: Live) -> None:
    codes = _reference(live)
    public = Api(live.url)
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)
    before = commander.wait_for_views()["projector"]["position"]

    bidi = public.post(
        "/api/registrations",
        {"entry_point": codes["entry"], "travellers": [traveller("B3000001", "Ali\u202eevil")]},
        expect=422,
    )
    assert "name_native" in bidi["detail"] and "control or text-direction" in bidi["detail"]
    prc = public.post(
        "/api/registrations",
        {
            "entry_point": codes["entry"],
            "travellers": [traveller("11010519491231002Y", doc_type="prc_id", doc_country="CHN")],
        },
        expect=422,
    )
    assert "resident ID" in prc["detail"]
    phone = public.post(
        "/api/registrations",
        {"entry_point": codes["entry"], "travellers": [traveller("B3000002", phone="12")]},
        expect=422,
    )
    assert "phone" in phone["detail"]
    malformed = httpx.post(
        f"{live.url}/api/registrations",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert malformed.status_code == 422 and "detail" in malformed.json()
    huge = httpx.post(
        f"{live.url}/api/registrations",
        content=b"x" * 200_000,
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and "larger than" in huge.json()["detail"]
    unknown = public.post(
        "/api/registrations",
        {"entry_point": "NOPE", "travellers": [traveller("B3000003")]},
        expect=404,
    )
    assert "entry point" in unknown["detail"]
    commander.get(f"/api/journeys/{uuid4()}", expect=404)

    after = commander.wait_for_views()["projector"]["position"]
    assert after == before


def test_names_in_any_script_round_trip_exactly(live: Live) -> None:
    codes = _reference(live)
    names = ["王𠮷", "محمد عبد الله", "Zoë Ångström", "e\u0301le\u0300ve", "Nguyễn Thị Minh Khai"]
    for i, name in enumerate(names):
        Api(live.url).post(
            "/api/registrations",
            {"entry_point": codes["entry"], "travellers": [traveller(f"N40000{i:02d}", name)]},
            expect=201,
        )
    # What was stored is checked from the store (staff have no endpoint for raw personal data).
    from tracking.services import open_services

    services = open_services(live.settings)
    try:
        app = services.app
        from domain.journey import Journey

        stored = [
            services.vault.open(e.originator_id, e.personal)["name_native"]
            for e in map(
                app.mapper.to_domain_event, app.recorder.select_notifications(start=1, limit=10**6)
            )
            if isinstance(e, Journey.Registered)
        ]
    finally:
        services.close()
    import unicodedata

    for name in names:
        assert unicodedata.normalize("NFC", name) in stored


def test_a_repeated_request_with_one_idempotency_key_has_one_effect(live: Live) -> None:
    codes = _reference(live)
    public = Api(live.url)
    body = {"entry_point": codes["entry"], "travellers": [traveller("I5000001")]}
    key = str(uuid4())
    first = public.post("/api/registrations", body, key=key, expect=201)
    again = public.post("/api/registrations", body, key=key, expect=201)
    assert again == first
    reused = public.post(
        "/api/registrations", body | {"travellers": [traveller("I5000002")]}, key=key, expect=422
    )
    assert "Idempotency-Key" in reused["detail"]
