"""What the survey (流调) records about a traveller: one model for the API and the survey page.

Answers are health data: they are validated here and sealed with the traveller's key before
they reach an event. Co-traveller contacts are not typed in: they are derived from the record
(same party, same vehicle, same flight); `close_contacts` are the people the views cannot know.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.quarantine import OUTCOMES, TEST_KINDS
from tracking.traveller_details import SYMPTOMS, Symptom, TravelStop, checked
from tracking.validation import clean_name, clean_text, e164_phone

Relation = Literal["household", "family", "colleague", "fellow_traveller", "friend", "other"]
TestKind = Literal["pcr", "antigen", "antibody"]
Outcome = Literal["negative", "positive", "inconclusive"]
assert set(TestKind.__args__) == set(TEST_KINDS)  # type: ignore[attr-defined]
assert set(Outcome.__args__) == set(OUTCOMES)  # type: ignore[attr-defined]

ONSET_NEEDED = "give the day the first symptom began"
ONSET_WITHOUT_SYMPTOMS = "an onset day is given, but no symptom: choose the symptoms"
NOT_IN_FUTURE = "this date is in the future"
TOO_OLD = "this date is too long ago to matter for the survey"


def _recent(value: date | None) -> date | None:
    """Survey dates lie in the past year (a day of slack for time zones)."""
    if value is None:
        return None
    today = datetime.now(UTC).date()
    if value > today + timedelta(days=1):
        raise ValueError(NOT_IN_FUTURE)
    if value < today - timedelta(days=366):
        raise ValueError(TOO_OLD)
    return value


class CloseContact(BaseModel):
    """Somebody the traveller met whom the record cannot know (not a fellow passenger)."""

    name: str = Field(min_length=1, max_length=100)
    relation: Relation = "other"
    phone: str = Field(default="", max_length=30)
    last_contact_on: date | None = None
    where: str = Field(default="", max_length=100)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return checked(clean_name, value)

    @field_validator("where")
    @classmethod
    def _where(cls, value: str) -> str:
        return checked(clean_name, value) if value.strip() else ""

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return checked(e164_phone, value) if value.strip() else ""

    @field_validator("last_contact_on")
    @classmethod
    def _date(cls, value: date | None) -> date | None:
        return _recent(value)


class Vaccination(BaseModel):
    doses: int = Field(default=0, ge=0, le=10)
    last_dose_on: date | None = None
    vaccine: str = Field(default="", max_length=60)

    @field_validator("vaccine")
    @classmethod
    def _vaccine(cls, value: str) -> str:
        return checked(clean_name, value) if value.strip() else ""

    @field_validator("last_dose_on")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        if value is not None and value > datetime.now(UTC).date() + timedelta(days=1):
            raise ValueError(NOT_IN_FUTURE)
        return value


class PriorTest(BaseModel):
    """A test taken before this survey (abroad, on arrival)."""

    taken_on: date
    kind: TestKind = "pcr"
    outcome: Outcome
    where: str = Field(default="", max_length=100)

    @field_validator("taken_on")
    @classmethod
    def _date(cls, value: date) -> date:
        found = _recent(value)
        assert found is not None
        return found

    @field_validator("where")
    @classmethod
    def _where(cls, value: str) -> str:
        return checked(clean_name, value) if value.strip() else ""


class SurveyAnswers(BaseModel):
    travel_history: list[TravelStop] = Field(default_factory=list, max_length=30,
                                             description="the last 14 days, place by place")
    close_contacts: list[CloseContact] = Field(default_factory=list, max_length=50)
    symptoms: list[Symptom] = Field(default_factory=list, max_length=len(SYMPTOMS))
    symptom_onset_on: date | None = None
    vaccination: Vaccination = Field(default_factory=Vaccination)
    tests_so_far: list[PriorTest] = Field(default_factory=list, max_length=20)
    risk_reason: str = Field(min_length=1, max_length=500,
                             description="why the surveyor chose this risk level")
    notes: str = Field(default="", max_length=2000)

    @field_validator("symptoms")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("symptom_onset_on")
    @classmethod
    def _onset(cls, value: date | None) -> date | None:
        return _recent(value)

    @field_validator("risk_reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return checked(clean_name, value, max_length=500)

    @field_validator("notes")
    @classmethod
    def _notes(cls, value: str) -> str:
        return checked(clean_text, value, max_length=2000) if value.strip() else ""

    @model_validator(mode="after")
    def _symptoms_and_onset(self) -> SurveyAnswers:
        if self.symptoms and self.symptom_onset_on is None:
            raise ValueError(ONSET_NEEDED)
        if self.symptom_onset_on is not None and not self.symptoms:
            raise ValueError(ONSET_WITHOUT_SYMPTOMS)
        return self


class LabResult(BaseModel):
    """One result of the order's test schedule (health data: sealed in the event)."""

    outcome: Outcome
    kind: TestKind = "pcr"
    taken_on: date | None = None
    note: str = Field(default="", max_length=500)

    @field_validator("taken_on")
    @classmethod
    def _date(cls, value: date | None) -> date | None:
        return _recent(value)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return checked(clean_text, value, max_length=500) if value.strip() else ""
