"""The survey desk (`/survey`): the worklist of travellers due for their survey (流调) with the
SLA clocks, the survey form, the quarantine order with its tests, and the referral to hospital.
For survey staff and commanders; the page asks why before it reads anyone's health record (every
read is logged by the API). See api/staff_pages.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.staff_pages import staff_page

router = APIRouter(include_in_schema=False)


@router.get("/survey", response_class=HTMLResponse)
def survey_desk(request: Request) -> HTMLResponse:
    # data: is the empty favicon only; a desk page needs no camera and loads nothing else.
    return staff_page(request, "survey/desk.html", img_src="'self' data:")
