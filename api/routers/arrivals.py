"""The desk's list of travellers registered at an entry point, as a spreadsheet (CSV).

Identity and contact only: health data is never in it. UTF-8 with a BOM so that Excel on
Chinese Windows opens it without garbling the names.
"""

from __future__ import annotations

import csv
import io
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import AppDep, ServicesDep, Staff
from api.errors import STAFF_ERRORS, refusal
from projections.queries import read_entry_point_journeys

router = APIRouter(tags=["registration"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
DeskStaff = Staff
COLUMNS = (
    "journey_id", "party_id", "stage", "registered_or_stage_since", "name_native", "name_latin",
    "document", "document_last4", "nationality", "birth_date", "phone", "flight", "came_from",
    "destination_street", "destination_address",
)


@router.get(
    "/api/entry-points/{code}/arrivals.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, 404: refusal("no such entry point")},
)
def arrivals_csv(code: str, services: ServicesDep, app: AppDep, _: DeskStaff) -> Response:
    app.entry_point(code)
    listing = read_entry_point_journeys(services.store, code)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in listing["journeys"]:
        # A cell starting with = + - @ is a formula to a spreadsheet: typed text must stay text.
        details = app.personal_details(app.journey(UUID(row["journey_id"])))
        number = str(details.get("number", ""))
        writer.writerow(
            [
                row["journey_id"], row["party_id"], row["stage"], row["entered_at"],
                _text(details.get("name_native", "")), _text(details.get("name_latin", "")),
                details.get("doc_type", ""), number[-4:], details.get("nationality", ""),
                details.get("birth_date", ""), details.get("phone", ""),
                _text(details.get("flight", "")), _text(details.get("came_from", "")),
                details.get("destination_street", ""),
                _text(details.get("destination_address", "")),
            ]
        )
    return Response(
        ("\ufeff" + out.getvalue()).encode(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="arrivals-{code}.csv"',
            "Cache-Control": "no-store",
        },
    )


def _text(value: object) -> str:
    text = str(value or "")
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
