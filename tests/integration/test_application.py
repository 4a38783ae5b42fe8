"""Application commands on a real store; every body runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from domain.context import Context
from domain.errors import CapacityExhausted, RuleBroken
from domain.journey import Journey
from domain.stages import DestinationKind, RiskLevel
from tests.support import ctx, person, seed_line
from tracking.application import TrackingApp
from tracking.errors import IdempotencyKeyReused, StoreUnavailable
from tracking.services import Services, open_services
from tracking.settings import Settings
from tracking.unit_of_work import Idempotency


def all_events(app: TrackingApp) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=10**7)
    return [app.mapper.to_domain_event(n) for n in notifications]


def registered(app: TrackingApp) -> list[Journey.Registered]:
    return [e for e in all_events(app) if isinstance(e, Journey.Registered)]


def in_parallel(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work` n times at once (released together by a barrier); exceptions are results."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as e:
            return e

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_same_document_twice_reaches_the_same_journey_and_amends(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    first = app.register_travellers(line.entry_point, [person("P1234567", name="Li Lei")], ctx())
    again = app.register_travellers(
        line.entry_point, [person(" p 123 4567 ", name="Li Lei", phone="+8613800138001")], ctx()
    )
    assert again["journey_ids"] == first["journey_ids"]
    assert again["already_registered"] is True
    assert again["changed_fields"] == ["phone"]
    assert len(registered(app)) == 1
    amended = [e for e in all_events(app) if isinstance(e, Journey.Amended)]
    assert [e.changed_fields for e in amended] == [["phone"]]
    journey = app.journey(UUID(first["journey_ids"][0]))
    assert app.personal_details(journey)["phone"] == "+8613800138001"


def test_unchanged_resubmission_records_nothing(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    app.register_travellers(line.entry_point, [person("P7654321")], ctx())
    before = app.recorder.max_notification_id()
    again = app.register_travellers(line.entry_point, [person("P7654321")], ctx())
    assert again["already_registered"] is True and again["changed_fields"] == []
    assert app.recorder.max_notification_id() == before


def test_concurrent_registrations_of_one_document_yield_one_journey(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    answers = in_parallel(
        8, lambda i: app.register_travellers(line.entry_point, [person("E99887766")], ctx())
    )
    assert all(isinstance(a, dict) for a in answers), answers
    assert len({tuple(a["journey_ids"]) for a in answers}) == 1
    assert len(registered(app)) == 1


def test_next_trip_after_release_is_a_new_journey(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    first = app.register_travellers(line.entry_point, [person("G1122334")], ctx())
    journey_id = UUID(first["journey_ids"][0])
    app.cancel(journey_id, "flight diverted", ctx())
    second = app.register_travellers(line.entry_point, [person("G1122334")], ctx())
    assert second["journey_ids"] != first["journey_ids"]
    assert second["already_registered"] is False


def test_a_repeated_idempotency_key_gives_one_effect_and_the_first_answer(
    store_settings: Settings, services: Services
) -> None:
    app = services.app
    line = seed_line(app)
    key = Idempotency(key=f"k-{uuid4()}", fingerprint="register P5550001")
    first = app.register_travellers(line.entry_point, [person("P5550001")], ctx(), key)
    repeat = app.register_travellers(line.entry_point, [person("P5550001")], ctx(), key)
    assert repeat == first
    head = app.recorder.max_notification_id()
    services.close()

    # Across a restart, too: the receipt is stored with the command's events.
    restarted = open_services(store_settings)
    try:
        again = restarted.app.register_travellers(
            line.entry_point, [person("P5550001")], ctx(), key
        )
        assert again == first
        assert restarted.app.recorder.max_notification_id() == head
    finally:
        restarted.close()


def test_concurrent_requests_with_one_idempotency_key_have_one_effect(
    services: Services,
) -> None:
    app = services.app
    line = seed_line(app)
    journey_id = UUID(
        app.register_travellers(line.entry_point, [person("P5550002")], ctx())["journey_ids"][0]
    )
    key = Idempotency(key=f"k-{uuid4()}", fingerprint="screen")
    answers = in_parallel(
        6,
        lambda i: app.screen(journey_id, RiskLevel.LOW, 36.5, False, False, ctx(), key),
    )
    assert all(a == answers[0] for a in answers), answers
    screened = [e for e in all_events(app) if isinstance(e, Journey.Screened)]
    assert len(screened) == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    app.register_travellers(
        line.entry_point, [person("P5550003")], ctx(), Idempotency("same-key", "request A")
    )
    with pytest.raises(IdempotencyKeyReused):
        app.register_travellers(
            line.entry_point, [person("P5550004")], ctx(), Idempotency("same-key", "request B")
        )
    assert len(registered(app)) == 1


def _screened_traveller(app: TrackingApp, entry_point: str, number: str) -> UUID:
    answer = app.register_travellers(entry_point, [person(number)], ctx())
    journey_id = UUID(answer["journey_ids"][0])
    app.screen(journey_id, RiskLevel.LOW, None, False, False, ctx())
    return journey_id


def test_the_last_room_goes_to_exactly_one_party(services: Services) -> None:
    app = services.app
    line = seed_line(app, rooms=["101"])
    travellers = [_screened_traveller(app, line.entry_point, f"R{i:07d}") for i in range(8)]
    answers = in_parallel(8, lambda i: app.assign_destination(travellers[i], line.hotel, ctx()))
    winners = [a for a in answers if isinstance(a, dict)]
    assert len(winners) == 1, answers
    assert all(isinstance(a, CapacityExhausted) for a in answers if a not in winners)
    site = app.site(line.hotel)
    assert site.counts == {"free": 0, "held": 1, "occupied": 0}


def test_the_last_seat_goes_to_exactly_one_traveller(services: Services) -> None:
    app = services.app
    line = seed_line(app, seats=1)
    travellers = [_screened_traveller(app, line.entry_point, f"S{i:07d}") for i in range(6)]
    for traveller in travellers:
        app.assign_destination(traveller, line.street, ctx())
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    answers = in_parallel(6, lambda i: app.assign_seats(travellers[i], run_id, ctx()))
    winners = [a for a in answers if isinstance(a, dict)]
    assert len(winners) == 1, answers
    assert all(isinstance(a, CapacityExhausted) for a in answers if a not in winners)
    assert len(app.run(run_id).seat_of) == 1


def test_a_family_gets_one_room_and_seats_together_or_not_at_all(services: Services) -> None:
    app = services.app
    line = seed_line(app, rooms=["201", "202"], seats=2)
    family = app.register_travellers(
        line.entry_point, [person("F0000001"), person("F0000002"), person("F0000003")], ctx()
    )
    members = [UUID(j) for j in family["journey_ids"]]
    for member in members:
        app.screen(member, RiskLevel.LOW, None, False, False, ctx())
    answer = app.assign_destination(members[1], line.hotel, ctx())
    assert sorted(answer["journey_ids"]) == sorted(str(m) for m in members)
    assert {app.journey(m).room for m in members} == {"201"}
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    with pytest.raises(CapacityExhausted):
        app.assign_seats(members[0], run_id, ctx())
    assert app.run(run_id).seat_of == {}


def test_a_commit_whose_reply_was_lost_is_not_reported_as_a_conflict(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library retries a lost connection; the retry then sees its own duplicate key."""
    app = services.app
    line = seed_line(app)
    insert = app.recorder.insert_events

    def commit_then_report_duplicate(*args: Any, **kwargs: Any) -> Any:
        insert(*args, **kwargs)
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(app.recorder, "insert_events", commit_then_report_duplicate)
    answer = app.register_travellers(line.entry_point, [person("P8880001")], ctx())
    monkeypatch.undo()
    assert answer["already_registered"] is False
    assert len(registered(app)) == 1


