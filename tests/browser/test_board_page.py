"""The command board (`/board`) in real Chromium on a wall-sized screen: a commander opens it, and
twenty commands driven through the API (sites, registrations, screening, dispatch, a run that
boards, departs and arrives, check-in, quarantine, survey, cancellation) each show on the wall
by themselves, over the websocket, with the page's position catching up with the API's. A
passenger opens their custody timeline; the time-travel control shows an earlier moment's
counts and comes back to live; the language switch shows one language or both. Survey staff
see the counts without vehicles or alert details; an escort is told the board is not theirs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, WebSocketRoute, expect

from domain.staff import Role
from tests.browser.conftest import Phone, watched_page
from tests.e2e.client import PASSWORD, Api, add_staff, traveller
from tests.e2e.conftest import Live

WALL: dict[str, Any] = {
    "viewport": {"width": 1920, "height": 1080},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
    "timezone_id": "Asia/Shanghai",
}
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A change reaches the wall over the websocket in well under a second; CI machines are shared.
LIVE_MS = 10_000
LINE = (
    "registered", "screened", "destination_assigned", "seat_assigned", "boarded", "in_transit",
    "arrived", "checked_in", "under_quarantine", "released",
    "referred_to_hospital", "no_show", "cancelled",
)


def open_board(page: Page, live: Live, role: Role) -> None:
    response = page.goto(f"{live.url}/board")
    assert response is not None and response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    # One connect-src (a second would be ignored), admitting the websocket.
    connect = [d.split() for d in csp.split(";") if d.split()[:1] == ["connect-src"]]
    assert len(connect) == 1 and {"'self'", "ws:", "wss:"} <= set(connect[0]), csp
    page.get_by_label("用户名").fill(add_staff(live.settings, role))
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录 / Sign in").click()


def api_board(api: Api) -> dict[str, Any]:
    """The board from the API once the views have applied everything recorded so far. Its
    position is that of the last event the board shows (events it does not show move nothing)."""
    api.wait_for_views()
    board: dict[str, Any] = api.get("/api/board")
    return board


def reaches(page: Page, position: int) -> None:
    """The page's board reflects at least `position`."""
    page.wait_for_function(
        "n => Number(document.getElementById('board-position').dataset.position) >= n",
        arg=position,
        timeout=LIVE_MS,
    )


def stage(page: Page, name: str) -> Any:
    return page.locator(f"#line-panel li.stage[data-stage='{name}'] .count")


def shows_counts(page: Page, board: dict[str, Any]) -> None:
    """Every count of the line and the survey backlog on the page are the API's."""
    for name in LINE:
        expect(stage(page, name)).to_have_text(str(board["stages"].get(name, 0)), timeout=LIVE_MS)
    expect(page.locator("#survey-due")).to_have_text(
        str(board["counters"]["survey_due"]), timeout=LIVE_MS
    )


