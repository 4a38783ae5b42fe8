"""The dispatcher's commands and reads on a real store (SQLite and PostgreSQL): one decision
records a destination and seats together or nothing; a party moves between runs with its
reason; a burst of assignments to one hotel all land; suggestions read live capacity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.dispatch import Policy
from domain.errors import CapacityExhausted, RuleBroken
from domain.journey import Journey
from domain.stages import RiskLevel
from domain.transport import TransportRun
from projections.dispatching import dispatch_snapshot, suggestion_for
from projections.projector import Projector
from tests.integration.test_application import all_events, in_parallel
from tests.support import ctx, person, seed_line
from tracking.application import TrackingApp
from tracking.services import Services


def _screened_party(
    app: TrackingApp, entry_point: str, numbers: list[str], risk: RiskLevel = RiskLevel.LOW,
    street: str = "",
) -> list[UUID]:
    people = [person(n, name=f"旅客{n[-3:]}") for n in numbers]
    for p in people:
        if street:
            p.details.update(destination_street=street, destination_address="1 Test Road")
    answer = app.register_travellers(entry_point, people, ctx())
    members = [UUID(j) for j in answer["journey_ids"]]
    for member in members:
        app.screen(member, risk, None, False, False, ctx())
    return members


def _dispatcher() -> Any:
    return ctx("dispatcher-1", "dispatcher")


def test_dispatch_records_destination_and_seats_together(services: Services) -> None:
    app = services.app
    line = seed_line(app, rooms=["301", "302"], seats=4)
    family = _screened_party(app, line.entry_point, ["D0000001", "D0000002", "D0000003"])
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    answer = app.dispatch(family[0], _dispatcher(), line.hotel, "", run_id)
    assert answer["room"] == "301" and answer["stage"] == "seat_assigned"
    assert sorted(answer["seats"].values()) == [1, 2, 3]
    for member in family:
        journey = app.journey(member)
        assert (journey.room, journey.run_id, journey.offered_to) == (
            "301", run_id, f"escort:{run_id}"
        )


def test_dispatch_that_cannot_seat_the_party_holds_no_room(services: Services) -> None:
    app = services.app
    line = seed_line(app, rooms=["301"], seats=2)
    family = _screened_party(app, line.entry_point, ["E0000001", "E0000002", "E0000003"])
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    before = len(all_events(app))
    with pytest.raises(CapacityExhausted):
        app.dispatch(family[0], _dispatcher(), line.hotel, "", run_id)
    assert len(all_events(app)) == before
    assert app.site(line.hotel).free_rooms() == ["301"]
    assert all(app.journey(m).stage.value == "screened" for m in family)


def test_dispatch_refuses_a_second_destination_and_an_empty_decision(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    (traveller,) = _screened_party(app, line.entry_point, ["G0000001"])
    app.dispatch(traveller, _dispatcher(), line.street)
    with pytest.raises(RuleBroken, match="withdraw"):
        app.dispatch(traveller, _dispatcher(), line.hotel)
    with pytest.raises(Exception, match="choose a destination"):
        app.dispatch(traveller, _dispatcher())
    # Naming the destination it already has, with a run, only seats it.
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    answer = app.dispatch(traveller, _dispatcher(), line.street, "", run_id)
    assert answer["stage"] == "seat_assigned"


def test_reassigning_moves_the_whole_party_with_its_reason(services: Services) -> None:
    app = services.app
    line = seed_line(app, seats=4, extra_vehicle=True)
    family = _screened_party(app, line.entry_point, ["K0000001", "K0000002"])
    first = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    second = UUID(app.plan_run(line.other_plate, "escort-2", line.entry_point)["run_id"])
    app.dispatch(family[0], _dispatcher(), line.street, "", first)
    answer = app.reassign_seats(family[1], second, "vehicle broke down", _dispatcher())
    assert answer["run_id"] == str(second)
    assert app.run(first).seat_of == {}
    assert set(app.run(second).seat_of) == set(family)
    for member in family:
        journey = app.journey(member)
        assert (journey.run_id, journey.offered_to) == (second, f"escort:{second}")
    events = all_events(app)
    withdrawn = [e for e in events if isinstance(e, Journey.SeatWithdrawn)]
    assert {e.reason for e in withdrawn} == {"vehicle broke down"}
    released = [e for e in events if isinstance(e, TransportRun.SeatReleased)]
    assert len(released) == 2
    with pytest.raises(RuleBroken, match="already on this run"):
        app.reassign_seats(family[0], second, "again", _dispatcher())


def test_reassigning_to_a_full_run_changes_nothing(services: Services) -> None:
    app = services.app
    line = seed_line(app, seats=1, extra_vehicle=True)
    (a,) = _screened_party(app, line.entry_point, ["M0000001"])
    (b,) = _screened_party(app, line.entry_point, ["M0000002"])
    first = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    second = UUID(app.plan_run(line.other_plate, "escort-2", line.entry_point)["run_id"])
    app.dispatch(a, _dispatcher(), line.street, "", first)
    app.dispatch(b, _dispatcher(), line.street, "", second)
    before = len(all_events(app))
    with pytest.raises(CapacityExhausted):
        app.reassign_seats(a, second, "swap", _dispatcher())
    assert len(all_events(app)) == before
    assert app.journey(a).run_id == first


def test_a_burst_of_assignments_to_one_hotel_all_land(services: Services) -> None:
    """Every room lives in the hotel's one Site aggregate: 48 dispatchers at once used to run
    out of conflict retries; they now queue per hotel and every one of them gets a room."""
    app = services.app
    line = seed_line(app, rooms=[str(400 + i) for i in range(48)])
    travellers = [
        _screened_party(app, line.entry_point, [f"B{i:07d}"])[0] for i in range(48)
    ]
    answers = in_parallel(48, lambda i: app.dispatch(travellers[i], _dispatcher(), line.hotel))
    assert all(isinstance(a, dict) for a in answers), answers
    assert sorted(a["room"] for a in answers) == [str(400 + i) for i in range(48)]
    assert app.site(line.hotel).free_rooms() == []


def test_queue_and_suggestions_read_live_capacity(services: Services) -> None:
    app = services.app
    line = seed_line(app, rooms=["501", "502"], seats=6, extra_vehicle=True)
    family = _screened_party(app, line.entry_point, ["Q0000001", "Q0000002"])
    (home,) = _screened_party(app, line.entry_point, ["Q0000003"], street=line.street)
    (risky,) = _screened_party(app, line.entry_point, ["Q0000004"], risk=RiskLevel.HIGH,
                               street=line.street)
    run_id = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    projector = Projector(services.settings)
    try:
        projector.run_once()
        now = datetime.now(UTC) + timedelta(minutes=7)
        snapshot = dispatch_snapshot(app, services.store, now)
        (group,) = [g for g in snapshot["queue"] if g["entry_point"] == line.entry_point]
        parties = {p["party_id"]: p for p in group["parties"]}
        lead = parties[str(app.journey(family[0]).party_id)]
        assert lead["size"] == 2 and lead["waiting_minutes"] >= 7
        assert {m["name_native"] for m in lead["members"]} == {"旅客001", "旅客002"}
        assert parties[str(risky)]["risk"] == "high"

        advice = suggestion_for(app, services.store, home, Policy())
        assert advice["site"]["code"] == line.street
        assert advice["run"]["run_id"] == str(run_id)
        advice = suggestion_for(app, services.store, risky, Policy())
        assert advice["site"]["code"] == line.hotel  # high risk never goes home
        assert "home_not_allowed_for_risk" in [r["code"] for r in advice["reasons"]]

        # The family takes the run; the high-risk traveller may not share it.
        app.dispatch(family[0], _dispatcher(), line.hotel, "", run_id)
        projector.run_once()
        advice = suggestion_for(app, services.store, risky, Policy())
        assert advice["run"] is None
        assert advice["new_run"] == {"plate": line.other_plate, "seats": 6}
        snapshot = dispatch_snapshot(app, services.store, now)
        (group,) = [g for g in snapshot["queue"] if g["entry_point"] == line.entry_point]
        assert str(app.journey(family[0]).party_id) not in {p["party_id"] for p in group["parties"]}
        (hotel,) = [s for s in snapshot["sites"] if s["code"] == line.hotel]
        assert (hotel["held"], hotel["free"]) == (1, 1)
        (run,) = [r for r in snapshot["runs"] if r["run_id"] == str(run_id)]
        assert (run["seated"], run["free"]) == (2, 4)
    finally:
        projector.close()


def test_an_off_route_scan_never_boards_a_traveller_moved_here_meanwhile(
    services: Services,
) -> None:
    """The escort of run B was told to stop a traveller of run A; the phone queued the scan
    to record it. If the dispatcher moves the traveller to B before it arrives, the record is
    refused rather than silently boarding someone the escort turned away."""
    app = services.app
    line = seed_line(app, seats=4, extra_vehicle=True)
    (traveller,) = _screened_party(app, line.entry_point, ["O0000001"])
    run_a = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    run_b = UUID(app.plan_run(line.other_plate, "escort-2", line.entry_point)["run_id"])
    app.dispatch(traveller, _dispatcher(), line.street, "", run_a)
    escort = ctx("escort-2", "escort")
    answer = app.scan_boarding(traveller, run_b, "scan-0001", escort, off_route_only=True)
    assert answer["outcome"] == "misdirected"
    app.reassign_seats(traveller, run_b, "moved to the other vehicle", _dispatcher())
    before = len(all_events(app))
    with pytest.raises(RuleBroken, match="no longer off"):
        app.scan_boarding(traveller, run_b, "scan-0002", escort, off_route_only=True)
    assert len(all_events(app)) == before
    assert app.journey(traveller).stage.value == "seat_assigned"
    answer = app.scan_boarding(traveller, run_b, "scan-0003", escort)
    assert answer["outcome"] == "accepted"


def test_high_risk_travellers_never_share_a_vehicle_with_others(services: Services) -> None:
    app = services.app
    line = seed_line(app, seats=6, extra_vehicle=True)
    (low,) = _screened_party(app, line.entry_point, ["X0000001"])
    (high,) = _screened_party(app, line.entry_point, ["X0000002"], risk=RiskLevel.HIGH)
    (high_too,) = _screened_party(app, line.entry_point, ["X0000003"], risk=RiskLevel.HIGH)
    (low_too,) = _screened_party(app, line.entry_point, ["X0000004"])
    shared = UUID(app.plan_run(line.plate, "escort-1", line.entry_point)["run_id"])
    alone = UUID(app.plan_run(line.other_plate, "escort-2", line.entry_point)["run_id"])
    app.dispatch(low, _dispatcher(), line.street, "", shared)
    before = len(all_events(app))
    with pytest.raises(RuleBroken, match="high-risk travellers do not share"):
        app.dispatch(high, _dispatcher(), line.hotel, "", shared)
    assert len(all_events(app)) == before
    assert app.site(line.hotel).free_rooms() == ["101", "102"]  # no room held either
    app.dispatch(high, _dispatcher(), line.hotel, "", alone)
    app.dispatch(high_too, _dispatcher(), line.hotel, "", alone)  # high with high: allowed
    with pytest.raises(RuleBroken, match="high-risk travellers do not share"):
        app.dispatch(low_too, _dispatcher(), line.street, "", alone)
    with pytest.raises(RuleBroken, match="high-risk travellers do not share"):
        app.reassign_seats(low, alone, "fill the vehicle", _dispatcher())
    assert set(app.run(alone).seat_of) == {high, high_too}
