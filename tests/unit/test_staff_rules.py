"""The StaffAccount aggregate's rules, driven by Hypothesis through any sequence of changes.

What the product relies on: each change is one event and changes exactly what it names; a
change that would change nothing is refused (409) and records nothing; the events alone
rebuild the same account (the @event bodies only assign); sites are kept upper-case, sorted
and without repeats; usernames are kept lower-case and checked.
"""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.domain import Aggregate
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput, RuleBroken
from domain.staff import Role, StaffAccount, staff_account_id

ROLES = st.sampled_from(list(Role))
SITE_CODES = st.lists(st.sampled_from(["st-1", "ST-1", " st-2 ", "H-9", "h-9", "", "  "]),
                      max_size=5)
CHANGES = st.one_of(
    st.tuples(st.just("disable"), st.text(max_size=10)),
    st.tuples(st.just("enable"), st.text(max_size=10)),
    st.tuples(st.just("role"), ROLES),
    st.tuples(st.just("sites"), SITE_CODES),
)


def _account(role: Role = Role.DISPATCHER) -> StaffAccount:
    return StaffAccount.create(" Li.Dispatch ", role, " 李调度 ", "$argon2id$not-checked-here")


def _state(account: StaffAccount) -> tuple[Any, ...]:
    return (account.username, account.role, account.display_name, account.password_hash,
            account.active, account.site_codes, account.version)


def _replayed(events: list[Any]) -> StaffAccount:
    rebuilt: Aggregate | None = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert isinstance(rebuilt, StaffAccount)
    return rebuilt


def _change(account: StaffAccount, kind: str, value: Any) -> None:
    if kind == "disable":
        account.disable(value, "admin")
    elif kind == "enable":
        account.enable(value, "admin")
    elif kind == "role":
        account.change_role(value, "moved", "admin")
    else:
        account.assign_sites(value, "admin")


@settings(max_examples=200, deadline=None)
@given(start=ROLES, changes=st.lists(CHANGES, max_size=12))
def test_every_change_is_one_event_and_a_no_op_is_refused(
    start: Role, changes: list[tuple[str, Any]]
) -> None:
    account = _account(start)
    events = list(account.collect_events())
    active, role, sites = True, start, ()
    for kind, value in changes:
        before = _state(account)
        if kind == "disable":
            expected_ok, after = active, (False, role, sites)
        elif kind == "enable":
            expected_ok, after = not active, (True, role, sites)
        elif kind == "role":
            expected_ok, after = value is not role, (active, value, sites)
        else:
            wanted = tuple(sorted({c.strip().upper() for c in value if c.strip()}))
            expected_ok, after = wanted != sites, (active, role, wanted)
        if expected_ok:
            _change(account, kind, value)
            new = list(account.collect_events())
            assert len(new) == 1
            events.extend(new)
            active, role, sites = after
        else:
            with pytest.raises(RuleBroken):
                _change(account, kind, value)
            assert account.collect_events() == []
            assert _state(account) == before
        assert (account.active, account.role, account.site_codes) == (active, role, sites)
    assert _state(_replayed(events)) == _state(account)


@given(codes=SITE_CODES)
def test_sites_are_kept_upper_case_sorted_and_once(codes: list[str]) -> None:
    account = _account(Role.RECEIVER)
    if not any(c.strip() for c in codes):
        with pytest.raises(RuleBroken):  # no sites is what a new account has already
            account.assign_sites(codes, "admin")
        return
    account.assign_sites(codes, "admin")
    assert list(account.site_codes) == sorted(set(account.site_codes))
    assert all(c == c.upper() and c == c.strip() and c for c in account.site_codes)
    assert {c.strip().upper() for c in codes if c.strip()} == set(account.site_codes)


@given(name=st.text(min_size=0, max_size=50))
def test_usernames_are_lower_case_and_checked(name: str) -> None:
    plain = name.strip().lower()
    valid = 3 <= len(plain) <= 40 and plain.replace(".", "").replace("-", "").isalnum()
    if not valid:
        with pytest.raises(InvalidInput):
            StaffAccount.create(name, Role.ESCORT, "x", "hash")
        return
    account = StaffAccount.create(name, Role.ESCORT, "x", "hash")
    assert account.username == plain
    assert account.id == staff_account_id(name) == staff_account_id(plain)


def test_a_new_account_is_active_with_its_role_and_no_sites() -> None:
    account = _account()
    assert (account.username, account.display_name) == ("li.dispatch", "李调度")
    assert account.active and account.role is Role.DISPATCHER and account.site_codes == ()
