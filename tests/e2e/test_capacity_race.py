"""The last room and the last seat, raced by 50 dispatchers at once over HTTP on PostgreSQL.

Acceptance (issue 4, item 4): a seat or a room is held by at most one journey whatever the
concurrency. Each round releases 50 requests together (a barrier) against a real server
process — group commit, optimistic-concurrency retries and the exception handlers all in the
path — and then checks the outcome three ways: the HTTP answers (one 200, 49 x 409 naming the
capacity, no 5xx), the event store (aggregates and the events recorded during the round), and
the views the screens read (board, reference, run). The same 50 screened travellers race in
every round: the winner's room or seat is withdrawn afterwards, so no round needs new
registrations (public registration is throttled per address).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Barrier
from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.journey import Journey
from domain.site import Site, site_id
from domain.staff import Role
from domain.transport import TransportRun
from tests.databases import fresh_settings
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live
from tests.e2e.server import LiveServer
from tracking.services import Services, open_services

pytestmark = pytest.mark.postgres

RACERS = 50
ROUNDS = 20
ENTRY = "EP-RACE"
STREET = "ST-RACE"


@pytest.fixture
def live_pg(tmp_path: Path) -> Iterator[Live]:
    """A server of its own per test, so the board's absolute counts belong to this test alone."""
    with fresh_settings("postgres", tmp_path) as settings:
        server = LiveServer(
            {"TRACKING_DATA_DIR": str(tmp_path), "TRACKING_DATABASE_URL": settings.database_url}
        )
        try:
            yield Live(settings, server)
        finally:
            server.stop()


@pytest.fixture
def services(live_pg: Live) -> Iterator[Services]:
    """The test's own look into the event store (the server's writes, read back)."""
    opened = open_services(live_pg.settings)
    try:
        yield opened
    finally:
        opened.close()


@dataclass
class Outcome:
    journey: str
    status: int
    body: dict[str, Any]
    sent: float  # monotonic clock, to tell how many requests were in flight together
    answered: float


class Racers:
    """One open HTTP connection per racer, so the barrier releases requests, not handshakes."""

    def __init__(self, live: Live, dispatcher: Api) -> None:
        self.clients = [
            httpx.Client(base_url=live.url, headers=dispatcher.http.headers, timeout=60)
            for _ in range(RACERS)
        ]
        for client in self.clients:
            client.get("/healthz").raise_for_status()
        self.pool = ThreadPoolExecutor(max_workers=RACERS)
        # Per round: how many requests had been sent before the first answer came back.
        self.in_flight: list[int] = []

    def race(self, journeys: list[str], path: str, bodies: list[dict[str, Any]]) -> list[Outcome]:
        barrier = Barrier(len(journeys))

        def one(i: int) -> Outcome:
            # A timeout only keeps a broken round from hanging the suite; it asserts nothing.
            barrier.wait(timeout=60)
            sent = time.monotonic()
            answer = self.clients[i].post(path.format(journeys[i]), json=bodies[i])
            return Outcome(journeys[i], answer.status_code, answer.json(), sent, time.monotonic())

        outcomes = list(self.pool.map(one, range(len(journeys))))
        first_answer = min(o.answered for o in outcomes)
        self.in_flight.append(sum(o.sent < first_answer for o in outcomes))
        return outcomes

    def close(self) -> None:
        self.pool.shutdown()
        for client in self.clients:
            client.close()


def _prepare(live: Live, prefix: str) -> tuple[Api, Api, list[str]]:
    """An entry point and 50 screened travellers, each a party of one."""
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    admin.post("/api/entry-points", {"code": ENTRY, "name": "Race T1"}, expect=201)
    public = Api(live.url)
    screener = Api.signed_in(live.url, live.settings, Role.SCREENER)

    def register_and_screen(i: int) -> str:
        journey: str = public.post(
            "/api/registrations",
            {"entry_point": ENTRY, "travellers": [traveller(f"{prefix}{i:07d}")]},
            expect=201,
        )["journey_ids"][0]
        screener.post(f"/api/journeys/{journey}/screening", {"risk": "low"})
        return journey

    with ThreadPoolExecutor(max_workers=8) as pool:
        journeys = list(pool.map(register_and_screen, range(RACERS)))
    assert len(set(journeys)) == RACERS
    return admin, Api.signed_in(live.url, live.settings, Role.DISPATCHER), journeys


