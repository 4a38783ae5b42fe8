"""The phone scanner page for screeners, escorts and receivers (`/scan`).

The page shell is public; everything it shows or records goes through the API with the staff
member's bearer token, so every read and every command is checked by role there.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard import TEMPLATES_DIR

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)
HEADERS = {
    # 'wasm-unsafe-eval' lets the vendored ZXing decoder compile its WebAssembly and nothing
    # else: no 'unsafe-eval', no inline script. blob:/data: cover the decoder's canvas frames.
    # No CDN: every script, style and the .wasm come from this server's /static.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "img-src 'self' blob: data:; media-src 'self' blob:; worker-src 'self' blob:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    # The camera is the point of this page; nothing framed or foreign may ask for it.
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@router.get("/scan", response_class=HTMLResponse)
def scanner_page(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "scanner/scan.html", {}, headers=HEADERS)
