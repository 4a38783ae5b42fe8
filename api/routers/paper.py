"""Printable paper for the line: the manifest of a vehicle run, the door labels of a hotel."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.deps import AppDep, ServicesDep, Staff, public_base_url
from api.errors import STAFF_ERRORS
from tracking.printing.paper import door_labels, render_door_labels, render_manifest, run_manifest

router = APIRouter(tags=["paper"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
ManifestReader = Staff
LabelReader = Staff
SiteCode = Annotated[str, Path(min_length=1, max_length=40)]
# Names and personal codes are on every page: no cache, shared or private, keeps a copy.
PDF_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"application/pdf": {}}}}


def content_disposition(filename: str) -> str:
    """Inline (the browser's viewer prints it), named for saving. Plates are Chinese
    (粤A·12345): old clients read the ASCII fallback, the rest RFC 5987's UTF-8 name."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _pdf(body: bytes, filename: str) -> Response:
    return Response(
        body,
        media_type="application/pdf",
        headers={**PDF_HEADERS, "Content-Disposition": content_disposition(filename)},
    )


@router.get("/api/runs/{run_id}/manifest.pdf", response_class=Response, responses=PDF_RESPONSE)
def run_manifest_route(
    run_id: UUID, app: AppDep, services: ServicesDep, request: Request, _: ManifestReader
) -> Response:
    """The A4 manifest of a vehicle run: passengers by seat, with their personal codes."""
    manifest = run_manifest(app, services.codes, run_id, public_base_url(services, request))
    return _pdf(render_manifest(manifest), f"manifest-{manifest.plate}.pdf")


@router.get("/api/sites/{code}/door-labels.pdf", response_class=Response, responses=PDF_RESPONSE)
def door_labels_route(
    code: SiteCode, app: AppDep, services: ServicesDep, request: Request, _: LabelReader
) -> Response:
    """One label per held or occupied room of a hotel, for the receiver to put on the door."""
    labels = door_labels(app, services.codes, code, public_base_url(services, request))
    return _pdf(render_door_labels(labels), f"door-labels-{labels.site_code}.pdf")
