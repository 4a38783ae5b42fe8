"""Public registration by QR: a traveller (and their family) register once, without login."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator, model_validator

from api.deps import AppDep, IdempotencyDep, context_for
from api.limits import Throttle, client_address
from domain.errors import InvalidInput
from tracking.application import Person
from tracking.validation import clean_name, e164_phone, prc_resident_id

router = APIRouter(tags=["registration"])
# Hundreds of travellers share the airport's address, so the address limit is generous; the
# per-document limit is what stops one person's record being hammered.
_per_address = Throttle("600/minute")
_per_document = Throttle("10/minute")

DocumentType = Literal["passport", "prc_id", "hk_macao_permit", "taiwan_permit", "other"]


class TravellerDetails(BaseModel):
    doc_type: DocumentType
    doc_country: str = Field(min_length=3, max_length=3, description="ICAO code, e.g. CHN")
    doc_number: str = Field(min_length=5, max_length=30)
    name_native: str = Field(min_length=1, max_length=100)
    name_latin: str = Field(default="", max_length=100)
    sex: Literal["female", "male", "unspecified"] = "unspecified"
    birth_date: date | None = None
    nationality: str = Field(default="", max_length=3)
    phone: str = Field(min_length=3, max_length=30)
    flight: str = Field(default="", max_length=20)
    came_from: str = Field(default="", max_length=100)
    destination_street: str = Field(default="", max_length=40)
    destination_address: str = Field(default="", max_length=200)
    symptoms: list[str] = Field(default_factory=list, max_length=20)
    temperature: float | None = Field(default=None, ge=30, le=45)

    @field_validator("name_native", "name_latin", "came_from", "destination_address")
    @classmethod
    def _names(cls, value: str) -> str:
        return _checked(clean_name, value, max_length=200) if value.strip() else ""

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return _checked(e164_phone, value)

    @model_validator(mode="after")
    def _document(self) -> TravellerDetails:
        if self.doc_type == "prc_id":
            self.doc_number = _checked(prc_resident_id, self.doc_number)
        return self

    def as_person(self) -> Person:
        details = self.model_dump(mode="json", exclude={"doc_type", "doc_country", "doc_number"})
        return Person(self.doc_type, self.doc_country, self.doc_number, details)


def _checked(check: Any, value: str, **kwargs: Any) -> str:
    # pydantic reports ValueError next to the field; our checks speak InvalidInput.
    try:
        result: str = check(value, **kwargs)
    except InvalidInput as e:
        raise ValueError(str(e)) from None
    return result


class RegisterTravellers(BaseModel):
    entry_point: str = Field(min_length=1, max_length=40)
    travellers: list[TravellerDetails] = Field(min_length=1, max_length=12)


@router.post("/api/registrations", status_code=201)
def register_travellers(
    body: RegisterTravellers, request: Request, app: AppDep, idem: IdempotencyDep
) -> dict[str, Any]:
    _per_address.check(f"ip:{client_address(request)}")
    lead = body.travellers[0]
    _per_document.check(hashlib.sha256(f"{lead.doc_type}:{lead.doc_number}".encode()).hexdigest())
    people = [t.as_person() for t in body.travellers]
    return app.register_travellers(body.entry_point, people, context_for(None), idem)
