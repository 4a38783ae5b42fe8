"""The dispatch console (`/dispatch`): the desk where dispatchers assign destinations and runs.

The page shell is public; everything it shows or records goes through the JSON API with the
staff member's bearer token, so every read and every command is checked by role there
(dispatchers act; commanders and admins may look).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
HEADERS = {
    # No inline script or style, nothing from elsewhere. blob: is for the run manifest PDF,
    # fetched with the bearer token and handed to the browser as an object URL.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    # A desk page needs no camera, microphone or location.
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/dispatch", response_class=HTMLResponse)
def dispatch_console(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "dispatch/console.html", {}, headers=HEADERS)