def _one_winner(outcomes: list[Outcome], refusal: tuple[str, ...]) -> Outcome:
    """Exactly one 200; every other racer a 409 that says the capacity is gone."""
    statuses = Counter(o.status for o in outcomes)
    assert statuses == {200: 1, 409: RACERS - 1}, (
        statuses,
        [o for o in outcomes if o.status not in (200, 409)],
    )
    for loser in (o for o in outcomes if o.status == 409):
        # A generic "busy, try again" would leave the dispatcher not knowing the room is gone.
        assert any(words in loser.body["detail"] for words in refusal), loser
    return next(o for o in outcomes if o.status == 200)


def _raced(racers: Racers) -> None:
    """A race that the client side serialised would pass while proving nothing."""
    print(f"\nrequests in flight before the first answer, per round: {racers.in_flight}")
    assert max(racers.in_flight) == RACERS, racers.in_flight


def _events_between(services: Services, before: int, after: int) -> list[Any]:
    """The domain events recorded in (before, after]: what this round wrote, and nothing else."""
    app = services.app
    notifications = app.recorder.select_notifications(
        before, limit=after - before + 1, stop=after, inclusive_of_start=False
    )
    return [app.mapper.to_domain_event(n) for n in notifications]


def _position(services: Services) -> int:
    return services.app.recorder.max_notification_id() or 0


def test_fifty_dispatchers_race_for_the_last_room_twenty_times(
    live_pg: Live, services: Services
) -> None:
    started = time.monotonic()
    admin, dispatcher, journeys = _prepare(live_pg, "RM")
    hotels = [(f"H-RACE-{r:02d}", f"{800 + r}") for r in range(ROUNDS)]
    for code, room in hotels:
        admin.post(
            "/api/sites",
            {"code": code, "name": f"Race hotel {code}", "kind": "hotel", "rooms": [room]},
            expect=201,
        )
    racers = Racers(live_pg, dispatcher)
    try:
        for code, room in hotels:
            before = _position(services)
            # Half name the room, half let the site choose: both paths must refuse the losers.
            outcomes = racers.race(
                journeys,
                "/api/journeys/{}/destination",
                [{"site": code, "room": room if i % 2 else ""} for i in range(RACERS)],
            )
            winner = _one_winner(outcomes, ("has no free room", f"room {room} at"))
            assert winner.body["journey_ids"] == [winner.journey]
            assert winner.body["room"] == room
            after = _position(services)
            _check_room_in_store(services, journeys, code, room, winner.journey, before, after)
            dispatcher.wait_for_views()
            _check_room_in_views(dispatcher, code, winner.journey)
            # Give the room back so the same 50 can race for the next hotel's last room.
            dispatcher.post(
                f"/api/journeys/{winner.journey}/destination/withdrawal",
                {"reason": f"race round at {code} is over"},
            )
    finally:
        racers.close()
    _raced(racers)
    print(f"{ROUNDS} room races of {RACERS}: {time.monotonic() - started:.1f} s")


def _check_room_in_store(
    services: Services,
    journeys: list[str],
    code: str,
    room: str,
    winner: str,
    before: int,
    after: int,
) -> None:
    app = services.app
    site = app.site(code)
    assert site.holder == {room: UUID(winner)} and site.room_of == {UUID(winner): room}
    holding = {}
    for journey_id in journeys:
        journey = app.journey(UUID(journey_id))
        if journey.site_id is not None:
            holding[journey_id] = (journey.site_id, journey.room, journey.stage.value)
    # Every earlier winner gave its room back: the only holder anywhere is this round's.
    assert holding == {winner: (site.id, room, "destination_assigned")}

    events = _events_between(services, before, after)
    held = [e for e in events if isinstance(e, Site.RoomHeld)]
    assigned = [e for e in events if isinstance(e, Journey.DestinationAssigned)]
    assert [(e.originator_id, e.room, e.party_id) for e in held] == [
        (site_id(code), room, UUID(winner))
    ]
    assert [(e.originator_id, e.site_id, e.room) for e in assigned] == [
        (UUID(winner), site_id(code), room)
    ]


