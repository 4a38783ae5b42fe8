"""The care side's rules in the pure domain: quarantine orders (schedule, extension,
shortening, results, release), hospital transfers and the access log's records.

Hypothesis drives an order through any sequence of decisions and results and checks what the
product promises: the order always ends after it starts, its last day always has a test, a
recorded result is never dropped, and a traveller is released only with every test due by
then recorded and none of them positive. Every refusal leaves the journey untouched.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.domain import Aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import quarantine
from domain.audit import PURPOSES, DataAccess
from domain.context import Context
from domain.errors import DomainError, InvalidInput, RuleBroken
from domain.journey import Journey
from domain.quarantine import OrderDecision, reschedule, schedule
from domain.stages import DestinationKind, RiskLevel, Stage
from domain.transfer import (
    CANCELLED,
    DELIVERED,
    PICKED_UP,
    REQUESTED,
    VEHICLE_ASSIGNED,
    HospitalTransfer,
    pickup_for,
)

START = date(2020, 3, 28)
DECISION = OrderDecision("contact of a case", "notice 7", "commander Li")


def ctx(role: str = "surveyor") -> Context:
    return Context(uuid4(), f"{role}-1", role, "H-01",
                   datetime(2020, 3, 28, 9, tzinfo=UTC))


def under_quarantine(days: tuple[int, ...] = (1, 4, 7, 14), length: int = 14) -> Journey:
    """A journey at the room door whose order started on START."""
    journey = Journey.register(uuid4(), "key", uuid4(), "CAN-T2", "v1:personal", ctx())
    site, run = uuid4(), uuid4()
    journey.screen(RiskLevel.LOW, 36.5, False, False, ctx("screener"), lambda _: "v1:h")
    journey.assign_destination(DestinationKind.HOTEL, site, "301", ctx("dispatcher"))
    journey.assign_seat(run, 1, ctx("dispatcher"))
    journey.board(run, "scan-1", ctx("escort"))
    journey.depart(run, ctx("escort"))
    journey.arrive(run, ctx("escort"))
    journey.check_in(site, "scan-2", ctx("receiver"))
    journey.start_quarantine(START + timedelta(days=length), ctx("receiver"), starts_on=START,
                             legal_basis="notice 7", test_days=days)
    return journey


def opened(sealed: str) -> dict[str, Any]:
    return {"outcome": sealed.removeprefix("v1:")}


def seal(data: dict[str, Any]) -> str:
    return "v1:sealed:" + ",".join(f"{k}={v}" for k, v in sorted(data.items()))


def replayed(journey: Journey) -> Journey:
    events = journey.collect_events()
    copy: Aggregate | None = None
    for e in events:
        copy = e.mutate(copy)
    assert isinstance(copy, Journey)
    return copy


# -- the schedule --------------------------------------------------------------------------------


@given(st.sets(st.integers(1, 90)), st.integers(1, 90))
def test_a_schedule_falls_inside_the_order_and_always_ends_with_an_exit_test(
    days: set[int], length: int
) -> None:
    found = schedule(days, length)
    assert found == sorted(set(found))
    assert found[-1] == length and all(1 <= d <= length for d in found)
    assert set(found) == {d for d in days if d <= length} | {length}


@given(st.dictionaries(st.integers(1, 90), st.sampled_from([None, "v1:negative"])),
       st.integers(1, 90))
def test_moving_the_end_never_drops_a_result_and_adds_the_new_exit_test(
    tests: dict[int, str | None], new_length: int
) -> None:
    change = reschedule(tests, new_length)
    kept = (set(tests) - set(change.dropped)) | set(change.added)
    assert new_length in kept
    assert all(tests[d] is None for d in change.dropped)
    assert {d for d in kept if tests.get(d) is None} <= set(range(1, new_length + 1))
    assert set(change.dropped).isdisjoint(change.added)


def test_the_standard_order_is_tested_on_its_days_and_due_from_day_one() -> None:
    journey = under_quarantine()
    assert journey.tests == dict.fromkeys((1, 4, 7, 14))
    assert quarantine.due_on(START, 1) == START
    assert quarantine.due_on(START, 14) == date(2020, 4, 10)
    short = under_quarantine(days=(1, 4, 7, 14), length=5)
    assert list(short.tests) == [1, 4, 5]


# -- any sequence of decisions and results -------------------------------------------------------

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("extend"), st.integers(-3, 30)),
        st.tuples(st.just("shorten"), st.integers(-3, 30)),
        st.tuples(st.just("result"), st.integers(0, 40),
                  st.sampled_from(["negative", "negative", "positive", "inconclusive"]),
                  st.sampled_from(["", "", "lab mix-up"])),
        st.tuples(st.just("release"), st.integers(0, 40)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_an_order_keeps_its_promises_whatever_is_decided(steps: list[tuple[Any, ...]]) -> None:
    journey = under_quarantine()
    recorded: dict[int, str] = {}
    for step in steps:
        before = {k: v.copy() if isinstance(v, dict | set | list) else v
                  for k, v in vars(journey).items()}
        assert journey.planned_end is not None
        try:
            if step[0] == "extend":
                journey.extend_quarantine(journey.planned_end + timedelta(days=step[1]),
                                          DECISION, ctx(), seal)
            elif step[0] == "shorten":
                journey.shorten_quarantine(journey.planned_end - timedelta(days=step[1]),
                                           DECISION, START + timedelta(days=2), ctx(), seal)
            elif step[0] == "result":
                _, day, outcome, correction = step
                journey.record_test_result(day, f"v1:{outcome}", ctx("receiver"), correction)
                recorded[day] = outcome
            else:
                on = START + timedelta(days=step[1])
                tests = dict(journey.tests)
                journey.release(DECISION, on, ctx("receiver"), opened, seal)
                due = [d for d in tests if quarantine.due_on(START, d) <= on]
                assert all(tests[d] is not None for d in due)
                assert "positive" not in {opened(r)["outcome"] for r in tests.values() if r}
                assert journey.stage is Stage.RELEASED
                break
        except DomainError:
            assert vars(journey) == before, f"{step} refused but changed the journey"
            continue
        assert journey.planned_end is not None and journey.planned_end > START
        length = quarantine.length_of(START, journey.planned_end)
        assert length in journey.tests  # the exit test
        assert set(recorded) <= set(journey.tests)  # a result is never dropped
        assert {d for d, r in journey.tests.items() if r is None} <= set(range(1, length + 1))
    assert replayed(journey).tests == journey.tests


def test_release_needs_the_results_due_by_then_and_none_positive() -> None:
    journey = under_quarantine()
    with pytest.raises(RuleBroken, match="day 1 test"):
        journey.release(DECISION, START, ctx("receiver"), opened, seal)
    journey.record_test_result(1, "v1:negative", ctx("receiver"))
    with pytest.raises(RuleBroken, match="day 4 test"):
        journey.release(DECISION, START + timedelta(days=3), ctx("receiver"), opened, seal)
    journey.record_test_result(4, "v1:positive", ctx("receiver"))
    with pytest.raises(RuleBroken, match="positive"):
        journey.release(DECISION, START + timedelta(days=3), ctx("receiver"), opened, seal)
    with pytest.raises(RuleBroken, match="correct it"):
        journey.record_test_result(4, "v1:negative", ctx("receiver"))
    journey.record_test_result(4, "v1:negative", ctx("surveyor"), "sample swapped at the lab")
    journey.release(DECISION, START + timedelta(days=3), ctx("receiver"), opened, seal)
    events = journey.collect_events()
    released = events[-1]
    assert isinstance(released, Journey.Released)
    # The reason may be medical: the event holds it sealed with the traveller's key.
    assert (released.reason, released.legal_basis, released.decided_by, released.early) == (
        seal({"reason": DECISION.reason}), DECISION.legal_basis, DECISION.decided_by, True
    )
    corrected = [e for e in events if isinstance(e, Journey.TestResultRecorded)]
    assert [(e.test_day, e.correction) for e in corrected] == [
        (1, False), (4, False), (4, True)
    ]


def test_every_decision_names_its_reason_legal_basis_and_decider() -> None:
    for reason, basis, decider in (("", "b", "d"), ("r", " ", "d"), ("r", "b", ""),
                                   ("r" * 501, "b", "d"), ("r", "b", "d" * 101)):
        with pytest.raises(InvalidInput):
            OrderDecision(reason, basis, decider)
    assert OrderDecision(" r ", " b ", " d ") == OrderDecision("r", "b", "d")


def test_an_order_cannot_change_before_it_starts_or_after_it_ends() -> None:
    journey = Journey.register(uuid4(), "key", uuid4(), "CAN-T2", "v1:p", ctx())
    for change in (
        lambda: journey.extend_quarantine(START + timedelta(20), DECISION, ctx(), seal),
        lambda: journey.shorten_quarantine(START + timedelta(5), DECISION, START, ctx(), seal),
        lambda: journey.record_test_result(1, "v1:negative", ctx()),
        lambda: journey.release(DECISION, START, ctx(), opened, seal),
    ):
        with pytest.raises(RuleBroken, match="cannot"):
            change()
    assert journey.version == 1 and not journey.collect_events()[1:]


# -- hospital transfers --------------------------------------------------------------------------


def test_a_transfer_goes_from_request_to_delivery_one_step_at_a_time() -> None:
    journey_id, vehicle = uuid4(), uuid4()
    transfer = HospitalTransfer.request(journey_id, "CAN-T2", "site:x", "301", "urgent", ctx())
    assert transfer.status == REQUESTED
    for wrong in (lambda: transfer.pick_up(ctx()), lambda: transfer.deliver("H", ctx())):
        with pytest.raises(RuleBroken):
            wrong()
    assert transfer.assign_vehicle(vehicle, "粤A·120", ctx("dispatcher")) is None
    with pytest.raises(RuleBroken, match="already assigned"):
        transfer.assign_vehicle(vehicle, "粤A·120", ctx("dispatcher"))
    other = uuid4()
    assert transfer.assign_vehicle(other, "粤A·121", ctx("dispatcher")) == vehicle
    assert transfer.status == VEHICLE_ASSIGNED and transfer.plate == "粤A·121"
    transfer.pick_up(ctx("escort"))
    assert transfer.status == PICKED_UP
    with pytest.raises(RuleBroken):
        transfer.cancel("too late", ctx("dispatcher"))
    with pytest.raises(InvalidInput):
        transfer.deliver("  ", ctx("escort"))
    transfer.deliver("市八医院", ctx("escort"))
    assert transfer.status == DELIVERED and not transfer.is_open
    with pytest.raises(InvalidInput):
        HospitalTransfer.request(journey_id, "CAN-T2", "site:x", "", "whenever", ctx())
    cancelled = HospitalTransfer.request(uuid4(), "CAN-T2", "desk:CAN-T2", "", "routine", ctx())
    with pytest.raises(InvalidInput):
        cancelled.cancel(" ", ctx())
    cancelled.cancel("taken by 120 directly", ctx())
    assert cancelled.status == CANCELLED


def test_the_pickup_is_where_the_line_last_had_the_traveller() -> None:
    site, run = uuid4(), uuid4()
    assert pickup_for(Stage.UNDER_QUARANTINE, "EP", site, run) == f"site:{site}"
    assert pickup_for(Stage.CHECKED_IN, "EP", site, run) == f"site:{site}"
    for on_board in (Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED):
        assert pickup_for(on_board, "EP", site, run) == f"run:{run}"
    for at_desk in (Stage.REGISTERED, Stage.SCREENED, Stage.DESTINATION_ASSIGNED,
                    Stage.SEAT_ASSIGNED):
        assert pickup_for(at_desk, "EP", site, run) == "desk:EP"


# -- the access log ------------------------------------------------------------------------------


def test_an_access_record_names_what_was_read_and_an_allowed_purpose() -> None:
    journey_id = uuid4()
    access = DataAccess.record(journey_id, ["survey", "health", "survey"], "survey", ctx())
    assert access.what == ["health", "survey"] and access.journey_id == journey_id
    for what, purpose in (([], "survey"), (["everything"], "survey"), (["health"], "curiosity")):
        with pytest.raises(InvalidInput):
            DataAccess.record(journey_id, what, purpose, ctx())
    assert "command_review" in PURPOSES
