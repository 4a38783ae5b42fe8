"""A traveller's stage in plain words, in their language: where they are and what happens next,
and their quarantine order with its dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from api.i18n import Language
from tracking.travellers import TravellerOrder, TravellerStatus

# msgids with named placeholders; translators may reorder them.
NOW = {
    "registered": "Registered. Go to the health desk at %(entry_point)s and show this code.",
    "screened": "Checked at the health desk. Waiting for your destination.",
    "destination_assigned": "Going to %(destination)s. Waiting for a vehicle.",
    "seat_assigned": "Waiting for vehicle %(plate)s to %(destination)s.",
    "boarded": "On vehicle %(plate)s to %(destination)s.",
    "in_transit": "On vehicle %(plate)s to %(destination)s.",
    "arrived": "Arrived at %(destination)s.",
    "checked_in": "Checked in at %(destination)s.",
    "under_quarantine": "In quarantine at %(destination)s until %(end)s.",
    "released": "Released. Your quarantine is over.",
    "referred_to_hospital": "Referred to hospital care.",
    "no_show": "Marked as not arrived. Please contact the staff.",
    "cancelled": "This registration was cancelled.",
}
NEXT = {
    "registered": "Staff will check your documents and temperature.",
    "screened": "Please stay in the waiting area; staff will call you.",
    "destination_assigned": "Staff will call you to a vehicle. Keep your luggage with you.",
    "seat_assigned": "Show this code at the car door.",
    "boarded": "Stay on the vehicle. Show this code at the door when you arrive.",
    "in_transit": "Stay on the vehicle. Show this code at the door when you arrive.",
    "arrived": "Show this code to the staff receiving you.",
    "checked_in": "Stay in your room. Staff will call you for the health survey.",
    "under_quarantine": "Stay in your room. Staff will tell you about tests and your release.",
    "released": "Thank you. Keep this page until you no longer need it.",
    "referred_to_hospital": "Follow the medical staff's instructions.",
    "no_show": "Please go to the nearest health desk.",
    "cancelled": "If this is wrong, please contact the staff.",
}
HOME = "home quarantine at %(address)s"
ROOM = "%(destination)s, room %(room)s"


@dataclass(frozen=True)
class StatusWords:
    now: str
    next: str


def describe(status: TravellerStatus, lang: Language) -> StatusWords:
    _ = lang.gettext
    destination = status.destination_name
    if status.destination_kind == "home" and status.destination_street_address:
        destination = _(HOME) % {"address": status.destination_street_address}
    elif status.room and status.stage in ("checked_in", "under_quarantine"):
        destination = _(ROOM) % {"destination": destination, "room": status.room}
    values = {
        "entry_point": status.entry_point_name,
        "destination": destination,
        "plate": status.plate,
        "end": lang.format_date(status.planned_end) if status.planned_end else "",
    }
    return StatusWords(now=_(NOW[status.stage]) % values, next=_(NEXT[status.stage]))


@dataclass(frozen=True)
class TestDayWords:
    day: int
    due_on: str  # the date in the traveller's language ("" for an order without dates)
    done: bool


@dataclass(frozen=True)
class ChangeWords:
    """One decision on the order, its dates in the traveller's language. The sentence itself
    ("Extended on … from … to …") is a message of the page, chosen by `kind`."""

    kind: str  # started, extended, shortened, released
    on: str
    previous_end: str
    planned_end: str
    legal_basis: str
    decided_by: str
    reason: str
    early: bool


@dataclass(frozen=True)
class OrderWords:
    starts_on: str
    planned_end: str
    legal_basis: str
    tests: tuple[TestDayWords, ...]
    changes: tuple[ChangeWords, ...]
    released_on: str
    running: bool  # in force: its end and test days still to come are worth showing


def describe_order(order: TravellerOrder | None, lang: Language) -> OrderWords | None:
    """The traveller's quarantine order with its dates in their language (None before it
    started). Test days say only whether they are done, never a result."""
    if order is None:
        return None

    def day(value: date | None) -> str:
        return lang.format_date(value) if value else ""

    return OrderWords(
        starts_on=day(order.starts_on),
        planned_end=day(order.planned_end),
        legal_basis=order.legal_basis,
        tests=tuple(TestDayWords(t.day, day(t.due_on), t.done) for t in order.tests),
        changes=tuple(
            ChangeWords(
                kind=c.kind, on=day(c.on), previous_end=day(c.previous_end),
                planned_end=day(c.planned_end), legal_basis=c.legal_basis,
                decided_by=c.decided_by, reason=c.reason, early=c.early,
            )
            for c in order.changes
        ),
        released_on=day(order.released_on),
        running=order.running,
    )
