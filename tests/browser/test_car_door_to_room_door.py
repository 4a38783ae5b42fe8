"""The whole closed loop in real Chromium, each person on their own screen: a dispatcher
assigns a family to a run in the console; the escort's phone, its camera fed the family's own
QR codes (Chromium's fake camera), boards them at the car door; the dispatcher sees them aboard
and records departure and arrival; the receiver's phone checks them in at the room door; and
the journey's timeline shows custody passing desk → escort → receiver, one holder at a time."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from playwright.sync_api import Page, expect

from domain.staff import Role
from tests.browser.conftest import LaunchBrowser, Phone
from tests.browser.test_dispatch_console import DESK, LIVE_MS, sign_in
from tests.browser.test_scanner_page import FAKE_CAMERA, pick, staff_signs_in
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live
from tracking.qr import qr_png

FAMILY = ("林大海", "林小雨", "林𠮷")
SCAN_WITHIN_S = 90


def family_video(urls: list[str], directory: Path) -> Path:
    """A .y4m the fake camera plays in a loop: each QR code in turn, 1.5 s each."""
    inputs: list[str] = []
    for n, url in enumerate(urls):
        png = directory / f"qr-{n}.png"
        png.write_bytes(qr_png(url))
        inputs += ["-loop", "1", "-t", "1.5", "-r", "10", "-i", str(png)]
    scaled = "".join(
        f"[{n}]scale=-2:440,pad=640:480:(ow-iw)/2:(oh-ih)/2:white,setsar=1[v{n}];"
        for n in range(len(urls))
    )
    joined = "".join(f"[v{n}]" for n in range(len(urls)))
    video = directory / "family.y4m"
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-y", *inputs,
            "-filter_complex", f"{scaled}{joined}concat=n={len(urls)}:v=1,format=yuv420p",
            str(video),
        ],
        check=True,
        timeout=120,
    )
    return video.resolve()


def confirm_everyone(page: Page, names: tuple[str, ...], reason: str) -> None:
    """Point the camera at the family until each of them was green for this handoff and
    confirmed; anyone shown again after their confirmation is waved on with Next."""
    panel = page.locator("#result")
    confirmed: set[str] = set()
    deadline = time.monotonic() + SCAN_WITHIN_S
    while confirmed != set(names):
        assert time.monotonic() < deadline, f"the camera confirmed only {confirmed}"
        expect(panel).to_be_visible(timeout=30_000)
        name = page.locator("#result-name-native").inner_text().strip()
        verdict = panel.get_attribute("data-verdict")
        if name in names and name not in confirmed:
            assert (verdict, panel.get_attribute("data-reason")) == ("go", reason), name
            page.get_by_role("button", name="确认交接 / Confirm handoff").click()
            expect(page.locator("#log li.ok", has_text=name)).to_have_count(1, timeout=LIVE_MS)
            confirmed.add(name)
        else:
            page.get_by_role("button", name="下一位 / Next").click()
        expect(panel).to_be_hidden()
    expect(page.locator("#pending-count")).to_have_text("0", timeout=LIVE_MS)


def custody_chain(staff: Api, journey: str) -> list[tuple[str, Any]]:
    staff.wait_for_views()
    events = staff.get(f"/api/journeys/{journey}/timeline")["events"]
    kinds = ("Screened", "CustodyOffered", "CustodyAccepted", "Boarded", "CheckedIn")
    return [
        (e["event_type"], e["summary"].get("custodian") or e["summary"].get("offered_to"))
        for e in events if e["event_type"] in kinds
    ]


def test_a_family_goes_from_car_door_to_room_door(
    live_server: Live,
    launch_browser: LaunchBrowser,
    phone: Phone,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    live = live_server
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    entry, hotel, hotel_name, plate = f"EP-{tag}", f"H-{tag}", f"荔湾酒店 {tag}", f"粤A·L{tag[:4]}"
    admin.post("/api/entry-points", {"code": entry, "name": f"白云机场 T2 {tag}"}, expect=201)
    admin.post(
        "/api/sites", {"code": hotel, "name": hotel_name, "kind": "hotel", "rooms": ["601"]},
        expect=201,
    )
    admin.post("/api/vehicles", {"plate": plate, "seats": 5}, expect=201)
    family = Api(live.url).post(
        "/api/registrations",
        {"entry_point": entry,
         "travellers": [traveller(f"L{tag}{n}", name) for n, name in enumerate(FAMILY)]},
        expect=201,
    )
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    for journey in family["journey_ids"]:
        screener.post(f"/api/journeys/{journey}/screening", {"risk": "medium"})
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    run = dispatcher.post(
        "/api/runs", {"plate": plate, "escort": "张师傅", "entry_point": entry}, expect=201
    )
    dispatcher.wait_for_views()

    # 1. The dispatcher assigns the family, as one party, to the hotel and the run.
    console = phone("zh-CN", **DESK)
    sign_in(console, live, Role.DISPATCHER)
    card = console.locator(f"li.party[data-party='{family['party_id']}']")
    expect(card).to_contain_text(FAMILY[0])
    card.get_by_role("button", name=re.compile("Assign party of 3")).click()
    console.get_by_label(re.compile("Destination \\(hotel")).select_option(hotel)
    console.get_by_label(re.compile("Run \\(optional")).select_option(run["run_id"])
    console.get_by_role("button", name="确认 / Confirm", exact=True).click()
    expect(card).to_have_count(0, timeout=LIVE_MS)
    run_row = console.locator(f"#runs-table tbody[data-run='{run['run_id']}']")
    expect(run_row.locator(".seated")).to_have_text("3")
    console.screenshot(path=artifacts / "1-console-assigned.png")

    # 2. The escort's phone boards them at the car door through its camera.
    camera = launch_browser(
        [*FAKE_CAMERA,
         f"--use-file-for-fake-video-capture={family_video(family['status_urls'], tmp_path)}"]
    )
    escort = phone(browser=camera, permissions=["camera"])
    staff_signs_in(escort, live, Role.ESCORT)
    escort.get_by_role("radio", name=re.compile("Car door")).check()
    pick(escort, "run-pick", plate)
    escort.get_by_role("button", name="开始扫码 / Start scanning").click()
    escort.get_by_role("button", name="打开摄像头 / Start camera").click()
    confirm_everyone(escort, FAMILY, "board")
    escort.get_by_role("button", name="关闭摄像头 / Stop camera").click()
    escort.screenshot(path=artifacts / "2-escort-boarded.png", full_page=True)

    # 3. The console sees them aboard by itself; the run departs and arrives.
    expect(run_row.locator(".boarded")).to_have_text("3", timeout=LIVE_MS)
    run_row.get_by_role("button", name=re.compile("Depart")).click()
    expect(run_row.locator(".status")).to_contain_text("Departed", timeout=LIVE_MS)
    run_row.get_by_role("button", name=re.compile("Arrive")).click()
    expect(run_row.locator(".status")).to_contain_text("Arrived", timeout=LIVE_MS)

    # 4. The receiver's phone checks them in at the room door.
    receiver = phone(browser=camera, permissions=["camera"])
    staff_signs_in(receiver, live, Role.RECEIVER)
    expect(receiver.get_by_role("radio", name=re.compile("Room door"))).to_be_checked()
    pick(receiver, "site-pick", hotel_name)
    receiver.get_by_role("button", name="开始扫码 / Start scanning").click()
    receiver.get_by_role("button", name="打开摄像头 / Start camera").click()
    confirm_everyone(receiver, FAMILY, "check_in")
    receiver.screenshot(path=artifacts / "3-receiver-checked-in.png", full_page=True)

    # 5. The whole custody chain, one holder at a time, for every member.
    site_id = next(
        s["site_id"] for s in dispatcher.get("/api/reference")["sites"] if s["code"] == hotel
    )
    escort_of, receiver_of = f"escort:{run['run_id']}", f"receiver:{site_id}"
    for journey in family["journey_ids"]:
        status = dispatcher.get(f"/api/journeys/{journey}")
        # The room-door scan starts the quarantine order with it.
        assert (status["stage"], status["custodian"]) == ("under_quarantine", receiver_of)
        assert custody_chain(dispatcher, journey) == [
            ("Screened", f"desk:{entry}"),
            ("CustodyOffered", escort_of),
            ("CustodyAccepted", escort_of),
            ("Boarded", None),
            ("CustodyOffered", receiver_of),
            ("CustodyAccepted", receiver_of),
            ("CheckedIn", None),
        ]

    # ... and on the console: the run closed when the last of them went through the door, so
    # the dispatcher finds the first member by their personal code and reads the same chain.
    expect(run_row).to_have_count(0, timeout=LIVE_MS)
    finder = console.get_by_label(re.compile("Find a traveller"))
    finder.fill("not-a-real-code")
    finder.press("Enter")
    expect(console.locator("#find-error")).to_contain_text("this code does not work")
    finder.fill(family["status_urls"][0])
    finder.press("Enter")
    dialog = console.get_by_role("dialog")
    expect(dialog).to_contain_text(FAMILY[0])
    expect(dialog.locator("tr[data-event='CheckedIn']")).to_have_count(1)
    expect(console.locator("#custody-chain")).to_have_text(
        re.compile(rf"desk {entry}.*→.*escort {re.escape(plate)}.*→.*receiver {hotel_name}")
    )
    console.screenshot(path=artifacts / "4-timeline-custody-chain.png")
