"""The traveller reads their own quarantine order on their personal code page and through
`GET /api/travellers/{code}`, in their language, over real HTTP against a real server (SQLite
and PostgreSQL): the day it started, the day they may leave, the legal basis, the test days
(done or due, never a result), every change in plain words with its reason and who decided,
and the release."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from typing import Any
from uuid import uuid4

import httpx

from tests.e2e.care import DECISION, open_place, person, staff_of, to_room_door
from tests.e2e.client import Api
from tests.e2e.conftest import Live

DISTRICT_BASIS = "《中华人民共和国传染病防治法》《中华人民共和国国境卫生检疫法》"


def _en(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _page(live: Live, code: str, lang: str) -> str:
    response = httpx.get(f"{live.url}/t/{code}", headers={"Accept-Language": lang}, timeout=15)
    assert response.status_code == 200, response.text[:2000]
    # It stays a page without scripts or inline styles, under its strict policy.
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "<script" not in response.text and "style=" not in response.text
    return response.text


def _api(live: Live, code: str) -> dict[str, Any]:
    response = httpx.get(f"{live.url}/api/travellers/{code}", timeout=15)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _fact(page: str, name: str) -> str | None:
    found = re.search(rf'<dd class="{name}">([^<]*)</dd>', page)
    return html.unescape(found.group(1)) if found else None


def _tests(page: str) -> list[tuple[str, str, str]]:
    """(done or due, what the day says, what its state says) for each test day shown."""
    return re.findall(
        r'<li class="test (done|due)" data-day="\d+">\s*<span class="when">([^<]*)</span>\s*'
        r'<span class="state">([^<]*)</span>',
        page,
    )


def _changes(page: str) -> list[dict[str, str]]:
    found = []
    for kind, body in re.findall(r'<li class="change" data-kind="(\w+)">(.*?)</li>', page, re.S):
        what = re.search(r'<p class="what">([^<]*)</p>', body)
        assert what, body
        change = {"kind": kind, "what": html.unescape(what.group(1).strip())}
        for field in ("reason", "decided-by"):
            value = re.search(rf'<dd class="{field}">([^<]*)</dd>', body)
            if value:
                change[field] = html.unescape(value.group(1))
        found.append(change)
    return found


def test_the_traveller_reads_their_order_its_changes_and_release_in_their_language(
    live: Live,
) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    registered = Api(live.url).post(
        "/api/registrations",
        {"entry_point": place.entry,
         "travellers": [person(f"O{uuid4().hex[:7].upper()}", "黄 旅客")]},
        expect=201,
    )
    journey = registered["journey_ids"][0]
    code = registered["status_urls"][0].rsplit("/", 1)[1]
    to_room_door(staff, place, [[journey]], place.plates[0])
    assert _api(live, code)["quarantine"] is None
    assert "Your quarantine order" not in _page(live, code, "en")

    # The order starts at the room door: the district's 14 days, tested on days 1, 4, 7, 14.
    staff.receiver.post(f"/api/journeys/{journey}/quarantine", {})
    order = _api(live, code)["quarantine"]
    starts = date.fromisoformat(order["starts_on"])
    end = starts + timedelta(days=14)
    assert order["planned_end"] == str(end) and order["released_on"] is None
    assert order["legal_basis"] == DISTRICT_BASIS
    assert order["tests"] == [
        {"day": d, "due_on": str(starts + timedelta(days=d - 1)), "done": False}
        for d in (1, 4, 7, 14)
    ]
    assert [(c["kind"], c["planned_end"]) for c in order["changes"]] == [("started", str(end))]

    en = _page(live, code, "en")
    assert "Your quarantine order" in en
    assert (_fact(en, "starts-on"), _fact(en, "planned-end"), _fact(en, "legal-basis")) == (
        _en(starts), _en(end), DISTRICT_BASIS
    )
    assert _tests(en) == [
        ("due", f"Day {d} — {_en(starts + timedelta(days=d - 1))}", "due") for d in (1, 4, 7, 14)
    ]
    started_on = date.fromisoformat(order["changes"][0]["on"])
    assert _changes(en) == [
        {"kind": "started", "what": f"Started on {_en(started_on)}, until {_en(end)}."}
    ]
    zh = _page(live, code, "zh-CN,zh;q=0.9")
    assert "您的隔离决定" in zh
    assert (_fact(zh, "starts-on"), _fact(zh, "planned-end")) == (_zh(starts), _zh(end))
    assert _tests(zh) == [
        ("due", f"第 {d} 天 — {_zh(starts + timedelta(days=d - 1))}", "待检测")
        for d in (1, 4, 7, 14)
    ]

    # Extended by the survey staff: the new end, and the change in words with why and who.
    new_end = starts + timedelta(days=21)
    staff.surveyor.post(f"/api/journeys/{journey}/quarantine/extension",
                        dict(DECISION, planned_end=str(new_end)))
    order = _api(live, code)["quarantine"]
    assert order["planned_end"] == str(new_end)
    extended = order["changes"][-1]
    on = date.fromisoformat(extended["on"])
    assert extended == {
        "kind": "extended", "on": str(on), "planned_end": str(new_end),
        "previous_end": str(end), "legal_basis": DECISION["legal_basis"],
        "decided_by": DECISION["decided_by"], "reason": DECISION["reason"], "early": False,
    }
    assert [t["day"] for t in order["tests"]] == [1, 4, 7, 14, 21]
    en = _page(live, code, "en")
    assert _fact(en, "planned-end") == _en(new_end)
    assert _changes(en)[-1] == {
        "kind": "extended",
        "what": f"Extended on {_en(on)} from {_en(end)} to {_en(new_end)}.",
        "reason": DECISION["reason"],
        "decided-by": DECISION["decided_by"],
    }
    assert "surveyor-" not in en  # who decided, not the staff account that typed it
    zh = _page(live, code, "zh-CN")
    assert _fact(zh, "planned-end") == _zh(new_end)
    assert _changes(zh)[-1]["what"] == f"{_zh(on)}延长：由{_zh(end)}延至{_zh(new_end)}。"
    assert f"隔离，至{_zh(new_end)}。" in zh  # the status line follows the new end too

    # A result makes day 1 done; the result itself is never on the traveller's page.
    staff.receiver.post(f"/api/journeys/{journey}/test-results",
                        {"day": 1, "result": {"outcome": "negative"}})
    answer = httpx.get(f"{live.url}/api/travellers/{code}", timeout=15)
    assert [(t["day"], t["done"]) for t in answer.json()["quarantine"]["tests"]] == [
        (1, True), (4, False), (7, False), (14, False), (21, False)
    ]
    assert "negative" not in answer.text
    en = _page(live, code, "en")
    assert [(state, shown) for state, _, shown in _tests(en)] == [
        ("done", "done"), *[("due", "due")] * 4
    ]
    assert "negative" not in en.lower()
    zh = _page(live, code, "zh-CN")
    assert _tests(zh)[0] == ("done", f"第 1 天 — {_zh(starts)}", "已完成")
    assert "阴性" not in zh

    # Released early (nothing else is due yet): the page says when, and no tests are pending.
    staff.receiver.post(f"/api/journeys/{journey}/release", DECISION)
    order = _api(live, code)["quarantine"]
    released_on = date.fromisoformat(order["released_on"])
    assert (order["changes"][-1]["kind"], order["changes"][-1]["early"]) == ("released", True)
    en = _page(live, code, "en")
    assert "Released. Your quarantine is over." in en
    assert _fact(en, "released-on") == _en(released_on)
    assert _fact(en, "planned-end") is None and _tests(en) == []
    assert [c["kind"] for c in _changes(en)] == ["started", "extended", "released"]
    assert _changes(en)[-1] == {
        "kind": "released",
        "what": f"Released on {_en(released_on)}, before the planned end.",
        "reason": DECISION["reason"],
        "decided-by": DECISION["decided_by"],
    }
    zh = _page(live, code, "zh-CN")
    assert _fact(zh, "released-on") == _zh(released_on)
    assert _changes(zh)[-1]["what"] == f"{_zh(released_on)}提前解除隔离。"
