"""Loop-not-closed alerts on real stores (every body on SQLite and on PostgreSQL).

The line is built through the application; the monitor sweeps with explicit times past the
thresholds (the loops' start times are the store's, so `now` is the real time plus minutes).
Alerts must be stored as events, shown by the views, cleared when the loop closes, and raised
exactly once however many monitors sweep at the same moment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain import alerts
from domain.alerts import Alert
from domain.journey import Journey
from domain.stages import RiskLevel, Stage
from projections import synthetic
from projections.projector import Projector
from projections.queries import read_alert_facts, read_alerts, read_board, read_journey
from tests.support import Line, ctx, person, seed_line
from tracking.alerts import AlertMonitor, SweepResult
from tracking.application import TrackingApp
from tracking.services import Services, open_services
from tracking.settings import Settings
from tracking.sidestore import SideStore

OTHER_DESK = "desk:EP-ELSEWHERE"


@pytest.fixture
def projector(store_settings: Settings, services: Services) -> Iterator[Projector]:
    p = Projector(store_settings)
    yield p
    p.close()


def monitor(services: Services) -> AlertMonitor:
    store = services.store
    return AlertMonitor(services.app, lambda: read_alert_facts(store), services.settings)


def alert_events(app: TrackingApp) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=10**7)
    return [
        app.mapper.to_domain_event(n) for n in notifications if n.topic.startswith("domain.alerts")
    ]


def register(app: TrackingApp, line: Line, number: str) -> UUID:
    answer = app.register_travellers(line.entry_point, [person(number)], ctx(role="traveller"))
    journey_id = UUID(answer["journey_ids"][0])
    app.screen(journey_id, RiskLevel.LOW, 36.6, False, False, ctx(where=line.entry_point))
    return journey_id


def open_by_kind(store: SideStore) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for a in read_alerts(store):
        found.setdefault(a["kind"], set()).add(a["subject"])
    return found


def test_alerts_are_raised_past_their_thresholds_and_cleared_when_loops_close(
    services: Services, projector: Projector
) -> None:
    app, store = services.app, services.store
    line = seed_line(app, rooms=["101", "102"], extra_vehicle=True)
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    other_run = UUID(app.plan_run(line.other_plate, "escort-2", line.entry_point)["run_id"])
    a, b, c = (register(app, line, n) for n in ("A1000001", "B1000002", "C1000003"))
    app.dispatch(a, ctx(role="dispatcher"), site_code=line.hotel, run_id=run_id)
    app.dispatch(b, ctx(role="dispatcher"), site_code=line.street, run_id=run_id)
    app.offer_custody(c, OTHER_DESK, ctx())
    projector.run_once()
    watch = monitor(services)
    start = datetime.now(UTC)  # every loop above opened before this

    # Nothing is overdue yet; then the custody offer (15 min), then the seats (60 min).
    assert watch.sweep(start + timedelta(minutes=5)) == SweepResult()
    first = watch.sweep(start + timedelta(minutes=16))
    assert len(first.raised) == 1 and first.cleared == []
    second = watch.sweep(start + timedelta(minutes=61))
    assert len(second.raised) == 2 and second.cleared == []

    # Stored as events, under the occurrence's own id, open.
    raised = {UUID(i) for i in first.raised + second.raised}
    stored = {e.originator_id: e for e in alert_events(app) if isinstance(e, Alert.Raised)}
    assert set(stored) == raised
    assert {(e.kind, e.subject) for e in stored.values()} == {
        (alerts.CUSTODY_NOT_ACCEPTED, str(c)), (alerts.NOT_BOARDED, str(a)),
        (alerts.NOT_BOARDED, str(b)),
    }
    for alert_id in raised:
        alert: object = app.repository.get(alert_id)
        assert isinstance(alert, Alert) and alert.is_open

    # A sweep before the views show the alerts finds them raised already: no new events.
    head = app.recorder.max_notification_id()
    assert watch.sweep(start + timedelta(minutes=62)) == SweepResult()
    assert app.recorder.max_notification_id() == head

    projector.run_once()
    assert open_by_kind(store) == {
        alerts.CUSTODY_NOT_ACCEPTED: {str(c)}, alerts.NOT_BOARDED: {str(a), str(b)},
    }
    listed = read_alerts(store)
    custody_alert = next(x for x in listed if x["kind"] == alerts.CUSTODY_NOT_ACCEPTED)
    assert custody_alert["journey_id"] == str(c) and custody_alert["status"] == "open"
    assert custody_alert["message"] == (
        f"Custody offered to {OTHER_DESK} but not accepted within 15 minutes"
    )
    board = read_board(store)
    assert board["alert_counts"] == {
        alerts.NOT_BOARDED: 2, alerts.NOT_CHECKED_IN: 0, alerts.NOT_HANDED_OVER: 0,
        alerts.CUSTODY_NOT_ACCEPTED: 1, alerts.OFF_ROUTE: 0, alerts.SURVEY_OVERDUE: 0,
    }
    assert set(board["alerts"]) == {str(i) for i in raised}
    assert watch.sweep(start + timedelta(minutes=63)) == SweepResult()

    # Close two loops and open another: custody accepted, A boarded, B scanned off route.
    app.accept_custody(c, OTHER_DESK, ctx(role="screener"))
    assert app.scan_boarding(a, run_id, "scan-a", ctx(role="escort"))["outcome"] == "accepted"
    wrong = app.scan_boarding(b, other_run, "scan-b0", ctx(role="escort"))
    assert wrong["outcome"] == "misdirected"
    projector.run_once()
    third = watch.sweep(start + timedelta(minutes=64))
    assert len(third.raised) == 1 and len(third.cleared) == 2
    projector.run_once()
    assert open_by_kind(store) == {
        alerts.NOT_BOARDED: {str(b)}, alerts.OFF_ROUTE: {str(b)},
    }
    every = {x["alert_id"]: x for x in read_alerts(store, open_only=False)}
    assert {every[i]["reason"] for i in third.cleared} == {
        "boarded", "custody was accepted or the offer withdrawn",
    }
    assert all(every[i]["status"] == "cleared" and every[i]["cleared_at"] for i in third.cleared)
    off_route = next(x for x in every.values() if x["kind"] == alerts.OFF_ROUTE)
    assert off_route["message"] == "Scanned at the wrong vehicle at boarding"

    # B boards the right vehicle: both of B's loops close; a second sweep changes nothing.
    app.scan_boarding(b, run_id, "scan-b1", ctx(role="escort"))
    projector.run_once()
    fourth = watch.sweep(start + timedelta(minutes=65))
    assert fourth.raised == [] and len(fourth.cleared) == 2
    projector.run_once()
    assert read_alerts(store) == []
    assert watch.sweep(start + timedelta(minutes=66)) == SweepResult()

    # On the road: the vehicle arrives and nobody is handed over (20 min); nobody checked in
    # since boarding (120 min).
    app.depart_run(run_id, ctx(role="escort"))
    app.arrive_run(run_id, ctx(role="escort"))
    projector.run_once()
    arrived = datetime.now(UTC)
    (handover,) = watch.sweep(arrived + timedelta(minutes=21)).raised
    late = watch.sweep(arrived + timedelta(minutes=121))
    assert len(late.raised) == 2 and late.cleared == []
    projector.run_once()
    assert open_by_kind(store) == {
        alerts.NOT_HANDED_OVER: {str(run_id)}, alerts.NOT_CHECKED_IN: {str(a), str(b)},
    }
    shown = next(x for x in read_alerts(store) if x["alert_id"] == handover)
    assert shown["run_id"] == str(run_id) and shown["journey_id"] is None
    assert line.plate in shown["message"]

    # One passenger through the door: the run still waits for the other.
    app.scan_check_in(a, line.hotel, "door-a", ctx(role="receiver"))
    projector.run_once()
    fifth = watch.sweep(arrived + timedelta(minutes=122))
    assert fifth.raised == [] and len(fifth.cleared) == 1
    app.scan_check_in(b, line.street, "door-b", ctx(role="receiver"))
    projector.run_once()
    last = watch.sweep(arrived + timedelta(minutes=123))
    assert last.raised == [] and set(last.cleared) == {handover} | set(late.raised) - set(
        fifth.cleared
    )
    projector.run_once()
    assert read_alerts(store) == []
    assert set(read_board(store)["alert_counts"].values()) == {0}
    assert watch.sweep(arrived + timedelta(minutes=600)) == SweepResult()
    every = {x["alert_id"]: x for x in read_alerts(store, open_only=False)}
    assert every[handover]["reason"] == "every passenger was handed over"
    assert len(every) == 7 and {x["status"] for x in every.values()} == {"cleared"}


def test_a_loop_closed_in_the_store_but_not_yet_in_the_views_raises_nothing(
    services: Services, projector: Projector
) -> None:
    app = services.app
    line = seed_line(app)
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    a = register(app, line, "L1000001")
    app.dispatch(a, ctx(role="dispatcher"), site_code=line.street, run_id=run_id)
    projector.run_once()
    app.scan_boarding(a, run_id, "scan-a", ctx(role="escort"))  # the views still say seated
    assert monitor(services).sweep(datetime.now(UTC) + timedelta(minutes=90)) == SweepResult()
    assert alert_events(app) == []


def test_racing_monitors_raise_and_clear_each_alert_exactly_once(
    store_settings: Settings, services: Services, projector: Projector
) -> None:
    app = services.app
    line = seed_line(app, seats=12)
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    seated = [register(app, line, f"R{i:07d}") for i in range(6)]
    for journey_id in seated:
        app.dispatch(journey_id, ctx(role="dispatcher"), site_code=line.street, run_id=run_id)
    projector.run_once()
    others = [open_services(store_settings) for _ in range(3)]
    try:
        monitors = [monitor(services), *(monitor(s) for s in others)]

        def race(moments: list[datetime]) -> list[SweepResult]:
            barrier = threading.Barrier(len(monitors))
            results: list[Any] = [None] * len(monitors)

            def sweep(i: int) -> None:
                barrier.wait()
                results[i] = monitors[i].sweep(moments[i])

            threads = [threading.Thread(target=sweep, args=(i,)) for i in range(len(monitors))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            assert all(isinstance(r, SweepResult) for r in results), results
            return results

        start = datetime.now(UTC)
        # Each monitor sees a slightly different `now` (as separate processes would).
        results = race([start + timedelta(minutes=61, seconds=i) for i in range(len(monitors))])
        raised = [i for r in results for i in r.raised]
        assert len(raised) == len(set(raised)) == len(seated)
        stored = [e for e in alert_events(app) if isinstance(e, Alert.Raised)]
        assert len(stored) == len(seated)
        assert {e.subject for e in stored} == {str(j) for j in seated}

        for i, journey_id in enumerate(seated):
            app.scan_boarding(journey_id, run_id, f"scan-{i}", ctx(role="escort"))
        projector.run_once()
        results = race([start + timedelta(minutes=62)] * len(monitors))
        cleared = [i for r in results for i in r.cleared]
        assert len(cleared) == len(set(cleared)) == len(seated)
        assert not [r.raised for r in results if r.raised]
        assert len([e for e in alert_events(app) if isinstance(e, Alert.Cleared)]) == len(seated)
        projector.run_once()
        assert read_alerts(services.store) == []
    finally:
        for s in others:
            s.close()


def test_a_journey_shows_its_latest_risk(services: Services, projector: Projector) -> None:
    app = services.app
    line = seed_line(app)
    journey_id = register(app, line, "K1000001")  # screened low
    projector.run_once()
    shown = read_journey(services.store, journey_id)
    assert shown is not None and shown["risk"] == "low"
    app.record_survey(journey_id, RiskLevel.HIGH, {"contacts": []}, ctx(role="surveyor"))
    projector.run_once()
    shown = read_journey(services.store, journey_id)
    assert shown is not None and shown["risk"] == "high"
    unscreened = UUID(app.register_travellers(
        line.entry_point, [person("K1000002")], ctx(role="traveller")
    )["journey_ids"][0])
    projector.run_once()
    shown = read_journey(services.store, unscreened)
    assert shown is not None and shown["risk"] is None


def test_the_facts_alerts_read_match_the_saved_aggregates_and_their_events(
    store_settings: Settings,
) -> None:
    """The new view columns, checked against the aggregates (and, for what the aggregates do
    not keep, against the library's own reading of the log), not against the fold."""
    world = synthetic.seed(store_settings, 4000, seed=11, batch=1)
    p = Projector(store_settings, page_size=300)
    side = SideStore(store_settings)
    writer = synthetic.open_writer(store_settings)
    try:
        p.run_once()
        facts = read_alert_facts(side)
        notifications = writer.recorder.select_notifications(start=1, limit=10**7)
        events = [writer.mapper.to_domain_event(n) for n in notifications]
    finally:
        p.close()
        side.close()
        writer.close()
    boarded_at: dict[UUID, datetime] = {}
    off_route_at: dict[UUID, datetime] = {}
    for e in events:
        if isinstance(e, Journey.Boarded):
            boarded_at[e.originator_id] = e.timestamp
        if isinstance(e, Journey.MisdirectedScanRecorded):
            off_route_at.setdefault(e.originator_id, e.timestamp)
        if isinstance(e, Journey.Boarded | Journey.CheckedIn | Journey.Released
                      | Journey.ReferredToHospital | Journey.MarkedNoShow | Journey.Cancelled):
            off_route_at.pop(e.originator_id, None)
    assert any(isinstance(e, Journey.MisdirectedScanRecorded) for e in events)

    shown = {j.journey_id: j for j in facts.journeys}
    loops = 0
    for journey in world.journeys:
        row = shown.get(str(journey.id))
        on_the_road = journey.stage.value in {
            "seat_assigned", "boarded", "in_transit", "arrived"
        }
        # Past the room door and never surveyed: the survey's clock runs.
        survey_due = journey.stage.value in alerts.AT_THE_DESTINATION and (
            journey.survey_risk is None
        )
        expected_in = (on_the_road or journey.offered_to is not None
                       or journey.id in off_route_at or survey_due)
        assert (row is not None) == expected_in, journey.id
        if row is None:
            continue
        loops += 1
        assert (row.stage, row.entry_point) == (journey.stage.value, journey.entry_point)
        assert row.run_id == (None if journey.run_id is None else str(journey.run_id))
        assert row.site_id == (None if journey.site_id is None else str(journey.site_id))
        assert row.offered_to == journey.offered_to
        assert (row.offered_at is None) == (journey.offered_to is None)
        assert row.boarded_at == boarded_at.get(journey.id)
        assert row.off_route_at == off_route_at.get(journey.id)
        assert row.surveyed == (journey.survey_risk is not None)
        assert (row.checked_in_at is not None) == (journey.stage.rank >= Stage.CHECKED_IN.rank
                                                   and journey.site_id is not None)
    assert loops > 50

    runs = {r.run_id: r for r in facts.runs}
    for run in world.runs:
        if run.status == "arrived":
            assert runs[str(run.id)].waiting == len(run.on_board) > 0
        else:
            assert str(run.id) not in runs
    assert sum(r.status == "arrived" for r in world.runs) > 0
