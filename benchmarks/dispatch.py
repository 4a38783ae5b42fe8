"""dispatch_snapshot: the console's read (`GET /api/dispatch`'s body) with N screened travellers
waiting, beside the bare read of the same views in the same run. The difference is the cost of
opening each waiting traveller's sealed name and street for the dispatcher."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID, uuid4

from domain.context import Context
from domain.stages import RiskLevel
from projections.dispatch_queries import read_dispatch
from projections.dispatching import dispatch_snapshot
from projections.opened_details import OPENED
from projections.projector import Projector
from tracking.application import Person
from tracking.services import migrate, open_services
from tracking.settings import Settings

FAMILY = 3


def _ctx() -> Context:
    return Context(command_id=uuid4(), actor="bench", role="screener",
                   occurred_at=datetime.now(UTC))


def _best_ms(work: Callable[[], object], rounds: int) -> float:
    work()  # warm caches and connections
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def bench_dispatch_snapshot(
    settings: Settings, waiting: int = 600, rounds: int = 5
) -> dict[str, dict[str, float | str]]:
    """Two figures: a read with every name already opened (each console's steady state), and
    a cold one (after a restart, or when the whole queue is new)."""
    migrate(settings)
    services = open_services(settings)
    app = services.app
    try:
        app.register_entry_point("BENCH", "Benchmark entry point")
        for p in range(waiting // FAMILY):
            people = [
                Person("passport", "GBR", f"D{p:06d}{m}",
                       {"name_native": f"旅客{p}-{m}", "phone": "+447700900000",
                        "destination_street": "ST-BENCH", "destination_address": "1 Road"})
                for m in range(FAMILY)
            ]
            answer = app.register_travellers("BENCH", people, _ctx())
            for journey in answer["journey_ids"]:
                app.screen(UUID(journey), RiskLevel.LOW, None, False, False, _ctx())
        projector = Projector(settings)
        try:
            projector.run_once()
        finally:
            projector.close()
        snapshot = dispatch_snapshot(app, services.store, datetime.now(UTC))
        (group,) = snapshot["queue"]
        assert sum(p["size"] for p in group["parties"]) == waiting // FAMILY * FAMILY
        warm = _best_ms(lambda: dispatch_snapshot(app, services.store, datetime.now(UTC)), rounds)

        def cold_read() -> object:
            OPENED.clear()
            return dispatch_snapshot(app, services.store, datetime.now(UTC))

        cold = _best_ms(cold_read, rounds)
        baseline = _best_ms(lambda: read_dispatch(services.store), rounds)
    finally:
        services.close()
    unit = f"ms per console read, {waiting} waiting"
    return {
        name: {"value": round(value, 1), "baseline": round(baseline, 1),
               "ratio": round(value / baseline, 2), "unit": unit}
        for name, value in (("dispatch_snapshot", warm), ("dispatch_snapshot_cold", cold))
    }
