"""The scanner's green / amber / red agrees with what the handoff command will record: green
is accepted, red for the wrong vehicle or site is recorded as misdirected, never accepted."""

from __future__ import annotations

import copy
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
    WRONG_SITE,
    WRONG_VEHICLE,
    Handoff,
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
    actions = {
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
        journey.cancel("flight cancelled", ctx(role="dispatcher"))
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
    if outcome is ScanOutcome.MISDIRECTED:
        assert (at_car_door.verdict, at_car_door.reason) == (Verdict.STOP, WRONG_VEHICLE)

    at_room_door = assess(journey, Handoff.CHECK_IN, site_id=site_id)
    outcome = check_in_outcome(journey, site_id)
    assert (at_room_door.verdict is Verdict.GO) == (outcome is ScanOutcome.ACCEPTED)
    if outcome is ScanOutcome.MISDIRECTED:
        assert (at_room_door.verdict, at_room_door.reason) == (Verdict.STOP, WRONG_SITE)


@pytest.mark.parametrize(
    ("steps", "handoff", "verdict", "reason"),
    [
        (2, Handoff.BOARDING, Verdict.STOP, NO_SEAT),
        (4, Handoff.BOARDING, Verdict.CHECK, ALREADY_ON_BOARD),
        (6, Handoff.CHECK_IN, Verdict.GO, CHECK_IN),
    ],
)
def test_staff_are_told_why(steps: int, handoff: Handoff, verdict: Verdict, reason: str) -> None:
    assessment = assess(journey_after(steps), handoff, run_id=RUN, site_id=SITE)
    assert (assessment.verdict, assessment.reason) == (verdict, reason)


def test_the_desk_stops_a_traveller_of_another_entry_point() -> None:
    journey = journey_after(0)
    assert assess(journey, Handoff.DESK, entry_point="EP-1").verdict is Verdict.GO
    assert assess(journey, Handoff.DESK, entry_point="EP-2").verdict is Verdict.STOP
    assert assess(journey_after(1), Handoff.DESK, entry_point="EP-1").verdict is Verdict.CHECK
    assert assess(journey_after(1, cancelled=True), Handoff.DESK).verdict is Verdict.STOP
