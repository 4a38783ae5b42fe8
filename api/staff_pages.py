"""Staff page shells (`/scan`, `/dispatch`, `/admin/...`): public HTML whose data comes from the
API with the staff member's bearer token, so every read and command is checked by role there.

Every shell is sent with the same strict headers: scripts, styles and connections only from
this server, nothing may frame it, no referrer leaves it. A page names only what it adds.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard import TEMPLATES_DIR

templates = Jinja2Templates(directory=TEMPLATES_DIR)
BASE_POLICY = (
    "default-src 'self'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def staff_page(
    request: Request,
    template: str,
    *,
    script_src: str = "'self'",
    img_src: str = "'self'",
    connect_src: str = "'self'",
    extra_policy: str = "",
    permissions: str = "camera=(), microphone=(), geolocation=()",
    context: dict[str, Any] | None = None,
) -> HTMLResponse:
    policy = (
        f"{BASE_POLICY}; script-src {script_src}; img-src {img_src}; connect-src {connect_src}"
    )
    if extra_policy:
        policy += f"; {extra_policy}"
    headers = {
        "Content-Security-Policy": policy,
        "Permissions-Policy": permissions,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return templates.TemplateResponse(request, template, context or {}, headers=headers)
