"""The registration form as posted: flat field names in, validated travellers (or field errors
in the traveller's language) out.

The lead traveller (t0) gives the contact, trip and destination; family members (t1, t2, …)
give who they are and how they feel, and share the rest. The form works without JavaScript:
buttons post an `action` (add a member, add a place, read the MRZ, find my details, submit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from tracking import traveller_details as td
from tracking import validation
from tracking.traveller_details import TravellerDetails

PERSON_FIELDS = (
    "doc_type", "doc_country", "doc_number", "name_native", "name_latin", "sex",
    "birth_date", "nationality", "flight_seat", "temperature",
)
# Person fields that belong to one trip: pre-filled only when completing that trip.
TRIP_PERSON_FIELDS = ("flight_seat",)
SHARED_FIELDS = (
    "phone", "flight", "came_from", "destination_street", "destination_address",
    "no_local_address",
)
PLACE_FIELDS = ("place", "arrived", "left")
MAX_MEMBERS = 11
MAX_PLACES = 20
EMPTY_PLACES = 3

REQUIRED = "this field is required"
TOO_SHORT = "this is too short"
NOT_A_DATE = "this is not a date (day, month and year)"
NOT_A_NUMBER = "this is not a number"
OUT_OF_RANGE = "this is outside the possible range"
CHOOSE_ONE = "choose one of the options"
NOT_VALID = "this value is not valid"
NOT_A_SEAT = "this is not a seat number: a row and a letter, e.g. 23C"
_BY_ERROR_TYPE = {
    "missing": REQUIRED,
    "string_too_long": validation.TOO_LONG,
    "too_long": validation.TOO_LONG,
    "date_parsing": NOT_A_DATE,
    "date_from_datetime_parsing": NOT_A_DATE,
    "date_from_datetime_inexact": NOT_A_DATE,
    "date_type": NOT_A_DATE,
    "float_parsing": NOT_A_NUMBER,
    "float_type": NOT_A_NUMBER,
    "greater_than_equal": OUT_OF_RANGE,
    "less_than_equal": OUT_OF_RANGE,
    "literal_error": CHOOSE_ONE,
    "enum": CHOOSE_ONE,
}
# Where a field says more than the error type can.
_BY_FIELD_AND_ERROR_TYPE = {
    ("flight_seat", "string_pattern_mismatch"): NOT_A_SEAT,
    ("flight_seat", "string_too_long"): NOT_A_SEAT,
}
# Rules that span fields say which field the traveller should look at.
_FIELD_OF_RULE = {
    validation.BAD_RESIDENT_ID: "doc_number",
    td.STREET_WITHOUT_ADDRESS: "no_local_address",
    td.ADDRESS_NEEDED: "destination_address",
    td.STAY_DATES: "left",
}


@dataclass
class TravellerForm:
    people: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    shared: dict[str, str] = field(default_factory=dict)
    places: list[dict[str, str]] = field(
        default_factory=lambda: [{} for _ in range(EMPTY_PLACES)]
    )
    mrz: dict[int, str] = field(default_factory=dict)
    _history_rows: list[int] = field(default_factory=list)
    # Field name ("t1-birth_date", "phone", "h0-place") → message id.
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_post(cls, data: Mapping[str, Any], getlist: Any) -> TravellerForm:
        members = _bounded_int(data.get("members"), 0, MAX_MEMBERS)
        places = _bounded_int(data.get("places"), 0, MAX_PLACES)
        form = cls(people=[], places=[])
        for i in range(members + 1):
            person: dict[str, Any] = {f: str(data.get(f"t{i}-{f}", "")) for f in PERSON_FIELDS}
            person["symptoms"] = [str(s) for s in getlist(f"t{i}-symptoms")][: len(td.SYMPTOMS)]
            form.people.append(person)
            if data.get(f"t{i}-mrz"):
                form.mrz[i] = str(data[f"t{i}-mrz"])[:200]
        form.shared = {f: str(data.get(f, "")) for f in SHARED_FIELDS}
        for j in range(places):
            form.places.append({f: str(data.get(f"h{j}-{f}", "")) for f in PLACE_FIELDS})
        return form

    def hidden_counts(self) -> dict[str, int]:
        return {"members": len(self.people) - 1, "places": len(self.places)}

    def validate(self) -> list[TravellerDetails] | None:
        """The travellers, or None with `errors` filled in."""
        self.errors = {}
        # Blank rows are skipped; errors must still name the row the traveller sees.
        self._history_rows = [
            j for j, p in enumerate(self.places) if any(v.strip() for v in p.values())
        ]
        history = [_place(self.places[j]) for j in self._history_rows]
        travellers: list[TravellerDetails] = []
        for i, person in enumerate(self.people):
            raw = {k: v for k, v in person.items() if v != ""}
            raw.update({k: v for k, v in self.shared.items() if v != ""})
            raw["no_local_address"] = self.shared.get("no_local_address") == "on"
            raw["travel_history"] = history
            try:
                travellers.append(TravellerDetails.model_validate(raw))
            except ValidationError as e:
                self._collect(i, e)
        lead = self.shared
        if not lead.get("destination_street") and lead.get("no_local_address") != "on":
            self.errors.setdefault("destination_street", td.DESTINATION_NEEDED)
        return None if self.errors else travellers

    def _collect(self, i: int, error: ValidationError) -> None:
        for problem in error.errors():
            loc = [str(p) for p in problem["loc"]]
            message = _message(problem)
            if loc and loc[0] == "travel_history":
                row = self._history_rows[int(loc[1])] if len(loc) > 1 else 0
                name = f"h{row}-{loc[2] if len(loc) > 2 else _FIELD_OF_RULE.get(message, 'place')}"
            else:
                target = loc[0] if loc else _FIELD_OF_RULE.get(message, "doc_number")
                message = _BY_FIELD_AND_ERROR_TYPE.get((target, problem.get("type")), message)
                name = target if target in SHARED_FIELDS else f"t{i}-{target}"
            self.errors.setdefault(name, message)

    def fill(self, i: int, details: Mapping[str, Any], *, with_trip: bool) -> None:
        """Put what we already know into person i (and, for the lead, the shared fields)."""
        for key in PERSON_FIELDS:
            if key in ("doc_type", "doc_country", "doc_number"):
                continue
            if key in TRIP_PERSON_FIELDS and not with_trip:
                continue
            if details.get(key) not in (None, ""):
                self.people[i][key] = str(details[key])
        if i == 0:
            for key in SHARED_FIELDS:
                value = details.get(key)
                if key == "no_local_address":
                    self.shared[key] = "on" if value else ""
                elif value and (with_trip or key == "phone"):
                    self.shared[key] = str(value)
            history = details.get("travel_history") or []
            if with_trip and history:
                self.places = [
                    {f: str(stop.get(f) or "") for f in PLACE_FIELDS} for stop in history
                ][:MAX_PLACES]

    def fill_document(self, i: int, values: Mapping[str, str]) -> None:
        self.people[i].update({k: v for k, v in values.items() if v})


def _place(raw: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if v.strip()}


def _message(problem: Any) -> str:
    kind = problem.get("type", "")
    if kind == "value_error":
        cause = problem.get("ctx", {}).get("error")
        return str(cause) if cause is not None else NOT_VALID
    if kind == "string_too_short":
        return REQUIRED if problem.get("ctx", {}).get("min_length") == 1 else TOO_SHORT
    return _BY_ERROR_TYPE.get(kind, NOT_VALID)


def _bounded_int(value: Any, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(str(value))))
    except ValueError:
        return low
