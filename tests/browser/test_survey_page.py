"""The survey desk (`/survey`) in real Chromium on a laptop and a tablet, on SQLite and
PostgreSQL. A surveyor sees the travellers due for their survey, high risk first, each checked-in
traveller's SLA clock running in the page (and "clock not started" for one still on the way);
opens a case, says why (the purpose goes into the access log with the read, and nothing is read
before); sees the contacts derived from the record (a party member, a fellow passenger of the
same flight); is told next to the field that a symptom needs its onset (nothing stored); records
the survey, after which the traveller leaves the worklist and the record holds exactly what was
typed; records a test result, extends the order with reason, legal basis and decider, and
refers the traveller to hospital, which reaches dispatch as a transport request. A dispatcher is
told the desk is not theirs and the page reads nothing."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from playwright.sync_api import Page, Route, expect

from domain.staff import Role
from tests.browser.conftest import Phone, watched_page
from tests.e2e.care import DECISION, open_place, person, register, staff_of, to_room_door
from tests.e2e.client import PASSWORD, Api, add_staff, event_count
from tests.e2e.conftest import Live
from tests.support import district_today

LAPTOP: dict[str, Any] = {
    "viewport": {"width": 1366, "height": 768},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
}
TABLET = {"width": 820, "height": 1180}
# The page polls the worklist every few seconds; CI machines are shared.
LIVE_MS = 20_000


def day(offset: int) -> str:
    return (district_today() + timedelta(days=offset)).isoformat()


def sign_in(page: Page, live: Live, role: Role) -> None:
    response = page.goto(f"{live.url}/survey")
    assert response is not None and response.status == 200
    # No inline script or style, nothing from elsewhere.
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    page.get_by_label("用户名").fill(add_staff(live.settings, role))
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录 / Sign in").click()


def clock_minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def reads_of(commander: Api, journey: str) -> list[tuple[str, tuple[str, ...], str]]:
    commander.wait_for_views()
    log = commander.get(f"/api/journeys/{journey}/access-log")["reads"]
    return sorted((r["role"], tuple(r["what"]), r["purpose"]) for r in log)


def test_a_surveyor_works_a_case_from_the_worklist_to_hospital(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    live = live_server
    staff = staff_of(live)
    place = open_place(staff)
    tag = uuid4().hex[:6].upper()
    flight = f"ZH{int(tag, 16) % 9000 + 1000}"  # this test's own flight
    family = register(
        live, place,
        person(f"S{tag}1", "王大明", name_latin="WANG DAMING", flight=flight, flight_seat="23C"),
        person(f"S{tag}2", "王小明", name_latin="WANG XIAOMING", flight=flight, flight_seat="23D"),
    )
    # The same flight, far from the family's row, in another vehicle.
    stranger = register(live, place, person(f"S{tag}3", "李四", name_latin="LI SI", flight=flight,
                                            flight_seat="41K"))[0]
    # Screened, still at the entry point: on the worklist, its clock not started.
    waiting = register(live, place, person(f"S{tag}4", "赵五", name_latin="ZHAO WU",
                                           flight="MU5101"))[0]
    to_room_door(staff, place, [family], place.plates[0], risk="low")
    to_room_door(staff, place, [[stranger]], place.plates[1], risk="high")
    staff.screener.post(f"/api/journeys/{waiting}/screening", {"risk": "medium"})
    lead = family[0]
    started = staff.receiver.post(f"/api/journeys/{lead}/quarantine", {})  # at the room door
    assert started["stage"] == "under_quarantine"
    staff.surveyor.wait_for_views()

    page, errors = watched_page(phone, LAPTOP)
    page.clock.install()  # the page's timers and clock are Playwright's, flowing as usual
    sign_in(page, live, Role.SURVEYOR)
    expect(page.locator("#desk")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")

    def row(journey: str) -> Any:
        return page.locator(f"#worklist tr[data-journey='{journey}']")

    # -- the worklist: high risk first, then the waiting, each clock in the page ------------
    expect(row(family[1])).to_be_visible()
    expect(row(stranger)).to_contain_text("李四")
    expect(row(stranger)).to_contain_text("LI SI")
    expect(row(stranger)).to_contain_text("高风险 / HIGH risk")
    expect(row(stranger)).to_contain_text(place.hotel)
    expect(row(lead)).to_contain_text("隔离中 / Under quarantine")
    expect(row(waiting).locator(".clock")).to_contain_text("未开始计时 / clock not started")
    mine = [stranger, waiting, lead, family[1]]
    listed = page.locator("#worklist tr[data-journey]").evaluate_all(
        "rows => rows.map(r => r.dataset.journey)")
    assert [j for j in listed if j in mine] == mine, listed
    clock = row(lead).locator(".clock")
    expect(clock).to_have_attribute("data-overdue", "false")
    expect(clock).to_contain_text("剩余 / left")
    page.screenshot(path=artifacts / "1-worklist.png")
    # Three minutes pass: the clock counts them down without a reload. Time stops first half
    # a minute before the clock's next change, so that the page's ticks (a few seconds apart)
    # cannot straddle a change of minute.
    deadline = datetime.fromisoformat(str(clock.get_attribute("data-deadline"))).timestamp()
    now = page.evaluate("Date.now()") / 1000
    page.clock.pause_at(now + 1 + (deadline - 30 - now - 1) % 60)
    page.clock.run_for("00:05")  # one tick, wherever the jump left the page's timers
    before = clock_minutes(clock.locator(".time").inner_text())
    assert 23 * 60 <= before <= 24 * 60, before
    page.clock.run_for("03:00")
    expect(clock.locator(".time")).to_have_text(f"{(before - 3) // 60}:{(before - 3) % 60:02d}")
    page.clock.resume()

    # Today's tests: the order started at the room door has its day-1 test due.
    page.get_by_role("tab", name=re.compile("Tests due")).click()
    due = page.locator(f"#tests tr[data-journey='{lead}'][data-day='1']")
    expect(due).to_contain_text("王大明", timeout=LIVE_MS)
    page.get_by_role("tab", name=re.compile("Due for survey")).click()
    expect(row(lead)).to_be_visible()

    # -- a case opens without reading; the purpose goes with the read -------------------------
    assert reads_of(staff.commander, lead) == []
    page.get_by_role("button", name="Open the case of 王大明 WANG DAMING").click()
    purpose = page.get_by_label("查阅目的")
    expect(purpose).to_have_value("survey")
    expect(page.locator("#record")).to_be_hidden()
    assert reads_of(staff.commander, lead) == []
    purpose.select_option("contact_tracing")
    page.get_by_role("button", name="打开健康记录 / Open the health record").click()
    expect(page.locator("#record")).to_be_visible()
    expect(page.locator("#record-body")).to_contain_text(flight)
    expect(page.locator("#purpose-used")).to_contain_text("密接追踪 / Contact tracing")
    assert reads_of(staff.commander, lead) == [
        ("surveyor", ("contacts",), "contact_tracing"),
        ("surveyor", ("health", "survey"), "contact_tracing"),
    ]

    # The contacts are derived: the party member and the fellow passenger of the flight.
    contacts = page.locator("#contacts tr[data-journey]")
    expect(contacts).to_have_count(2)
    member = page.locator(f"#contacts tr[data-journey='{family[1]}']")
    expect(member).to_contain_text("王小明")
    expect(member.locator(".relations")).to_contain_text("同行家属 / same travel party")
    expect(member.locator(".relations")).to_contain_text("同车 / same vehicle")
    expect(member.locator(".relations")).to_contain_text("邻近座位 / nearby seats")
    fellow = page.locator(f"#contacts tr[data-journey='{stranger}']")
    expect(fellow.locator(".relations")).to_have_text("同航班 / same flight")

    # -- the survey: a symptom without its onset is refused next to the onset ---------------
    form = page.locator("#survey-form")
    stop = form.get_by_role("group", name="旅居地 1 / Place 1")
    stop.get_by_label("地点（城市、国家）").fill("伦敦 London, UK")
    stop.get_by_label("到达日期").fill(day(-10))
    stop.get_by_label("离开日期").fill(day(-2))
    contact = form.get_by_role("group", name="接触者 1 / Contact 1")
    contact.get_by_label("姓名").fill("Mary Smith")
    contact.get_by_label("关系").select_option("friend")
    contact.get_by_label("电话").fill("+44 7911 123456")
    contact.get_by_label("最后接触日期").fill(day(-3))
    contact.get_by_label("接触地点").fill("Heathrow")
    form.get_by_label("咳嗽 / Cough").check()
    form.get_by_label("剂次").fill("2")
    form.get_by_label("疫苗名称").fill("Sinovac")
    form.get_by_role("button", name="添加检测 / Add a test").click()
    test = form.get_by_role("group", name="检测 1 / Test 1")
    test.get_by_label("采样日期").fill(day(-4))
    test.get_by_label("结果").select_option("negative")
    test.get_by_label("检测地点").fill("Heathrow")
    form.get_by_label("风险等级").select_option("medium")
    reason = "咳嗽一天，来自高发地区 / cough for a day"
    form.get_by_label("判定理由").fill(reason)
    stored = event_count(live.settings)
    form.get_by_role("button", name="提交流调 / Record the survey").click()
    onset = form.get_by_label("发病日期")
    expect(onset).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#onset-error")).to_have_text(
        "请填写首发症状的日期 / give the day the first symptom began")
    expect(onset).to_be_focused()
    page.screenshot(path=artifacts / "2-onset-refused.png")
    assert event_count(live.settings) == stored  # nothing was stored
    expect(row(lead)).to_be_visible()

    onset.fill(day(-1))
    # A double click records one survey (the page waits for the first; the Idempotency-Key).
    form.get_by_role("button", name="提交流调 / Record the survey").dblclick()
    expect(page.locator("#status")).to_contain_text("Survey recorded")
    expect(onset).not_to_have_attribute("aria-invalid", "true")
    expect(row(lead)).to_have_count(0)  # surveyed: off the worklist
    expect(row(family[1])).to_be_visible()
    record = staff.surveyor.get(f"/api/journeys/{lead}/health-record?purpose=survey")
    assert record["latest_survey"]["risk"] == "medium"
    assert record["latest_survey"]["answers"] == {
        "travel_history": [{"place": "伦敦 London, UK", "arrived": day(-10), "left": day(-2)}],
        "close_contacts": [{"name": "Mary Smith", "relation": "friend", "phone": "+447911123456",
                            "last_contact_on": day(-3), "where": "Heathrow"}],
        "symptoms": ["cough"],
        "symptom_onset_on": day(-1),
        "vaccination": {"doses": 2, "last_dose_on": None, "vaccine": "Sinovac"},
        "tests_so_far": [{"taken_on": day(-4), "kind": "pcr", "outcome": "negative",
                          "where": "Heathrow"}],
        "risk_reason": reason,
        "notes": "",
    }
    assert len(record["surveys"]) == 1
    staff.surveyor.wait_for_views()
    worklist = staff.surveyor.get("/api/survey/worklist")["journeys"]
    assert lead not in {j["journey_id"] for j in worklist}

    # -- the order: a test result, then an extension with its reason and decider -------------
    order = staff.surveyor.get(f"/api/journeys/{lead}/quarantine")
    expect(page.locator("#order-end")).to_have_text(order["planned_end"])
    expect(page.locator("#order-basis")).to_have_text(order["legal_basis"])
    schedule = page.locator("#schedule tr[data-day]")
    expect(schedule).to_have_count(len(order["tests"]))
    results = page.get_by_role("group", name="录入检测结果 / Record a test result")
    expect(results.get_by_label("检测（隔离第几天）")).to_have_value("1")
    results.get_by_label("结果 / Outcome", exact=True).select_option("negative")
    results.get_by_label("采样日期").fill(day(0))
    results.get_by_role("button", name="录入结果 / Record the result").click()
    expect(page.locator("#schedule tr[data-day='1'] .result")).to_contain_text("阴性 / Negative")
    expect(page.locator("#schedule tr[data-day='1']")).to_have_attribute("data-recorded", "true")
    assert staff.surveyor.get(f"/api/journeys/{lead}/quarantine")["tests"][0]["recorded"] is True

    new_end = (date.fromisoformat(order["planned_end"]) + timedelta(days=7)).isoformat()
    change = page.get_by_role("group", name="变更隔离令 / Change the order")
    expect(change.get_by_label("延长 / Extend")).to_be_checked()
    change.get_by_label("新的解除日期").fill(new_end)
    change.get_by_label("决定人").fill(DECISION["decided_by"])
    change.get_by_label("变更理由").fill(DECISION["reason"])
    change.get_by_label("变更的法律依据").fill(DECISION["legal_basis"])
    change.get_by_role("button", name="确认变更 / Confirm the decision").click()
    expect(page.locator("#order-end")).to_have_text(new_end)
    extended = page.locator("#changes tr[data-change='QuarantineExtended']")
    expect(extended).to_contain_text(f"{order['planned_end']} → {new_end}")
    expect(extended.locator(".decided-by")).to_have_text(DECISION["decided_by"])
    expect(extended.locator(".reason")).to_have_text(DECISION["reason"])
    after = staff.surveyor.get(f"/api/journeys/{lead}/quarantine")
    assert after["planned_end"] == new_end
    last = after["changes"][-1]
    assert last["event_type"] == "QuarantineExtended"
    assert (last["previous_end"], last["legal_basis"], last["decided_by"]) == (
        order["planned_end"], DECISION["legal_basis"], DECISION["decided_by"])
    assert "reason" not in last  # only the logged health-record read says why
    health = staff.surveyor.get(f"/api/journeys/{lead}/health-record?purpose=test_follow_up")
    assert health["quarantine"]["changes"][-1]["reason"] == DECISION["reason"]
    assert [(t["day"], t["outcome"], t["kind"], t["taken_on"]) for t in health["test_results"]] == [
        (1, "negative", "pcr", day(0))]

    # -- the tablet: one column, nothing wider than the screen --------------------------------
    page.set_viewport_size(TABLET)
    lists_box = page.locator("#lists").bounding_box()
    case_box = page.locator("#case").bounding_box()
    assert lists_box and case_box and case_box["y"] >= lists_box["y"] + lists_box["height"] - 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=artifacts / "3-tablet-case.png", full_page=True)

    # -- to hospital: dispatch receives the transport request ---------------------------------
    referral = page.locator("#referral-form")
    referral.get_by_label("转诊原因").fill("发热 38.5 °C，咳嗽加重 / fever and a worsening cough")
    expect(referral.get_by_label("紧急 / Urgent")).to_be_checked()
    referral.get_by_role("button", name="转送医院 / Refer to hospital").click()
    expect(page.locator("#referral-done")).to_contain_text(
        "the dispatch console has the transport request")
    expect(page.locator("#case-facts")).to_contain_text("转送医院 / Referred to hospital")
    expect(page.locator("#decision-form")).to_be_hidden()
    staff.dispatcher.wait_for_views()
    transfers = staff.dispatcher.get("/api/transfers")["transfers"]
    ours = [t for t in transfers if t["journey_id"] == lead]
    assert len(ours) == 1 and ours[0]["urgency"] == "urgent", transfers
    assert ours[0]["pickup"]["code"] == place.hotel
    page.screenshot(path=artifacts / "4-referred.png", full_page=True)

    # -- a clock that has run out is red and says so ------------------------------------------
    def overdue(route: Route) -> None:
        answer = route.fetch().json()
        for journey in answer["journeys"]:
            if journey["journey_id"] == stranger:
                journey["deadline"] = journey["checked_in_at"]  # as if checked in 24 h earlier
                journey["overdue"] = True
        route.fulfill(json=answer)

    page.route(re.compile(r".*/api/survey/worklist$"), overdue)
    late = row(stranger).locator(".clock")
    expect(late).to_have_attribute("data-overdue", "true", timeout=LIVE_MS)
    expect(late).to_contain_text("超时 / overdue")
    expect(row(stranger)).to_have_class(re.compile(r"\boverdue\b"))
    page.screenshot(path=artifacts / "5-overdue.png", full_page=True)
    assert errors == [], errors


def test_a_dispatcher_is_told_the_survey_desk_is_not_theirs(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    page, errors = watched_page(phone, LAPTOP)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
    sign_in(page, live_server, Role.DISPATCHER)
    expect(page.locator("#error")).to_contain_text("cannot use the survey desk")
    expect(page.locator("#error")).to_contain_text("不能使用流调工作台")
    expect(page.locator("#desk")).to_be_hidden()
    expect(page.locator("#sign-in")).to_be_hidden()
    page.screenshot(path=artifacts / "dispatcher-refused.png")
    # The page read nothing beyond signing in.
    assert [u for u in asked if not u.endswith("/api/auth/token")] == [], json.dumps(asked)
    assert errors == [], errors
