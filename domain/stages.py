"""The order of the door-to-door line, and its exits."""

from __future__ import annotations

from enum import Enum


class Stage(Enum):
    REGISTERED = "registered"
    SCREENED = "screened"
    DESTINATION_ASSIGNED = "destination_assigned"
    SEAT_ASSIGNED = "seat_assigned"
    BOARDED = "boarded"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    CHECKED_IN = "checked_in"
    UNDER_QUARANTINE = "under_quarantine"
    RELEASED = "released"
    REFERRED_TO_HOSPITAL = "referred_to_hospital"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"

    @property
    def rank(self) -> int:
        """Position on the line; every exit ranks after the whole line."""
        return _RANK[self]

    @property
    def is_closed(self) -> bool:
        return self in CLOSED_STAGES


LINE: tuple[Stage, ...] = (
    Stage.REGISTERED,
    Stage.SCREENED,
    Stage.DESTINATION_ASSIGNED,
    Stage.SEAT_ASSIGNED,
    Stage.BOARDED,
    Stage.IN_TRANSIT,
    Stage.ARRIVED,
    Stage.CHECKED_IN,
    Stage.UNDER_QUARANTINE,
    Stage.RELEASED,
)
EXITS: tuple[Stage, ...] = (Stage.REFERRED_TO_HOSPITAL, Stage.NO_SHOW, Stage.CANCELLED)
CLOSED_STAGES = frozenset({Stage.RELEASED, *EXITS})
_RANK = {stage: i for i, stage in enumerate(LINE)} | {s: len(LINE) for s in EXITS}
# Before the car door a journey can still be cancelled or marked no-show; after it, only
# the hospital exit remains, because the traveller is already in somebody's custody on the road.
BEFORE_CAR_DOOR = frozenset(LINE[: LINE.index(Stage.BOARDED)])


class RiskLevel(Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DestinationKind(Enum):
    HOTEL = "hotel"
    HOME = "home"


class ScanOutcome(Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    MISDIRECTED = "misdirected"