def _check_room_in_views(dispatcher: Api, code: str, winner: str) -> None:
    board = dispatcher.get("/api/board")
    by_code = {s["code"]: s for s in board["sites"].values()}
    assert by_code[code]["held"] == 1 and by_code[code]["occupied"] == 0
    assert by_code[code]["stages"] == {"destination_assigned": 1}
    assert sum(s["held"] + s["occupied"] for s in board["sites"].values()) == 1
    assert board["stages"]["destination_assigned"] == 1
    assert board["stages"]["screened"] == RACERS - 1
    assert dispatcher.get(f"/api/journeys/{winner}")["stage"] == "destination_assigned"
    reference = {s["code"]: s for s in dispatcher.get("/api/reference")["sites"]}
    assert (reference[code]["held"], reference[code]["free"]) == (1, 0)


def test_fifty_dispatchers_race_for_the_last_seat_twenty_times(
    live_pg: Live, services: Services
) -> None:
    started = time.monotonic()
    admin, dispatcher, journeys = _prepare(live_pg, "ST")
    # A seat needs a destination first: everyone goes home to one street with room for all.
    admin.post(
        "/api/sites",
        {"code": STREET, "name": "Race street", "kind": "home", "capacity": RACERS},
        expect=201,
    )
    # One after another: concurrent assignments to one street are the hot spot the room test
    # races already, and under a steady stream of them some answer 409 "busy" (see report).
    for journey in journeys:
        dispatcher.post(f"/api/journeys/{journey}/destination", {"site": STREET})
    runs = []
    for r in range(ROUNDS):
        # A one-seat vehicle per round: its only seat is the last one.
        plate = f"粤R·{r:02d}"
        admin.post("/api/vehicles", {"plate": plate, "seats": 1}, expect=201)
        run = dispatcher.post(
            "/api/runs", {"plate": plate, "escort": "escort-1", "entry_point": ENTRY}, expect=201
        )
        runs.append((run["run_id"], plate))
    racers = Racers(live_pg, dispatcher)
    try:
        for run_id, plate in runs:
            before = _position(services)
            outcomes = racers.race(
                journeys, "/api/journeys/{}/seats", [{"run_id": run_id}] * RACERS
            )
            winner = _one_winner(outcomes, (f"vehicle {plate} has 0 free seats",))
            assert winner.body["journey_ids"] == [winner.journey]
            assert winner.body["seats"] == {winner.journey: 1}
            after = _position(services)
            _check_seat_in_store(services, journeys, run_id, winner.journey, before, after)
            dispatcher.wait_for_views()
            _check_seat_in_views(dispatcher, run_id, winner.journey)
            # Free the seat's holder so the same 50 can race for the next vehicle's last seat.
            dispatcher.post(
                f"/api/journeys/{winner.journey}/seats/withdrawal",
                {"reason": f"race round on {plate} is over"},
            )
    finally:
        racers.close()
    _raced(racers)
    print(f"{ROUNDS} seat races of {RACERS}: {time.monotonic() - started:.1f} s")


def _check_seat_in_store(
    services: Services, journeys: list[str], run_id: str, winner: str, before: int, after: int
) -> None:
    app = services.app
    run = app.run(UUID(run_id))
    assert run.seat_of == {UUID(winner): 1}
    seated = {}
    for journey_id in journeys:
        journey = app.journey(UUID(journey_id))
        if journey.run_id is not None:
            seated[journey_id] = (journey.run_id, journey.seat, journey.stage.value)
    assert seated == {winner: (UUID(run_id), 1, "seat_assigned")}

    events = _events_between(services, before, after)
    on_run = [e for e in events if isinstance(e, TransportRun.SeatAssigned)]
    on_journey = [e for e in events if isinstance(e, Journey.SeatAssigned)]
    assert [(e.originator_id, e.seat, e.journey_id) for e in on_run] == [
        (UUID(run_id), 1, UUID(winner))
    ]
    assert [(e.originator_id, e.run_id, e.seat) for e in on_journey] == [
        (UUID(winner), UUID(run_id), 1)
    ]


def _check_seat_in_views(dispatcher: Api, run_id: str, winner: str) -> None:
    board = dispatcher.get("/api/board")
    assert board["runs"][run_id]["seated"] == 1
    assert sum(r["seated"] for r in board["runs"].values()) == 1
    assert board["stages"]["seat_assigned"] == 1
    assert board["stages"]["destination_assigned"] == RACERS - 1
    waiting = {j: r["run_id"] for j, r in board["on_road"].items() if r["stage"] == "seat_assigned"}
    assert waiting == {winner: run_id}
    run = dispatcher.get(f"/api/runs/{run_id}")
    seated = {p["journey_id"]: p["seat"] for p in run["passengers"]}
    assert run["free_seats"] == 0 and seated == {winner: 1}
