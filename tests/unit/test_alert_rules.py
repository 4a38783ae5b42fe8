"""Loop-not-closed alerts: detection (a pure function of view facts and `now`), the Alert
aggregate's rules, and the settings that configure them.

The central property: over any history of loops opening and closing and any sweep times, an
alert is open after a sweep exactly when its loop is open and has been open at least its
threshold; it is raised once per occurrence and cleared at the first sweep after its loop
closed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import alerts, custody
from domain.alerts import (
    CUSTODY_NOT_ACCEPTED,
    KINDS,
    NOT_BOARDED,
    NOT_CHECKED_IN,
    NOT_HANDED_OVER,
    OFF_ROUTE,
    SURVEY_OVERDUE,
    Alert,
    Condition,
    JourneyFacts,
    OpenAlert,
    RunFacts,
    Thresholds,
    closing_reason,
    conditions,
    overdue,
    plan,
)
from domain.context import Context
from domain.errors import InvalidInput, RuleBroken
from domain.journey import Journey
from domain.stages import DestinationKind, RiskLevel, Stage
from tracking.settings import SettingsError, load_settings

T0 = datetime(2020, 3, 28, 9, 0, tzinfo=UTC)
RUN = str(UUID(int=1))
OTHER_RUN = str(UUID(int=2))
SITE = str(UUID(int=3))
JOURNEYS = {kind: str(UUID(int=100 + i)) for i, kind in enumerate(KINDS)}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- facts of one open loop of each kind ----------------------------------------------------------


def journey_with_loop(kind: str, since: datetime) -> JourneyFacts:
    """A journey whose only open loop is one of `kind`, open since `since`."""
    jid = JOURNEYS[kind]
    if kind == NOT_BOARDED:
        return JourneyFacts(jid, "seat_assigned", since, "EP", run_id=RUN, site_id=SITE)
    if kind == NOT_CHECKED_IN:
        return JourneyFacts(jid, "in_transit", since, "EP", run_id=RUN, site_id=SITE,
                            boarded_at=since)
    if kind == CUSTODY_NOT_ACCEPTED:
        return JourneyFacts(jid, "screened", at(-1000), "EP", offered_to="desk:EP-2",
                            offered_at=since)
    if kind == SURVEY_OVERDUE:
        return JourneyFacts(jid, "under_quarantine", at(-1000), "EP", site_id=SITE,
                            checked_in_at=since)
    assert kind == OFF_ROUTE
    return JourneyFacts(jid, "destination_assigned", at(-1000), "EP", site_id=SITE,
                        off_route="boarding", off_route_at=since)


def facts_at(
    episodes: dict[str, list[tuple[int, int | None]]], t: int
) -> tuple[list[JourneyFacts], list[RunFacts], dict[str, tuple[int, str]]]:
    """The view facts at minute `t`, and the loops open then: alert id -> (start, kind)."""
    journeys, runs, active = [], [], {}
    for kind, spans in episodes.items():
        for start, end in spans:
            if start <= t and (end is None or t < end):
                if kind == NOT_HANDED_OVER:
                    runs.append(RunFacts(RUN, "arrived", at(start), "EP", "粤A-12345", 3))
                    subject = RUN
                else:
                    journeys.append(journey_with_loop(kind, at(start)))
                    subject = JOURNEYS[kind]
                active[str(alerts.alert_id(kind, subject, at(start)))] = (start, kind)
    return journeys, runs, active


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[str, list[tuple[int, int | None]]], list[int],
                                         Thresholds]:
    episodes: dict[str, list[tuple[int, int | None]]] = {}
    for kind in KINDS:
        toggles = sorted(draw(st.sets(st.integers(0, 600), max_size=6)))
        spans: list[tuple[int, int | None]] = []
        for i in range(0, len(toggles), 2):
            spans.append((toggles[i], toggles[i + 1] if i + 1 < len(toggles) else None))
        episodes[kind] = spans
    sweeps = sorted(draw(st.lists(st.integers(0, 700), min_size=1, max_size=25)))
    minutes = {k: draw(st.integers(0, 180)) for k in KINDS}
    return episodes, sweeps, Thresholds(**minutes)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_an_alert_is_open_exactly_while_its_loop_is_open_past_its_threshold(
    history: tuple[dict[str, list[tuple[int, int | None]]], list[int], Thresholds],
) -> None:
    episodes, sweeps, thresholds = history
    open_now: dict[str, OpenAlert] = {}
    raised_ever: list[str] = []
    for t in sweeps:
        journeys, runs, active = facts_at(episodes, t)
        todo = plan(conditions(journeys, runs), list(open_now.values()), at(t), thresholds)
        for c in todo.raise_:
            assert str(c.alert_id) not in open_now
            raised_ever.append(str(c.alert_id))
            open_now[str(c.alert_id)] = OpenAlert(
                str(c.alert_id), c.kind, c.subject, c.journey_id, c.run_id
            )
        for a in todo.clear:
            del open_now[a.alert_id]
        expected = {
            aid for aid, (start, kind) in active.items()
            if t - start >= thresholds.minutes(kind)
        }
        assert set(open_now) == expected
        # `overdue` names the same alerts as the sweep keeps open.
        assert {str(c.alert_id) for c in overdue(journeys, runs, at(t), thresholds)} == expected
    assert len(raised_ever) == len(set(raised_ever)), "an occurrence was raised twice"


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300), st.integers(1, 300))
def test_raising_the_threshold_later_never_clears_an_open_loop(
    opened: int, first_threshold: int, extra: int
) -> None:
    """An alert is cleared by its loop closing, never by a setting changing."""
    facts = [journey_with_loop(NOT_BOARDED, at(0))]
    now = at(opened)
    todo = plan(conditions(facts, []), [], now, Thresholds(not_boarded=first_threshold))
    open_alerts = [OpenAlert(str(c.alert_id), c.kind, c.subject, c.journey_id, c.run_id)
                   for c in todo.raise_]
    assert bool(open_alerts) == (opened >= first_threshold)
    later = plan(conditions(facts, []), open_alerts, now,
                 Thresholds(not_boarded=first_threshold + extra))
    assert later.clear == () and later.raise_ == ()


STAGES = [s.value for s in Stage]
maybe_time = st.one_of(st.none(), st.integers(0, 100).map(at))


@st.composite
def journey_facts(draw: st.DrawFn) -> JourneyFacts:
    run_id = draw(st.sampled_from([None, RUN, OTHER_RUN]))
    offered_to = draw(st.sampled_from(
        [None, custody.escort(UUID(RUN)), custody.receiver(UUID(SITE)), "desk:EP-2"]
    ))
    return JourneyFacts(
        journey_id=str(uuid4()), stage=draw(st.sampled_from(STAGES)), entered_at=at(0),
        entry_point="EP", run_id=run_id, site_id=draw(st.sampled_from([None, SITE])),
        boarded_at=draw(maybe_time), offered_to=offered_to,
        offered_at=None if offered_to is None else draw(st.integers(0, 100).map(at)),
        off_route=draw(st.sampled_from(["boarding", "check-in"])),
        off_route_at=draw(maybe_time),
    )


@settings(max_examples=500, deadline=None)
@given(journey_facts())
def test_which_loops_a_journey_row_holds_open(j: JourneyFacts) -> None:
    kinds = {c.kind for c in conditions([j], [])}
    closed = Stage(j.stage).is_closed
    assert (NOT_BOARDED in kinds) == (j.stage == "seat_assigned" and j.run_id is not None)
    assert (NOT_CHECKED_IN in kinds) == (
        j.stage in ("boarded", "in_transit", "arrived") and j.boarded_at is not None
    )
    planned = (
        (j.stage == "seat_assigned" and j.run_id is not None
         and j.offered_to == custody.escort(UUID(j.run_id)))
        or (j.stage == "arrived" and j.site_id is not None
            and j.offered_to == custody.receiver(UUID(j.site_id)))
    )
    assert (CUSTODY_NOT_ACCEPTED in kinds) == (
        j.offered_to is not None and not planned and not closed
    )
    assert (OFF_ROUTE in kinds) == (j.off_route_at is not None and not closed)
    assert NOT_HANDED_OVER not in kinds


def test_the_line_s_own_custody_offers_are_watched_by_the_door_loops_not_twice() -> None:
    seated = JourneyFacts("j", "seat_assigned", at(0), "EP", run_id=RUN, site_id=SITE,
                          offered_to=custody.escort(UUID(RUN)), offered_at=at(0))
    assert [c.kind for c in conditions([seated], [])] == [NOT_BOARDED]
    swapped = JourneyFacts("j", "seat_assigned", at(0), "EP", run_id=RUN, site_id=SITE,
                           offered_to=custody.escort(UUID(OTHER_RUN)), offered_at=at(5))
    assert sorted(c.kind for c in conditions([swapped], [])) == [
        CUSTODY_NOT_ACCEPTED, NOT_BOARDED
    ]


def test_only_an_arrived_run_waits_for_its_handovers() -> None:
    for status in ("planned", "boarding", "departed", "closed"):
        assert conditions([], [RunFacts(RUN, status, at(0), "EP")]) == []
    (c,) = conditions([], [RunFacts(RUN, "arrived", at(0), "EP", "粤A-1", 2)])
    assert (c.kind, c.subject, c.run_id, c.journey_id, c.detail) == (
        NOT_HANDED_OVER, RUN, RUN, None, "粤A-1"
    )


def test_a_clock_behind_the_loop_start_is_not_overdue() -> None:
    c = Condition(OFF_ROUTE, "j", at(10), "EP", "j")
    assert not c.is_overdue(at(9), Thresholds())
    assert c.is_overdue(at(10), Thresholds())  # off route: at once


def test_closing_reasons_say_what_happened() -> None:
    alert = OpenAlert("a", NOT_BOARDED, "j", "j", RUN)
    boarded = JourneyFacts("j", "boarded", at(0), "EP", run_id=RUN)
    assert closing_reason(alert, boarded, None) == "boarded"
    back = JourneyFacts("j", "destination_assigned", at(0), "EP")
    assert "withdrawn" in closing_reason(alert, back, None)
    gone = JourneyFacts("j", "no_show", at(0), "EP")
    assert "ended" in closing_reason(alert, gone, None)
    run_alert = OpenAlert("b", NOT_HANDED_OVER, RUN, None, RUN)
    assert "handed over" in closing_reason(run_alert, None, None)
    off = OpenAlert("c", OFF_ROUTE, "j", "j", RUN)
    assert "checked in" in closing_reason(off, JourneyFacts("j", "checked_in", at(0), "EP"), None)


# -- the aggregate --------------------------------------------------------------------------------


def condition(kind: str = NOT_BOARDED, since: datetime = T0) -> Condition:
    return Condition(kind, JOURNEYS[kind], since, "EP", JOURNEYS[kind], RUN)


def test_an_alert_is_raised_only_once_its_loop_is_overdue() -> None:
    with pytest.raises(RuleBroken):
        Alert.raise_for(condition(), Thresholds(not_boarded=60), at(59))
    alert = Alert.raise_for(condition(), Thresholds(not_boarded=60), at(60))
    assert alert.is_open and alert.threshold_minutes == 60 and alert.detected_at == at(60)


def test_an_occurrence_has_one_id_whoever_raises_it_and_whenever() -> None:
    a = Alert.raise_for(condition(), Thresholds(), at(61))
    b = Alert.raise_for(condition(), Thresholds(), at(500))
    assert a.id == b.id == condition().alert_id
    assert a.id == Alert.create_id(NOT_BOARDED, JOURNEYS[NOT_BOARDED], T0)
    # The same instant in another zone is the same occurrence; another instant is another.
    shanghai = T0.astimezone(ZoneInfo("Asia/Shanghai"))
    assert condition(since=shanghai).alert_id == a.id
    assert condition(since=at(1)).alert_id != a.id
    assert Condition(NOT_CHECKED_IN, JOURNEYS[NOT_BOARDED], T0, "EP").alert_id != a.id


def test_clearing_records_once_and_a_second_clear_changes_nothing() -> None:
    alert = Alert.raise_for(condition(), Thresholds(), at(61))
    alert.collect_events()
    with pytest.raises(InvalidInput):
        alert.clear("  ", at(70))
    assert alert.clear("boarded", at(70)) is True
    assert alert.clear("boarded", at(71)) is False
    events = alert.collect_events()
    assert [type(e).__name__ for e in events] == ["Cleared"]
    assert (alert.status, alert.reason, alert.cleared_at) == ("cleared", "boarded", at(70))


def test_replaying_an_alert_s_events_gives_the_same_alert() -> None:
    alert = Alert.raise_for(condition(CUSTODY_NOT_ACCEPTED), Thresholds(), at(20))
    alert.clear("custody accepted", at(30))
    events = alert.collect_events()
    replayed: Any = None
    for e in events:
        replayed = e.mutate(replayed)
    assert isinstance(replayed, Alert)
    assert vars(replayed) == vars(alert)


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(InvalidInput):
        Alert.raise_for(condition(), Thresholds(), datetime(2020, 3, 28, 12))
    with pytest.raises(InvalidInput):
        alerts.alert_id(NOT_BOARDED, "j", datetime(2020, 3, 28))


def test_thresholds_refuse_nonsense() -> None:
    with pytest.raises(InvalidInput):
        Thresholds(not_boarded=-1)
    with pytest.raises(InvalidInput):
        Thresholds().minutes("made_up")


def test_every_kind_has_a_message_naming_its_threshold() -> None:
    for kind in KINDS:
        text = alerts.message(kind, "boarding", 42)
        assert text and text != kind
        if kind != OFF_ROUTE:
            assert "42 minutes" in text


# -- the write model agrees before an alert is raised ------------------------------------------


def _ctx(role: str = "dispatcher") -> Context:
    return Context(command_id=uuid4(), actor="t", role=role, where="EP", occurred_at=T0)


def test_a_loop_the_write_model_sees_closed_raises_nothing() -> None:
    journey = Journey.register(uuid4(), "k", uuid4(), "EP", "sealed", _ctx("traveller"))
    journey.screen(RiskLevel.LOW, 36.6, False, False, _ctx("screener"), lambda f: "sealed")
    site_id, run_id = uuid4(), uuid4()
    journey.assign_destination(DestinationKind.HOME, site_id, "", _ctx())
    journey.assign_seat(run_id, 1, _ctx())
    seated = Condition(NOT_BOARDED, str(journey.id), T0, "EP", str(journey.id), str(run_id))
    assert alerts.still_holds(seated, journey, None)
    assert not alerts.still_holds(
        Condition(NOT_BOARDED, str(journey.id), T0, "EP", str(journey.id), str(uuid4())),
        journey, None,
    )
    journey.board(run_id, "scan-1", _ctx("escort"))
    assert not alerts.still_holds(seated, journey, None)
    on_board = Condition(NOT_CHECKED_IN, str(journey.id), T0, "EP", str(journey.id))
    assert alerts.still_holds(on_board, journey, None)
    assert not alerts.still_holds(condition(NOT_HANDED_OVER), None, None)


# -- settings -----------------------------------------------------------------------------------


def test_alert_settings_come_from_the_environment(tmp_path: Any) -> None:
    base = {"TRACKING_DATA_DIR": str(tmp_path)}
    defaults = load_settings(base)
    assert defaults.alert_thresholds == Thresholds(
        not_boarded=60, not_checked_in=120, not_handed_over=20, custody_not_accepted=15
    )
    assert (defaults.alert_sweep_seconds, defaults.alerts) == (30.0, "embedded")
    tuned = load_settings(base | {
        "TRACKING_ALERT_NOT_BOARDED_MINUTES": "45",
        "TRACKING_ALERT_NOT_CHECKED_IN_MINUTES": "90",
        "TRACKING_ALERT_NOT_HANDED_OVER_MINUTES": "10",
        "TRACKING_ALERT_CUSTODY_OFFER_MINUTES": "5",
        "TRACKING_ALERT_SWEEP_SECONDS": "2.5",
        "TRACKING_ALERTS": "off",
    })
    assert tuned.alert_thresholds == Thresholds(45, 90, 10, 5)
    assert (tuned.alert_sweep_seconds, tuned.alerts) == (2.5, "off")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRACKING_ALERT_NOT_BOARDED_MINUTES", "sixty"),
        ("TRACKING_ALERT_NOT_CHECKED_IN_MINUTES", "0"),
        ("TRACKING_ALERT_NOT_HANDED_OVER_MINUTES", "-5"),
        ("TRACKING_ALERT_CUSTODY_OFFER_MINUTES", "1.5"),
        ("TRACKING_ALERT_NOT_BOARDED_MINUTES", "99999999"),
        ("TRACKING_ALERT_SWEEP_SECONDS", "0"),
        ("TRACKING_ALERT_SWEEP_SECONDS", "nan"),
        ("TRACKING_ALERT_SWEEP_SECONDS", "soon"),
        ("TRACKING_ALERTS", "sometimes"),
    ],
)
def test_a_bad_alert_setting_stops_start_up_with_its_name(
    tmp_path: Any, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({"TRACKING_DATA_DIR": str(tmp_path), name: value})
