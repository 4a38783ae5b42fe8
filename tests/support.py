"""Helpers shared by the tests: a seeded line and compact builders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import uuid4

from domain.calendar import local_date
from domain.context import Context
from domain.stages import DestinationKind
from tracking.application import Person, TrackingApp


def ctx(actor: str = "tester", role: str = "screener", where: str = "") -> Context:
    return Context(
        command_id=uuid4(), actor=actor, role=role, where=where, occurred_at=datetime.now(UTC)
    )


def person(number: str, name: str = "Test Traveller", phone: str = "+8613800138000") -> Person:
    return Person("passport", "GBR", number, {"name_native": name, "phone": phone})


@dataclass(frozen=True)
class Line:
    entry_point: str
    hotel: str
    street: str
    plate: str
    other_plate: str


def seed_line(
    app: TrackingApp,
    rooms: list[str] | None = None,
    seats: int = 10,
    *,
    extra_vehicle: bool = False,
) -> Line:
    tag = uuid4().hex[:6].upper()
    line = Line(f"EP-{tag}", f"H-{tag}", f"ST-{tag}", f"V-{tag}", f"W-{tag}")
    app.register_entry_point(line.entry_point, "Test entry point")
    app.register_site(line.hotel, "Test hotel", DestinationKind.HOTEL, rooms or ["101", "102"])
    app.register_site(line.street, "Test street", DestinationKind.HOME, capacity=50)
    app.register_vehicle(line.plate, seats)
    if extra_vehicle:
        app.register_vehicle(line.other_plate, seats)
    return line


def district_today() -> date:
    """Today in the district's calendar (orders and tests count its days, not the host's)."""
    return local_date(datetime.now(UTC))
