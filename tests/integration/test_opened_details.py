"""The console's cache of opened names (both backends): one opening per journey version, a
new event means a fresh opening, and personal data leaves memory by age, size or `forget`."""

from __future__ import annotations

from uuid import UUID

from domain.stages import RiskLevel
from projections.opened_details import OpenedDetails
from tests.support import ctx, person, seed_line
from tracking.services import Services


def test_names_are_opened_once_per_journey_version(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    answer = app.register_travellers(line.entry_point, [person("C0000001", "陈𠮷")], ctx())
    journey = str(answer["journey_ids"][0])
    cache = OpenedDetails()
    first = cache.get(app, journey, 1)
    assert (first.name_native, first.risk) == ("陈𠮷", None)
    assert cache.get(app, journey, 1) is first  # no second opening
    app.screen(UUID(journey), RiskLevel.HIGH, None, False, False, ctx())
    later = cache.get(app, journey, app.journey(UUID(journey)).version)
    assert later is not first and later.risk == "high"
    cache.forget(journey)
    assert len(cache) == 0


def test_opened_names_leave_memory_by_age_and_by_size(services: Services) -> None:
    app = services.app
    line = seed_line(app)
    journeys = [
        str(app.register_travellers(line.entry_point, [person(f"C000010{n}")], ctx())
            ["journey_ids"][0])
        for n in range(3)
    ]
    expired = OpenedDetails(ttl_s=0)
    assert expired.get(app, journeys[0], 1) is not expired.get(app, journeys[0], 1)
    small = OpenedDetails(max_entries=2)
    for journey in journeys:
        small.get(app, journey, 1)
    assert len(small) == 2
