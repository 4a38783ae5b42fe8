"""The care side on real stores (every body on SQLite and on PostgreSQL): the survey's clock
and its alert, the views of tests, transfers, reads and daily counts against a recount of the
log, and vehicles that many dispatchers want at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain import alerts, quarantine
from domain.errors import DomainError
from domain.journey import Journey
from domain.stages import RiskLevel, Stage
from domain.transfer import OPEN_STATUSES
from projections.board_fold import local_day
from projections.care_queries import read_access_log, read_transfers
from projections.projector import Projector
from projections.queries import read_alert_facts, read_alerts, read_board, snapshot
from projections.surveying import survey_worklist
from projections.synthetic import seed
from tests.support import ctx, person, seed_line
from tracking import transfers
from tracking.alerts import AlertMonitor
from tracking.services import Services, migrate, open_services
from tracking.settings import Settings

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def projector(store_settings: Settings, services: Services) -> Iterator[Projector]:
    p = Projector(store_settings)
    yield p
    p.close()


def checked_in(services: Services, number: str) -> UUID:
    """A traveller through the room door, by the application's own commands."""
    app = services.app
    line = seed_line(app, rooms=["101"])
    journey = UUID(app.register_travellers(line.entry_point, [person(number)],
                                           ctx(role="traveller"))["journey_ids"][0])
    app.screen(journey, RiskLevel.MEDIUM, 36.8, False, True, ctx())
    run = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    app.dispatch(journey, ctx(role="dispatcher"), site_code=line.hotel, run_id=run)
    app.scan_boarding(journey, run, "car-1", ctx(role="escort"))
    app.depart_run(run, ctx(role="escort"))
    app.arrive_run(run, ctx(role="escort"))
    app.scan_check_in(journey, line.hotel, "door-1", ctx(role="receiver"))
    return journey


def test_a_survey_not_done_within_its_sla_is_red_on_the_worklist_and_an_alert(
    services: Services, projector: Projector
) -> None:
    app, store = services.app, services.store
    journey = checked_in(services, "S1000001")
    projector.run_once()
    now = datetime.now(UTC)
    sla = services.settings.survey_sla_hours
    listed = survey_worklist(app, store, now, sla)["journeys"]
    (item,) = [j for j in listed if j["journey_id"] == str(journey)]
    assert item["overdue"] is False and item["minutes_left"] > 23 * 60
    late = survey_worklist(app, store, now + timedelta(hours=sla, minutes=30), sla)
    (item,) = [j for j in late["journeys"] if j["journey_id"] == str(journey)]
    assert item["overdue"] is True and -31 <= item["minutes_left"] <= -29
    assert late["overdue"] == 1

    watch = AlertMonitor(app, lambda: read_alert_facts(store), services.settings)
    assert watch.sweep(now + timedelta(hours=sla - 1)).raised == []
    (raised,) = watch.sweep(now + timedelta(hours=sla, minutes=1)).raised
    projector.run_once()
    (alert,) = read_alerts(store)
    assert (alert["kind"], alert["journey_id"]) == (alerts.SURVEY_OVERDUE, str(journey))
    assert alert["message"] == f"Checked in but not surveyed within {sla} hours"
    assert read_board(store)["alert_counts"][alerts.SURVEY_OVERDUE] == 1

    app.record_survey(journey, RiskLevel.LOW, {"risk_reason": "well"}, ctx(role="surveyor"))
    projector.run_once()
    assert [c for c in watch.sweep(now + timedelta(hours=sla, minutes=2)).cleared] == [raised]
    projector.run_once()
    assert read_alerts(store) == []
    cleared = read_alerts(store, open_only=False)[0]
    assert cleared["reason"] == "surveyed"
    assert str(journey) not in {
        j["journey_id"] for j in survey_worklist(app, store, now, sla)["journeys"]
    }
    # The day's counts hold the breach and the survey.
    day = local_day(now.isoformat())
    with snapshot(store) as cur:
        cur.execute("SELECT metric, n FROM daily_counts WHERE day = ? AND dimension = 'all'",
                    (day,))
        counts = dict(cur.fetchall())
    assert counts[f"alerts_raised:{alerts.SURVEY_OVERDUE}"] == 1
    assert counts["surveyed"] == 1 and counts["checked_in"] == 1


