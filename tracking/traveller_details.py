"""What a traveller tells us about themself: one model for the form, the API and upstream lists.

Every check raises a fixed sentence (a message-catalogue msgid), so the form can show it next
to the field in the traveller's language and the API can return it as it is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.errors import InvalidInput
from tracking.application import Person
from tracking.validation import clean_name, e164_phone, prc_resident_id

DocumentType = Literal["passport", "prc_id", "hk_macao_permit", "taiwan_permit", "other"]
Sex = Literal["female", "male", "unspecified"]
Symptom = Literal[
    "fever",
    "cough",
    "sore_throat",
    "short_of_breath",
    "loss_of_smell_or_taste",
    "diarrhoea",
    "fatigue",
    "muscle_pain",
]
SYMPTOMS: tuple[str, ...] = Symptom.__args__  # type: ignore[attr-defined]
DOCUMENT_TYPES: tuple[str, ...] = DocumentType.__args__  # type: ignore[attr-defined]

COUNTRY_CODE = "use the three-letter country code, e.g. CHN, GBR, USA"
BIRTH_DATE_RANGE = "the birth date must be in the past and after 1900"
STAY_DATES = "the date you left is before the date you arrived"
DESTINATION_NEEDED = "choose your street and give the address, or tick 'no local address'"
ADDRESS_NEEDED = "give the address in the street you chose"
STREET_WITHOUT_ADDRESS = "you ticked 'no local address': leave the street and address empty"


class TravelStop(BaseModel):
    """One place on the 14-day travel history."""

    place: str = Field(min_length=1, max_length=100, description="city and country")
    arrived: date | None = None
    left: date | None = None

    @field_validator("place")
    @classmethod
    def _place(cls, value: str) -> str:
        return checked(clean_name, value)

    @model_validator(mode="after")
    def _dates(self) -> TravelStop:
        if self.arrived and self.left and self.left < self.arrived:
            raise ValueError(STAY_DATES)
        return self


class TravellerDetails(BaseModel):
    doc_type: DocumentType
    doc_country: str = Field(min_length=3, max_length=3, description="ICAO code, e.g. CHN")
    doc_number: str = Field(min_length=5, max_length=30)
    name_native: str = Field(min_length=1, max_length=100, description="as in your own script")
    name_latin: str = Field(default="", max_length=100, description="as in the passport")
    sex: Sex = "unspecified"
    birth_date: date
    nationality: str = Field(default="", max_length=3, description="ICAO code, e.g. CHN")
    phone: str = Field(min_length=3, max_length=30)
    flight: str = Field(default="", max_length=20, description="flight or vehicle number")
    flight_seat: str = Field(default="", max_length=4, pattern=r"^(\d{1,3}[A-Ka-k]?)?$",
                             description="seat on the flight, e.g. 23C, if known")
    came_from: str = Field(default="", max_length=100, description="city and country")
    travel_history: list[TravelStop] = Field(default_factory=list, max_length=20)
    destination_street: str = Field(default="", max_length=40, description="a street's code")
    destination_address: str = Field(default="", max_length=200)
    no_local_address: bool = False
    symptoms: list[Symptom] = Field(default_factory=list, max_length=len(SYMPTOMS))
    temperature: float | None = Field(default=None, ge=30, le=45, description="°C, if known")

    @field_validator("name_native")
    @classmethod
    def _name(cls, value: str) -> str:
        return checked(clean_name, value)

    @field_validator("name_latin", "came_from", "destination_address", "flight")
    @classmethod
    def _optional_texts(cls, value: str) -> str:
        return checked(clean_name, value, max_length=200) if value.strip() else ""

    @field_validator("doc_country", "nationality")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.strip().upper()
        if value and (len(value) != 3 or not value.isascii() or not value.isalpha()):
            raise ValueError(COUNTRY_CODE)
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return checked(e164_phone, value)

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: date) -> date:
        if not date(1900, 1, 1) <= value <= datetime.now(UTC).date():
            raise ValueError(BIRTH_DATE_RANGE)
        return value

    @field_validator("symptoms")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @model_validator(mode="after")
    def _document_and_destination(self) -> TravellerDetails:
        if self.doc_type == "prc_id":
            self.doc_number = checked(prc_resident_id, self.doc_number)
        if self.no_local_address and (self.destination_street or self.destination_address):
            raise ValueError(STREET_WITHOUT_ADDRESS)
        if self.destination_street and not self.destination_address:
            raise ValueError(ADDRESS_NEEDED)
        return self

    def as_person(self) -> Person:
        details = self.model_dump(mode="json", exclude={"doc_type", "doc_country", "doc_number"})
        return Person(self.doc_type, self.doc_country, self.doc_number, details)


def checked(check: Any, value: str, **kwargs: Any) -> str:
    # pydantic reports ValueError next to the field; our checks speak InvalidInput.
    try:
        result: str = check(value, **kwargs)
    except InvalidInput as e:
        raise ValueError(str(e)) from None
    return result
