"""The commander's daily report (projections/report.py) as JSON, CSV or XLSX.

Counts only, no personal data. The `X-Views-Position` header gives the board position the
report reflects: `GET /api/board?position=N` shows the same totals.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import ServicesDep, Staff
from api.errors import STAFF_ERRORS, refusal
from projections.report import read_daily_report, report_day
from projections.report_files import XLSX_TYPE, daily_report_csv, daily_report_xlsx

router = APIRouter(tags=["reports"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
Commander = Staff
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": XLSX_TYPE,
}


@router.get(
    "/api/reports/daily",
    response_class=Response,
    responses={
        200: {"content": {media: {} for media in MEDIA_TYPES.values()}},
        422: refusal("a day to come, before 2000, or not a date; an unknown format"),
    },
)
def daily_report(
    services: ServicesDep,
    _: Commander,
    day: Annotated[date | None, Query(
        description="the district's local day, YYYY-MM-DD [default: today]"
    )] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query(
        description="json, csv (UTF-8 with BOM) or xlsx"
    )] = "json",
) -> Response:
    """Arrivals, transfers completed, door-to-door times, the survey's backlog and SLA,
    occupancy and releases of one day, with the board's totals at the report's position."""
    now = datetime.now(UTC)
    chosen = report_day(day, now)  # InvalidInput → 422
    report = read_daily_report(services.store, chosen, services.settings.survey_sla_hours, now)
    headers = {"Cache-Control": "no-store", "X-Views-Position": str(report["position"])}
    if format == "json":
        return Response(orjson.dumps(report), media_type=MEDIA_TYPES["json"], headers=headers)
    body = daily_report_csv(report) if format == "csv" else daily_report_xlsx(report)
    filename = f"daily-report-{chosen.isoformat()}.{format}"
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(body, media_type=MEDIA_TYPES[format], headers=headers)
