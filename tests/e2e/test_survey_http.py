"""The survey (流调) on the traveller's record, through real HTTP against a real server on
SQLite and PostgreSQL: the worklist and its clock, the survey, derived contacts, and who may
read survey answers and health data (every read of them logged first)."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from io import BytesIO

from pypdf import PdfReader

from tests.e2e.care import open_place, person, register, staff_of, survey_answers, to_room_door
from tests.e2e.client import Api, event_count
from tests.e2e.conftest import Live
from tests.e2e.faults import refuse_inserts
from tests.support import district_today

SENTINEL_CONTACT = "Zebedee Quasimodo-Sentinel"
SENTINEL_REASON = "visited the sentinel wet market"


def _worklist_ids(api: Api) -> list[str]:
    api.wait_for_views()
    return [j["journey_id"] for j in api.get("/api/survey/worklist")["journeys"]]


def test_a_survey_from_the_worklist_to_the_record_with_derived_contacts(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    # A family seated 23C/23D, a stranger two rows behind on the same flight, another on the
    # same flight far away, and one on another flight who shares the family's vehicle.
    family = register(
        live, place, person("C1000001", "王大明", flight="CZ 3100", flight_seat="23C"),
        person("C1000002", "王小明", flight="cz3100", flight_seat="23D"),
    )
    behind = register(live, place, person("C1000003", "李四", flight="CZ3100", flight_seat="25A"))
    far = register(live, place, person("C1000004", "赵五", flight="CZ-3100", flight_seat="41K"))
    vehicle_only = register(live, place, person("C1000005", "钱六", flight="MU5101"))
    run = to_room_door(staff, place, [family, vehicle_only], place.plates[0])
    to_room_door(staff, place, [behind, far], place.plates[1])

    staff.surveyor.wait_for_views()
    worklist = staff.surveyor.get("/api/survey/worklist")
    mine = {j["journey_id"]: j for j in worklist["journeys"]}
    lead = mine[family[0]]
    assert lead["stage"] == "checked_in" and lead["name_native"] == "王大明"
    assert lead["destination"]["code"] == place.hotel and lead["room"]
    # The clock runs from the room door: 24 h by default, nearly all of it left.
    checked_in = datetime.fromisoformat(lead["checked_in_at"])
    assert datetime.fromisoformat(lead["deadline"]) == checked_in + timedelta(hours=24)
    assert 23 * 60 <= lead["minutes_left"] <= 24 * 60 and lead["overdue"] is False
    assert worklist["sla_hours"] == 24

    contacts = staff.surveyor.get(f"/api/journeys/{family[0]}/contacts?purpose=contact_tracing")
    relations = {c["journey_id"]: set(c["relations"]) for c in contacts["contacts"]}
    assert relations == {
        family[1]: {"party", "vehicle", "flight", "nearby_seats"},
        vehicle_only[0]: {"vehicle"},
        behind[0]: {"flight", "nearby_seats"},
        far[0]: {"flight"},
    }
    names = {c["journey_id"]: c["name_native"] for c in contacts["contacts"]}
    assert names[behind[0]] == "李四"
    assert contacts["contacts"][0]["journey_id"] == family[1]  # the party first

    answers = survey_answers(
        close_contacts=[{"name": SENTINEL_CONTACT, "relation": "friend", "phone": "+44 7911 123456",
                         "last_contact_on": str(district_today() - timedelta(days=3))}],
        symptoms=["cough", "fever"], symptom_onset_on=str(district_today() - timedelta(days=1)),
        tests_so_far=[{"taken_on": str(district_today() - timedelta(days=2)), "kind": "pcr",
                       "outcome": "negative", "where": "Heathrow"}],
        risk_reason=SENTINEL_REASON,
    )
    recorded = staff.surveyor.post(f"/api/journeys/{family[0]}/survey",
                                   {"risk": "medium", "answers": answers, "where": "room 301"})
    assert recorded["stage"] == "checked_in"
    assert family[0] not in _worklist_ids(staff.surveyor)
    assert family[1] in _worklist_ids(staff.surveyor)

    record = staff.surveyor.get(f"/api/journeys/{family[0]}/health-record?purpose=survey")
    latest = record["latest_survey"]
    assert latest["risk"] == "medium" and latest["actor"].startswith("surveyor-")
    assert latest["answers"]["close_contacts"][0]["name"] == SENTINEL_CONTACT
    assert latest["answers"]["close_contacts"][0]["phone"] == "+447911123456"  # E.164
    assert latest["answers"]["symptoms"] == ["cough", "fever"]
    assert latest["answers"]["risk_reason"] == SENTINEL_REASON
    assert record["screening"]["temperature"] == 36.7
    assert record["declaration"]["flight"] == "CZ 3100"
    assert record["survey_risk"] == "medium"

    # The board counts the survey: the backlog shrank and the survey's leg was timed.
    board = staff.commander.get("/api/board")
    cells = next(iter(board["timings"].values()))
    assert cells["to_survey|all|"]["n"] >= 1
    assert cells[f"to_survey|entry_point|{place.entry}"]["n"] == 1
    assert run


def test_survey_answers_and_health_data_are_for_survey_staff_and_commanders_only(
    live: Live,
) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    journey = register(live, place, person("D1000001", flight="CA937"))[0]
    run = to_room_door(staff, place, [[journey]], place.plates[0])
    staff.surveyor.post(f"/api/journeys/{journey}/survey", {
        "risk": "high",
        "answers": survey_answers(close_contacts=[{"name": SENTINEL_CONTACT}],
                                  risk_reason=SENTINEL_REASON),
    })
    staff.receiver.post(f"/api/journeys/{journey}/quarantine", {})
    staff.receiver.post(f"/api/journeys/{journey}/test-results",
                        {"day": 1, "result": {"outcome": "negative", "note": SENTINEL_REASON}})
    staff.commander.wait_for_views()

    reads = [
        f"/api/journeys/{journey}/health-record?purpose=survey",
        f"/api/journeys/{journey}/contacts?purpose=contact_tracing",
        "/api/survey/worklist",
    ]
    for who in (staff.dispatcher, staff.screener, staff.escort, staff.receiver, staff.admin):
        for path in reads:
            refused = who.get(path, expect=403)
            assert "surveyor" in refused["detail"]
    # Nothing a dispatcher can read holds any of it.
    seen = [
        staff.dispatcher.get(path) for path in (
            "/api/dispatch", "/api/board", f"/api/journeys/{journey}",
            f"/api/journeys/{journey}/timeline", "/api/transfers", "/api/alerts",
        )
    ]
    text = json.dumps(seen, ensure_ascii=False)
    # ... nor what they can export: the desk's list, the run's manifest, the door labels.
    desk_list = staff.dispatcher.http.get(f"/api/entry-points/{place.entry}/arrivals.csv").text
    assert "测试 旅客" in desk_list  # the export holds the traveller, but nothing of the survey
    text += desk_list
    for paper in (f"/api/runs/{run}/manifest.pdf", f"/api/sites/{place.hotel}/door-labels.pdf"):
        pdf = staff.dispatcher.http.get(paper)
        assert pdf.status_code == 200, paper
        pages = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.content)).pages)
        assert place.hotel in pages or place.plates[0] in pages, paper
        text += pages
    assert SENTINEL_CONTACT not in text and SENTINEL_REASON not in text
    assert "36.7" not in text and "negative" not in text
    # The receiver sees the order's schedule, never the result.
    order = staff.receiver.get(f"/api/journeys/{journey}/quarantine")
    assert order["tests"][0] == {"day": 1, "due_on": order["starts_on"], "recorded": True}
    assert SENTINEL_REASON not in json.dumps(order, ensure_ascii=False)

    # Every read by survey staff or a commander leaves exactly one access event.
    before = staff.commander.get(f"/api/journeys/{journey}/access-log")["reads"]
    assert before == []
    record = staff.surveyor.get(reads[0])
    assert record["latest_survey"]["answers"]["risk_reason"] == SENTINEL_REASON
    assert record["test_results"][0]["note"] == SENTINEL_REASON
    staff.commander.get(
        f"/api/journeys/{journey}/health-record?purpose=command_review"
    )
    staff.surveyor.get(reads[1])
    staff.commander.wait_for_views()
    log = staff.commander.get(f"/api/journeys/{journey}/access-log")["reads"]
    assert [(r["role"], r["what"], r["purpose"]) for r in log] == [
        ("surveyor", ["health", "survey"], "survey"),
        ("commander", ["health", "survey"], "command_review"),
        ("surveyor", ["contacts"], "contact_tracing"),
    ]
    assert log[0]["access_id"] == record["access_id"]
    # Refused reads and reads without a purpose leave none.
    staff.surveyor.get(f"/api/journeys/{journey}/health-record", expect=422)
    staff.surveyor.get(f"/api/journeys/{journey}/health-record?purpose=curiosity", expect=422)
    staff.dispatcher.get(reads[0], expect=403)
    staff.commander.wait_for_views()
    assert len(staff.commander.get(f"/api/journeys/{journey}/access-log")["reads"]) == 3


def test_a_read_whose_access_event_cannot_be_written_shows_nothing(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    journey = register(live, place, person("E1000001"))[0]
    to_room_door(staff, place, [[journey]], place.plates[0])
    staff.surveyor.post(f"/api/journeys/{journey}/survey",
                        {"risk": "low", "answers": survey_answers(risk_reason=SENTINEL_REASON)})
    path = f"/api/journeys/{journey}/health-record?purpose=survey"
    with refused_access_events(live):
        response = staff.surveyor.http.get(path)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"]
        assert "access log" in response.json()["detail"]
        assert SENTINEL_REASON not in response.text
        contacts = staff.surveyor.http.get(f"/api/journeys/{journey}/contacts?purpose=survey")
        assert contacts.status_code == 503
    # Once the log takes writes again, so does the read, and it is logged.
    assert staff.surveyor.get(path)["latest_survey"]["answers"]["risk_reason"] == SENTINEL_REASON
    staff.commander.wait_for_views()
    assert len(staff.commander.get(f"/api/journeys/{journey}/access-log")["reads"]) == 1


def test_a_survey_with_bad_answers_is_refused_and_stores_nothing(live: Live) -> None:
    staff = staff_of(live)
    place = open_place(staff)
    journey = register(live, place, person("F1000001"))[0]
    before = event_count(live.settings)
    bad_answers = [
        survey_answers(close_contacts=[{"name": "Eve\u202eil"}]),  # a bidi override
        survey_answers(symptoms=["fever"]),  # no onset day
        survey_answers(symptom_onset_on=str(district_today())),  # an onset without symptoms
        survey_answers(risk_reason=""),
        survey_answers(tests_so_far=[{"taken_on": str(district_today() + timedelta(days=5)),
                                      "outcome": "negative"}]),
        survey_answers(close_contacts=[{"name": "Bob", "phone": "12"}]),
        survey_answers(symptoms=["plague"]),
        {"travel_history": [{"place": "x"}] * 31, "risk_reason": "too many places"},
    ]
    for answers in bad_answers:
        refused = staff.surveyor.post(f"/api/journeys/{journey}/survey",
                                      {"risk": "low", "answers": answers}, expect=422)
        assert refused["detail"] and refused["problems"]
    staff.surveyor.post(f"/api/journeys/{journey}/survey", {"risk": "severe",
                        "answers": survey_answers()}, expect=422)
    staff.surveyor.post("/api/journeys/not-a-uuid/survey", {"risk": "low",
                        "answers": survey_answers()}, expect=422)
    assert event_count(live.settings) == before
    # An unknown journey is a 404 for reads too, and leaves no access event.
    staff.surveyor.get(
        "/api/journeys/00000000-0000-4000-8000-000000000000/health-record?purpose=survey",
        expect=404,
    )
    assert event_count(live.settings) == before


def refused_access_events(live: Live) -> AbstractContextManager[None]:
    """A real fault: the database itself refuses to store access events, as a full disk or
    a revoked grant would, while every other write goes on."""
    return refuse_inserts(live.settings, "domain.audit:DataAccess%")
