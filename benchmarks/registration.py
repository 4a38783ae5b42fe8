"""command_register: registrations/s through the application layer with 4 threads, beside the
library's bare aggregate create+save on the same server in the same run."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from domain.context import Context
from tracking.application import Person
from tracking.persistence import store_env
from tracking.services import migrate, open_services
from tracking.settings import Settings

THREADS = 4


class BareTraveller(Aggregate):
    class Registered(Aggregate.Created):
        number: str

    @event(Registered)
    def __init__(self, number: str) -> None:
        self.number = number


class BareApp(Application[UUID]):
    name = "bare"


def _rate(n: int, work: Callable[[int], object]) -> float:
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(min(n, 50))))  # warm the pools and caches
        started = time.perf_counter()
        list(pool.map(work, range(50, n + 50)))
        return n / (time.perf_counter() - started)


def bench_command_register(
    settings: Settings, n: int = 4000, rounds: int = 3
) -> dict[str, float | str]:
    """Alternates rounds of the two on one shared, noisy machine; reports the best of each."""
    bare = BareApp(store_env(settings, create_tables=True) | {"POSTGRES_POOL_SIZE": "8"})
    migrate(settings)
    services = open_services(settings)
    app = services.app
    app.register_entry_point("BENCH", "Benchmark entry point")

    def register(i: int) -> object:
        ctx = Context(
            command_id=uuid4(), actor="traveller", role="traveller", occurred_at=datetime.now(UTC)
        )
        person = Person("passport", "GBR", f"X{i:08d}", {"name_native": "Bench", "phone": "+4477"})
        return app.register_travellers("BENCH", [person], ctx)

    per_round = n // rounds
    baselines, values = [], []
    for r in range(rounds):
        offset = r * (per_round + 100)

        def save_bare(i: int, o: int = offset) -> object:
            return bare.save(BareTraveller(number=f"B{o + i:08d}"))

        def register_ours(i: int, o: int = offset) -> object:
            return register(o + i)

        baselines.append(_rate(per_round, save_bare))
        values.append(_rate(per_round, register_ours))
    bare.close()
    services.close()
    baseline, value = max(baselines), max(values)
    return {
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3),
        "unit": "registrations/s",
    }
