"""Hospital transfers on the dispatch console (`/dispatch`) in real Chromium: two travellers in
quarantine at a hotel are referred to hospital (one symptomatic, routine; one with a positive
day-1 test, urgent) by survey staff elsewhere, and the requests appear on the dispatcher's open
console by themselves, urgent first, with the name, the hotel and the room, and the waiting time
ticking. A commander sees the same panel read only. A page a moment behind offers a vehicle that
another dispatcher has just taken: the refusal is shown in words on the card. The dispatcher
gives the urgent request an idle vehicle, which is then offered for no run and no other
transfer, records the pick-up and the delivery to a hospital (the request leaves, the vehicle is
free again), and cancels the other request with a reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import uuid4

from playwright.sync_api import Route, expect

from domain.staff import Role
from tests.browser.conftest import Phone, watched_page
from tests.browser.test_dispatch_console import (
    DESK,
    FAMILY,
    LIVE_MS,
    desk_with_a_family,
    sign_in,
)
from tests.e2e.care import open_place, person, register, staff_of, to_room_door
from tests.e2e.client import Api
from tests.e2e.conftest import Live

URGENT = ("陈病人", "CHEN BINGREN")
ROUTINE = ("林发热", "LIN FARE")
HOSPITAL = "广州市第八人民医院"


def open_transfers(staff: Api) -> dict[str, dict[str, Any]]:
    staff.wait_for_views()
    return {t["journey_id"]: t for t in staff.get("/api/transfers")["transfers"]}


def vehicle_runs(staff: Api) -> dict[str, str | None]:
    staff.wait_for_views()
    return {v["plate"]: v["active_run"] for v in staff.get("/api/dispatch")["vehicles"]}


def test_a_referral_reaches_the_console_live_and_is_driven_to_hospital(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    staff = staff_of(live_server)
    place = open_place(staff, rooms=4, vehicles=2)
    tag = place.entry.removeprefix("EP-")
    [urgent] = register(live_server, place, person(f"U{tag}", URGENT[0], name_latin=URGENT[1]))
    [routine] = register(live_server, place, person(f"R{tag}", ROUTINE[0], name_latin=ROUTINE[1]))
    # Both to the room door on the first vehicle (free again once everyone is handed over).
    to_room_door(staff, place, [[urgent], [routine]], place.plates[0])
    rooms = {j: staff.dispatcher.get(f"/api/journeys/{j}")["room"] for j in (urgent, routine)}
    assert all(rooms.values()) and len(set(rooms.values())) == 2, rooms
    for journey in (urgent, routine):
        staff.receiver.post(f"/api/journeys/{journey}/quarantine", {})
    assert all(run is None for run in vehicle_runs(staff.dispatcher).values())

    page, errors = watched_page(phone, DESK)
    # The page's timers and clock are Playwright's, so that waiting minutes can be seen to tick.
    page.clock.install()
    sign_in(page, live_server, Role.DISPATCHER)
    panel = page.locator("#transfers-panel")
    expect(panel.get_by_role("heading", name=re.compile("Hospital transfers"))).to_be_visible()
    ours = panel.locator(
        f"li.transfer[data-journey='{urgent}'], li.transfer[data-journey='{routine}']"
    )
    expect(ours).to_have_count(0)

    # Survey staff refer the symptomatic traveller (routine), then the one whose day-1 test is
    # positive (urgent): both requests arrive without a reload, urgent first.
    staff.surveyor.post(
        f"/api/journeys/{routine}/hospital-referral",
        {"reason": "发热 38.6℃，咳嗽 / fever 38.6 °C, cough", "urgency": "routine"},
    )
    second = panel.locator(f"li.transfer[data-journey='{routine}']")
    expect(second).to_contain_text(ROUTINE[0], timeout=LIVE_MS)
    staff.receiver.post(
        f"/api/journeys/{urgent}/test-results", {"day": 1, "result": {"outcome": "positive"}}
    )
    answer = staff.surveyor.post(
        f"/api/journeys/{urgent}/hospital-referral",
        {"reason": "day-1 nucleic acid test positive", "urgency": "urgent"},
    )
    [transfer_id] = answer["transfer_ids"]
    first = panel.locator(f"li.transfer[data-transfer='{transfer_id}']")
    expect(first).to_contain_text(URGENT[0], timeout=LIVE_MS)
    expect(ours).to_have_count(2)
    expect(ours.first).to_have_attribute("data-journey", urgent)
    expect(first).to_contain_text(URGENT[1])
    expect(first.locator(".urgency")).to_have_text("⚠ 紧急 / Urgent")
    expect(second.locator(".urgency")).to_have_text("常规 / Routine")
    expect(first.locator(".transfer-status")).to_contain_text("待派车 / Waiting for a vehicle")
    pickup = first.locator(".pickup")
    expect(pickup).to_contain_text("隔离酒店 / Quarantine hotel")
    expect(pickup).to_contain_text(f"荔湾酒店 ({place.hotel})")
    expect(pickup).to_contain_text(f"房间 / room {rooms[urgent]}")
    expect(second.locator(".pickup")).to_contain_text(f"房间 / room {rooms[routine]}")
    expect(first.locator(".plate")).to_have_text("—")
    expect(page.locator("#transfers-count")).to_contain_text("urgent")

    # The waiting time ticks on the page: three minutes pass in an instant. (The page redraws
    # it every 30 s, so it shows two or three more minutes, by where in a tick it started.)
    staff.dispatcher.wait_for_views()
    minutes = first.locator(".waiting .minutes")
    expect(minutes).to_have_text(re.compile(r"^[01]$"))
    before = int(minutes.inner_text())
    page.clock.run_for("03:00")
    expect(minutes).to_have_text(re.compile(rf"^({before + 2}|{before + 3})$"))
    page.screenshot(path=artifacts / "1-requests-arrived-live.png")

    # A commander watches the same panel and can do nothing on it.
    commander, commander_errors = watched_page(phone, DESK)
    sign_in(commander, live_server, Role.COMMANDER)
    watched = commander.locator(f"li.transfer[data-transfer='{transfer_id}']")
    expect(watched).to_contain_text(URGENT[0])
    expect(watched.locator(".pickup")).to_contain_text(rooms[urgent])
    expect(watched.get_by_role("button")).to_have_count(1)  # the name: the journey's timeline
    expect(watched.get_by_role("button")).to_have_accessible_name(re.compile("Timeline of"))
    expect(watched.locator("select, input, form, details")).to_have_count(0)
    commander.screenshot(path=artifacts / "2-commander-read-only.png")

    # Another dispatcher takes the first vehicle for a run while this page is a moment behind
    # (its snapshot still shows the vehicle idle): the refusal is said on the card, in words,
    # and the page reads the desk again, so the vehicle is no longer offered.
    stale = {"plate": place.plates[0]}

    def behind(route: Route) -> None:
        answer = route.fetch()
        snapshot = answer.json()
        for vehicle in snapshot["vehicles"]:
            if vehicle["plate"] == stale["plate"]:
                vehicle["active_run"] = None
        route.fulfill(response=answer, json=snapshot)

    page.route(re.compile(r"/api/dispatch$"), behind)
    other = Api.signed_in(live_server.url, live_server.settings, Role.DISPATCHER)
    other.post(
        "/api/runs",
        {"plate": place.plates[0], "escort": "周师傅", "entry_point": place.entry},
        expect=201,
    )
    planned = page.locator(
        "#runs-table tbody.run", has=page.locator("th.plate", has_text=place.plates[0])
    )
    expect(planned).to_have_count(1, timeout=LIVE_MS)
    choose = second.get_by_label(re.compile("Choose an idle vehicle"))
    choose.select_option(place.plates[0])
    page.unroute(re.compile(r"/api/dispatch$"))
    second.get_by_role("button", name=re.compile("Assign vehicle")).click()
    refusal = second.get_by_role("alert")
    expect(refusal).to_contain_text("Not recorded")
    expect(refusal).to_contain_text(f"Assigning {place.plates[0]} refused")
    expect(refusal).to_contain_text("already on a trip")
    expect(choose.locator(f"option[value='{place.plates[0]}']")).to_have_count(0)
    assert open_transfers(staff.dispatcher)[routine]["status"] == "requested"
    page.screenshot(path=artifacts / "3-stale-vehicle-refused.png")

    # The urgent request gets the idle vehicle: its status moves on, the API holds the plate,
    # and the vehicle is offered neither for a new run nor for the other request.
    vehicle = place.plates[1]
    first.get_by_label(re.compile("Choose an idle vehicle")).select_option(vehicle)
    first.get_by_role("button", name=re.compile("Assign vehicle")).click()
    expect(first.locator(".transfer-status")).to_contain_text("已派车", timeout=LIVE_MS)
    expect(first.locator(".transfer-status")).to_contain_text("Vehicle assigned")
    expect(first.locator(".plate")).to_have_text(vehicle)
    expect(page.locator("#status")).to_contain_text(f"Vehicle {vehicle} assigned")
    record_pickup = first.get_by_role("button", name=re.compile("Record pick-up"))
    expect(record_pickup).to_be_focused()
    held = open_transfers(staff.dispatcher)[urgent]
    assert (held["status"], held["plate"]) == ("vehicle_assigned", vehicle)
    assert vehicle_runs(staff.dispatcher)[vehicle] == transfer_id
    # (GET /api/dispatch reads the transfers and the vehicles apart: on a busy store one can be
    # a moment ahead of the other, and the next long-poll brings the page level.)
    expect(page.locator(f"#plan-plate option[value='{vehicle}']")).to_have_count(0)
    expect(choose.locator(f"option[value='{vehicle}']")).to_have_count(0)
    # The other dispatcher's run still has the first vehicle.
    expect(choose.locator(f"option[value='{place.plates[0]}']")).to_have_count(0)
    row = page.locator(f"#vehicles tr[data-plate='{vehicle}']")
    expect(row).to_have_attribute("data-state", "on_transfer")
    expect(row.locator(".state")).to_contain_text("On a hospital transfer")
    expect(watched.locator(".plate")).to_have_text(vehicle, timeout=LIVE_MS)  # the commander too
    page.screenshot(path=artifacts / "4-vehicle-assigned.png")

    # Pick-up, then delivery: the hospital's name is asked for, then the request leaves the
    # panel and the vehicle is free for the next trip.
    record_pickup.click()
    expect(first.locator(".transfer-status")).to_contain_text(
        "Picked up, on the way to hospital", timeout=LIVE_MS
    )
    hospital = first.get_by_label(re.compile("Hospital that took the traveller"))
    expect(hospital).to_be_focused()
    assert open_transfers(staff.dispatcher)[urgent]["status"] == "picked_up"
    first.get_by_role("button", name=re.compile("Record delivery")).click()
    expect(first.get_by_role("alert")).to_contain_text("Name the hospital")
    page.screenshot(path=artifacts / "5-picked-up.png")
    hospital.fill(HOSPITAL)
    first.get_by_role("button", name=re.compile("Record delivery")).click()
    expect(first).to_have_count(0, timeout=LIVE_MS)
    expect(page.locator("#status")).to_contain_text(f"Delivered to {HOSPITAL}")
    assert urgent not in open_transfers(staff.dispatcher)
    assert vehicle_runs(staff.dispatcher)[vehicle] is None
    expect(page.locator(f"#vehicles tr[data-plate='{vehicle}']")).to_have_attribute(
        "data-state", "idle"
    )
    expect(page.locator(f"#plan-plate option[value='{vehicle}']")).to_have_count(1)
    expect(choose.locator(f"option[value='{vehicle}']")).to_have_count(1)
    expect(watched).to_have_count(0, timeout=LIVE_MS)
    page.screenshot(path=artifacts / "6-delivered.png")

    # The other request is cancelled, with a reason (asked for when missing).
    second.locator("summary", has_text="Cancel this transfer").click()
    reason = second.get_by_label(re.compile("Reason for cancelling"))
    expect(reason).to_be_focused()
    confirm = second.get_by_role("button", name=re.compile("Confirm cancellation"))
    confirm.click()
    expect(second.get_by_role("alert")).to_contain_text("Give the reason")
    reason.fill("复查阴性，社区医生上门诊治 / retest negative, treated at the hotel")
    page.screenshot(path=artifacts / "7-cancelling.png")
    confirm.click()
    expect(second).to_have_count(0, timeout=LIVE_MS)
    expect(page.locator("#status")).to_contain_text("Transfer cancelled")
    assert routine not in open_transfers(staff.dispatcher)
    expect(ours).to_have_count(0)
    expect(page.locator("#transfers-empty")).to_be_visible()
    expect(page.locator("#error")).to_be_empty()
    page.screenshot(path=artifacts / "8-all-done.png")
    assert errors == [], errors
    assert commander_errors == [], commander_errors


def test_every_kind_of_pick_up_place_is_said_in_words(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    """A traveller referred from the vehicle they are on, or from the entry point's desk, is
    collected there: those referrals need a run on the road, so the snapshot's `transfers` is
    filled in on the way to the page (the flow above makes real ones)."""
    desk = desk_with_a_family(live_server)
    base = {
        "status": "requested",
        "entry_point": desk.entry,
        "room": "",
        "vehicle_id": None,
        "plate": "",
        "hospital": "",
        "waiting_minutes": 0,
        "requested_at": "2020-03-28T08:00:00+00:00",
        "status_at": "2020-03-28T08:00:00+00:00",
    }
    on_board, at_desk = str(uuid4()), str(uuid4())
    injected = [
        base
        | {
            "transfer_id": on_board,
            "journey_id": desk.journeys[0],
            "urgency": "routine",
            "name_native": FAMILY[0][0],
            "name_latin": FAMILY[0][1],
            "pickup": {"kind": "vehicle", "run_id": desk.run_id},
        },
        base
        | {
            "transfer_id": at_desk,
            "journey_id": desk.journeys[1],
            "urgency": "urgent",
            "name_native": FAMILY[1][0],
            "name_latin": FAMILY[1][1],
            "pickup": {"kind": "desk", "code": desk.entry, "name": desk.entry_name},
        },
    ]

    def with_transfers(route: Route) -> None:
        answer = route.fetch()
        snapshot = answer.json()
        snapshot["transfers"] = injected
        route.fulfill(response=answer, json=snapshot)

    page, errors = watched_page(phone, DESK)
    page.route(re.compile(r"/api/dispatch$"), with_transfers)
    sign_in(page, live_server, Role.DISPATCHER)
    cards = page.locator("#transfers li.transfer")
    expect(cards).to_have_count(2)
    expect(cards.first).to_have_attribute("data-transfer", at_desk)  # urgent first
    vehicle = page.locator(f"li.transfer[data-transfer='{on_board}'] .pickup")
    expect(vehicle).to_contain_text("转运车上 / On board a vehicle")
    expect(vehicle).to_contain_text(f"车辆 / vehicle {desk.plates[0]}")
    entry = page.locator(f"li.transfer[data-transfer='{at_desk}'] .pickup")
    expect(entry).to_contain_text("入境点接待台 / Entry point desk")
    expect(entry).to_contain_text(f"{desk.entry_name} ({desk.entry})")
    # Waiting since long ago is said loudly.
    expect(page.locator(f"li.transfer[data-transfer='{at_desk}'] .waiting")).to_have_attribute(
        "data-long", "true"
    )
    page.screenshot(path=artifacts / "pick-up-places.png")
    assert errors == [], errors
