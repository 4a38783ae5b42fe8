"""SIGKILL the projector every 15 s under load, restarting it each time as a supervisor would
(issue 8): afterwards the views equal a rebuild from zero, row for row, and each event was
applied once (the board's counts by stage equal the log's journeys by stage, which the checker
holds them to); no acknowledged command lost or duplicated.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.staff import Role
from tests.chaos.checker import check
from tests.chaos.deployment import deployed
from tests.chaos.load import Load
from tests.chaos.scale import Scale
from tests.integration.test_projector import clean_rebuild, dump_views
from tracking.settings import Settings

pytestmark = pytest.mark.postgres


def differing_rows(
    live: dict[str, list[tuple[Any, ...]]], rebuilt: dict[str, list[tuple[Any, ...]]]
) -> dict[str, int]:
    """Per view table, how many rows one side has and the other has not."""
    out = {}
    for table in sorted(set(live) | set(rebuilt)):
        a, b = set(live.get(table, [])), set(rebuilt.get(table, []))
        if a != b or len(live.get(table, [])) != len(rebuilt.get(table, [])):
            out[table] = len(a ^ b) or abs(len(live[table]) - len(rebuilt[table]))
    return out


def test_sigkill_the_projector_under_load(
    pg_settings: Settings, tmp_path: Path, scale: Scale
) -> None:
    with deployed(pg_settings, tmp_path) as d:
        apis = d.serve()
        load = Load(lambda: [a.url for a in apis], entry_point=d.entry_point,
                    screener_token=d.tokens[Role.SCREENER], clients=scale.clients).start()
        killed_at: list[int] = []  # the views' position when each kill came
        try:
            for _ in scale.every(scale.projector_kill_every_s):
                assert d.projector is not None
                assert d.projector.process.poll() is None, d.projector.output()
                d.projector.kill()
                killed_at.append(_position(apis[0].url))
                time.sleep(0.5)  # a supervisor's restart delay
                d.start_projector()
        finally:
            load.stop()
        print(f"\n{load.summary()}; projector killed at positions {killed_at}")
        assert len(killed_at) >= 2 and killed_at[0] < killed_at[-1], killed_at
        verdict = check("projector-sigkill", pg_settings, load, apis[0].url,
                        d.tokens[Role.COMMANDER], publish=False, kills=len(killed_at))
        assert d.projector is not None
        d.projector.terminate()
        live = dump_views(pg_settings)
        rebuilt = clean_rebuild(pg_settings)  # from zero, in pages of another size
        differing = differing_rows(live, rebuilt)
        print(f"views rows {sum(map(len, live.values()))}; differing from a rebuild: {differing}")
        verdict.extra["view_rows"] = sum(map(len, live.values()))
        verdict.extra["rows_differing_from_rebuild"] = sum(differing.values())
        verdict.publish()
        assert differing == {}
        assert verdict.lost == 0 and verdict.duplicated == 0, verdict.problems
        assert verdict.problems == []


def _position(url: str) -> int:
    return int(httpx.get(f"{url}/healthz", timeout=5).json()["projector"]["position"])