def test_the_care_views_equal_a_recount_of_the_log(
    store_settings: Settings,
) -> None:
    world = seed(store_settings, 6000, batch=1)
    migrate(store_settings)
    services = open_services(store_settings)
    projector = Projector(store_settings, page_size=400)
    try:
        projector.run_once()
        store = services.store
        # Tests: one row per scheduled day of each order, recorded ones marked.
        expected_tests = {
            (str(j.id), day): int(sealed is not None)
            for j in world.journeys if j.quarantine_starts_on is not None
            for day, sealed in j.tests.items()
        }
        with snapshot(store) as cur:
            cur.execute("SELECT journey_id, day, due_on, recorded FROM quarantine_tests")
            rows = cur.fetchall()
        shown = {(str(j), int(d)): int(r) for j, d, _, r in rows}
        assert shown == expected_tests and len(expected_tests) > 100
        starts = {str(j.id): j.quarantine_starts_on for j in world.journeys}
        for j, d, due, _ in rows:
            start = starts[str(j)]
            assert start is not None and due == quarantine.due_on(start, int(d)).isoformat()
        # Transfers: the open ones are listed, the cancelled ones are not.
        open_ids = {str(t.id) for t in world.transfers if t.status in OPEN_STATUSES}
        listed = {t["transfer_id"] for t in read_transfers(store)["transfers"]}
        assert listed == open_ids and world.transfers
        every = read_transfers(store, open_only=False)["transfers"]
        assert Counter(t["status"] for t in every) == Counter(t.status for t in world.transfers)
        # Reads of health data: each one in its traveller's access log.
        reads = Counter(str(a.journey_id) for a in world.accesses)
        assert reads
        for journey_id, n in reads.items():
            log = read_access_log(store, journey_id)
            assert len(log) == n and {r["purpose"] for r in log} == {"survey"}
        # Daily counts: per metric, the total over the days equals a recount.
        with snapshot(store) as cur:
            cur.execute("SELECT metric, sum(n) FROM daily_counts WHERE dimension = 'all' "
                        "GROUP BY metric")
            totals = {m: int(n) for m, n in cur.fetchall()}
        journeys = world.journeys
        assert totals["registered"] == len(journeys)
        assert totals["released"] == sum(j.stage is Stage.RELEASED for j in journeys)
        assert totals["referred_to_hospital"] == sum(
            j.stage is Stage.REFERRED_TO_HOSPITAL for j in journeys)
        assert totals["surveyed"] == sum(j.survey_risk is not None for j in journeys)
        assert totals["quarantine_started"] == sum(
            j.quarantine_starts_on is not None for j in journeys)
        assert totals["transfers_requested"] == len(world.transfers)
        assert totals["transfers_cancelled"] == sum(t.status == "cancelled"
                                                    for t in world.transfers)
    finally:
        projector.close()
        services.close()


def test_many_dispatchers_race_for_one_vehicle_and_one_wins(services: Services) -> None:
    """Eight hospital transfers and two runs want the same free vehicle at the same moment:
    it takes exactly one trip, the others are told it is busy."""
    app = services.app
    line = seed_line(app)
    sick = []
    for i in range(8):
        journey = UUID(app.register_travellers(line.entry_point, [person(f"R{i:07d}")],
                                               ctx(role="traveller"))["journey_ids"][0])
        answer = app.refer_to_hospital(journey, "fever", ctx())
        sick.append(UUID(answer["transfer_ids"][0]))
    barrier = threading.Barrier(10)
    won: list[str] = []
    lost: list[str] = []

    def assign(transfer_id: UUID) -> None:
        barrier.wait()
        try:
            transfers.assign_vehicle(app, transfer_id, line.plate, ctx(role="dispatcher"))
            won.append(str(transfer_id))
        except DomainError as e:
            lost.append(str(e))

    def plan() -> None:
        barrier.wait()
        try:
            run = app.plan_run(line.plate, "escort-9", line.entry_point)
            won.append(run["run_id"])
        except DomainError as e:
            lost.append(str(e))

    threads = [threading.Thread(target=assign, args=(t,)) for t in sick]
    threads += [threading.Thread(target=plan) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(won) == 1 and len(lost) == 9, (won, lost)
    assert all("already on a trip" in message for message in lost)
    vehicle = app.vehicle(line.plate)
    assert str(vehicle.active_run) == won[0]
    holders = [t for t in sick if app.transfer(t).plate == line.plate]
    assert len(holders) <= 1


def test_a_referral_after_the_room_door_asks_for_a_pickup_at_the_room(
    services: Services, projector: Projector
) -> None:
    app = services.app
    journey = checked_in(services, "P1000001")
    app.start_quarantine(journey, None, ctx(role="receiver"))
    answer = app.refer_to_hospital(journey, "PCR positive", ctx(role="surveyor"),
                                   urgency="urgent")
    (transfer_id,) = answer["transfer_ids"]
    transfer = app.transfer(UUID(transfer_id))
    stored = app.journey(journey)
    assert stored.stage is Stage.REFERRED_TO_HOSPITAL
    assert transfer.pickup == f"site:{stored.site_id}" and transfer.room == stored.room
    assert transfer.journey_id == journey and transfer.urgency == "urgent"
    events = list(app.events.get(journey))
    assert isinstance(events[-1], Journey.ReferredToHospital)
    projector.run_once()
    (listed,) = read_transfers(services.store)["transfers"]
    assert listed["pickup"] == transfer.pickup and listed["status"] == "requested"
