"""Staff pages for administration (see api/staff_pages.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.staff_pages import staff_page

router = APIRouter(include_in_schema=False)


@router.get("/admin/posters", response_class=HTMLResponse)
def posters_page(request: Request) -> HTMLResponse:
    # Poster previews and downloads are blob: URLs made from authenticated fetches.
    return staff_page(request, "admin/posters.html", img_src="'self' blob: data:")
