"""The scale of the faults (tests/chaos/scale.py), and PostgreSQL, which they need: without it
they fail, never skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.chaos.scale import Scale, current
from tests.databases import ADMIN_CONNINFO, fresh_settings
from tests.pgcluster import PG_BIN, TempCluster
from tracking.settings import Settings


@pytest.fixture(scope="session")
def scale() -> Scale:
    return current()


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    """A fresh database on the shared PostgreSQL server; an unreachable server fails the test."""
    try:
        psycopg.connect(ADMIN_CONNINFO, connect_timeout=5).close()
    except psycopg.OperationalError as e:
        pytest.fail(f"the fault tests need PostgreSQL ({ADMIN_CONNINFO}): {e}")
    with fresh_settings("postgres", tmp_path / "settings") as settings:
        yield settings


@pytest.fixture
def cluster() -> Iterator[TempCluster]:
    """A PostgreSQL cluster of the test's own, which it may stop and start."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"the outage fault needs the PostgreSQL server binaries (not at {PG_BIN})")
    cluster = TempCluster()
    cluster.start()
    yield cluster
    cluster.destroy()
