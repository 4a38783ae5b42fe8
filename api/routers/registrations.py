"""Public registration by QR: a traveller (and their family) register once, without login.

The same endpoints serve the mobile form and any app a partner builds on them.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from api.deps import AppDep, IdempotencyDep, ServicesDep, context_for, public_base_url
from api.errors import refusal
from api.limits import Throttle, client_address
from tracking.services import Services
from tracking.traveller_details import DocumentType, TravellerDetails
from tracking.travellers import TravellerOrder, prefill, traveller_status

router = APIRouter(tags=["registration"])
# Hundreds of travellers share the airport's address, so the address limit is generous; the
# per-document and per-phone limits are what stop one person's record being hammered.
per_address = Throttle("600/minute")
per_document = Throttle("10/minute")
per_phone = Throttle("20/minute")
per_code_address = Throttle("300/minute")

PUBLIC_ERRORS: dict[int | str, dict[str, Any]] = {
    404: refusal("no such entry point"),
    409: refusal("the registration conflicts with what is on record"),
    413: refusal("the request is too large"),
    422: refusal("a field is not valid; `problems` says which and why"),
    429: refusal("too many requests from here, or for this document (see Retry-After)"),
    503: refusal("the database is not answering; retry after Retry-After seconds"),
}


class RegisterTravellers(BaseModel):
    entry_point: str = Field(min_length=1, max_length=40)
    travellers: list[TravellerDetails] = Field(min_length=1, max_length=12)


class Registration(BaseModel):
    journey_ids: list[UUID]
    party_id: UUID
    already_registered: bool
    pre_registered: bool
    changed_fields: list[str]
    status_urls: list[str] = Field(description="each traveller's personal code page")


class FindMyDetails(BaseModel):
    doc_type: DocumentType
    doc_country: str = Field(min_length=3, max_length=3)
    doc_number: str = Field(min_length=5, max_length=30)
    birth_date: date


class KnownDetails(BaseModel):
    found: bool
    open_journey: bool = False
    pre_registered: bool = False
    details: dict[str, Any] = Field(default_factory=dict)


class OrderTestOut(BaseModel):
    day: int = Field(description="day of the order (day 1 is the day of the room door)")
    due_on: date | None
    done: bool = Field(description="whether the test is done; the result is never shown here")


class OrderChangeOut(BaseModel):
    kind: Literal["started", "extended", "shortened", "released"]
    on: date = Field(description="the day the decision was made")
    planned_end: date | None = Field(description="the end it set (none for a release)")
    previous_end: date | None = Field(description="the end it replaced")
    legal_basis: str
    decided_by: str = Field(description="the official accountable for the decision")
    reason: str
    early: bool = Field(description="a release before the planned end")


class QuarantineOrderOut(BaseModel):
    starts_on: date | None = Field(description="day 1 of the order")
    planned_end: date = Field(description="the day the traveller may leave")
    legal_basis: str
    released_on: date | None
    tests: list[OrderTestOut]
    changes: list[OrderChangeOut] = Field(description="every decision on the order, in order")

    @classmethod
    def of(cls, order: TravellerOrder) -> QuarantineOrderOut:
        return cls(
            starts_on=order.starts_on,
            planned_end=order.planned_end,
            legal_basis=order.legal_basis,
            released_on=order.released_on,
            tests=[OrderTestOut(day=t.day, due_on=t.due_on, done=t.done) for t in order.tests],
            changes=[
                OrderChangeOut.model_validate(c, from_attributes=True) for c in order.changes
            ],
        )


class TravellerStatusOut(BaseModel):
    stage: str
    entry_point: str
    destination_kind: str | None
    destination_name: str
    room: str
    plate: str
    planned_end: date | None
    party_size: int
    quarantine: QuarantineOrderOut | None = Field(
        default=None, description="the quarantine order, once it has started")


def document_key(doc_type: str, country: str, number: str) -> str:
    # A hash, so that the limiter's memory holds no document numbers.
    raw = f"{doc_type}|{country.strip().upper()}|{number.strip().upper()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _throttle(request: Request, document: str, phone: str = "") -> None:
    keys = [document] if not phone else [document, hashlib.sha256(phone.encode()).hexdigest()]
    per_address.check(f"ip:{client_address(request)}")
    per_document.check(keys[0])
    if phone:
        per_phone.check(keys[1])


@router.post("/api/registrations", status_code=201, responses=PUBLIC_ERRORS)
def register_travellers(
    body: RegisterTravellers,
    request: Request,
    services: ServicesDep,
    app: AppDep,
    idem: IdempotencyDep,
) -> Registration:
    lead = body.travellers[0]
    _throttle(request, document_key(lead.doc_type, lead.doc_country, lead.doc_number), lead.phone)
    people = [t.as_person() for t in body.travellers]
    answer = app.register_travellers(body.entry_point, people, context_for(None), idem)
    return Registration(**answer, status_urls=_status_urls(services, request, answer))


def _status_urls(services: Services, request: Request, answer: dict[str, Any]) -> list[str]:
    base = public_base_url(services, request)
    codes = [services.codes.code_for(UUID(j)) for j in answer["journey_ids"]]
    return [f"{base}/t/{code}" for code in codes]


@router.post("/api/registrations/lookup", responses=PUBLIC_ERRORS)
def find_my_details(body: FindMyDetails, request: Request, app: AppDep) -> KnownDetails:
    """What we hold for a document, if the birth date matches (to pre-fill the form).

    A POST, so that the document number never appears in a URL or an access log."""
    _throttle(request, document_key(body.doc_type, body.doc_country, body.doc_number))
    known = prefill(app, body.doc_type, body.doc_country, body.doc_number, body.birth_date)
    if known is None:
        return KnownDetails(found=False)
    return KnownDetails(
        found=True,
        open_journey=known.open_journey,
        pre_registered=known.pre_registered,
        details=known.details,
    )


@router.get(
    "/api/travellers/{code}",
    responses={**PUBLIC_ERRORS, 404: refusal("no working personal code")},
)
def my_status(code: str, request: Request, services: ServicesDep) -> TravellerStatusOut:
    """The traveller's own status, by their personal code (unknown, expired and revoked
    codes get the same 404), with their quarantine order once it has started: its dates,
    legal basis, test days (done or due, never a result) and every decision on it."""
    per_code_address.check(client_address(request))
    journey_id = services.codes.resolve(code)
    if journey_id is None:
        raise HTTPException(404, "this code does not work; ask the staff nearby for help")
    status = traveller_status(services.app, journey_id, with_order=True)
    return TravellerStatusOut(
        stage=status.stage,
        entry_point=status.entry_point,
        destination_kind=status.destination_kind,
        destination_name=status.destination_name,
        room=status.room,
        plate=status.plate,
        planned_end=status.planned_end,
        party_size=status.party_size,
        quarantine=QuarantineOrderOut.of(status.order) if status.order else None,
    )
