"""The scanner's green / amber / red agrees with what the handoff command will record: green
is accepted, red for the wrong vehicle or site is recorded as misdirected, never accepted.

Every assessment carries a machine reason code; the off-route codes (on which the scanner page
posts the command anyway) are exactly the scans the domain records as misdirected."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import date
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.handoff import (
    ALREADY_ON_BOARD,
    CHECK_IN,
    NO_SEAT,
    OFF_ROUTE,
    REASONS,
    WRONG_SITE,
    WRONG_VEHICLE,
    Assessment,
    Handoff,
    ReasonCode,
    Verdict,
    assess,
)
from domain.journey import Journey
from domain.stages import DestinationKind, RiskLevel, ScanOutcome, Stage
from tests.support import ctx

RUN, SITE = uuid4(), uuid4()
STEPS = (
    "screen", "destination", "seat", "board", "depart", "arrive", "check_in", "quarantine",
)


def journey_after(steps: int, *, cancelled: bool = False) -> Journey:
    journey = Journey.register(uuid4(), "k", uuid4(), "EP-1", "v1:x", ctx())
    actions: dict[str, Callable[[], object]] = {
        "screen": lambda: journey.screen(RiskLevel.LOW, None, False, False, ctx(), lambda _: ""),
        "destination": lambda: journey.assign_destination(
            DestinationKind.HOTEL, SITE, "101", ctx(role="dispatcher")
        ),
        "seat": lambda: journey.assign_seat(RUN, 1, ctx(role="dispatcher")),
        "board": lambda: journey.board(RUN, "s1", ctx(role="escort")),
        "depart": lambda: journey.depart(RUN, ctx(role="escort")),
        "arrive": lambda: journey.arrive(RUN, ctx(role="escort")),
        "check_in": lambda: journey.check_in(SITE, "s2", ctx(role="receiver")),
        "quarantine": lambda: journey.start_quarantine(date(2026, 12, 24), ctx(role="receiver")),
    }
    for step in STEPS[:steps]:
        actions[step]()
    if cancelled and journey.stage.rank < Stage.BOARDED.rank:
        journey.cancel("flight cancelled", ctx(role="dispatcher"), lambda data: "v1:sealed")
    return journey


def boarding_outcome(journey: Journey, run_id: UUID) -> ScanOutcome | None:
    trial = copy.deepcopy(journey)
    try:
        return trial.board(run_id, f"new-{uuid4()}", ctx(role="escort"))
    except DomainError:
        return None


def check_in_outcome(journey: Journey, site_id: UUID) -> ScanOutcome | None:
    trial = copy.deepcopy(journey)
    try:
        return trial.check_in(site_id, f"new-{uuid4()}", ctx(role="receiver"))
    except DomainError:
        return None


@given(
    steps=st.integers(0, len(STEPS)),
    cancelled=st.booleans(),
    right_run=st.booleans(),
    right_site=st.booleans(),
)
def test_the_verdict_foretells_the_handoff(
    steps: int, cancelled: bool, right_run: bool, right_site: bool
) -> None:
    journey = journey_after(steps, cancelled=cancelled)
    run_id = RUN if right_run else uuid4()
    site_id = SITE if right_site else uuid4()

    at_car_door = assess(journey, Handoff.BOARDING, run_id=run_id)
    outcome = boarding_outcome(journey, run_id)
    assert (at_car_door.verdict is Verdict.GO) == (outcome is ScanOutcome.ACCEPTED)
    # Off-route exactly when posting the boarding records a misdirected scan: the page posts
    # those anyway, and posts nothing on any other red (the command would be refused).
    assert at_car_door.records_off_route == (outcome is ScanOutcome.MISDIRECTED)
    if outcome is ScanOutcome.MISDIRECTED:
        assert (at_car_door.verdict, at_car_door.reason) == (Verdict.STOP, WRONG_VEHICLE)
        assert at_car_door.code is ReasonCode.WRONG_VEHICLE

    at_room_door = assess(journey, Handoff.CHECK_IN, site_id=site_id)
    outcome = check_in_outcome(journey, site_id)
    assert (at_room_door.verdict is Verdict.GO) == (outcome is ScanOutcome.ACCEPTED)
    assert at_room_door.records_off_route == (outcome is ScanOutcome.MISDIRECTED)
    if outcome is ScanOutcome.MISDIRECTED:
        assert (at_room_door.verdict, at_room_door.reason) == (Verdict.STOP, WRONG_SITE)
        assert at_room_door.code is ReasonCode.WRONG_SITE

    for assessment in (at_car_door, at_room_door, assess(journey, Handoff.DESK)):
        assert_well_formed(assessment)


def assert_well_formed(assessment: Assessment) -> None:
    """A code from the enum, its English reason, and red whenever the scan is off-route."""
    assert isinstance(assessment.code, ReasonCode)
    assert assessment.reason == REASONS[assessment.code]
    if assessment.records_off_route:
        assert assessment.verdict is Verdict.STOP


@pytest.mark.parametrize(
    ("steps", "handoff", "verdict", "reason", "code"),
    [
        (2, Handoff.BOARDING, Verdict.STOP, NO_SEAT, ReasonCode.NO_SEAT),
        (4, Handoff.BOARDING, Verdict.CHECK, ALREADY_ON_BOARD, ReasonCode.ALREADY_ON_BOARD),
        (6, Handoff.CHECK_IN, Verdict.GO, CHECK_IN, ReasonCode.CHECK_IN),
    ],
)
def test_staff_are_told_why(
    steps: int, handoff: Handoff, verdict: Verdict, reason: str, code: ReasonCode
) -> None:
    assessment = assess(journey_after(steps), handoff, run_id=RUN, site_id=SITE)
    assert (assessment.verdict, assessment.reason, assessment.code) == (verdict, reason, code)


def test_the_desk_stops_a_traveller_of_another_entry_point() -> None:
    journey = journey_after(0)
    assert assess(journey, Handoff.DESK, entry_point="EP-1").verdict is Verdict.GO
    assert assess(journey, Handoff.DESK, entry_point="EP-2").verdict is Verdict.STOP
    assert assess(journey_after(1), Handoff.DESK, entry_point="EP-1").verdict is Verdict.CHECK
    assert assess(journey_after(1, cancelled=True), Handoff.DESK).verdict is Verdict.STOP


def test_every_code_has_an_english_reason_and_only_route_codes_are_off_route() -> None:
    assert set(REASONS) == set(ReasonCode)
    assert all(REASONS.values()) and len(set(REASONS.values())) == len(REASONS)
    assert {ReasonCode.WRONG_VEHICLE, ReasonCode.WRONG_SITE} == OFF_ROUTE


def test_every_code_is_reachable() -> None:
    """No dead words: each code is what some journey at some handoff gets (so the page's
    table of words covers real cases, and a new rule needs a new code, not a reused one)."""
    seen: set[ReasonCode] = set()
    for steps, cancelled in itertools.product(range(len(STEPS) + 1), (False, True)):
        journey = journey_after(steps, cancelled=cancelled)
        for run_id, site_id in itertools.product((RUN, uuid4(), None), (SITE, uuid4(), None)):
            assessments = [
                assess(journey, Handoff.BOARDING, run_id=run_id),
                assess(journey, Handoff.CHECK_IN, site_id=site_id),
                assess(journey, Handoff.DESK, entry_point="EP-1"),
                assess(journey, Handoff.DESK, entry_point="EP-2"),
            ]
            for assessment in assessments:
                assert_well_formed(assessment)
                seen.add(assessment.code)
    assert seen == set(ReasonCode)


def test_a_scanner_without_its_run_or_site_is_told_to_choose_it_and_records_nothing() -> None:
    seated, arrived = journey_after(3), journey_after(6)
    no_run = assess(seated, Handoff.BOARDING, run_id=None)
    no_site = assess(arrived, Handoff.CHECK_IN, site_id=None)
    assert (no_run.verdict, no_run.code) == (Verdict.STOP, ReasonCode.NO_RUN_CHOSEN)
    assert (no_site.verdict, no_site.code) == (Verdict.STOP, ReasonCode.NO_SITE_CHOSEN)
    assert not no_run.records_off_route and not no_site.records_off_route


def test_another_site_before_arrival_is_red_but_not_recorded() -> None:
    """In transit, a receiver elsewhere scans the traveller: stop, but the domain would refuse
    the check-in (not arrived), so the page must not post it as off-route."""
    in_transit = journey_after(5)
    elsewhere = assess(in_transit, Handoff.CHECK_IN, site_id=uuid4())
    assert (elsewhere.verdict, elsewhere.code) == (Verdict.STOP, ReasonCode.EXPECTED_ELSEWHERE)
    assert not elsewhere.records_off_route
    assert check_in_outcome(in_transit, uuid4()) is None
