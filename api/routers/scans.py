"""What a scanned personal code means at a handoff: who it is, what staff must check, and
whether to go on (green), check (amber) or stop (red). Reading only: the handoff itself is
recorded by the journey's boarding / check-in commands, which record a misdirected scan.

`reason_code` is the machine word for the reason (domain/handoff.py `ReasonCode`); `reason`
is the same in English. A scanner words the code in its own languages, and posts the handoff
anyway when the code is off-route (`OFF_ROUTE`), so that the scan is recorded and raised.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from api.deps import AppDep, ServicesDep, Staff
from api.errors import STAFF_ERRORS, refusal
from domain.errors import NotFound
from domain.handoff import Handoff, ReasonCode, assess
from tracking.application import TrackingApp
from tracking.travellers import traveller_status

router = APIRouter(tags=["handoffs"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
Scanner = Staff
UNKNOWN = "this code does not work: ask the traveller for their code page, or check the desk list"


class ScanResult(BaseModel):
    journey_id: UUID
    verdict: str
    reason_code: ReasonCode
    reason: str
    stage: str
    name_native: str
    name_latin: str
    document_last4: str
    party_size: int
    destination_name: str
    room: str
    destination_address: str
    plate: str


@router.get(
    "/api/scans/{code}",
    responses={
        404: refusal("no working personal code"),
        422: refusal("the handoff names a run or site that does not exist"),
    },
)
def scan(
    code: str,
    services: ServicesDep,
    app: AppDep,
    _: Scanner,
    handoff: Handoff,
    entry_point: Annotated[str, Query(max_length=40)] = "",
    run_id: UUID | None = None,
    site: Annotated[str, Query(max_length=40)] = "",
) -> ScanResult:
    # The scanner's own settings first: an unknown run or site is the scanner's mistake (422,
    # "change the handoff"), never an unknown personal code (404) nor a wrong-vehicle verdict
    # that would have the page post a misdirected scan against a run that does not exist.
    site_id = _site_id(app, site) if site else None
    if run_id is not None:
        _require_run(app, run_id)
    journey_id = services.codes.resolve(code)
    if journey_id is None:
        raise HTTPException(404, UNKNOWN)
    journey = app.journey(journey_id)
    assessment = assess(
        journey, handoff, entry_point=entry_point, run_id=run_id, site_id=site_id
    )
    status = traveller_status(app, journey_id)
    details = app.personal_details(journey)
    return ScanResult(
        journey_id=journey_id,
        verdict=assessment.verdict.value,
        reason_code=assessment.code,
        reason=assessment.reason,
        stage=status.stage,
        name_native=str(details.get("name_native", "")),
        name_latin=str(details.get("name_latin", "")),
        document_last4=str(details.get("number", ""))[-4:],
        party_size=status.party_size,
        destination_name=status.destination_name,
        room=status.room,
        destination_address=status.destination_street_address,
        plate=status.plate,
    )


def _site_id(app: TrackingApp, code: str) -> UUID:
    try:
        return app.site(code).id
    except NotFound:
        raise HTTPException(422, f"no site {code!r}: choose the site from the list") from None


def _require_run(app: TrackingApp, run_id: UUID) -> None:
    try:
        app.run(run_id)
    except NotFound:
        raise HTTPException(422, "no such vehicle run: choose the run from the list") from None
