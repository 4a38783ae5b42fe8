"""The dispatch console (`/dispatch`) in real Chromium on a desk-sized screen: a dispatcher sees
a screened family in the queue, asks for a suggestion and confirms it (a double-click records
once), watches the party leave the queue and the capacity move without reloading, plans a run,
reads the boarding list, moves the family to another run with a reason, is told in words why an
empty run cannot depart, and sees other people's work (a new arrival, an escort's boardings)
appear by itself. The journey's timeline shows the custody chain desk → escort → receiver."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from playwright.sync_api import Page, Route, expect

from domain.staff import Role
from tests.browser.conftest import Phone, watched_page
from tests.e2e.client import PASSWORD, Api, add_staff, traveller
from tests.e2e.conftest import Live

DESK: dict[str, Any] = {
    "viewport": {"width": 1440, "height": 900},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
}
# Changes made elsewhere reach the page by long-poll: well under this, but CI machines are shared.
LIVE_MS = 15_000
FAMILY = (("王小明", "WANG XIAOMING"), ("李红", "LI HONG"), ("王乐乐", "WANG LELE"))


@dataclass
class Desk:
    """One entry point with its own hotel, two idle vehicles, one planned run and a screened
    family of three waiting: unique codes, so tests sharing a server do not meet."""

    tag: str
    entry: str
    entry_name: str
    hotel: str
    hotel_name: str
    plates: tuple[str, str]
    run_id: str
    party_id: str
    journeys: list[str]
    admin: Api
    screener: Api
    dispatcher: Api


def desk_with_a_family(live: Live, *, planned_run: bool = True) -> Desk:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    tag = uuid4().hex[:6].upper()
    entry, hotel = f"EP-{tag}", f"H-{tag}"
    entry_name, hotel_name = f"白云机场 T2 {tag}", f"荔湾酒店 {tag}"
    plates = (f"粤A·{tag[:4]}1", f"粤A·{tag[:4]}2")
    admin.post("/api/entry-points", {"code": entry, "name": entry_name}, expect=201)
    admin.post(
        "/api/sites",
        {"code": hotel, "name": hotel_name, "kind": "hotel", "rooms": ["301", "302"]},
        expect=201,
    )
    for plate in plates:
        admin.post("/api/vehicles", {"plate": plate, "seats": 7}, expect=201)
    run = (
        dispatcher.post(
            "/api/runs", {"plate": plates[0], "escort": "张师傅", "entry_point": entry}, expect=201
        )
        if planned_run
        else {"run_id": ""}
    )
    answer = Api(live.url).post(
        "/api/registrations",
        {
            "entry_point": entry,
            "travellers": [
                traveller(f"F{tag}{n}", native, name_latin=latin)
                for n, (native, latin) in enumerate(FAMILY)
            ],
        },
        expect=201,
    )
    for journey in answer["journey_ids"]:
        screener.post(f"/api/journeys/{journey}/screening", {"risk": "medium"})
    admin.wait_for_views()
    return Desk(
        tag=tag,
        entry=entry,
        entry_name=entry_name,
        hotel=hotel,
        hotel_name=hotel_name,
        plates=plates,
        run_id=run["run_id"],
        party_id=answer["party_id"],
        journeys=answer["journey_ids"],
        admin=admin,
        screener=screener,
        dispatcher=dispatcher,
    )


def sign_in(page: Page, live: Live, role: Role) -> None:
    response = page.goto(f"{live.url}/dispatch")
    assert response is not None and response.status == 200
    # No inline script, nothing from elsewhere.
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    page.get_by_label("用户名").fill(add_staff(live.settings, role))
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录 / Sign in").click()
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")


def arrives(live: Live, entry: str, number: str, native: str, latin: str = "") -> Any:
    """One more traveller registers at the entry point (their own phone, no sign-in)."""
    person = traveller(number, native, name_latin=latin or "TEST TRAVELLER")
    return Api(live.url).post(
        "/api/registrations", {"entry_point": entry, "travellers": [person]}, expect=201
    )


def stages(staff: Api, journeys: list[str]) -> list[str]:
    return [staff.get(f"/api/journeys/{j}")["stage"] for j in journeys]


def events(staff: Api, journey: str, name: str) -> list[dict[str, Any]]:
    staff.wait_for_views()
    timeline = staff.get(f"/api/journeys/{journey}/timeline")["events"]
    return [e for e in timeline if str(e["event_type"]).split(".")[-1] == name]


def test_a_dispatcher_assigns_a_family_moves_it_and_sees_others_work_live(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    desk = desk_with_a_family(live_server)
    page, errors = watched_page(phone, DESK)
    sign_in(page, live_server, Role.DISPATCHER)

    # The family waits as one card under its entry point, with its waiting time.
    group = page.locator(f"section.entry-point[data-entry-point='{desk.entry}']")
    expect(group).to_contain_text(desk.entry_name)
    card = group.locator(f"li.party[data-party='{desk.party_id}']")
    for native, latin in FAMILY:
        expect(card).to_contain_text(native)
        expect(card).to_contain_text(latin)
    expect(card.locator("h4")).to_contain_text("3 人 / 3 people")
    expect(card.locator(".waiting .minutes")).to_have_text(re.compile(r"^\d+$"))
    expect(card).to_contain_text("中风险 / Medium risk")
    expect(card).to_contain_text("已筛查 / Screened")
    expect(group.locator(".awaiting-count")).to_have_text("0")
    hotel = page.locator(f"#hotels tr[data-site='{desk.hotel}']")
    expect(hotel.locator(".free")).to_have_text("2")
    expect(hotel.locator(".held")).to_have_text("0")
    run1 = page.locator(f"#runs-table tbody[data-run='{desk.run_id}']")
    expect(run1.locator(".seated")).to_have_text("0")
    page.screenshot(path=artifacts / "1-queue.png")

    # A suggestion fills the form and gives its reasons; it records nothing.
    card.get_by_role("button", name=re.compile("Assign party of 3")).click()
    expect(page.locator("#assign-form")).to_be_visible()
    page.get_by_role("button", name="建议 / Suggest").click()
    suggestion = page.locator("#suggestion")
    expect(suggestion).to_be_visible()
    expect(suggestion).to_contain_text(desk.plates[0])
    expect(suggestion.locator("#suggestion-reasons li").first).to_be_visible()
    expect(page.get_by_label(re.compile("Run \\(optional"))).to_have_value(desk.run_id)
    site = page.get_by_label(re.compile("Destination \\(hotel")).input_value()
    assert site, "the suggestion names a destination"
    page.screenshot(path=artifacts / "2-suggestion.png")
    assert stages(desk.dispatcher, desk.journeys) == ["screened"] * 3
    if site != desk.hotel:  # another test's hotel had more free rooms: take ours by hand
        page.get_by_label(re.compile("Destination \\(hotel")).select_option(desk.hotel)

    # Confirm, clicked twice in a hurry: recorded once.
    page.get_by_role("button", name="确认 / Confirm", exact=True).dblclick()
    expect(card).to_have_count(0, timeout=LIVE_MS)
    expect(page.locator("#status")).to_contain_text("Assigned: party of 3")
    expect(hotel.locator(".held")).to_have_text("1")
    expect(hotel.locator(".free")).to_have_text("1")
    expect(run1.locator(".seated")).to_have_text("3")
    expect(run1.locator(".free")).to_have_text("4")
    expect(page.locator("#error")).to_be_empty()
    assert stages(desk.dispatcher, desk.journeys) == ["seat_assigned"] * 3
    for journey in desk.journeys:
        assert len(events(desk.dispatcher, journey, "DestinationAssigned")) == 1
        assert len(events(desk.dispatcher, journey, "SeatAssigned")) == 1
    page.screenshot(path=artifacts / "3-assigned.png")

    # Plan a second run from an idle vehicle.
    page.get_by_label(re.compile("Vehicle \\(idle\\)")).select_option(desk.plates[1])
    page.get_by_label("押运人员 / Escort").fill("李师傅")
    page.get_by_label(re.compile("^入境点 / Entry point")).select_option(desk.entry)
    page.get_by_role("button", name="新建车次 / Plan run").click()
    run2 = page.locator(
        "#runs-table tbody.run", has=page.locator("th.plate", has_text=desk.plates[1])
    )
    expect(run2).to_have_count(1, timeout=LIVE_MS)
    expect(run2.locator(".escort")).to_have_text("李师傅")
    run2_id = run2.get_attribute("data-run")
    assert run2_id

    # The first run's boarding list: the family, seated, not yet aboard.
    run1.get_by_role("button", name=re.compile("Boarding list")).click()
    rows = page.locator("#passengers tr")
    expect(rows).to_have_count(3)
    for native, _ in FAMILY:
        expect(page.locator("#passengers")).to_contain_text(native)
    expect(page.locator("#passengers td.boarded.no")).to_have_count(3)
    expect(page.locator("#passengers")).to_contain_text(desk.hotel_name)
    page.screenshot(path=artifacts / "4-boarding-list.png")

    # Move the family to the second run, with a reason.
    page.get_by_role("button", name=re.compile("Reassign")).click()
    page.get_by_label(re.compile("Move to run")).select_option(run2_id)
    page.get_by_label(re.compile("^原因 / Reason")).fill("车辆故障 / vehicle breakdown")
    page.get_by_role("button", name=re.compile("Confirm reassignment")).click()
    expect(page.locator("#passengers-empty")).to_be_visible(timeout=LIVE_MS)
    expect(run1.locator(".seated")).to_have_text("0")
    expect(run2.locator(".seated")).to_have_text("3")
    assert {desk.dispatcher.get(f"/api/journeys/{j}")["run_id"] for j in desk.journeys} == {run2_id}
    withdrawn = events(desk.dispatcher, desk.journeys[0], "SeatWithdrawn")
    assert [e["summary"].get("reason") for e in withdrawn] == ["车辆故障 / vehicle breakdown"]
    page.screenshot(path=artifacts / "5-reassigned.png")

    # The run's manifest: fetched with the bearer token, handed over as a PDF download.
    with page.expect_download() as download:
        run2.get_by_role("button", name=re.compile("Manifest PDF")).click()
    manifest = Path(download.value.path())
    assert manifest.read_bytes().startswith(b"%PDF")
    assert download.value.suggested_filename == f"manifest-{desk.plates[1]}.pdf"

    # The empty run cannot leave: the dispatcher is told why, in words.
    run1.get_by_role("button", name=re.compile("Depart")).click()
    error = page.get_by_role("alert").filter(has_text="Depart")
    expect(error).to_contain_text("cannot depart")
    expect(error).to_contain_text(desk.plates[0])
    page.screenshot(path=artifacts / "6-departure-refused.png")

    # Another dispatcher's and a screener's work appears without reloading: a new arrival
    # (awaiting screening), then screened (in the queue).
    newcomer = arrives(live_server, desk.entry, f"N{desk.tag}", "赵新来", "ZHAO XINLAI")
    expect(group.locator(".awaiting-count")).to_have_text("1", timeout=LIVE_MS)
    desk.screener.post(f"/api/journeys/{newcomer['journey_ids'][0]}/screening", {"risk": "high"})
    newcomer_card = group.locator(f"li.party[data-party='{newcomer['party_id']}']")
    expect(newcomer_card).to_contain_text("赵新来", timeout=LIVE_MS)
    expect(newcomer_card).to_have_attribute("data-risk", "high")
    expect(newcomer_card).to_contain_text("高风险 / HIGH risk")
    expect(group.locator(".awaiting-count")).to_have_text("0")
    page.screenshot(path=artifacts / "7-live-newcomer.png")

    # The escort boards the family at the car door (their phones, not this page): the boarded
    # count moves by itself; then the dispatcher sends the run off and records its arrival.
    escort = Api.signed_in(live_server.url, live_server.settings, Role.ESCORT)
    for journey in desk.journeys:
        escort.post(
            f"/api/journeys/{journey}/boarding",
            {"run_id": run2_id, "scan_id": f"scan-{uuid4().hex}", "where": "T2 car park"},
        )
    expect(run2.locator(".boarded")).to_have_text("3", timeout=LIVE_MS)
    run2.get_by_role("button", name=re.compile("Depart")).click()
    expect(run2.locator(".status")).to_contain_text("Departed", timeout=LIVE_MS)
    run2.get_by_role("button", name=re.compile("Arrive")).click()
    expect(run2.locator(".status")).to_contain_text("Arrived", timeout=LIVE_MS)
    receiver = Api.signed_in(live_server.url, live_server.settings, Role.RECEIVER)
    receiver.post(
        f"/api/journeys/{desk.journeys[0]}/check-in",
        {"site": desk.hotel, "scan_id": f"scan-{uuid4().hex}", "where": "room 301"},
    )
    desk.dispatcher.wait_for_views()

    # The timeline on demand: every event in order, and the custody chain readable.
    run2.get_by_role("button", name=re.compile("Boarding list")).click()
    expect(page.locator("#passengers td.boarded.yes")).to_have_count(3)
    page.locator("#passengers").get_by_role("button", name=re.compile(FAMILY[0][0])).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(FAMILY[0][0])
    expect(dialog.locator("tr[data-event='CheckedIn']")).to_have_count(1)
    chain = page.locator("#custody-chain")
    plate = re.escape(desk.plates[1])
    expect(chain).to_have_text(
        re.compile(rf"desk {desk.entry}.*→.*escort {plate}.*→.*receiver {desk.hotel_name}")
    )
    accepted = dialog.locator("tr[data-event='CustodyAccepted']")
    expect(accepted.first).to_contain_text("escort")
    expect(dialog.locator("tr[data-event='Boarded']")).to_contain_text("T2 car park")
    page.screenshot(path=artifacts / "8-timeline.png")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert errors == [], errors


def test_a_commander_watches_read_only(live_server: Live, phone: Phone, artifacts: Path) -> None:
    desk = desk_with_a_family(live_server)
    page, errors = watched_page(phone, DESK)
    sign_in(page, live_server, Role.COMMANDER)
    card = page.locator(f"li.party[data-party='{desk.party_id}']")
    expect(card).to_contain_text(FAMILY[0][0])
    expect(card.get_by_role("button", name=re.compile("Assign"))).to_have_count(0)
    expect(page.locator("#plan-form")).to_be_hidden()
    expect(page.locator("#assign-panel")).to_be_hidden()
    expect(page.locator("#status")).to_contain_text("Read only")
    page.screenshot(path=artifacts / "commander.png")
    assert errors == [], errors


def test_an_escort_is_told_the_console_is_not_theirs(live_server: Live, phone: Phone) -> None:
    page, errors = watched_page(phone, DESK)
    page.goto(f"{live_server.url}/dispatch")
    page.get_by_label("用户名").fill(add_staff(live_server.settings, Role.ESCORT))
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录 / Sign in").click()
    expect(page.locator("#error")).to_contain_text("cannot use the dispatch console")
    expect(page.locator("#console")).to_be_hidden()
    assert errors == [], errors


def test_waiting_minutes_tick_on_the_page_from_the_servers_clock(
    live_server: Live, phone: Phone
) -> None:
    desk = desk_with_a_family(live_server)
    page, errors = watched_page(phone, DESK)
    # The page's timers and clock are Playwright's: three minutes pass in an instant.
    page.clock.install()
    sign_in(page, live_server, Role.DISPATCHER)
    minutes = page.locator(f"li.party[data-party='{desk.party_id}'] .waiting .minutes")
    expect(minutes).to_have_text(re.compile(r"^[01]$"))
    before = int(minutes.inner_text())
    page.clock.run_for("03:00")
    expect(minutes).to_have_text(str(before + 3))
    assert errors == [], errors


def test_no_fitting_run_suggests_an_idle_vehicle_and_the_keyboard_does_it_all(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    desk = desk_with_a_family(live_server, planned_run=False)
    page, errors = watched_page(phone, DESK)
    sign_in(page, live_server, Role.DISPATCHER)
    card = page.locator(f"li.party[data-party='{desk.party_id}']")
    assign = card.get_by_role("button", name=re.compile("Assign party of 3"))

    # A live update redraws the queue; the keyboard user's focus stays on their button.
    assign.focus()
    arrives(live_server, desk.entry, f"K{desk.tag}", "孙可")
    group = page.locator(f"section.entry-point[data-entry-point='{desk.entry}']")
    expect(group.locator(".awaiting-count")).to_have_text("1", timeout=LIVE_MS)
    expect(assign).to_be_focused()

    # Enter opens the form; Escape puts it away and focus goes back to the card.
    page.keyboard.press("Enter")
    expect(page.locator("#assign-party")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#assign-form")).to_be_hidden()
    expect(assign).to_be_focused()
    page.keyboard.press("Enter")

    # No planned run fits: the suggestion names an idle vehicle, and one button fills in the
    # "plan a run" form with it (recording nothing).
    suggest = page.get_by_role("button", name="建议 / Suggest")
    suggest.focus()
    page.keyboard.press("Enter")
    suggestion = page.locator("#suggestion")
    expect(suggestion).to_be_focused()
    expect(suggestion.locator("li[data-code='plan_new_run']")).to_be_visible()
    expect(page.get_by_label(re.compile("Run \\(optional"))).to_have_value("")
    page.get_by_role("button", name=re.compile("Plan a run with this vehicle")).focus()
    page.keyboard.press("Enter")
    escort = page.get_by_label("押运人员 / Escort")
    expect(escort).to_be_focused()
    plate = page.get_by_label(re.compile("Vehicle \\(idle\\)")).input_value()
    assert plate and plate in (suggestion.text_content() or "")
    expect(page.get_by_label(re.compile("^入境点 / Entry point"))).to_have_value(desk.entry)
    assert stages(desk.dispatcher, desk.journeys) == ["screened"] * 3
    page.screenshot(path=artifacts / "new-run-suggested.png")

    page.keyboard.type("周师傅")
    page.keyboard.press("Enter")  # submits the plan-a-run form
    run = page.locator("#runs-table tbody.run", has=page.locator("th.plate", has_text=plate))
    expect(run).to_have_count(1, timeout=LIVE_MS)

    # Suggest again: now the new run is proposed; confirm with the keyboard.
    suggest.focus()
    page.keyboard.press("Enter")
    expect(suggestion).to_contain_text(plate)
    expect(page.get_by_label(re.compile("Run \\(optional"))).to_have_value(
        run.get_attribute("data-run") or "?"
    )
    page.get_by_role("button", name="确认 / Confirm", exact=True).focus()
    page.keyboard.press("Enter")
    expect(card).to_have_count(0, timeout=LIVE_MS)
    expect(run.locator(".seated")).to_have_text("3")
    assert stages(desk.dispatcher, desk.journeys) == ["seat_assigned"] * 3
    assert errors == [], errors


def test_the_page_says_when_the_line_is_down_and_catches_up_after(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    desk = desk_with_a_family(live_server)
    page, errors = watched_page(phone, DESK)
    sign_in(page, live_server, Role.DISPATCHER)
    group = page.locator(f"section.entry-point[data-entry-point='{desk.entry}']")
    expect(group.locator(".awaiting-count")).to_have_text("0")

    page.context.set_offline(True)
    # A change while the page is cut off: its waiting long-poll is answered into the void.
    arrives(live_server, desk.entry, f"O{desk.tag}", "钱离线")
    live = page.locator("#live")
    expect(live).to_have_attribute("data-state", "retrying", timeout=30_000)
    expect(live).to_contain_text("retrying")
    page.screenshot(path=artifacts / "offline.png")

    # A command while offline is refused in words, not silently lost.
    page.locator(f"li.party[data-party='{desk.party_id}']").get_by_role(
        "button", name=re.compile("Assign")
    ).click()
    page.get_by_role("button", name="建议 / Suggest").click()
    expect(page.locator("#assign-error")).to_contain_text("Cannot reach the server")

    page.context.set_offline(False)
    expect(live).to_have_attribute("data-state", "live", timeout=LIVE_MS + 30_000)
    expect(group.locator(".awaiting-count")).to_have_text("1", timeout=LIVE_MS)
    assert errors == [], errors


def test_alerts_are_shown_in_words_by_kind(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    """Alerts need a loop left open past its threshold (minutes to hours), so the snapshot's
    `alerts` is filled in on the way to the page: this checks the page's words, not the
    monitor (whose own tests raise real alerts)."""
    desk = desk_with_a_family(live_server)
    member = desk.journeys[0]
    injected = [
        {
            "alert_id": str(uuid4()),
            "kind": "not_boarded",
            "subject": member,
            "journey_id": member,
            "run_id": desk.run_id,
            "since": "2020-03-28T08:00:00+00:00",
            "raised_at": "2020-03-28T09:00:00+00:00",
            "status": "open",
            "message": "seat assigned 60 minutes ago and not boarded",
        },
        {
            "alert_id": str(uuid4()),
            "kind": "battery_low",
            "subject": desk.run_id,
            "journey_id": None,
            "run_id": desk.run_id,
            "since": "2020-03-28T08:30:00+00:00",
            "raised_at": "2020-03-28T08:30:00+00:00",
            "status": "open",
            "message": "the escort's phone battery is low",
        },
    ]

    def with_alerts(route: Route) -> None:
        answer = route.fetch()
        snapshot = answer.json()
        snapshot["alerts"] = injected
        route.fulfill(response=answer, json=snapshot)

    page, errors = watched_page(phone, DESK)
    page.route(re.compile(r"/api/dispatch$"), with_alerts)
    sign_in(page, live_server, Role.DISPATCHER)
    alerts = page.locator("#alerts li.alert")
    expect(alerts).to_have_count(2)
    known = page.locator("#alerts li[data-kind='not_boarded']")
    expect(known).to_contain_text("未上车 / Not boarded")
    expect(known).to_contain_text(FAMILY[0][0])  # the subject id, named from the queue
    expect(known).to_contain_text(desk.plates[0])
    unknown = page.locator("#alerts li[data-kind='battery_low']")
    expect(unknown).to_contain_text("the escort's phone battery is low")
    expect(page.locator("#alerts-count")).to_have_text("(2)")
    page.screenshot(path=artifacts / "alerts.png")

    known.get_by_role("button", name=re.compile("Timeline")).click()
    expect(page.get_by_role("dialog")).to_contain_text(FAMILY[0][0])
    expect(page.locator("#timeline-events tr[data-event='Screened']")).to_have_count(1)
    assert errors == [], errors
