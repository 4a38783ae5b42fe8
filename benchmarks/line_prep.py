"""Travellers made ready for the handoff scans of a benchmark, through the application layer
(in this process, before any timed window): registered in families, screened, dispatched to a
hotel and seated on a vehicle run, and, for the room-door scans, boarded and driven there.

Runs are planned with a free-text escort that names no account, so any signed-in escort may
scan at their car door; receivers bound to no site act at any door (api/policy.py).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from domain.context import Context
from domain.stages import DestinationKind, RiskLevel
from tracking.application import Person, TrackingApp
from tracking.services import open_services
from tracking.settings import Settings

ENTRY_POINT = "BENCH"
FAMILY = 4
SEATS = 40  # ten families a run
HOTELS = 40
ESCORT = "escort-bench"  # no account of this name: binds no escort to the runs


@dataclass(frozen=True)
class Seat:
    journey_id: str
    run_id: str
    hotel: str


@dataclass
class Ready:
    at_car_door: list[Seat]  # seated on a run that is boarding: a boarding scan each
    at_room_door: list[Seat]  # driven to their hotel: a check-in scan each


def ctx(role: str) -> Context:
    return Context(command_id=uuid4(), actor=f"bench-{role}", role=role, where="bench",
                   occurred_at=datetime.now(UTC))


def open_line(app: TrackingApp, travellers: int, tag: str) -> None:
    """The entry point, hotels with room for `travellers`, and a vehicle per run."""
    app.register_entry_point(ENTRY_POINT, "白云机场 T2 (benchmark)")
    rooms = math.ceil(travellers / FAMILY / HOTELS) + 2
    for h in range(HOTELS):
        app.register_site(f"H{tag}{h:02d}", f"隔离酒店 {h:02d}", DestinationKind.HOTEL,
                          rooms=[str(100 + r) for r in range(rooms)])
    for v in range(math.ceil(travellers / SEATS)):
        app.register_vehicle(f"粤A{tag}{v:04d}", SEATS)


def _run_of(app: TrackingApp, tag: str, n: int, drive: bool) -> list[Seat]:
    """Run `n` (one vehicle): ten families registered, screened, dispatched and seated; and,
    when `drive`, boarded, departed and arrived at the door."""
    run = UUID(app.plan_run(f"粤A{tag}{n:04d}", ESCORT, ENTRY_POINT)["run_id"])
    seats = []
    for f in range(SEATS // FAMILY):
        hotel = f"H{tag}{(n * 10 + f) % HOTELS:02d}"
        people = [
            Person("passport", "GBR", f"P{tag}{n:05d}{f}{m}",
                   {"name_native": "测试 旅客", "phone": f"+447700{n % 1000:03d}{f}{m}0"})
            for m in range(FAMILY)
        ]
        journeys = app.register_travellers(ENTRY_POINT, people, ctx("traveller"))["journey_ids"]
        for journey in journeys:
            app.screen(UUID(journey), RiskLevel.LOW, 36.6, False, False, ctx("screener"))
        app.dispatch(UUID(journeys[0]), ctx("dispatcher"), site_code=hotel, run_id=run)
        seats += [Seat(j, str(run), hotel) for j in journeys]
    if drive:
        for seat in seats:
            app.scan_boarding(UUID(seat.journey_id), run, f"car-{seat.journey_id}",
                              ctx("escort"))
        app.depart_run(run, ctx("escort"))
        app.arrive_run(run, ctx("escort"))
    return seats


def ready_travellers(
    settings: Settings, car_door: int, room_door: int, tag: str = "X", threads: int = 4,
) -> Ready:
    """At least `car_door` travellers waiting at the car door and `room_door` at the room
    door (whole runs of 40), each run on its own vehicle."""
    car_runs, room_runs = math.ceil(car_door / SEATS), math.ceil(room_door / SEATS)
    services = open_services(settings)
    try:
        app = services.app
        open_line(app, (car_runs + room_runs) * SEATS, tag)
        def run(n: int) -> list[Seat]:
            return _run_of(app, tag, n, drive=n >= car_runs)

        with ThreadPoolExecutor(threads) as pool:
            runs = list(pool.map(run, range(car_runs + room_runs)))
    finally:
        services.close()
    return Ready(
        at_car_door=[s for run in runs[:car_runs] for s in run],
        at_room_door=[s for run in runs[car_runs:] for s in run],
    )
