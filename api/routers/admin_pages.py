"""Staff pages for administration. The page shells are public; the data they show comes from
the API with the staff member's bearer token, so every read is checked by role there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
HEADERS = {
    # Poster previews and downloads are blob: URLs made from authenticated fetches.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/admin/posters", response_class=HTMLResponse)
def posters_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "admin/posters.html", {}, headers=HEADERS)
