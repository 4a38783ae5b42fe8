"""The phone scanner page (`/scan`) in real Chromium: the escort picks the run from the list and
a fake camera reads a traveller's QR code to board them; a traveller of another run is red, and
the page records that off-route scan anyway (once) without moving them; the receiver picks the
site from the list; with the network gone, confirmed boardings queue on the phone and replay
once each when it comes back, and a second replay of the same queue changes nothing."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from playwright.sync_api import Page, expect

from domain.staff import Role
from tests.browser.conftest import LaunchBrowser, Phone
from tests.e2e.client import PASSWORD, Api, add_staff, event_count, traveller
from tests.e2e.conftest import Live
from tracking.qr import qr_png

QUEUE = "tracking.scanner.queue"
FAKE_CAMERA = (
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
)


@dataclass
class Run:
    run_id: str
    plate: str
    journeys: list[str]
    status_urls: list[str]
    names: list[str]
    hotel: str


def seated_travellers(live: Live, count: int, hotel_name: str = "荔湾酒店") -> Run:
    """`count` travellers, each registered alone, screened, sent to a hotel and seated on one
    run: exactly the state in which the escort's scan at the car door is green."""
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    entry, hotel, plate = f"EP-{tag}", f"H-{tag}", f"粤A·{tag[:5]}"
    admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T2"}, expect=201)
    rooms = [str(301 + n) for n in range(count)]
    admin.post(
        "/api/sites",
        {"code": hotel, "name": hotel_name, "kind": "hotel", "rooms": rooms},
        expect=201,
    )
    admin.post("/api/vehicles", {"plate": plate, "seats": max(count, 4)}, expect=201)
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    run = dispatcher.post(
        "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": entry}, expect=201
    )
    journeys, urls, names = [], [], []
    for n in range(count):
        name = f"王小{'明红刚丽华'[n % 5]}{n}"
        answer = Api(live.url).post(
            "/api/registrations",
            {"entry_point": entry, "travellers": [traveller(f"S{tag}{n}", name)]},
            expect=201,
        )
        journey = answer["journey_ids"][0]
        screener.post(f"/api/journeys/{journey}/screening", {"risk": "low"})
        dispatcher.post(f"/api/journeys/{journey}/destination", {"site": hotel})
        dispatcher.post(f"/api/journeys/{journey}/seats", {"run_id": run["run_id"]})
        journeys.append(journey)
        urls.append(answer["status_urls"][0])
        names.append(name)
    dispatcher.wait_for_views()  # the pickers read the views: the run and hotel are listed
    return Run(run["run_id"], plate, journeys, urls, names, hotel)


def staff_signs_in(page: Page, live: Live, role: Role) -> None:
    username = add_staff(live.settings, role)
    response = page.goto(f"{live.url}/scan")
    assert response is not None
    # The decoder compiles WebAssembly; nothing else may be evaluated, nothing fetched elsewhere.
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp and "default-src 'self'" in csp
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录 / Sign in").click()


def pick(page: Page, picker: str, shown: str) -> None:
    """Choose, as a person would, the option of the <select> `picker` that shows `shown`."""
    option = page.locator(f"#{picker} option", has_text=shown)
    expect(option).to_have_count(1)  # the list has loaded, and names it once
    page.locator(f"#{picker}").select_option(label=option.inner_text())


def escort_signs_in_at_car_door(
    page: Page, live: Live, run: Run, *, typed: bool = False
) -> None:
    """The escort picks their run from the list of open runs (or, `typed`, types the run id
    from a paper sheet through the list's "type it" option)."""
    staff_signs_in(page, live, Role.ESCORT)
    page.get_by_role("radio", name=re.compile("Car door")).check()
    if typed:
        page.get_by_label("车次 / Vehicle run").select_option(label="手动输入… / Type it…")
        page.get_by_label("调度单上的车次编号 / Run id from the dispatch sheet").fill(run.run_id)
    else:
        pick(page, "run-pick", run.plate)
    page.get_by_role("button", name="开始扫码 / Start scanning").click()
    expect(page.locator("#scanner")).to_be_visible()
    expect(page.locator("#handoff-summary")).to_contain_text(run.plate if not typed else run.run_id)


def stages(staff: Api, journeys: list[str]) -> list[str]:
    return [staff.get(f"/api/journeys/{j}")["stage"] for j in journeys]


def boarded_events(staff: Api, journey: str) -> list[dict[str, Any]]:
    events = staff.get(f"/api/journeys/{journey}/timeline")["events"]
    return [e for e in events if e["event_type"].lower().endswith("boarded")]


