"""The care side's figures, on one store filled through the real application: a day of
arrivals taken through the line to the room door (order started there), half of them surveyed
and tested, then projected by the real projector.

- survey_worklist: p99 of the survey desk's worklist (names opened, warm) vs the bare SQL read
  of the same rows;
- health_record_read: p99 of one audited read as the API does it (the access event committed,
  then the record opened) vs the same read without the access event;
- daily_report: building the day's XLSX (one snapshot read + the file) vs reading the board.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

from domain.context import Context
from domain.stages import DestinationKind, RiskLevel
from projections.board_fold import local_day
from projections.care_queries import read_survey_worklist
from projections.projector import Projector
from projections.queries import read_board
from projections.report import read_daily_report
from projections.report_files import daily_report_csv, daily_report_xlsx
from projections.surveying import survey_worklist
from tracking.application import Person, TrackingApp
from tracking.audit import record_access
from tracking.records import health_record
from tracking.services import migrate, open_services
from tracking.settings import Settings

SEATS = 40
STREETS = 22


def _ctx(role: str) -> Context:
    return Context(command_id=uuid4(), actor=f"bench-{role}", role=role, where="bench",
                   occurred_at=datetime.now(UTC))


def _timings_ms(work: Callable[[], object], rounds: int) -> list[float]:
    work()  # warm caches and connections
    found = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        found.append((time.perf_counter() - started) * 1000)
    return sorted(found)


def _p99(timings: list[float]) -> float:
    return timings[min(len(timings) - 1, int(0.99 * len(timings)))]


def _seed(app: TrackingApp, arrivals: int) -> tuple[list[UUID], list[UUID]]:
    """(checked in and not surveyed, surveyed and tested) journeys."""
    app.register_entry_point("BENCH", "Benchmark entry point")
    # A district's 22 streets: one site's aggregate (every place it holds) stays small enough,
    # as in life (a site replays its events on every load; the store keeps no snapshots).
    streets = [f"ST-{i:02d}" for i in range(STREETS)]
    for code in streets:
        app.register_site(code, f"Street {code}", DestinationKind.HOME,
                          capacity=arrivals // STREETS + SEATS)
    app.register_vehicle("BENCH-BUS", SEATS)
    journeys = []
    for i in range(arrivals):
        person = Person("passport", "GBR", f"K{i:07d}", {
            "name_native": f"旅客{i}", "phone": "+447700900000", "flight": f"CZ{3100 + i % 9}",
            "flight_seat": f"{1 + i % 60}C", "symptoms": [], "temperature": 36.6,
        })
        journey = UUID(app.register_travellers("BENCH", [person], _ctx("traveller"))[
            "journey_ids"][0])
        app.screen(journey, RiskLevel.LOW, 36.6, False, True, _ctx("screener"))
        journeys.append(journey)
    for n, start in enumerate(range(0, arrivals, SEATS)):
        load = journeys[start:start + SEATS]
        street = streets[n % STREETS]
        run = UUID(app.plan_run("BENCH-BUS", "escort", "BENCH")["run_id"])
        for journey in load:
            app.dispatch(journey, _ctx("dispatcher"), site_code=street, run_id=run)
            app.scan_boarding(journey, run, f"car-{journey}", _ctx("escort"))
        app.depart_run(run, _ctx("escort"))
        app.arrive_run(run, _ctx("escort"))
        for journey in load:
            app.scan_check_in(journey, street, f"door-{journey}", _ctx("receiver"),
                              start_quarantine=True)
    surveyed = journeys[::2]
    for journey in surveyed:
        app.record_survey(journey, RiskLevel.LOW, {
            "travel_history": [{"place": "London"}], "close_contacts": [],
            "risk_reason": "no symptoms",
        }, _ctx("surveyor"))
        app.record_test_result(journey, 1, {"outcome": "negative", "kind": "pcr"},
                               _ctx("receiver"))
        app.record_test_result(journey, 1, {"outcome": "negative", "kind": "antigen"},
                               _ctx("receiver"), correction_reason="second sample")
    return journeys[1::2], surveyed


def bench_care(
    settings: Settings, arrivals: int = 5049, rounds: int = 60
) -> dict[str, dict[str, float | str]]:
    migrate(settings)
    services = open_services(settings)
    app, store = services.app, services.store
    results: dict[str, dict[str, float | str]] = {}
    try:
        seeding = time.perf_counter()
        due, surveyed = _seed(app, arrivals)
        projector = Projector(settings)
        try:
            projector.run_once()
        finally:
            projector.close()
        seeded_s = time.perf_counter() - seeding
        now = datetime.now(UTC)

        listed = survey_worklist(app, store, now, 24)
        assert listed["total"] == len(due), (listed["total"], len(due))
        ours = _timings_ms(lambda: survey_worklist(app, store, datetime.now(UTC), 24), rounds)
        bare = _timings_ms(lambda: read_survey_worklist(store), rounds)
        results["survey_worklist"] = {
            "value": round(_p99(ours), 1), "baseline": round(_p99(bare), 1),
            "ratio": round(_p99(ours) / _p99(bare), 2),
            "unit": f"p99 ms per worklist read, {len(listed['journeys'])} shown of {len(due)} due",
            "p50": round(statistics.median(ours), 1),
        }

        readers = iter(surveyed * 2)
        ctx = _ctx("surveyor")

        def audited() -> object:
            journey = next(readers)
            record_access(app, journey, ["health", "survey"], "survey", ctx)
            return health_record(app, journey)

        plain_readers = iter(surveyed * 2)
        event_readers = iter(surveyed * 2)
        n = min(rounds * 3, len(surveyed) - 1)
        ours = _timings_ms(audited, n)
        bare = _timings_ms(lambda: health_record(app, next(plain_readers)), n)
        events = _timings_ms(lambda: list(app.events.get(next(event_readers))), n)
        record = health_record(app, surveyed[0])
        assert record["latest_survey"] and len(record["test_results"]) == 2
        results["health_record_read"] = {
            "value": round(_p99(ours), 2), "baseline": round(_p99(bare), 2),
            "ratio": round(_p99(ours) / _p99(bare), 2),
            "unit": "p99 ms per audited health-record read",
            "p50": round(statistics.median(ours), 2),
            "p50_unaudited": round(statistics.median(bare), 2),
            "p99_event_store_read": round(_p99(events), 2),
        }

        day = datetime.fromisoformat(local_day(now.isoformat())).date()

        def xlsx() -> bytes:
            return daily_report_xlsx(read_daily_report(store, day, 24, datetime.now(UTC)))

        report = read_daily_report(store, day, 24, now)
        assert report["arrivals"]["registered"]["total"] == arrivals, report["arrivals"]
        ours = _timings_ms(xlsx, 10)
        bare = _timings_ms(lambda: read_board(store), 10)
        csv_ms = _timings_ms(
            lambda: daily_report_csv(read_daily_report(store, day, 24, datetime.now(UTC))), 10
        )
        results["daily_report"] = {
            "value": round(statistics.median(ours), 1),
            "baseline": round(statistics.median(bare), 1),
            "ratio": round(statistics.median(ours) / statistics.median(bare), 2),
            "unit": f"median ms to build the day's XLSX, {arrivals} arrivals",
            "csv_ms": round(statistics.median(csv_ms), 1),
            "xlsx_bytes": len(xlsx()),
            "csv_bytes": len(daily_report_csv(report)),
            "seeded_s": round(seeded_s, 1),
        }
    finally:
        services.close()
    return results
