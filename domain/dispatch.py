"""Suggesting where a travel party goes and which vehicle takes it.

A suggestion is advice the dispatcher confirms or changes; the commands that record a
destination and seats check capacity again, so stale advice can never overbook. The rules:
home quarantine by the traveller's street where policy allows it for their risk; otherwise the
hotel with the most free rooms; a family gets one room and one vehicle; high-risk travellers
never share a vehicle with others; vehicles fill up with travellers for the same destination.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from domain.stages import DestinationKind, RiskLevel

RISK_RANK = {RiskLevel.LOW: 0, RiskLevel.MEDIUM: 1, RiskLevel.HIGH: 2}

# Reason codes: pages translate them; `REASON_TEXT` is the English sentence.
KEEPS_DESTINATION = "keeps_destination"
HOME_BY_STREET = "home_by_street"
HOME_NOT_ALLOWED = "home_not_allowed_for_risk"
STREET_FULL = "street_full"
STREET_UNKNOWN = "street_unknown"
HOTEL_MOST_FREE = "hotel_most_free_rooms"
FAMILY_ONE_ROOM = "family_one_room"
FAMILY_ONE_VEHICLE = "family_one_vehicle"
SAME_DESTINATION_RUN = "run_to_same_destination"
FILLS_RUN = "fills_open_run"
HIGH_RISK_ALONE = "high_risk_not_mixed"
PLAN_NEW_RUN = "plan_new_run"
REASON_TEXT = {
    KEEPS_DESTINATION: "the party already has a destination",
    HOME_BY_STREET: "home quarantine in the traveller's own street",
    HOME_NOT_ALLOWED: "home quarantine is not allowed at this risk level",
    STREET_FULL: "the traveller's street takes no more home quarantine",
    STREET_UNKNOWN: "the traveller's street is not a home-quarantine street here",
    HOTEL_MOST_FREE: "the hotel with the most free rooms",
    FAMILY_ONE_ROOM: "the family stays together in one room",
    FAMILY_ONE_VEHICLE: "the family travels together in one vehicle",
    SAME_DESTINATION_RUN: "the vehicle already takes travellers to the same destination",
    FILLS_RUN: "fills a vehicle that is already planned",
    HIGH_RISK_ALONE: "high-risk travellers do not share a vehicle with others",
    PLAN_NEW_RUN: "no planned vehicle fits: plan a run with this idle vehicle",
}
NO_ROOM = "no hotel has a free room: free or add rooms before assigning"
NO_VEHICLE = "no planned run or idle vehicle has enough seats for the whole party"


@dataclass(frozen=True)
class Party:
    size: int
    risk: RiskLevel | None
    entry_point: str
    street: str = ""  # the site code of the traveller's home street, if they gave one
    destination: str = ""  # the site code already assigned, if any


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    kind: DestinationKind
    free: int


@dataclass(frozen=True)
class OpenRun:
    run_id: UUID
    plate: str
    entry_point: str
    free: int
    destinations: frozenset[str]  # site codes of the travellers already seated
    high_risk_aboard: int
    others_aboard: int


@dataclass(frozen=True)
class IdleVehicle:
    plate: str
    seats: int


@dataclass(frozen=True)
class Policy:
    # The highest risk allowed home quarantine; None: home quarantine is not allowed at all.
    home_up_to: RiskLevel | None = RiskLevel.LOW

    def allows_home(self, risk: RiskLevel | None) -> bool:
        if self.home_up_to is None or risk is RiskLevel.HIGH:
            return False
        return RISK_RANK[risk or RiskLevel.LOW] <= RISK_RANK[self.home_up_to]


@dataclass(frozen=True)
class Suggestion:
    place: Place | None
    run: OpenRun | None
    new_run: IdleVehicle | None
    reasons: tuple[str, ...]
    problem: str | None


def suggest(
    party: Party,
    places: Iterable[Place],
    runs: Iterable[OpenRun],
    vehicles: Iterable[IdleVehicle],
    policy: Policy,
) -> Suggestion:
    reasons: list[str] = []
    place = _place(party, list(places), policy, reasons)
    if place is None and not party.destination:
        return Suggestion(None, None, None, tuple(reasons), NO_ROOM)
    destination = party.destination or (place.code if place else "")
    run = _run(party, destination, list(runs), reasons)
    new_run = None if run is not None else _vehicle(party, list(vehicles), reasons)
    if party.size > 1:
        reasons.append(FAMILY_ONE_VEHICLE)
    problem = NO_VEHICLE if run is None and new_run is None else None
    return Suggestion(place, run, new_run, tuple(reasons), problem)


def mixes_risk(party_risk: RiskLevel | None, run: OpenRun) -> bool:
    """Whether seating the party on the run would put high-risk travellers with others."""
    if party_risk is RiskLevel.HIGH:
        return run.others_aboard > 0
    return run.high_risk_aboard > 0


def _place(party: Party, places: list[Place], policy: Policy, reasons: list[str]) -> Place | None:
    if party.destination:
        reasons.append(KEEPS_DESTINATION)
        return next((p for p in places if p.code == party.destination), None)
    if party.street:
        street = next(
            (p for p in places if p.code == party.street and p.kind is DestinationKind.HOME),
            None,
        )
        if not policy.allows_home(party.risk):
            reasons.append(HOME_NOT_ALLOWED)
        elif street is None:
            reasons.append(STREET_UNKNOWN)
        elif street.free < 1:
            reasons.append(STREET_FULL)
        else:
            reasons.append(HOME_BY_STREET)
            return street
    hotels = [p for p in places if p.kind is DestinationKind.HOTEL and p.free > 0]
    if not hotels:
        return None
    reasons.append(HOTEL_MOST_FREE)
    if party.size > 1:
        reasons.append(FAMILY_ONE_ROOM)
    return min(hotels, key=lambda p: (-p.free, p.code))


def _run(party: Party, destination: str, runs: list[OpenRun], reasons: list[str]) -> OpenRun | None:
    fitting = [
        r for r in runs
        if r.entry_point == party.entry_point and r.free >= party.size
        and not mixes_risk(party.risk, r)
    ]
    if not fitting:
        return None
    # Same destination first, then the fullest vehicle (fill vehicles before starting new ones).
    best = min(fitting, key=lambda r: (destination not in r.destinations, r.free, r.plate))
    reasons.append(SAME_DESTINATION_RUN if destination in best.destinations else FILLS_RUN)
    if party.risk is RiskLevel.HIGH:
        reasons.append(HIGH_RISK_ALONE)
    return best


def _vehicle(party: Party, vehicles: list[IdleVehicle], reasons: list[str]) -> IdleVehicle | None:
    fitting = [v for v in vehicles if v.seats >= party.size]
    if not fitting:
        return None
    reasons.append(PLAN_NEW_RUN)
    if party.risk is RiskLevel.HIGH:
        reasons.append(HIGH_RISK_ALONE)
        # A high-risk party rides alone: the smallest vehicle that fits wastes the fewest seats.
        return min(fitting, key=lambda v: (v.seats, v.plate))
    return max(fitting, key=lambda v: (v.seats, v.plate))