def qr_video(url: str, directory: Path) -> Path:
    """A .y4m that Chromium's fake camera plays in a loop: the QR code, white-padded to the
    camera's default 640x480 so the quiet zone survives."""
    png = directory / "qr.png"
    png.write_bytes(qr_png(url))
    video = directory / "qr.y4m"
    subprocess.run(
        [
            *["ffmpeg", "-loglevel", "error", "-y", "-loop", "1", "-t", "2", "-r", "10", "-i"],
            str(png),
            *("-vf", "scale=-2:440,pad=640:480:(ow-iw)/2:(oh-ih)/2:white,format=yuv420p"),
            str(video),
        ],
        check=True,
        timeout=60,
    )
    return video.resolve()


def test_escort_picks_the_run_and_the_fake_camera_boards_the_traveller(
    live_server: Live,
    launch_browser: LaunchBrowser,
    phone: Phone,
    artifacts: Path,
    tmp_path: Path,
) -> None:
    run = seated_travellers(live_server, 1)
    video = qr_video(run.status_urls[0], tmp_path)
    camera = launch_browser([*FAKE_CAMERA, f"--use-file-for-fake-video-capture={video}"])
    page = phone(browser=camera, permissions=["camera"])
    staff_signs_in(page, live_server, Role.ESCORT)
    # An escort's phone opens at the car door; the run is picked from the open runs, each
    # shown with its plate, entry point, status and seats taken / boarded: nothing typed.
    expect(page.get_by_role("radio", name=re.compile("Car door"))).to_be_checked()
    option = page.locator("#run-pick option", has_text=run.plate)
    expect(option).to_contain_text("待出发 planned")
    expect(option).to_contain_text("seated 1/4")
    expect(option).to_contain_text("boarded 0")
    expect(page.get_by_label(re.compile("Run id from the dispatch sheet"))).to_be_hidden()
    pick(page, "run-pick", run.plate)
    page.screenshot(path=artifacts / "run-picked.png", full_page=True)
    page.get_by_role("button", name="开始扫码 / Start scanning").click()
    expect(page.locator("#handoff-summary")).to_contain_text(run.plate)
    dispatcher = Api.signed_in(live_server.url, live_server.settings, Role.DISPATCHER)
    assert stages(dispatcher, run.journeys) == ["seat_assigned"]

    page.get_by_role("button", name="打开摄像头 / Start camera").click()
    panel = page.locator("#result")
    expect(panel).to_have_attribute("data-verdict", "go", timeout=30_000)
    expect(panel).to_contain_text(run.names[0])
    expect(page.locator("#result-plate")).to_have_text(run.plate)
    expect(page.locator("#result-destination")).to_contain_text("荔湾酒店")
    expect(page.locator("#result-stage")).to_have_text("已分配座位 / Seat assigned")
    # The reason in both languages, from the page's words for the code "board".
    expect(page.locator("#result-reason [lang=zh-CN]")).to_have_text(re.compile("这是此人的车辆"))
    expect(page.locator("#result-reason [lang=en]")).to_have_text(re.compile("let them board"))
    expect(page.locator("#off-route")).to_be_hidden()
    page.screenshot(path=artifacts / "camera-green.png", full_page=True)

    page.get_by_role("button", name="确认交接 / Confirm handoff").click()
    expect(page.locator("#log li.ok")).to_contain_text(run.names[0])
    expect(page.locator("#pending-count")).to_have_text("0")
    assert stages(dispatcher, run.journeys) == ["boarded"]
    dispatcher.wait_for_views()
    [boarded] = boarded_events(dispatcher, run.journeys[0])
    assert boarded["role"] == "escort"
    assert boarded["occurred_at"]  # the phone's clock travelled with the command

    # The choice is remembered on the device: back to the setup after a reload, it is there.
    page.get_by_role("button", name="关闭摄像头 / Stop camera").click()
    page.reload()
    expect(page.locator("#setup")).to_be_visible()
    expect(page.locator("#run-pick")).to_have_value(run.run_id)


