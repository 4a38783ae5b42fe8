"""The projector on real stores (every body on SQLite and on PostgreSQL).

Views are checked against what the aggregates say and against the library's own reading of
the log, never against the projector's own logic; exactly-once is checked by crashing a page
before its commit, by SIGKILLing a rebuild process, and by two projectors racing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.identity import IdentityRecord
from domain.journey import Journey
from domain.party import TravelParty
from domain.staff import Role, StaffAccount
from domain.stages import RiskLevel, Stage
from projections import synthetic
from projections.board_fold import ON_ROAD
from projections.events import TOPICS
from projections.fold import STAGE_AFTER
from projections.projector import Projector
from projections.queries import read_board, read_journey, read_reference, read_timeline
from projections.schema import BOARD_CHECKPOINTS, POSITION_TABLE, VIEW_TABLES
from projections.synthetic import LogWriter, World, open_writer
from tests.support import ctx, person, seed_line
from tracking.receipts import CommandReceipt
from tracking.services import migrate, open_services
from tracking.settings import Settings
from tracking.sidestore import SideStore

ROOT = Path(__file__).resolve().parents[2]


# -- helpers ----------------------------------------------------------------------------------


def seed(settings: Settings, n_events: int, *, batch: int = 500) -> World:
    return synthetic.seed(settings, n_events, seed=7, batch=batch)


@pytest.fixture
def writer(store_settings: Settings) -> Iterator[LogWriter]:
    app = open_writer(store_settings)
    yield app
    app.close()


@pytest.fixture
def store(store_settings: Settings) -> Iterator[SideStore]:
    side = SideStore(store_settings)
    yield side
    side.close()


def projector(settings: Settings, **kwargs: Any) -> Projector:
    return Projector(settings, **kwargs)


def head(settings: Settings) -> int:
    app = open_writer(settings)
    try:
        return app.recorder.max_notification_id() or 0
    finally:
        app.close()


def library_events(settings: Settings) -> list[Any]:
    """The log as the library itself reads and decodes it."""
    app = open_writer(settings)
    try:
        notifications = app.recorder.select_notifications(start=1, limit=10**7)
        return [(n.id, app.mapper.to_domain_event(n)) for n in notifications]
    finally:
        app.close()


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    return str(value) if isinstance(value, UUID) else value


def dump_views(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table (and the position row), row for row, in key order.

    Board checkpoints are left out: they fall where pages end, so their positions depend on
    page sizes (tests/integration/test_board.py checks each against a replay of the deltas).
    """
    side = SideStore(settings)
    try:
        with side.transaction(write=False) as cur:
            dump = {}
            for table in VIEW_TABLES:
                if table is BOARD_CHECKPOINTS:
                    continue
                cur.execute(
                    f"SELECT {', '.join(table.names)} FROM {table.name} "
                    f"ORDER BY {', '.join(table.key)}"
                )
                dump[table.name] = [tuple(_text(v) for v in row) for row in cur.fetchall()]
            cur.execute(
                f"SELECT name, position, schema_version, rebuild_target FROM {POSITION_TABLE}"
            )
            dump[POSITION_TABLE] = [tuple(row) for row in cur.fetchall()]
            return dump
    finally:
        side.close()


