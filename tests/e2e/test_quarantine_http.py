"""The quarantine order after the room door, through real HTTP against a real server (SQLite
and PostgreSQL): started with its test schedule, extended and shortened with who decided and
why, test results, release, and a referral to hospital that comes back into dispatch as a
transport request."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

from tests.e2e.care import DECISION, open_place, person, register, staff_of, to_room_door
from tests.e2e.client import event_count
from tests.e2e.conftest import Live
from tests.support import district_today


def _day(order: dict[str, object], days: int) -> str:
    return str(date.fromisoformat(str(order["starts_on"])) + timedelta(days=days))


def test_an_order_is_extended_shortened_and_ended_by_decisions_with_its_tests(
    live: Live,
) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    family = register(live, place, person("Q1000001", "陈一"), person("Q1000002", "陈二"))
    to_room_door(staff, place, [family], place.plates[0])
    mum, child = family

    started = staff.receiver.post(f"/api/journeys/{mum}/quarantine", {"where": "room 301"})
    assert started["stage"] == "under_quarantine"
    order = staff.receiver.get(f"/api/journeys/{mum}/quarantine")
    # The district's standard order: 14 days from today, tested on days 1, 4, 7 and 14.
    assert order["planned_end"] == _day(order, 14)
    assert [(t["day"], t["due_on"], t["recorded"]) for t in order["tests"]] == [
        (d, _day(order, d - 1), False) for d in (1, 4, 7, 14)
    ]
    assert order["legal_basis"]  # the district's default basis
    assert [c["event_type"] for c in order["changes"]] == ["QuarantineStarted"]

    extended = dict(DECISION, planned_end=_day(order, 21))
    staff.surveyor.post(f"/api/journeys/{mum}/quarantine/extension", extended)
    order = staff.surveyor.get(f"/api/journeys/{mum}/quarantine")
    assert order["planned_end"] == _day(order, 21)
    assert [t["day"] for t in order["tests"]] == [1, 4, 7, 14, 21]  # an exit test on day 21
    change = order["changes"][-1]
    assert (change["event_type"], change["previous_end"], change["planned_end"]) == (
        "QuarantineExtended", _day(order, 14), _day(order, 21)
    )
    assert (change["legal_basis"], change["decided_by"]) == (
        DECISION["legal_basis"], DECISION["decided_by"]
    )
    assert change["actor"].startswith("surveyor-") and change["added_tests"] == [21]
    # Reasons may be medical: the order's own read names the decision, not why; the reason
    # is read with the health record, and that read is logged.
    assert "reason" not in staff.receiver.get(f"/api/journeys/{mum}/quarantine")["changes"][-1]
    assert "reason" not in change
    record = staff.surveyor.get(f"/api/journeys/{mum}/health-record?purpose=quarantine_decision")
    assert record["quarantine"]["changes"][-1]["reason"] == DECISION["reason"]

    staff.commander.post(f"/api/journeys/{mum}/quarantine/shortening",
                         dict(DECISION, reason="new guidance", planned_end=_day(order, 10)))
    order = staff.commander.get(f"/api/journeys/{mum}/quarantine")
    assert [t["day"] for t in order["tests"]] == [1, 4, 7, 10]  # 14 and 21 dropped
    assert order["changes"][-1]["dropped_tests"] == [14, 21]

    # Release waits for the tests due by today (day 1 is today) and refuses a positive one.
    refused = staff.receiver.post(f"/api/journeys/{mum}/release", DECISION, expect=409)
    assert "day 1 test" in refused["detail"] and "no result" in refused["detail"]
    staff.receiver.post(f"/api/journeys/{mum}/test-results",
                        {"day": 1, "result": {"outcome": "positive", "kind": "antigen"}})
    refused = staff.receiver.post(f"/api/journeys/{mum}/release", DECISION, expect=409)
    assert "positive" in refused["detail"]
    again = staff.receiver.post(f"/api/journeys/{mum}/test-results",
                                {"day": 1, "result": {"outcome": "negative"}}, expect=409)
    assert "correct" in again["detail"]
    staff.surveyor.post(f"/api/journeys/{mum}/test-results", {
        "day": 1, "result": {"outcome": "negative", "kind": "pcr"},
        "correction_reason": "the antigen test was a false positive; PCR negative",
    })
    released = staff.receiver.post(f"/api/journeys/{mum}/release", DECISION)
    assert released["stage"] == "released"
    # The record keeps both results in order; only survey staff read them.
    record = staff.surveyor.get(f"/api/journeys/{mum}/health-record?purpose=quarantine_decision")
    assert [(r["day"], r["outcome"], bool(r["correction_reason"]))
            for r in record["test_results"]] == [(1, "positive", False), (1, "negative", True)]
    ended = record["quarantine"]["changes"][-1]
    assert ended["event_type"] == "Released" and ended["early"] is True
    assert ended["decided_by"] == DECISION["decided_by"]

    # The room stays held while the child is still in it.
    staff.commander.wait_for_views()
    rooms = {s["code"]: s for s in staff.commander.get("/api/board")["sites"].values()}
    assert rooms[place.hotel]["occupied"] == 1
    staff.receiver.post(f"/api/journeys/{child}/quarantine", {})
    staff.receiver.post(f"/api/journeys/{child}/test-results",
                        {"day": 1, "result": {"outcome": "negative"}})
    staff.receiver.post(f"/api/journeys/{child}/release", DECISION)
    staff.commander.wait_for_views()
    rooms = {s["code"]: s for s in staff.commander.get("/api/board")["sites"].values()}
    assert rooms[place.hotel]["occupied"] == 0


def test_tests_due_are_listed_for_the_hotel_until_their_results_are_in(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    journeys = register(live, place, person("T1000001", "周一")), register(
        live, place, person("T1000002", "周二"))
    ids = [j[0] for j in journeys]
    to_room_door(staff, place, [[i] for i in ids], place.plates[0])
    for journey in ids:
        staff.receiver.post(f"/api/journeys/{journey}/quarantine", {})
    staff.receiver.wait_for_views()
    due = staff.receiver.get(f"/api/quarantine/tests-due?site={place.hotel}")
    assert sorted((t["journey_id"], t["day"]) for t in due["tests"]) == sorted(
        (i, 1) for i in ids
    )
    assert {t["name_native"] for t in due["tests"]} == {"周一", "周二"}
    staff.receiver.post(f"/api/journeys/{ids[0]}/test-results",
                        {"day": 1, "result": {"outcome": "negative"}})
    staff.receiver.wait_for_views()
    due = staff.receiver.get(f"/api/quarantine/tests-due?site={place.hotel}")
    assert [(t["journey_id"], t["day"]) for t in due["tests"]] == [(ids[1], 1)]
    # Four days on, day 4 is due for both, and the missing day-1 result is overdue.
    later = str(district_today() + timedelta(days=3))
    due = staff.receiver.get(f"/api/quarantine/tests-due?site={place.hotel}&on={later}")
    assert sorted((t["journey_id"], t["day"], t["overdue"]) for t in due["tests"]) == sorted(
        [(ids[0], 4, False), (ids[1], 1, True), (ids[1], 4, False)]
    )
    staff.receiver.get("/api/quarantine/tests-due?site=NO-SUCH-SITE", expect=404)
    staff.dispatcher.get("/api/quarantine/tests-due", expect=403)


def test_a_referral_to_hospital_comes_back_into_dispatch_as_a_transport_request(
    live: Live,
) -> None:
    staff = staff_of(live)
    place = open_place(staff, vehicles=3)
    sick = register(live, place, person("H1000001", "林病"))[0]
    run = to_room_door(staff, place, [[sick]], place.plates[0])
    staff.receiver.post(f"/api/journeys/{sick}/quarantine", {})
    staff.receiver.post(f"/api/journeys/{sick}/test-results",
                        {"day": 1, "result": {"outcome": "positive"}})

    referred = staff.surveyor.post(f"/api/journeys/{sick}/hospital-referral",
                                   {"reason": "PCR positive on day 1", "urgency": "urgent"})
    assert referred["stage"] == "referred_to_hospital"
    (transfer,) = referred["transfer_ids"]
    staff.dispatcher.wait_for_views()
    console = staff.dispatcher.get("/api/dispatch")
    (request,) = [t for t in console["transfers"] if t["transfer_id"] == transfer]
    assert request["status"] == "requested" and request["urgency"] == "urgent"
    assert request["name_native"] == "林病"
    assert request["pickup"]["kind"] == "site" and request["pickup"]["code"] == place.hotel
    assert request["pickup"]["room"]
    assert "PCR" not in str(console)  # the medical reason stays on the record
    # The traveller waits in the room for the vehicle: it stays occupied until the pick-up.
    hotel = next(s for s in console["sites"] if s["code"] == place.hotel)
    assert hotel["occupied"] == 1

    # The vehicle that brought the traveller is free again; a busy one is refused.
    busy = staff.dispatcher.post(
        "/api/runs", {"plate": place.plates[1], "escort": "escort-2", "entry_point": place.entry},
        expect=201,
    )
    refused = staff.dispatcher.post(f"/api/transfers/{transfer}/vehicle",
                                    {"plate": place.plates[1]}, expect=409)
    assert "already on a trip" in refused["detail"]
    key = f"assign-{uuid4()}"
    assigned = staff.dispatcher.post(f"/api/transfers/{transfer}/vehicle",
                                     {"plate": place.plates[0]}, key=key)
    assert assigned["status"] == "vehicle_assigned" and assigned["plate"] == place.plates[0]
    assert staff.dispatcher.post(f"/api/transfers/{transfer}/vehicle",
                                 {"plate": place.plates[0]}, key=key) == assigned  # a retry
    # While on the transfer, the vehicle takes no run.
    staff.dispatcher.post("/api/runs", {"plate": place.plates[0], "escort": "e",
                                        "entry_point": place.entry}, expect=409)
    staff.escort.post(f"/api/transfers/{transfer}/delivery", {"hospital": "市八医院"},
                      expect=409)  # not picked up yet
    staff.escort.post(f"/api/transfers/{transfer}/pickup", {"where": "hotel gate"})
    staff.dispatcher.wait_for_views()
    hotel = next(s for s in staff.dispatcher.get("/api/dispatch")["sites"]
                 if s["code"] == place.hotel)
    assert (hotel["occupied"], hotel["held"]) == (0, 0)
    staff.escort.post(f"/api/transfers/{transfer}/cancellation", {"reason": "x"}, expect=403)
    delivered = staff.escort.post(f"/api/transfers/{transfer}/delivery",
                                  {"hospital": "广州市第八人民医院"})
    assert delivered["status"] == "delivered"

    staff.dispatcher.wait_for_views()
    console = staff.dispatcher.get("/api/dispatch")
    assert transfer not in {t["transfer_id"] for t in console["transfers"]}
    vehicles = {v["plate"]: v for v in console["vehicles"]}
    assert vehicles[place.plates[0]]["active_run"] is None
    assert vehicles[place.plates[1]]["active_run"] == busy["run_id"]
    timeline = staff.dispatcher.get(f"/api/journeys/{sick}/timeline")["events"]
    referral = next(e for e in timeline if e["event_type"] == "ReferredToHospital")
    assert "reason" not in referral["summary"]
    assert run


def test_transfers_can_be_cancelled_and_refuse_what_does_not_fit(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    at_desk = register(live, place, person("H2000001"))[0]
    staff.screener.post(f"/api/journeys/{at_desk}/screening", {"risk": "high", "temperature": 39.1})
    referred = staff.screener.post(f"/api/journeys/{at_desk}/hospital-referral",
                                   {"reason": "fever at the desk", "urgency": "routine"})
    (transfer,) = referred["transfer_ids"]
    listed = staff.dispatcher.get("/api/transfers")["transfers"]
    staff.dispatcher.wait_for_views()
    listed = staff.dispatcher.get("/api/transfers")["transfers"]
    (request,) = [t for t in listed if t["transfer_id"] == transfer]
    assert request["pickup"] == {"kind": "desk", "code": place.entry, "name": "白云机场 T2"}
    before = event_count(live.settings)
    for path, body, status in (
        (f"/api/transfers/{transfer}/vehicle", {"plate": "NO-SUCH-PLATE"}, 404),
        (f"/api/transfers/{transfer}/vehicle", {"plate": ""}, 422),
        (f"/api/transfers/{transfer}/cancellation", {"reason": "   "}, 422),
        (f"/api/transfers/{transfer}/pickup", {}, 409),
        (f"/api/transfers/{uuid4()}/pickup", {}, 404),
        (f"/api/journeys/{at_desk}/hospital-referral", {"reason": "again"}, 409),
    ):
        who = staff.escort if path.endswith("pickup") else staff.dispatcher
        if "referral" in path:
            who = staff.screener
        who.post(path, body, expect=status)
    assert event_count(live.settings) == before
    staff.dispatcher.post(f"/api/transfers/{transfer}/cancellation",
                          {"reason": "taken by the 120 ambulance directly"})
    staff.dispatcher.wait_for_views()
    assert transfer not in {t["transfer_id"] for t in staff.dispatcher.get("/api/transfers")[
        "transfers"]}


def test_bad_order_changes_are_refused_and_store_nothing(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    journey = register(live, place, person("B1000001"))[0]
    to_room_door(staff, place, [[journey]], place.plates[0])
    # Before the order starts, nothing of it can change.
    staff.surveyor.post(f"/api/journeys/{journey}/quarantine/extension",
                        dict(DECISION, planned_end=str(district_today() + timedelta(days=30))),
                        expect=409)
    staff.receiver.post(f"/api/journeys/{journey}/quarantine", {})
    order = staff.receiver.get(f"/api/journeys/{journey}/quarantine")
    before = event_count(live.settings)
    cases = [
        ("extension", dict(DECISION, planned_end=_day(order, 10)), 422),  # not later
        ("shortening", dict(DECISION, planned_end=_day(order, 20)), 422),  # not earlier
        ("shortening", dict(DECISION, planned_end=_day(order, -3)), 422),  # in the past
        ("extension", dict(DECISION, planned_end=_day(order, 400)), 422),  # beyond 90 days
        ("extension", {"planned_end": _day(order, 20), "reason": "r", "legal_basis": "b"},
         422),  # nobody decided
        ("extension", dict(DECISION, decided_by="  ", planned_end=_day(order, 20)), 422),
        ("extension", dict(DECISION, planned_end="next week"), 422),
    ]
    for change, body, status in cases:
        answer = staff.surveyor.post(f"/api/journeys/{journey}/quarantine/{change}", body,
                                     expect=status)
        assert answer["detail"]
    staff.receiver.post(f"/api/journeys/{journey}/quarantine/extension",
                        dict(DECISION, planned_end=_day(order, 20)), expect=403)
    for result in ({"day": 0, "result": {"outcome": "negative"}},
                   {"day": 15, "result": {"outcome": "negative"}},
                   {"day": 1, "result": {"outcome": "maybe"}},
                   {"day": 1, "result": {"outcome": "negative", "note": "bad\u202e"}},
                   {"day": 1, "result": {"outcome": "negative"}, "correction_reason": "typo"}):
        status = 409 if result.get("correction_reason") else 422
        staff.receiver.post(f"/api/journeys/{journey}/test-results", result, expect=status)
    staff.receiver.post(f"/api/journeys/{journey}/release", {"reason": "done"}, expect=422)
    assert event_count(live.settings) == before
