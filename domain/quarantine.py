"""A quarantine order's rules: who decided a change and on what legal basis, the order's test
schedule, and when a traveller may be released.

An order runs from `starts_on` (day 1, the day of the room door) up to `planned_end`, the day
the traveller may leave; its length is the number of days in between. Tests are scheduled by
day of the order (e.g. days 1, 4, 7, 14 of a 14-day order) and the last day always has one: the
exit test. Nothing here reads a clock: the caller says what day it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from domain.errors import InvalidInput, RuleBroken

OUTCOMES = ("negative", "positive", "inconclusive")
TEST_KINDS = ("pcr", "antigen", "antibody")
DEFAULT_TEST_DAYS = (1, 4, 7, 14)
DEFAULT_LENGTH_DAYS = 14
MAX_LENGTH_DAYS = 90
MAX_REASON, MAX_BASIS, MAX_DECIDER = 500, 200, 100


@dataclass(frozen=True)
class OrderDecision:
    """Why an order changes, under which law or notice, and who decided it (the official
    accountable for the decision, who may not be the staff member recording it)."""

    reason: str
    legal_basis: str
    decided_by: str

    def __post_init__(self) -> None:
        for name, limit in (("reason", MAX_REASON), ("legal_basis", MAX_BASIS),
                            ("decided_by", MAX_DECIDER)):
            value = getattr(self, name).strip()
            if not value:
                raise InvalidInput(f"a quarantine decision needs its {name.replace('_', ' ')}")
            if len(value) > limit:
                raise InvalidInput(f"the {name.replace('_', ' ')} has at most {limit} characters")
            object.__setattr__(self, name, value)


def length_of(starts_on: date, planned_end: date) -> int:
    return (planned_end - starts_on).days


def due_on(starts_on: date, day: int) -> date:
    return starts_on + timedelta(days=day - 1)


def check_end(starts_on: date, planned_end: date) -> None:
    length = length_of(starts_on, planned_end)
    if length < 1:
        raise InvalidInput("the planned end of quarantine must be after its start")
    if length > MAX_LENGTH_DAYS:
        raise InvalidInput(f"a quarantine order lasts at most {MAX_LENGTH_DAYS} days")


def check_test_days(days: Iterable[int]) -> tuple[int, ...]:
    found = tuple(sorted(set(days)))
    if any(not 1 <= d <= MAX_LENGTH_DAYS for d in found):
        raise InvalidInput(f"test days are days of the order, from 1 to {MAX_LENGTH_DAYS}")
    return found


def schedule(days: Iterable[int], length: int) -> list[int]:
    """The days tested in an order of `length` days: the configured ones that fall inside it,
    and the last day (the exit test)."""
    return sorted({d for d in days if 1 <= d <= length} | {length})


@dataclass(frozen=True)
class Reschedule:
    added: list[int]
    dropped: list[int]


def reschedule(tests: Mapping[int, object], new_length: int) -> Reschedule:
    """The test days an order gains and loses when its end moves. `tests` maps each scheduled
    day to its result (None while there is none). A longer order gets an exit test on its new
    last day; a shorter one drops the tests after its new end that have no result yet (a
    recorded result is never dropped) and gets an exit test on its new last day."""
    dropped = sorted(d for d, result in tests.items() if d > new_length and result is None)
    added = [] if new_length in tests else [new_length]
    return Reschedule(added=added, dropped=dropped)


def check_release(
    tests: Mapping[int, str | None],
    starts_on: date | None,
    on: date,
    outcome_of: Mapping[int, str],
) -> None:
    """A traveller is released only when every test due by `on` has a result and none of the
    results is positive. `outcome_of` holds the outcome of each test that has a result."""
    if starts_on is not None:
        missing = [d for d, r in sorted(tests.items()) if r is None and due_on(starts_on, d) <= on]
        if missing:
            day = missing[0]
            raise RuleBroken(
                f"the day {day} test (due {due_on(starts_on, day).isoformat()}) has no result "
                "yet: record it before the release"
            )
    positive = sorted(d for d, outcome in outcome_of.items() if outcome == "positive")
    if positive:
        raise RuleBroken(
            f"the day {positive[0]} test is positive: refer the traveller to hospital, extend "
            "the order, or correct the result with a reason"
        )
