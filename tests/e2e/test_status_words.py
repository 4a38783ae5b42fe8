"""The personal code page follows the traveller down the line, in plain words, in their
language: waiting for a vehicle, on vehicle 粤A·… to 荔湾酒店, in quarantine until …"""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import uuid4

import httpx

from domain.staff import Role
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live
from tests.support import district_today


def _now_and_next(live: Live, code: str, lang: str) -> tuple[str, str]:
    page = httpx.get(f"{live.url}/t/{code}", headers={"Accept-Language": lang}).text
    now = re.search(r'<p class="now"[^>]*>([^<]*)</p>', page)
    upcoming = re.search(r'<p class="next">([^<]*)</p>', page)
    assert now and upcoming, page
    return now.group(1), upcoming.group(1)


def test_the_status_page_says_where_the_traveller_is_at_every_step(live: Live) -> None:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    entry, hotel, plate = f"EP-{tag}", f"H-{tag}", f"粤A·{tag[:5]}"
    admin.post("/api/entry-points", {"code": entry, "name": "白云机场 T2"}, expect=201)
    admin.post(
        "/api/sites", {"code": hotel, "name": "荔湾酒店", "kind": "hotel", "rooms": ["301"]},
        expect=201,
    )
    admin.post("/api/vehicles", {"plate": plate, "seats": 8}, expect=201)
    registered = Api(live.url).post(
        "/api/registrations",
        {"entry_point": entry, "travellers": [traveller(f"S{tag}")]},
        expect=201,
    )
    journey = registered["journey_ids"][0]
    code = registered["status_urls"][0].rsplit("/", 1)[1]
    staff = {role: Api.signed_in(live.url, live.settings, role) for role in Role}

    def says(lang: str, now: str, upcoming: str) -> None:
        assert _now_and_next(live, code, lang) == (now, upcoming)

    says(
        "en",
        "Registered. Go to the health desk at 白云机场 T2 and show this code.",
        "Staff will check your documents and temperature.",
    )
    staff[Role.SCREENER].post(f"/api/journeys/{journey}/screening", {"risk": "low"})
    says(
        "zh-CN", "已在卫生检疫台完成核验，正在等待安排去向。", "请在等候区等候，工作人员会叫您。"
    )
    staff[Role.DISPATCHER].post(f"/api/journeys/{journey}/destination", {"site": hotel})
    says(
        "en",
        "Going to 荔湾酒店. Waiting for a vehicle.",
        "Staff will call you to a vehicle. Keep your luggage with you.",
    )
    run = staff[Role.DISPATCHER].post(
        "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": entry}, expect=201
    )
    staff[Role.DISPATCHER].post(f"/api/journeys/{journey}/seats", {"run_id": run["run_id"]})
    says("zh-CN", f"等候 {plate} 前往荔湾酒店。", "上车时请在车门出示此二维码。")
    staff[Role.ESCORT].post(
        f"/api/journeys/{journey}/boarding",
        {"run_id": run["run_id"], "scan_id": f"scan-{uuid4()}"},
    )
    staff[Role.ESCORT].post(f"/api/runs/{run['run_id']}/departure", {})
    says(
        "en",
        f"On vehicle {plate} to 荔湾酒店.",
        "Stay on the vehicle. Show this code at the door when you arrive.",
    )
    staff[Role.ESCORT].post(f"/api/runs/{run['run_id']}/arrival", {})
    says("zh-CN", "已到达荔湾酒店。", "请向接收的工作人员出示此二维码。")
    staff[Role.RECEIVER].post(
        f"/api/journeys/{journey}/check-in", {"site": hotel, "scan_id": f"door-{uuid4()}"}
    )
    says(
        "en",
        "Checked in at 荔湾酒店, room 301.",
        "Stay in your room. Staff will call you for the health survey.",
    )
    end = district_today() + timedelta(days=14)
    staff[Role.RECEIVER].post(f"/api/journeys/{journey}/quarantine", {"planned_end": str(end)})
    now, _ = _now_and_next(live, code, "zh-CN")
    assert now == f"正在荔湾酒店 301 房隔离，至{end.year}年{end.month}月{end.day}日。"
