"""The phone scanner page (`/scan`) in real Chromium: a fake camera reads a traveller's QR code
and the escort boards them; with the network gone, confirmed boardings queue on the phone and
replay once each when it comes back, and a second replay of the same queue changes nothing."""

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


def seated_travellers(live: Live, count: int) -> Run:
    """`count` travellers, each registered alone, screened, sent to a hotel and seated on one
    run: exactly the state in which the escort's scan at the car door is green."""
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    entry, hotel, plate = f"EP-{tag}", f"H-{tag}", f"粤A·{tag[:5]}"
    admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T2"}, expect=201)
    rooms = [str(301 + n) for n in range(count)]
    admin.post(
        "/api/sites",
        {"code": hotel, "name": "荔湾酒店", "kind": "hotel", "rooms": rooms},
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
    return Run(run["run_id"], plate, journeys, urls, names)


def escort_signs_in_at_car_door(page: Page, live: Live, run_id: str) -> None:
    username = add_staff(live.settings, Role.ESCORT)
    response = page.goto(f"{live.url}/scan")
    assert response is not None
    # The decoder compiles WebAssembly; nothing else may be evaluated, nothing fetched elsewhere.
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval';" in csp and "default-src 'self'" in csp
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录 / Sign in").click()
    page.get_by_role("radio", name=re.compile("Car door")).check()
    page.get_by_label("车次编号 / Run id").fill(run_id)
    page.get_by_role("button", name="开始扫码 / Start scanning").click()
    expect(page.locator("#scanner")).to_be_visible()


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


def test_fake_camera_reads_the_code_and_the_escort_boards_the_traveller(
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
    escort_signs_in_at_car_door(page, live_server, run.run_id)
    dispatcher = Api.signed_in(live_server.url, live_server.settings, Role.DISPATCHER)
    assert stages(dispatcher, run.journeys) == ["seat_assigned"]

    page.get_by_role("button", name="打开摄像头 / Start camera").click()
    panel = page.locator("#result")
    expect(panel).to_have_attribute("data-verdict", "go", timeout=30_000)
    expect(panel).to_contain_text(run.names[0])
    expect(page.locator("#result-plate")).to_have_text(run.plate)
    expect(page.locator("#result-destination")).to_contain_text("荔湾酒店")
    page.screenshot(path=artifacts / "camera-green.png", full_page=True)

    page.get_by_role("button", name="确认交接 / Confirm handoff").click()
    expect(page.locator("#log li.ok")).to_contain_text(run.names[0])
    expect(page.locator("#pending-count")).to_have_text("0")
    assert stages(dispatcher, run.journeys) == ["boarded"]
    dispatcher.wait_for_views()
    [boarded] = boarded_events(dispatcher, run.journeys[0])
    assert boarded["role"] == "escort"
    assert boarded["occurred_at"]  # the phone's clock travelled with the command

    # A traveller seated on another run, typed in by hand: a red STOP with no Confirm.
    page.get_by_role("button", name="关闭摄像头 / Stop camera").click()
    wrong = seated_travellers(live_server, 1)
    page.get_by_label(re.compile("Scanner gun")).fill(wrong.status_urls[0])
    page.get_by_label(re.compile("Scanner gun")).press("Enter")
    expect(panel).to_have_attribute("data-verdict", "stop")
    expect(panel).to_contain_text(wrong.names[0])
    expect(panel).to_contain_text("wrong vehicle")
    expect(page.locator("#confirm")).to_be_hidden()
    page.screenshot(path=artifacts / "wrong-run-red.png", full_page=True)


def test_offline_confirmations_queue_and_replay_once(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    run = seated_travellers(live_server, 5)
    page = phone()
    escort_signs_in_at_car_door(page, live_server, run.run_id)
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
