"""The suggestion rules, tried against generated capacity: whatever the hotels, streets, runs
and vehicles, a suggestion never splits a family, never overfills, never sends a high-risk
traveller home or into a vehicle with others, and says why."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.dispatch import (
    HOME_BY_STREET,
    NO_ROOM,
    NO_VEHICLE,
    REASON_TEXT,
    IdleVehicle,
    OpenRun,
    Party,
    Place,
    Policy,
    mixes_risk,
    suggest,
)
from domain.stages import DestinationKind, RiskLevel
from tracking.settings import SettingsError, load_settings

ENTRY_POINTS = ("EP-A", "EP-B")
STREETS = ("ST-1", "ST-2")
HOTELS = ("H-1", "H-2", "H-3")

risks = st.sampled_from([None, *RiskLevel])
places = st.lists(
    st.builds(
        Place,
        code=st.sampled_from(STREETS + HOTELS),
        name=st.just("x"),
        kind=st.just(DestinationKind.HOTEL),
        free=st.integers(0, 3),
    ),
    max_size=5,
    unique_by=lambda p: p.code,
).map(
    lambda ps: [
        Place(p.code, p.name, DestinationKind.HOME if p.code in STREETS else p.kind, p.free)
        for p in ps
    ]
)
runs = st.lists(
    st.builds(
        OpenRun,
        run_id=st.builds(uuid4),
        plate=st.text("ABC123", min_size=1, max_size=3),
        entry_point=st.sampled_from(ENTRY_POINTS),
        free=st.integers(0, 6),
        destinations=st.frozensets(st.sampled_from(STREETS + HOTELS), max_size=2),
        high_risk_aboard=st.integers(0, 2),
        others_aboard=st.integers(0, 2),
    ),
    max_size=5,
)
vehicles = st.lists(
    st.builds(IdleVehicle, plate=st.text("XYZ9", min_size=1, max_size=3), seats=st.integers(1, 8)),
    max_size=3,
)
parties = st.builds(
    Party,
    size=st.integers(1, 5),
    risk=risks,
    entry_point=st.sampled_from(ENTRY_POINTS),
    street=st.sampled_from(("", *STREETS, "ST-UNKNOWN")),
    destination=st.just(""),
)
policies = st.builds(Policy, home_up_to=st.sampled_from([None, *RiskLevel]))


@given(parties, places, runs, vehicles, policies)
def test_a_suggestion_respects_every_rule(
    party: Party, ps: list[Place], rs: list[OpenRun], vs: list[IdleVehicle], policy: Policy
) -> None:
    s = suggest(party, ps, rs, vs, policy)
    assert all(code in REASON_TEXT for code in s.reasons)
    if s.place is None:
        assert s.problem == NO_ROOM
        assert not any(p.kind is DestinationKind.HOTEL and p.free > 0 for p in ps)
        return
    assert s.place.free >= 1
    if s.place.kind is DestinationKind.HOME:
        assert s.place.code == party.street and policy.allows_home(party.risk)
        assert party.risk is not RiskLevel.HIGH and HOME_BY_STREET in s.reasons
    if s.run is not None:
        assert s.run.entry_point == party.entry_point and s.run.free >= party.size
        assert not mixes_risk(party.risk, s.run)
        assert s.new_run is None and s.problem is None
    else:
        fitting = [r for r in rs if r.entry_point == party.entry_point
                   and r.free >= party.size and not mixes_risk(party.risk, r)]
        assert fitting == []
        if s.new_run is not None:
            assert s.new_run.seats >= party.size and s.problem is None
        else:
            assert all(v.seats < party.size for v in vs) and s.problem == NO_VEHICLE


@given(parties, places, runs, vehicles, policies)
def test_a_vehicle_going_to_the_same_destination_is_preferred(
    party: Party, ps: list[Place], rs: list[OpenRun], vs: list[IdleVehicle], policy: Policy
) -> None:
    s = suggest(party, ps, rs, vs, policy)
    if s.place is None or s.run is None:
        return
    same = [r for r in rs if r.entry_point == party.entry_point and r.free >= party.size
            and not mixes_risk(party.risk, r) and s.place.code in r.destinations]
    if same:
        assert s.place.code in s.run.destinations
        assert s.run.free == min(r.free for r in same)


def test_home_quarantine_by_street_when_allowed() -> None:
    street = Place("ST-1", "沙面街道", DestinationKind.HOME, 5)
    hotel = Place("H-1", "荔湾酒店", DestinationKind.HOTEL, 40)
    low = Party(size=2, risk=RiskLevel.LOW, entry_point="EP-A", street="ST-1")
    assert suggest(low, [street, hotel], [], [], Policy()).place == street
    medium = Party(size=1, risk=RiskLevel.MEDIUM, entry_point="EP-A", street="ST-1")
    assert suggest(medium, [street, hotel], [], [], Policy()).place == hotel
    assert suggest(medium, [street, hotel], [], [], Policy(RiskLevel.MEDIUM)).place == street
    assert suggest(low, [street, hotel], [], [], Policy(None)).place == hotel


def test_a_party_with_a_destination_keeps_it_and_only_needs_a_seat() -> None:
    run = OpenRun(uuid4(), "粤A", "EP-A", 3, frozenset({"H-2"}), 0, 1)
    party = Party(size=3, risk=RiskLevel.LOW, entry_point="EP-A", destination="H-2")
    s = suggest(party, [Place("H-2", "x", DestinationKind.HOTEL, 0)], [run], [], Policy())
    assert s.place is not None and s.place.code == "H-2" and s.run == run and s.problem is None


def test_the_home_quarantine_policy_comes_from_the_environment(tmp_path: Path) -> None:
    base = {"TRACKING_DATA_DIR": str(tmp_path), "TRACKING_SECRET": "00" * 32}
    assert load_settings(base).dispatch_policy == Policy(RiskLevel.LOW)
    medium = load_settings(base | {"TRACKING_HOME_QUARANTINE_UP_TO": "medium"})
    assert medium.dispatch_policy == Policy(RiskLevel.MEDIUM)
    nobody = load_settings(base | {"TRACKING_HOME_QUARANTINE_UP_TO": "none"})
    assert nobody.dispatch_policy.allows_home(RiskLevel.LOW) is False
    with pytest.raises(SettingsError, match="TRACKING_HOME_QUARANTINE_UP_TO"):
        load_settings(base | {"TRACKING_HOME_QUARANTINE_UP_TO": "high"})