def test_an_off_route_boarding_is_red_recorded_once_and_moves_nothing(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    """The escort of run B scans a traveller seated on run A: red, with A's plate; the page
    posts the boarding anyway, the domain records one MisdirectedScanRecorded, and the
    traveller stays seated on A. A second scan of them adds no second record."""
    run_a = seated_travellers(live_server, 1)
    run_b = seated_travellers(live_server, 1)
    page = phone()
    escort_signs_in_at_car_door(page, live_server, run_b)
    code_box = page.get_by_label(re.compile("Scanner gun"))
    panel = page.locator("#result")

    code_box.fill(run_a.status_urls[0])
    code_box.press("Enter")
    expect(panel).to_have_attribute("data-verdict", "stop")
    expect(panel).to_have_attribute("data-reason", "wrong_vehicle")
    expect(panel).to_contain_text(run_a.names[0])
    expect(page.locator("#confirm")).to_be_hidden()  # nothing for staff to confirm
    banner = page.locator("#off-route")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(
        "recorded as off-route — the dispatcher is alerted", ignore_case=True
    )
    expect(banner).to_contain_text("do not let them board")
    expect(banner).to_contain_text("已登记为错误交接")
    expect(page.locator("#off-route-where")).to_have_text(run_a.plate)  # where they belong
    expect(page.locator("#result-reason [lang=zh-CN]")).to_have_text(re.compile("错车"))
    off_route = page.locator("#log li.off-route")
    expect(off_route).to_have_count(1)
    expect(off_route).to_contain_text(run_a.names[0])
    expect(off_route).to_contain_text(run_a.plate)
    expect(page.locator("#pending-count")).to_have_text("0")
    page.screenshot(path=artifacts / "off-route-red.png", full_page=True)

    # Turned away, scanned again a moment later: still red, still one record.
    page.get_by_role("button", name="下一位 / Next").click()
    code_box.fill(run_a.status_urls[0])
    code_box.press("Enter")
    expect(panel).to_have_attribute("data-reason", "wrong_vehicle")
    expect(banner).to_be_visible()
    page.wait_for_timeout(1_000)  # time for a second post, were the page to send one
    expect(off_route).to_have_count(1)
    expect(page.locator("#pending-count")).to_have_text("0")

    dispatcher = Api.signed_in(live_server.url, live_server.settings, Role.DISPATCHER)
    dispatcher.wait_for_views()
    journey = run_a.journeys[0]
    events = dispatcher.get(f"/api/journeys/{journey}/timeline")["events"]
    misdirected = [e for e in events if e["event_type"].endswith("MisdirectedScanRecorded")]
    assert len(misdirected) == 1
    assert misdirected[0]["role"] == "escort" and misdirected[0]["occurred_at"]
    assert not boarded_events(dispatcher, journey)
    status = dispatcher.get(f"/api/journeys/{journey}")
    assert (status["stage"], status["run_id"]) == ("seat_assigned", run_a.run_id)
    assert dispatcher.get(f"/api/runs/{run_b.run_id}")["boarded"] == []


def arrived_travellers(live: Live, hotel_name: str) -> Run:
    """One traveller boarded, driven and arrived at their hotel (the receiver's green)."""
    run = seated_travellers(live, 1, hotel_name)
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    escort.post(
        f"/api/journeys/{run.journeys[0]}/boarding",
        {"run_id": run.run_id, "scan_id": str(uuid4())},
    )
    escort.post(f"/api/runs/{run.run_id}/departure", {})
    escort.post(f"/api/runs/{run.run_id}/arrival", {})
    escort.wait_for_views()
    return run


def test_receiver_picks_the_site_and_is_told_where_an_off_route_traveller_belongs(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    mine = arrived_travellers(live_server, "荔湾酒店")
    theirs = arrived_travellers(live_server, "白鹅潭酒店")
    page = phone()
    staff_signs_in(page, live_server, Role.RECEIVER)
    expect(page.get_by_role("radio", name=re.compile("Room door"))).to_be_checked()
    expect(page.locator("#site-pick option", has_text=mine.hotel)).to_contain_text("酒店 hotel")
    pick(page, "site-pick", mine.hotel)
    page.get_by_role("button", name="开始扫码 / Start scanning").click()
    expect(page.locator("#handoff-summary")).to_contain_text(mine.hotel)
    code_box = page.get_by_label(re.compile("Scanner gun"))
    panel = page.locator("#result")

    # A traveller of another hotel at this door: red, recorded as off-route, sent on.
    code_box.fill(theirs.status_urls[0])
    code_box.press("Enter")
    expect(panel).to_have_attribute("data-reason", "wrong_site")
    expect(page.locator("#off-route")).to_contain_text("do not check them in")
    expect(page.locator("#off-route-where")).to_contain_text("白鹅潭酒店")
    expect(page.locator("#log li.off-route")).to_contain_text(theirs.names[0])
    page.screenshot(path=artifacts / "check-in-off-route.png", full_page=True)
    page.get_by_role("button", name="下一位 / Next").click()

    # This hotel's own traveller: green, confirmed, checked in.
    code_box.fill(mine.status_urls[0])
    code_box.press("Enter")
    expect(panel).to_have_attribute("data-verdict", "go")
    expect(panel).to_have_attribute("data-reason", "check_in")
    expect(page.locator("#result-reason [lang=zh-CN]")).to_have_text(re.compile("办理入住"))
    page.get_by_role("button", name="确认交接 / Confirm handoff").click()
    expect(page.locator("#log li.ok")).to_contain_text(mine.names[0])
    dispatcher = Api.signed_in(live_server.url, live_server.settings, Role.DISPATCHER)
    # The room door starts the quarantine order too (the scanner asks for it).
    assert stages(dispatcher, mine.journeys + theirs.journeys) == ["under_quarantine", "arrived"]


def test_the_desk_picks_its_entry_point(live_server: Live, phone: Phone) -> None:
    admin = Api.signed_in(live_server.url, live_server.settings, Role.ADMIN)
    entry = f"EP-{uuid4().hex[:6].upper()}"
    admin.post("/api/entry-points", {"code": entry, "name": "南沙客运港"}, expect=201)
    answer = Api(live_server.url).post(
        "/api/registrations",
        {"entry_point": entry, "travellers": [traveller(f"D{entry[3:]}", "赵六")]},
        expect=201,
    )
    admin.wait_for_views()
    page = phone()
    staff_signs_in(page, live_server, Role.SCREENER)
    expect(page.get_by_role("radio", name=re.compile("Entry desk"))).to_be_checked()
    pick(page, "entry-point-pick", f"南沙客运港 ({entry})")
    page.get_by_role("button", name="开始扫码 / Start scanning").click()
    code_box = page.get_by_label(re.compile("Scanner gun"))
    code_box.fill(answer["status_urls"][0])
    code_box.press("Enter")
    expect(page.locator("#result")).to_have_attribute("data-reason", "screen")
    expect(page.locator("#result-reason [lang=zh-CN]")).to_have_text(re.compile("核对证件"))
    expect(page.locator("#confirm")).to_be_hidden()  # the desk only looks up


def test_offline_confirmations_queue_and_replay_once(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    run = seated_travellers(live_server, 5)
    page = phone()
    # A run id handed over on paper: typed through the list's "type it" option.
    escort_signs_in_at_car_door(page, live_server, run, typed=True)
    code_box = page.get_by_label(re.compile("Scanner gun"))
    panel = page.locator("#result")

    # Online: a scanner gun types each URL and Enter; every look-up is green.
    for url, name in zip(run.status_urls, run.names, strict=True):
        code_box.press_sequentially(url)
        code_box.press("Enter")
        expect(panel).to_have_attribute("data-verdict", "go")
        expect(panel).to_contain_text(name)
        page.get_by_role("button", name="下一位 / Next").click()
        expect(panel).to_be_hidden()

    # The network goes; each traveller is scanned again at the car door and confirmed.
    page.context.set_offline(True)
    expect(page.locator("#network")).to_have_text("离线 / Offline")
    for n, url in enumerate(run.status_urls, 1):
        code_box.fill(url)
        code_box.press("Enter")
        expect(panel).to_have_attribute("data-verdict", "go")
        expect(panel).to_have_attribute("data-cached", "true")
        page.get_by_role("button", name="确认交接 / Confirm handoff").click()
        expect(page.locator("#pending-count")).to_have_text(str(n))
    page.screenshot(path=artifacts / "offline-5-pending.png", full_page=True)
    queued = page.evaluate(f"localStorage.getItem('{QUEUE}')")
    entries = json.loads(queued)
    assert [e["path"].split("/")[3] for e in entries] == run.journeys  # in scan order
    assert len({e["key"] for e in entries}) == len({e["body"]["scan_id"] for e in entries}) == 5
    dispatcher = Api.signed_in(live_server.url, live_server.settings, Role.DISPATCHER)
    assert stages(dispatcher, run.journeys) == ["seat_assigned"] * 5  # nothing sent yet

    # Back online: `online` fires, the queue drains, five boardings.
    page.context.set_offline(False)
    expect(page.locator("#pending-count")).to_have_text("0")
    expect(page.locator("#log li.ok")).to_have_count(5)
    assert stages(dispatcher, run.journeys) == ["boarded"] * 5
    dispatcher.wait_for_views()
    assert [len(boarded_events(dispatcher, j)) for j in run.journeys] == [1] * 5
    before = event_count(live_server.settings)
    timelines = [dispatcher.get(f"/api/journeys/{j}/timeline") for j in run.journeys]

    # The same five requests once more (a phone that lost its answers and replays its copy).
    page.evaluate(
        "([key, copy]) => {"
        " localStorage.setItem(key, copy); window.dispatchEvent(new Event('online')); }",
        [QUEUE, queued],
    )
    page.wait_for_function(
        "key => JSON.parse(localStorage.getItem(key) || '[]').length === 0", arg=QUEUE
    )
    # Each was answered (the first answer again), none refused.
    expect(page.locator("#log li.ok")).to_have_count(10)
    expect(page.locator("#log li.bad")).to_have_count(0)
    dispatcher.wait_for_views()
    assert event_count(live_server.settings) == before
    assert [dispatcher.get(f"/api/journeys/{j}/timeline") for j in run.journeys] == timelines
    page.screenshot(path=artifacts / "replayed.png", full_page=True)
