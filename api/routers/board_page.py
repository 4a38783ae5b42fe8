"""The command board (`/board`): the command centre's wall screen, live over the websocket
`/ws/board` and able to show any past moment (docs/board.md). Commanders, dispatchers, admins and
survey staff may open it; the server decides what each of them sees. See api/staff_pages.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.staff_pages import staff_page

router = APIRouter(include_in_schema=False)

@router.get("/board", response_class=HTMLResponse)
def command_board(request: Request) -> HTMLResponse:
    # data: is the page's empty favicon (no request for /favicon.ico). 'self' admits a
    # same-host ws:/wss: in CSP Level 3 browsers; older ones (Safari before 15.4) need the
    # schemes named. Scripts still come only from this server.
    return staff_page(
        request, "board/board.html", img_src="'self' data:", connect_src="'self' ws: wss:"
    )