def test_a_commit_that_landed_before_the_connection_broke_is_reported_done(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = services.app
    line = seed_line(app)
    journey_id = _screened_traveller(app, line.entry_point, "P8880002")
    insert = app.recorder.insert_events

    def commit_then_lose_connection(*args: Any, **kwargs: Any) -> Any:
        insert(*args, **kwargs)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(app.recorder, "insert_events", commit_then_lose_connection)
    answer = app.assign_destination(journey_id, line.hotel, ctx())
    assert answer["stage"] == "destination_assigned"

    def lose_connection_before_commit(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(app.recorder, "insert_events", lose_connection_before_commit)
    with pytest.raises(StoreUnavailable):
        app.withdraw_destination(journey_id, "wrong hotel", ctx())
    monkeypatch.undo()
    assert app.journey(journey_id).stage.value == "destination_assigned"


def test_misdirected_boarding_is_recorded_and_not_accepted(services: Services) -> None:
    app = services.app
    line = seed_line(app, extra_vehicle=True)
    journey_id = _screened_traveller(app, line.entry_point, "M1000001")
    app.assign_destination(journey_id, line.street, ctx())
    planned = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    other = UUID(app.plan_run(line.other_plate, "escort-2", line.entry_point)["run_id"])
    app.assign_seats(journey_id, planned, ctx())
    answer = app.scan_boarding(journey_id, other, "scan-0001", ctx())
    assert answer["outcome"] == "misdirected"
    journey = app.journey(journey_id)
    assert journey.stage.value == "seat_assigned"
    assert journey.custodian == f"desk:{line.entry_point}"
    assert app.run(other).boarded == set()
    repeat = app.scan_boarding(journey_id, other, "scan-0001", ctx())
    assert repeat["outcome"] == "duplicate"
    with pytest.raises(RuleBroken):
        app.depart_run(other, ctx())


def test_context_is_stored_with_each_event(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    device_ctx: Context = ctx(actor="screener-7", where="T2 desk 4")
    journey_id = UUID(
        app.register_travellers(line.entry_point, [person("C1000001")], ctx())["journey_ids"][0]
    )
    app.screen(journey_id, RiskLevel.HIGH, 38.2, True, True, device_ctx)
    screened = next(e for e in all_events(app) if isinstance(e, Journey.Screened))
    assert screened.ctx == device_ctx
    assert screened.risk == "high" and screened.custodian == f"desk:{line.entry_point}"
    # Health findings are stored only sealed with the traveller's key.
    assert services.vault.open(journey_id, screened.health) == {
        "temperature": 38.2,
        "symptomatic": True,
        "sample_taken": True,
    }
    raw = [
        n.state
        for n in app.recorder.select_notifications(1, 10**6)
        if n.topic.endswith("Journey.Screened")
    ]
    assert raw and all(b"38.2" not in state and b"symptomatic" not in state for state in raw)
    site_kind = app.site(line.street).kind
    assert site_kind is DestinationKind.HOME
