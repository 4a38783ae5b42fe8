"""The drill's day plan (drill/plan.py): pure, deterministic, and a believable day."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from drill.plan import ENTRY_POINTS, STREETS, plan_day

arrivals = st.integers(min_value=1, max_value=1500)
seeds = st.integers(min_value=0, max_value=2**32)


@settings(max_examples=40, deadline=None)
@given(arrivals, seeds)
def test_every_arrival_is_in_one_party_of_one_to_five(n: int, seed: int) -> None:
    plan = plan_day(n, seed)
    sizes = [len(p.members) for p in plan.parties]
    assert sum(sizes) == n == len(plan.travellers)
    assert sum(f.passengers for f in plan.flights) == n
    assert all(1 <= s <= 5 for s in sizes)
    assert {len(p.members) for p in plan.families} <= {2, 3, 4, 5}
    assert sorted(t.index for t in plan.travellers) == list(range(n))
    assert len({t.number for t in plan.travellers}) == n  # one document each
    for flight in plan.flights:  # each flight's parties carry exactly its passengers
        on_board = sum(len(p.members) for p in plan.parties if p.flight == flight)
        assert on_board == flight.passengers >= 1


@settings(max_examples=40, deadline=None)
@given(arrivals, seeds)
def test_the_order_of_a_day(n: int, seed: int) -> None:
    plan = plan_day(n, seed)
    for p in plan.parties:
        lands = p.flight.lands_at
        assert p.register_at >= 0
        if p.pre_registered:
            assert p.register_at < lands  # from the phone, before landing
        else:
            assert p.register_at > lands  # in the arrival hall
            assert p.address.startswith("100.64.")
        if p.again_at is not None:
            assert p.register_at < p.again_at < p.screen_at
            assert p.again_phone and p.again_phone != p.members[0].phone
        if p.exit is None or p.exit == "hospital":
            assert p.screen_at > max(p.register_at, lands)
        assert 0 <= p.flight.entry < ENTRY_POINTS and 0 <= p.street < STREETS
        assert plan.span >= (p.exit_at if p.exit_at is not None else p.screen_at)
    assert [f.lands_at for f in plan.flights] == sorted(f.lands_at for f in plan.flights)


@settings(max_examples=40, deadline=None)
@given(arrivals, seeds)
def test_exits_and_double_registrations_are_singles_apart(n: int, seed: int) -> None:
    plan = plan_day(n, seed)
    exits = [p for p in plan.parties if p.exit is not None]
    doubles = plan.doubles
    assert {p.index for p in exits} <= {p.index for p in plan.parties}
    assert all(not p.is_family for p in [*exits, *doubles])
    assert not {p.index for p in exits} & {p.index for p in doubles}
    for p in exits:
        assert p.exit_at is not None
        if p.exit in ("no_show", "cancelled"):
            assert p.pre_registered  # only somebody registered ahead can fail to come
        if p.exit == "cancelled":
            assert p.register_at < p.exit_at < p.flight.lands_at
        if p.exit == "no_show":
            assert p.exit_at > p.flight.lands_at
        if p.exit == "hospital":
            assert p.exit_at > p.screen_at and p.members[0].risk == "high"
    counts = Counter(p.exit for p in exits)
    if n >= 20:  # a day of any size shows every exit
        assert counts["hospital"] >= 1 and counts["no_show"] >= 1 and counts["cancelled"] >= 1
    if n >= 10:
        assert doubles


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=600), seeds)
def test_the_same_seed_plans_the_same_day(n: int, seed: int) -> None:
    assert plan_day(n, seed) == plan_day(n, seed)


def test_a_believable_day() -> None:
    plan = plan_day(5049, seed=1)
    parties = len(plan.parties)
    pre = sum(p.pre_registered for p in plan.parties) / parties
    assert 0.75 < pre < 0.85  # most register from their phones before landing
    assert 20 <= len(plan.flights) <= 40
    assert 0.08 < len(plan.families) / parties < 0.16
    assert 10 * 3600 < plan.span < 30 * 3600  # a day, not an hour nor a week
    assert plan.hotel_parties() + sum(plan.home_parties().values()) + sum(
        1 for p in plan.parties if p.exit is not None
    ) == parties
    assert plan_day(5049, seed=2) != plan
