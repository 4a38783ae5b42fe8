"""The dispatch console (`/dispatch`): the desk where dispatchers assign destinations and runs
(dispatchers act; commanders and admins may look). See api/staff_pages.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.staff_pages import staff_page

router = APIRouter(include_in_schema=False)


@router.get("/dispatch", response_class=HTMLResponse)
def dispatch_console(request: Request) -> HTMLResponse:
    # blob: is for the run manifest PDF, fetched with the bearer token and handed to the
    # browser as an object URL. A desk page needs no camera.
    return staff_page(request, "dispatch/console.html", img_src="'self' blob: data:")
