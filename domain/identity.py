"""One person, one open journey.

The identity key is a keyed hash of the normalised document (type, country, number): passport
numbers are a small space, so a plain hash would be a lookup table. The key itself is computed
with the deployment's secret; here it is only normalised and used.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput

DOCUMENT_TYPES = ("passport", "prc_id", "hk_macao_permit", "taiwan_permit", "other")


def normalise_document(doc_type: str, country: str, number: str) -> str:
    if doc_type not in DOCUMENT_TYPES:
        raise InvalidInput(f"unknown document type {doc_type!r}")
    country = unicodedata.normalize("NFKC", country).strip().upper()
    if len(country) != 3 or not country.isascii() or not country.isalpha():
        raise InvalidInput("the issuing country is a three-letter ICAO code, e.g. CHN or GBR")
    folded = unicodedata.normalize("NFKC", number).upper()
    number = "".join(ch for ch in folded if ch.isalnum())
    if not 5 <= len(number) <= 20 or not number.isascii():
        raise InvalidInput("the document number has 5 to 20 letters and digits")
    return f"{doc_type}|{country}|{number}"


def identity_key(secret: bytes, doc_type: str, country: str, number: str) -> str:
    normalised = normalise_document(doc_type, country, number)
    return hmac.new(secret, normalised.encode(), hashlib.sha256).hexdigest()


def flight_key(secret: bytes, flight: str) -> str:
    """Who travelled on the same flight (or vehicle), without the flight number in clear: a
    keyed hash of the number with spaces, dashes and case folded away ("" when none is given).
    """
    folded = "".join(ch for ch in unicodedata.normalize("NFKC", flight).upper() if ch.isalnum())
    if not folded:
        return ""
    return hmac.new(secret, f"flight|{folded}".encode(), hashlib.sha256).hexdigest()


def seat_row(seat: str) -> int | None:
    """The row of an aircraft seat such as "23C" (None when no row can be read from it)."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", seat) if ch.isdigit())
    return int(digits) if digits and 0 < int(digits) < 200 else None


class IdentityRecord(Aggregate):
    """Indexes a person's journeys by identity key; at most one is open at a time."""

    class Opened(Aggregate.Created):
        identity_key: str
        journey_id: UUID

    class NextJourneyOpened(Aggregate.Event):
        journey_id: UUID
        previous_journey_id: UUID

    @staticmethod
    def create_id(identity_key: str, journey_id: UUID) -> UUID:
        return identity_record_id(identity_key)

    @event(Opened)
    def __init__(self, identity_key: str, journey_id: UUID) -> None:
        self.identity_key = identity_key
        self.journeys = [journey_id]

    @property
    def latest_journey(self) -> UUID:
        return self.journeys[-1]

    def open_next_journey(self, journey_id: UUID, previous_is_closed: bool) -> None:
        if not previous_is_closed:
            raise InvalidInput("the previous journey is still open")
        self._next_journey_opened(journey_id=journey_id, previous_journey_id=self.latest_journey)

    @event(NextJourneyOpened)
    def _next_journey_opened(self, journey_id: UUID, previous_journey_id: UUID) -> None:
        self.journeys.append(journey_id)


def identity_record_id(identity_key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/identities/{identity_key}")
