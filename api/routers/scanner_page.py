"""The phone scanner page for screeners, escorts and receivers (`/scan`).

The page shell is public; everything it shows or records goes through the API with the staff
member's bearer token, so every read and every command is checked by role there.

The page is bilingual inline (zh-CN / en). What a scan means arrives from `GET /api/scans` as a
machine `reason_code`; the page words it from `REASON_WORDS` below, rendered into the page as a
JSON data island (not a script: the CSP runs none inline). Keeping the table here, keyed by the
domain's enums, lets a test prove that every code and every stage has both languages, and tells
the page which codes are off-route from the domain itself rather than from a copy in the script.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.staff_pages import staff_page
from domain.handoff import OFF_ROUTE, ReasonCode
from domain.stages import Stage

router = APIRouter(include_in_schema=False)


class Words(NamedTuple):
    zh: str
    en: str


# What each reason means and what to do next, in both languages of the page.
REASON_WORDS: dict[ReasonCode, Words] = {
    ReasonCode.CLOSED: Words(
        "此行程已结束：不要接收此人，请联系值班负责人。",
        "This journey is closed: do not take the traveller; call the duty officer.",
    ),
    ReasonCode.OTHER_ENTRY_POINT: Words(
        "此人在其他入境点登记：请与调度核实。",
        "Registered at another entry point: check with the dispatcher.",
    ),
    ReasonCode.SCREEN: Words(
        "请核对证件与姓名、出生日期，然后进行筛查登记。",
        "Check the document against the name and birth date, then screen.",
    ),
    ReasonCode.ALREADY_SCREENED: Words(
        "已完成筛查：接待台无需再办理。",
        "Already screened: nothing to do at the desk.",
    ),
    ReasonCode.NO_RUN_CHOSEN: Words(
        "本机尚未选择车次：请点“更改”，先选择车次。",
        "No vehicle run chosen on this scanner: tap Change and choose the run.",
    ),
    ReasonCode.BOARD: Words(
        "这是此人的车辆：请其上车，并逐一扫描同行人员。",
        "This is the traveller's vehicle: let them board, and scan each member of the party.",
    ),
    ReasonCode.WRONG_VEHICLE: Words(
        "错车：此人已安排在另一辆车上。不要让其上车，请引导其前往所属车辆。",
        "Wrong vehicle: the traveller is seated on another run. Do not let them board; "
        "send them to their own vehicle.",
    ),
    ReasonCode.ALREADY_ON_BOARD: Words(
        "已在本车上：无需再次办理。",
        "Already on board this vehicle: nothing more to do.",
    ),
    ReasonCode.NO_SEAT: Words(
        "尚未安排车辆座位：请引导此人到调度处。",
        "No seat on any vehicle yet: send the traveller to the dispatcher.",
    ),
    ReasonCode.NOT_WAITING: Words(
        "此人现在不在候车：不要让其上车，请与调度核实。",
        "The traveller is not waiting for a vehicle: do not let them board; "
        "check with the dispatcher.",
    ),
    ReasonCode.NO_SITE_CHOSEN: Words(
        "本机尚未选择酒店/社区：请点“更改”，先选择地点。",
        "No site chosen on this scanner: tap Change and choose the hotel or street.",
    ),
    ReasonCode.CHECK_IN: Words(
        "这是此人的目的地：请办理入住。",
        "This is the traveller's destination: check them in.",
    ),
    ReasonCode.WRONG_SITE: Words(
        "目的地错误：此人应前往其他地点。不要办理入住，请引导其前往正确地点。",
        "Wrong destination: the traveller is expected at another site. Do not check them in; "
        "send them to the right one.",
    ),
    ReasonCode.EXPECTED_ELSEWHERE: Words(
        "目的地不符：此人应前往其他地点。不要办理入住。",
        "Another destination: the traveller is expected at another site. Do not check them in.",
    ),
    ReasonCode.NOT_ARRIVED: Words(
        "车辆尚未标记到达：请转运人员先确认到达，再扫码。",
        "The vehicle is not marked as arrived yet: the escort marks arrival first, "
        "then scan again.",
    ),
    ReasonCode.ALREADY_IN: Words(
        "已在此办理入住：无需再次办理。",
        "Already checked in here: nothing more to do.",
    ),
    ReasonCode.NOT_EXPECTED: Words(
        "此人目前不应来此：不要办理入住，请与调度核实。",
        "The traveller is not expected here now: do not check them in; "
        "check with the dispatcher.",
    ),
}

STAGE_WORDS: dict[Stage, Words] = {
    Stage.REGISTERED: Words("已登记", "Registered"),
    Stage.SCREENED: Words("已筛查", "Screened"),
    Stage.DESTINATION_ASSIGNED: Words("已分配目的地", "Destination assigned"),
    Stage.SEAT_ASSIGNED: Words("已分配座位", "Seat assigned"),
    Stage.BOARDED: Words("已上车", "Boarded"),
    Stage.IN_TRANSIT: Words("转运途中", "In transit"),
    Stage.ARRIVED: Words("已到达", "Arrived"),
    Stage.CHECKED_IN: Words("已入住", "Checked in"),
    Stage.UNDER_QUARANTINE: Words("隔离中", "Under quarantine"),
    Stage.RELEASED: Words("已解除隔离", "Released"),
    Stage.REFERRED_TO_HOSPITAL: Words("已转送医院", "Referred to hospital"),
    Stage.NO_SHOW: Words("未到", "No-show"),
    Stage.CANCELLED: Words("已取消", "Cancelled"),
}


def page_words() -> dict[str, Any]:
    """The data island the page reads: reasons (with their off-route mark) and stages."""
    return {
        "reasons": {
            code.value: {"zh": w.zh, "en": w.en, "off_route": code in OFF_ROUTE}
            for code, w in REASON_WORDS.items()
        },
        "stages": {stage.value: {"zh": w.zh, "en": w.en} for stage, w in STAGE_WORDS.items()},
    }


@router.get("/scan", response_class=HTMLResponse)
def scanner_page(request: Request) -> HTMLResponse:
    # 'wasm-unsafe-eval' lets the vendored ZXing decoder compile its WebAssembly and nothing
    # else: no 'unsafe-eval', no inline script. blob:/data: cover the decoder's canvas frames.
    # The camera is the point of this page; nothing framed or foreign may ask for it.
    return staff_page(
        request,
        "scanner/scan.html",
        script_src="'self' 'wasm-unsafe-eval'",
        img_src="'self' blob: data:",
        extra_policy="media-src 'self' blob:; worker-src 'self' blob:",
        permissions="camera=(self), microphone=(), geolocation=()",
        context={"words": page_words()},
    )
