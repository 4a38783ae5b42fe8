"""Who may confirm a pre-registration, and that amendments never pass silently."""

from __future__ import annotations

from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.journey import Journey
from tests.support import ctx

roles = st.sampled_from(["traveller", "screener", "admin", "dispatcher"])
amendments = st.lists(st.tuples(roles, st.booleans()), max_size=8)


@given(source=st.sampled_from(["traveller", "manifest"]), steps=amendments)
def test_a_journey_is_confirmed_once_its_traveller_has_submitted_it(
    source: str, steps: list[tuple[str, bool]]
) -> None:
    journey = Journey.register(uuid4(), "k", uuid4(), "EP", "v1:x", ctx(), source)
    recorded = 0
    for role, changed in steps:
        if journey.amend("v1:y", ["phone"] if changed else [], ctx(role=role)):
            recorded += 1
    confirmations = [role for role, _ in steps if role == "traveller"]
    assert journey.confirmed_by_traveller == (source == "traveller" or bool(confirmations))
    amended = [e for e in journey.collect_events() if isinstance(e, Journey.Amended)]
    assert len(amended) == recorded
    # Nothing changed and nothing to confirm: no event. A change is always recorded.
    expected = 0
    confirmed = source == "traveller"
    for role, changed in steps:
        if changed or (role == "traveller" and not confirmed):
            expected += 1
        confirmed = confirmed or role == "traveller"
    assert recorded == expected


def test_an_unknown_source_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Journey.register(uuid4(), "k", uuid4(), "EP", "v1:x", ctx(), "rumour")