def test_the_wall_follows_twenty_commands(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    live = live_server
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    receiver = Api.signed_in(live.url, live.settings, Role.RECEIVER)
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)
    public = Api(live.url)
    tag = uuid4().hex[:6].upper()
    entry, hotel, street, plate = f"EP-{tag}", f"H-{tag}", f"ST-{tag}", f"粤A·B{tag[:4]}"
    admin.post("/api/entry-points", {"code": entry, "name": f"白云机场 {tag}"}, expect=201)
    admin.post("/api/vehicles", {"plate": plate, "seats": 6}, expect=201)

    page, errors = watched_page(phone, WALL)
    open_board(page, live, Role.COMMANDER)
    expect(page.locator("#board")).to_be_visible()
    expect(page.locator("#board-live")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    start = api_board(commander)
    reaches(page, start["position"])
    shows_counts(page, start)
    expect(page.locator("#board-mode")).to_have_attribute("data-mode", "live")
    page.screenshot(path=artifacts / "1-snapshot.png")

    ids: dict[str, Any] = {}
    hotel_row = page.locator(f"#hotels tr[data-site-code='{hotel}']")
    street_row = page.locator(f"#streets tr[data-site-code='{street}']")

    def run_card() -> Any:
        return page.locator(f"[data-run-id='{ids['run']}']")

    def passenger(journey: str) -> Any:
        return run_card().locator(f"button[data-journey-id='{journey}']")

    def register(number: str, *names: str) -> dict[str, Any]:
        answer: dict[str, Any] = public.post(
            "/api/registrations",
            {"entry_point": entry,
             "travellers": [traveller(f"W{tag}{number}{n}", name) for n, name in enumerate(names)]},
            expect=201,
        )
        return answer

    def board_scan(journey: str) -> None:
        answer = escort.post(
            f"/api/journeys/{journey}/boarding",
            {"run_id": ids["run"], "scan_id": f"car-{uuid4()}", "where": "car door"},
        )
        assert answer["outcome"] == "accepted", answer

    def check_in(journey: str) -> None:
        answer = receiver.post(
            f"/api/journeys/{journey}/check-in", {"site": hotel, "scan_id": f"door-{uuid4()}"}
        )
        assert answer["outcome"] == "accepted", answer

    def family() -> None:
        ids["mum"], ids["child"] = register("F", "王小明", "王𠮷")["journey_ids"]

    def single() -> None:
        ids["single"] = register("S", "李红")["journey_ids"][0]

    def new_run() -> None:
        ids["run"] = dispatcher.post(
            "/api/runs", {"plate": plate, "escort": "张师傅", "entry_point": entry}, expect=201
        )["run_id"]

    # Each command, and what the wall must show once it is recorded (beyond the counts of the
    # line and the survey backlog, which are compared with the API's after every command).
    def no_more() -> None:
        """Nothing beyond the counts of the line and the survey backlog."""

    # Each command, and what else the wall must show once it is recorded (the counts of the
    # line and the survey backlog are compared with the API's after every command).
    commands: list[tuple[str, Callable[[], object], tuple[Callable[[], None], ...]]] = [
        ("hotel opens",
         lambda: admin.post("/api/sites", {"code": hotel, "name": f"荔湾酒店 {tag}",
                                           "kind": "hotel", "rooms": ["101", "102"]}, expect=201),
         (lambda: expect(hotel_row.locator(".capacity")).to_have_text("2"),
          lambda: expect(hotel_row.locator(".free")).to_have_text("2"))),
        ("street opens",
         lambda: admin.post("/api/sites", {"code": street, "name": f"沙面街道 {tag}",
                                           "kind": "home", "capacity": 20}, expect=201),
         (lambda: expect(street_row.locator(".capacity")).to_have_text("20"),)),
        ("a family registers", family, (no_more,)),
        ("a traveller registers", single, (no_more,)),
        ("mum is screened",
         lambda: screener.post(f"/api/journeys/{ids['mum']}/screening", {"risk": "low"}),
         (no_more,)),
        ("the child is screened",
         lambda: screener.post(f"/api/journeys/{ids['child']}/screening", {"risk": "low"}),
         (no_more,)),
        ("the traveller is screened",
         lambda: screener.post(f"/api/journeys/{ids['single']}/screening", {"risk": "low"}),
         (no_more,)),
        ("the family gets a room",
         lambda: dispatcher.post(f"/api/journeys/{ids['mum']}/destination", {"site": hotel}),
         (lambda: expect(hotel_row.locator(".held")).to_have_text("1"),
          lambda: expect(hotel_row.locator(".free")).to_have_text("1"))),
        ("the traveller goes home",
         lambda: dispatcher.post(f"/api/journeys/{ids['single']}/destination", {"site": street}),
         (lambda: expect(street_row.locator("li[data-stage='destination_assigned'] .count"))
          .to_have_text("1"),)),
        ("a run is planned", new_run,
         (lambda: expect(run_card()).to_have_attribute("data-status", "planned"),)),
        ("the family gets seats",
         lambda: dispatcher.post(f"/api/journeys/{ids['mum']}/seats", {"run_id": ids["run"]}),
         (lambda: expect(passenger(ids["mum"])).to_have_attribute("data-stage", "seat_assigned"),
          lambda: expect(passenger(ids["child"])).to_be_visible(),
          lambda: expect(run_card().locator(".seated")).to_have_text("2"))),
        ("mum boards", lambda: board_scan(ids["mum"]),
         (lambda: expect(page.locator("#runs").locator(f"[data-run-id='{ids['run']}']"))
          .to_have_attribute("data-status", "boarding"),
          lambda: expect(passenger(ids["mum"])).to_have_attribute("data-stage", "boarded"),
          lambda: expect(run_card().locator(".boarded")).to_have_text("1"))),
        ("the child boards", lambda: board_scan(ids["child"]),
         (lambda: expect(run_card().locator(".boarded")).to_have_text("2"),)),
        ("the run departs",
         lambda: escort.post(f"/api/runs/{ids['run']}/departure", {}),
         (lambda: expect(run_card()).to_have_attribute("data-status", "departed"),
          lambda: expect(run_card().locator(".status")).to_contain_text("Departed"),
          # The SLA clock runs from the first boarding towards the not-checked-in limit.
          lambda: expect(run_card().locator(".limit")).to_have_text(" / 120:00"))),
        ("the run arrives",
         lambda: escort.post(f"/api/runs/{ids['run']}/arrival", {}),
         (lambda: expect(run_card()).to_have_attribute("data-status", "arrived"),
          lambda: expect(run_card().locator(".limit")).to_have_text(" / 20:00"),
          lambda: expect(run_card().locator(".elapsed-box")).not_to_have_class(
              re.compile(r"\bbreached\b")),
          lambda: expect(passenger(ids["child"])).to_have_attribute("data-stage", "arrived"))),
        ("mum is checked in", lambda: check_in(ids["mum"]),
         (lambda: expect(hotel_row.locator(".occupied")).to_have_text("1"),
          lambda: expect(passenger(ids["mum"])).to_have_count(0))),
        # The last of them through the door closes the run: it leaves the wall.
        ("the child is checked in", lambda: check_in(ids["child"]),
         (lambda: expect(run_card()).to_have_count(0),)),
        ("mum's quarantine starts",
         lambda: receiver.post(
             f"/api/journeys/{ids['mum']}/quarantine",
             {"planned_end": str(datetime.now(SHANGHAI).date() + timedelta(days=14))},
         ),
         (no_more,)),
        ("the traveller is surveyed",
         lambda: commander.post(f"/api/journeys/{ids['single']}/survey", {
             "risk": "low", "answers": {"risk_reason": "no symptoms, low-risk origin"}}),
         (no_more,)),
        ("the traveller's journey is cancelled",
         lambda: commander.post(f"/api/journeys/{ids['single']}/cancellation",
                                {"reason": "left on another flight"}),
         (lambda: expect(street_row.locator("li[data-stage='destination_assigned']"))
          .to_have_count(0),)),
    ]
    assert len(commands) == 20

    earlier: dict[str, Any] = {}
    seen: dict[str, Any] = {"start": start}
    for what, command, checks in commands:
        command()
        board = api_board(commander)
        assert board["position"] > seen.get("last", start)["position"], what
        reaches(page, board["position"])
        shows_counts(page, board)
        for check in checks:
            check()
        seen["last"] = board

        if what == "the run arrives":
            page.screenshot(path=artifacts / "2-run-arrived.png")
            # A passenger's custody timeline, from the wall.
            passenger(ids["mum"]).click()
            dialog = page.locator("#timeline")
            expect(dialog).to_be_visible()
            for event in ("Registered", "Screened", "SeatAssigned", "Boarded", "Departed",
                          "Arrived"):
                expect(dialog.locator(f"tr[data-event='{event}']")).to_have_count(1)
            boarded = dialog.locator("tr[data-event='Boarded']")
            expect(boarded).to_contain_text("car door")
            expect(boarded).to_contain_text("escort")
            expect(page.locator("#custody-chain")).to_contain_text(plate)
            page.screenshot(path=artifacts / "3-timeline.png")
            page.locator("#timeline-close").click()
            expect(dialog).to_be_hidden()

        if what == "the traveller is screened":
            # The moment to travel back to: after this command, before the next one.
            earlier = board
            moment = datetime.fromisoformat(board["at"]).astimezone(SHANGHAI)
            moment = moment.replace(microsecond=0) + timedelta(seconds=1)
            wait = moment.timestamp() - time.time() + 0.05
            if wait > 0:
                time.sleep(wait)
            earlier["moment"] = moment
    assert earlier, "no earlier moment was kept"
    page.screenshot(path=artifacts / "4-after-twenty-commands.png")

    # Door-to-door times of the day: every leg's count, then per hotel under the hotel's name.
    final = seen["last"]
    cells = final["timings"][final["day"]]
    for leg in ("to_seat", "to_board", "transit", "handover", "door_to_door", "overall",
                "vehicle_wait"):
        cell = cells.get(f"{leg}|all|")
        row = page.locator(f"#timings-legs tr[data-leg='{leg}']")
        expect(row.locator(".n")).to_have_text(str(cell["n"]) if cell else "0")
        expect(row.locator(".p50")).to_have_text(str(cell["p50"]) if cell else "—")
    assert cells["door_to_door|all|"]["n"] >= 2, cells
    page.locator("#timing-dimension").select_option("hotel")
    hotel_id = next(k for k, site in final["sites"].items() if site["code"] == hotel)
    keys = {name.split("|", 2)[2] for name in cells if name.split("|")[1] == "hotel"}
    assert hotel_id in keys, cells
    expect(page.locator("#timings-keys tr[data-dimension='hotel']")).to_have_count(len(keys))
    expect(page.locator(f"#timings-keys tr[data-key='{hotel_id}'] th")).to_have_text(
        f"荔湾酒店 {tag} ({hotel})"
    )
    page.locator("#timing-dimension").select_option("entry_point")

    # Time travel: the wall as it was after the screenings — then live again.
    page.locator("#travel-at").fill(earlier["moment"].strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#travel-go").click()
    expect(page.locator("#board-mode")).to_have_attribute("data-mode", "as-of")
    shows_counts(page, earlier)
    expect(page.locator("#board-position")).to_have_attribute(
        "data-position", str(earlier["position"])
    )
    expect(hotel_row.locator(".held")).to_have_text("0")
    expect(street_row.locator("li[data-stage]")).to_have_count(0)
    page.screenshot(path=artifacts / "5-as-of-earlier.png")
    # The slider reaches the first event, a moment when the line was nearly empty.
    slider = page.locator("#travel-slider")
    expect(slider).to_be_enabled()
    slider.focus()
    slider.press("Home")
    expect(page.locator("#board-position")).not_to_have_attribute(
        "data-position", str(earlier["position"])
    )
    assert int(page.locator("#board-position").get_attribute("data-position") or -1) < int(
        earlier["position"]
    )
    page.locator("#travel-live").click()
    expect(page.locator("#board-mode")).to_have_attribute("data-mode", "live")
    reaches(page, final["position"])
    shows_counts(page, final)

    # The language switch: English only, Chinese only, both.
    boarded_name = page.locator("#line-panel li.stage[data-stage='boarded'] .name")
    page.locator("#lang-en").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(boarded_name.locator("[lang='en']")).to_have_text("Boarded")
    expect(boarded_name.locator("[lang='zh-CN']")).to_be_hidden()
    expect(page.locator("#line-title [lang='zh-CN']")).to_be_hidden()
    expect(page.locator("#who-role [lang='en']")).to_have_text("commander")
    page.screenshot(path=artifacts / "6-english.png")
    page.locator("#lang-zh").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(boarded_name.locator("[lang='zh-CN']")).to_have_text("已上车")
    expect(boarded_name.locator("[lang='en']")).to_be_hidden()
    expect(page.locator("#timing-dimension option[value='hotel']")).to_have_text("隔离点")
    page.screenshot(path=artifacts / "7-chinese.png")
    page.locator("#lang-both").click()
    expect(boarded_name).to_have_text("已上车 / Boarded")
    # Kept for the next visit.
    page.reload()
    expect(page.locator("#lang-both")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#board-live")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    shows_counts(page, final)
    assert errors == [], errors


def test_survey_staff_see_counts_and_an_escort_is_refused(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    live = live_server
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)
    page, errors = watched_page(phone, WALL)
    open_board(page, live, Role.SURVEYOR)
    expect(page.locator("#board-live")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
    board = api_board(commander)
    reaches(page, board["position"])
    shows_counts(page, board)
    expect(page.locator("#runs-panel")).to_be_hidden()
    expect(page.locator("#alerts")).to_be_hidden()
    expect(page.locator("#alert-counts li[data-alert-kind]").first).to_be_visible()
    expect(page.locator("[data-journey-id]")).to_have_count(0)
    page.screenshot(path=artifacts / "surveyor.png")

    # Signed out, the same wall is signed into by an escort.
    page.locator("#sign-out").click()
    expect(page.locator("#board-live")).to_have_attribute("data-state", "off")
    page.get_by_label("用户名").fill(add_staff(live.settings, Role.ESCORT))
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录 / Sign in").click()
    expect(page.locator("#error")).to_contain_text("may not see the command board")
    expect(page.locator("#board")).to_be_hidden()
    # The server decides, not the page: told it is a commander, the page connects and the
    # websocket refuses the escort's token (4403) ...
    page.evaluate("sessionStorage.setItem('tracking.staff.role', 'commander')")
    page.reload()
    expect(page.locator("#error")).to_contain_text("may not see the command board")
    expect(page.locator("#board")).to_be_hidden()
    expect(page.locator("#board-live")).to_have_attribute("data-state", "off")
    # ... and a token it does not know (4401) brings the sign-in back.
    page.evaluate("sessionStorage.setItem('tracking.staff.token', 'not-a-token')")
    page.reload()
    expect(page.locator("#sign-in")).to_be_visible(timeout=LIVE_MS)
    assert errors == [], errors


def test_the_page_keeps_to_the_protocol(live_server: Live, phone: Phone) -> None:
    """state.js on its own: rows replaced or removed by id, counts merged key by key, timings
    merged cell by cell with other days dropped, and which deltas follow the position held.
    Then feed.js against a scripted websocket: a delta that does not follow the position held
    makes the page reconnect and say that position; so does a drop as too slow (4008); a
    refused token (4401) brings the sign-in back."""
    page, errors = watched_page(phone, WALL)
    page.goto(f"{live_server.url}/board")
    result = page.evaluate(
        """() => {
          const state = {
            position: 7, at: "2026-11-26T15:59:00+00:00", day: "2026-11-26",
            stages: {registered: 2, screened: 1}, counters: {survey_due: 3},
            runs: {r1: {run_id: "r1", status: "planned"}, r2: {run_id: "r2", status: "departed"}},
            on_road: {}, sites: {}, alerts: {a1: {alert_id: "a1"}}, alert_counts: {not_boarded: 1},
            entry_points: {PVG: "浦东"},
            timings: {"2026-11-26": {"transit|all|": {n: 1, p50: 30, p95: 30}}},
          };
          const delta = {
            type: "delta", position: 9, after: 7, at: "2026-11-26T16:00:01+00:00",
            changes: {
              stages: {registered: 1}, runs: {r1: null, r2: {run_id: "r2", status: "arrived"}},
              alerts: {a1: null}, alert_counts: {not_boarded: 0}, on_road: {j1: {journey_id: "j1"}},
              timings: {"2026-11-27": {"transit|all|": {n: 1, p50: 20, p95: 20}}},
            },
          };
          const verdicts = [
            BoardState.verdict(7, delta), BoardState.verdict(9, delta),
            BoardState.verdict(8, {position: 10, after: 9}),
          ];
          BoardState.apply(state, delta);
          return {state, verdicts};
        }"""
    )
    state = result["state"]
    assert result["verdicts"] == ["apply", "skip", "resync"]
    assert state["position"] == 9 and state["day"] == "2026-11-27"  # 00:00:01 in Shanghai
    assert state["stages"] == {"registered": 1, "screened": 1}
    assert state["counters"] == {"survey_due": 3}
    assert state["runs"] == {"r2": {"run_id": "r2", "status": "arrived"}}
    assert state["alerts"] == {} and state["alert_counts"] == {"not_boarded": 0}
    assert state["on_road"] == {"j1": {"journey_id": "j1"}}
    assert state["timings"] == {"2026-11-27": {"transit|all|": {"n": 1, "p50": 20, "p95": 20}}}

    hellos: list[dict[str, Any]] = []
    sockets: list[WebSocketRoute] = []
    board = {
        "position": 5, "at": "2026-11-26T04:00:00+00:00", "day": "2026-11-26",
        "rebuilding": False, "stages": {name: 0 for name in LINE}, "counters": {"survey_due": 0},
        "entry_points": {}, "sites": {}, "runs": {}, "on_road": {}, "alerts": {},
        "alert_counts": {}, "timings": {},
    }

    def server(ws: WebSocketRoute) -> None:
        sockets.append(ws)

        def hello(message: str | bytes) -> None:
            hellos.append(json.loads(message))
            if hellos[-1]["after"] is None:
                ws.send(json.dumps({"type": "snapshot", "position": 5, "board": board}))

        ws.on_message(hello)

    page.route_web_socket("**/ws/board", server)
    open_board(page, live_server, Role.COMMANDER)
    expect(page.locator("#board-position")).to_have_attribute("data-position", "5")

    def delta(position: int, after: int, registered: int) -> str:
        return json.dumps({
            "type": "delta", "position": position, "after": after,
            "at": "2026-11-26T04:01:00+00:00", "changes": {"stages": {"registered": registered}},
        })

    sockets[-1].send(delta(6, 5, 1))
    expect(stage(page, "registered")).to_have_text("1")
    sockets[-1].send(delta(9, 8, 4))  # 7 and 8 never came
    deadline = time.monotonic() + LIVE_MS / 1000
    while len(hellos) < 2:
        assert time.monotonic() < deadline, hellos
        page.wait_for_timeout(50)
    assert hellos[1]["after"] == 6 and hellos[1]["token"]
    expect(stage(page, "registered")).to_have_text("1")  # the gapped delta was not applied
    sockets[-1].send(delta(7, 6, 2))
    expect(page.locator("#board-position")).to_have_attribute("data-position", "7")
    sockets[-1].send(json.dumps({"type": "dropped", "reason": "slow"}))
    sockets[-1].close(code=4008, reason="dropped")
    while len(hellos) < 3:
        assert time.monotonic() < deadline, hellos
        page.wait_for_timeout(50)
    assert hellos[2]["after"] == 7
    expect(page.locator("#board-live")).to_have_attribute("data-state", "live")
    # A refused token on the next reconnect brings the sign-in back.
    sockets[-1].close(code=4401, reason="bad token")
    expect(page.locator("#sign-in")).to_be_visible(timeout=LIVE_MS)
    assert errors == [], errors
