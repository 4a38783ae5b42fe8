"""QR posters of the entry points, as SVG and A4 PDF, for the staff who put them up."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.deps import AppDep, ServicesDep, Staff, public_base_url
from api.errors import STAFF_ERRORS
from projections.queries import read_reference
from tracking.printing.posters import poster_pdf, poster_svg, registration_url

router = APIRouter(tags=["posters"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
Printer = Staff
EntryPointCode = Annotated[str, Path(min_length=1, max_length=40)]
# An SVG opened on its own is a document that could run script; ours never needs any.
SVG_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-cache",
}
PDF_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}


# A PDF takes a few hundred milliseconds of CPU; the handful of entry points fit in memory.
@lru_cache(maxsize=32)
def _pdf(code: str, name: str, url: str) -> bytes:
    return poster_pdf(code, name, url)


@lru_cache(maxsize=32)
def _svg(code: str, name: str, url: str) -> str:
    return poster_svg(code, name, url)


@router.get("/api/posters")
def list_posters(services: ServicesDep, request: Request, _: Printer) -> dict[str, Any]:
    """Every entry point with the registration address its poster opens."""
    base = public_base_url(services, request)
    return {
        "entry_points": [
            {
                "code": e["code"],
                "name": e["name"],
                "registration_url": registration_url(base, e["code"]),
                "svg": f"/api/entry-points/{e['code']}/poster.svg",
                "pdf": f"/api/entry-points/{e['code']}/poster.pdf",
            }
            for e in read_reference(services.store)["entry_points"]
        ]
    }


@router.get(
    "/api/entry-points/{code}/poster.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def entry_point_poster_svg(
    code: EntryPointCode, app: AppDep, services: ServicesDep, request: Request, _: Printer
) -> Response:
    entry = app.entry_point(code)
    url = registration_url(public_base_url(services, request), entry.code)
    return Response(
        _svg(entry.code, entry.name, url),
        media_type="image/svg+xml",
        headers={
            **SVG_HEADERS,
            "Content-Disposition": f'inline; filename="poster-{entry.code}.svg"',
        },
    )


@router.get(
    "/api/entry-points/{code}/poster.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def entry_point_poster_pdf(
    code: EntryPointCode, app: AppDep, services: ServicesDep, request: Request, _: Printer
) -> Response:
    entry = app.entry_point(code)
    url = registration_url(public_base_url(services, request), entry.code)
    return Response(
        _pdf(entry.code, entry.name, url),
        media_type="application/pdf",
        headers={
            **PDF_HEADERS,
            "Content-Disposition": f'attachment; filename="poster-{entry.code}.pdf"',
        },
    )