def clean_rebuild(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    p = projector(settings, page_size=997)
    try:
        p.rebuild(fresh=True)
    finally:
        p.close()
    return dump_views(settings)


def replay_stages(events: list[Any]) -> dict[UUID, tuple[str, str]]:
    """(stage, entered_at) per journey, by replaying the library's events on the aggregate."""
    journeys: dict[UUID, Journey] = {}
    entered: dict[UUID, tuple[str, str]] = {}
    for _, e in events:
        if not isinstance(e, Journey.Event):
            continue
        journey = e.mutate(journeys.get(e.originator_id))
        assert isinstance(journey, Journey)
        journeys[e.originator_id] = journey
        if entered.get(e.originator_id, ("",))[0] != journey.stage.value:
            entered[e.originator_id] = (journey.stage.value, iso(e.timestamp) or "")
    return entered


# -- what the board shows -----------------------------------------------------------------------


def test_board_matches_a_recount_of_the_saved_aggregates(
    store_settings: Settings, store: SideStore
) -> None:
    world = seed(store_settings, 4000, batch=1)  # one transaction per command, as the app does
    p = projector(store_settings, page_size=300)
    p.run_once()
    board = read_board(store)
    assert board["position"] == head(store_settings)

    stages = Counter(j.stage.value for j in world.journeys)
    assert board["stages"] == {s.value: stages.get(s.value, 0) for s in Stage}

    by_site = {s["code"]: s for s in board["sites"].values()}
    assert len(by_site) == len(world.sites)
    for site in world.sites:
        shown = by_site[site.code]
        assert (shown["name"], shown["kind"], shown["capacity"]) == (
            site.name, site.kind.value, site.capacity
        )
        counts = site.counts
        assert (shown["free"], shown["held"], shown["occupied"]) == (
            counts["free"], counts["held"], counts["occupied"]
        )
        at_site = Counter(j.stage.value for j in world.journeys if j.site_id == site.id)
        assert shown["stages"] == dict(at_site)

    on_road = {str(r.id): r for r in world.runs if r.status != "closed"}
    assert set(board["runs"]) == set(on_road)
    for shown in board["runs"].values():
        run = on_road[shown["run_id"]]
        assert (shown["status"], shown["seated"], shown["boarded"], shown["handed_over"]) == (
            run.status, len(run.seat_of), len(run.boarded), len(run.handed_over)
        )
        assert (shown["plate"], shown["escort"], shown["entry_point"]) == (
            run.plate, run.escort, run.entry_point
        )

    events = library_events(store_settings)
    # The recount covers every kind of Journey event, so every stage transition is checked.
    assert {type(e).__name__ for _, e in events if isinstance(e, Journey.Event)} == {
        name for kind, name in TOPICS.values() if kind == "journey"
    }
    entered = replay_stages(events)
    travelling = {
        str(jid): (stage, datetime.fromisoformat(t))
        for jid, (stage, t) in entered.items() if stage in ON_ROAD
    }
    assert travelling, "the seed leaves journeys on the road"
    assert {
        jid: (j["stage"], datetime.fromisoformat(j["entered_at"]))
        for jid, j in board["on_road"].items()
    } == travelling

    reference = read_reference(store)
    assert {(e["code"], e["name"]) for e in reference["entry_points"]} == {
        (e.code, e.name) for e in world.entry_points
    }
    assert {(v["plate"], v["seats"], v["active_run"]) for v in reference["vehicles"]} == {
        (v.plate, v.seats, None if v.active_run is None else str(v.active_run))
        for v in world.vehicles
    }

    sample = world.journeys[len(world.journeys) // 2]
    current = read_journey(store, sample.id)
    assert current is not None
    assert (current["stage"], current["custodian"], current["party_id"]) == (
        sample.stage.value, sample.custodian, str(sample.party_id)
    )
    assert current["site_id"] == (None if sample.site_id is None else str(sample.site_id))
    assert current["run_id"] == (None if sample.run_id is None else str(sample.run_id))


def test_every_journey_event_is_deliberately_placed_on_the_line() -> None:
    """A Journey event added to the domain must be mapped here before the views trust it."""
    journey_events = {name for kind, name in TOPICS.values() if kind == "journey"}
    keeps_the_stage = {
        "Amended", "CustodyOffered", "CustodyOfferWithdrawn", "CustodyAccepted",
        "MisdirectedScanRecorded", "SurveyRecorded", "QuarantineExtended",
        "QuarantineShortened", "TestResultRecorded", "PersonalDataErased",
    }
    assert journey_events == set(STAGE_AFTER) | keeps_the_stage
    assert set(STAGE_AFTER.values()) == {s.value for s in Stage}


def test_timeline_has_every_journey_event_in_order_and_no_personal_data(
    store_settings: Settings, store: SideStore
) -> None:
    world = seed(store_settings, 3000)
    projector(store_settings, page_size=128).run_once()
    events = library_events(store_settings)
    per_journey: dict[UUID, list[tuple[int, Any]]] = {}
    for nid, e in events:
        if isinstance(e, Journey.Event):
            per_journey.setdefault(e.originator_id, []).append((nid, e))
    assert len(per_journey) == len(world.journeys)
    for jid, expected in per_journey.items():
        timeline = read_timeline(store, jid)
        assert timeline is not None
        assert [
            (t["notification_id"], t["version"], t["event_type"], t["actor"], t["role"],
             t["where"], t["occurred_at"], t["recorded_at"])
            for t in timeline
        ] == [
            (nid, e.originator_version, type(e).__name__, e.ctx.actor, e.ctx.role,
             e.ctx.where, iso(e.ctx.occurred_at), iso(e.timestamp))
            for nid, e in expected
        ]
        for t, (_, e) in zip(timeline, expected, strict=True):
            assert "personal" not in t["summary"] and "answers" not in t["summary"]
            if isinstance(e, Journey.DestinationAssigned):
                assert t["summary"] == {"kind": e.kind, "site_id": str(e.site_id), "room": e.room}
    assert read_timeline(store, uuid4()) is None
    assert read_timeline(store, "not-a-uuid") is None

    # The sealed personal data and survey answers reach no view, in any form.
    sealed = {e.personal for _, e in events if isinstance(e, Journey.Registered | Journey.Amended)}
    sealed |= {e.answers for _, e in events if isinstance(e, Journey.SurveyRecorded)}
    sealed |= {e.result for _, e in events if isinstance(e, Journey.TestResultRecorded)}
    sealed |= {e.identity_key for _, e in events if isinstance(e, Journey.Registered)}
    assert sealed
    everything = repr(dump_views(store_settings))
    assert not [s for s in sealed if s in everything]


def test_projects_what_the_real_application_writes(
    store_settings: Settings, store: SideStore
) -> None:
    migrate(store_settings)
    services = open_services(store_settings)
    try:
        app = services.app
        line = seed_line(app)
        ids = [
            UUID(app.register_travellers(line.entry_point, [person(n)], ctx())["journey_ids"][0])
            for n in ("P1000001", "P1000002", "P1000003")
        ]
        app.screen(ids[0], RiskLevel.LOW, 36.6, False, True, ctx(where=line.entry_point))
        app.screen(ids[1], RiskLevel.HIGH, 37.9, True, True, ctx())
        app.assign_destination(ids[1], line.hotel, ctx(role="dispatcher"))
        app.cancel(ids[2], "flight diverted", ctx(role="dispatcher"))
        log_head = app.recorder.max_notification_id() or 0
    finally:
        services.close()
    p = projector(store_settings)
    p.run_once()
    board = read_board(store)
    assert board["position"] == log_head
    assert {k: v for k, v in board["stages"].items() if v} == {
        "screened": 1, "destination_assigned": 1, "cancelled": 1
    }
    hotel = next(s for s in board["sites"].values() if s["code"] == line.hotel)
    assert (hotel["capacity"], hotel["held"], hotel["free"]) == (2, 1, 1)
    assert hotel["stages"] == {"destination_assigned": 1}
    timeline = read_timeline(store, ids[0])
    assert timeline is not None
    assert [t["event_type"] for t in timeline] == ["Registered", "Screened"]
    assert timeline[1]["where"] == line.entry_point
    assert timeline[1]["summary"]["custodian"] == f"desk:{line.entry_point}"
    reference = read_reference(store)
    assert line.entry_point in {e["code"] for e in reference["entry_points"]}
    assert {line.plate} <= {v["plate"] for v in reference["vehicles"]}


def test_reads_before_any_projector_answer_as_of_position_zero(store: SideStore) -> None:
    board = read_board(store)
    assert board["position"] == 0 and set(board["stages"].values()) == {0}
    assert read_reference(store)["entry_points"] == []
    assert read_timeline(store, uuid4()) is None


# -- position -------------------------------------------------------------------------------


def test_events_no_view_shows_still_advance_the_position(
    store_settings: Settings, writer: LogWriter, store: SideStore
) -> None:
    journey_id = uuid4()
    writer.save(
        IdentityRecord(identity_key="k" * 64, journey_id=journey_id),
        TravelParty.form([journey_id, uuid4()]),
        StaffAccount.create("commander.li", Role.COMMANDER, "Li", "argon2-hash"),
        CommandReceipt(key="idem-1", fingerprint="f", answer={"ok": True}),
    )
    log_head = writer.recorder.max_notification_id()
    assert log_head == 4
    p = projector(store_settings)
    assert p.run_once() == 4
    assert p.position() == 4 and p.wait_for(4, timeout=1.0)
    assert p.status().lag == 0
    board = read_board(store)
    # The board's position is its last event's: none of these is one.
    assert board["position"] == 0 and set(board["stages"].values()) == {0}


def test_rebuild_reports_progress_up_to_the_whole_log(store_settings: Settings) -> None:
    seed(store_settings, 2500)
    seen: list[tuple[int, int]] = []
    p = projector(store_settings, page_size=400)
    applied = p.rebuild(progress=lambda done, total: seen.append((done, total)))
    total = head(store_settings)
    assert applied == total
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# -- exactly once -----------------------------------------------------------------------------


def test_a_page_that_fails_before_its_commit_leaves_nothing_and_is_applied_once(
    store_settings: Settings,
) -> None:
    seed(store_settings, 3000)
    p = projector(store_settings, page_size=250)
    pages = 0

    def crash_on_page_four(end: int) -> None:
        nonlocal pages
        pages += 1
        if pages == 4:
            raise RuntimeError("crash after the writes, before the commit")

    p.backend.before_commit = crash_on_page_four
    with pytest.raises(RuntimeError, match="before the commit"):
        p.run_once()
    committed = p.position()
    views = dump_views(store_settings)
    assert 0 < committed < head(store_settings)
    assert max(row[2] for row in views["journey_timeline"]) <= committed

    p.backend.before_commit = None
    p.run_once()
    assert dump_views(store_settings) == clean_rebuild(store_settings)


def test_views_do_not_depend_on_where_pages_end(store_settings: Settings) -> None:
    seed(store_settings, 1500)
    dumps = []
    for page_size in (1, 37, 5000):
        p = projector(store_settings, page_size=page_size)
        p.rebuild(fresh=True)
        p.close()
        dumps.append(dump_views(store_settings))
    assert dumps[0] == dumps[1] == dumps[2]


def test_two_projectors_racing_on_the_same_views_apply_each_event_once(
    store_settings: Settings,
) -> None:
    seed(store_settings, 4000)
    first, second = projector(store_settings, page_size=64), projector(store_settings, page_size=90)
    first.setup()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(p: Projector) -> None:
        barrier.wait()
        try:
            p.run_once()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(p,)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    raced = dump_views(store_settings)
    assert raced == clean_rebuild(store_settings)


def test_rebuild_killed_mid_way_resumes_to_the_views_of_a_clean_rebuild(
    store_settings: Settings,
) -> None:
    seed(store_settings, 30_000, batch=2000)
    log_head = head(store_settings)
    env = os.environ | {
        "TRACKING_DATA_DIR": str(store_settings.data_dir),
        "PYTHONPATH": str(ROOT),
    }
    if store_settings.is_postgres:
        env["TRACKING_DATABASE_URL"] = store_settings.database_url
    command = [sys.executable, "-m", "projections.cli", "rebuild", "--page-size", "300"]
    watcher = projector(store_settings)
    kills = [0]
    for pages_to_wait in (1, 4, 9):
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        # Let it commit some pages of its own, then kill it wherever it is (mid-page, mostly).
        while watcher.position() < kills[-1] + pages_to_wait * 300 and proc.poll() is None:
            assert time.monotonic() < deadline, "the rebuild made no progress"
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        kills.append(watcher.position())
    assert 0 < kills[1] < kills[2] < kills[3] < log_head, kills
    state = watcher.backend.state()
    assert state is not None and state.rebuilding

    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=True)
    # It resumed from its last committed page rather than starting over.
    assert f"views rebuilt: {log_head - kills[-1]} events applied" in done.stdout, done.stdout
    status = subprocess.run([sys.executable, "-m", "projections.cli", "status"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60, check=True)
    assert f"position {log_head}  head {log_head}  lag 0  (current)" in status.stdout
    watcher.close()

    resumed = dump_views(store_settings)
    assert len(resumed["journey_timeline"]) > 15_000
    assert resumed == clean_rebuild(store_settings)


def test_every_read_reflects_exactly_the_position_it_reports(
    store_settings: Settings, store: SideStore
) -> None:
    seed(store_settings, 4000)
    registered_at = sorted(
        nid for nid, e in library_events(store_settings) if isinstance(e, Journey.Registered)
    )
    p = projector(store_settings, page_size=20)
    worker = threading.Thread(target=p.run_once)
    worker.start()
    boards: list[dict[str, Any]] = []
    while worker.is_alive() or not boards:
        boards.append(read_board(store))
    worker.join()
    assert len({b["position"] for b in boards}) > 3
    for board in boards:
        journeys = sum(1 for nid in registered_at if nid <= board["position"])
        assert sum(board["stages"].values()) == journeys, board["position"]


# -- following the log ------------------------------------------------------------------------


def _new_journey(writer: LogWriter) -> int:
    journey = Journey.register(uuid4(), "k" * 64, uuid4(), "CAN", "v1:sealed", ctx())
    writer.save(journey)
    return writer.recorder.max_notification_id() or 0


def test_a_new_event_reaches_the_views_within_a_second(
    store_settings: Settings, writer: LogWriter
) -> None:
    # PostgreSQL: polling is off, so only the recorder's NOTIFY can wake the projector.
    p = projector(store_settings, poll_interval=0 if store_settings.is_postgres else None)
    stop = threading.Event()
    worker = threading.Thread(target=p.run_forever, args=(stop,))
    worker.start()
    try:
        assert p.wait_for(_new_journey(writer), timeout=5)
        for _ in range(3):
            time.sleep(0.3)  # the projector is idle, waiting
            position = _new_journey(writer)
            started = time.monotonic()
            assert p.wait_for(position, timeout=1.0)
            assert time.monotonic() - started < 1.0
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()


def test_without_listen_and_polling_nothing_wakes_the_projector(
    store_settings: Settings, writer: LogWriter
) -> None:
    """The control for the test above: its wake-up really came from NOTIFY (on SQLite, that
    polling switched off really is off)."""
    p = projector(store_settings, poll_interval=0, listen=False)
    first = _new_journey(writer)
    stop = threading.Event()
    worker = threading.Thread(target=p.run_forever, args=(stop,))
    worker.start()
    try:
        # Its first pass has run (however slow the machine), and it is now waiting.
        assert p.wait_for(first, timeout=30)
        time.sleep(0.3)
        position = _new_journey(writer)
        assert not p.wait_for(position, timeout=1.0)
    finally:
        stop.set()
        worker.join(5)


def test_run_forever_outlives_a_failing_page_and_stops_when_asked(
    store_settings: Settings, writer: LogWriter
) -> None:
    p = projector(store_settings)
    failures = 0

    def fail_twice(end: int) -> None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise RuntimeError("transient")

    p.backend.before_commit = fail_twice
    stop = threading.Event()
    worker = threading.Thread(target=p.run_forever, args=(stop,))
    worker.start()
    try:
        assert p.wait_for(_new_journey(writer), timeout=10)
        assert failures == 2
    finally:
        stop.set()
        worker.join(5)
    assert not worker.is_alive()
