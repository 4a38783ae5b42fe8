"""Fresh databases for tests: a SQLite file, or a new PostgreSQL database on 127.0.0.1:5432.

With TRACKING_REQUIRE_POSTGRES=1 (CI), an unreachable PostgreSQL fails the test instead of
skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import uuid4

import psycopg
import pytest

from tracking.settings import Settings, load_settings

ADMIN_CONNINFO = os.environ.get(
    "TRACKING_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
BACKENDS = ["sqlite", "postgres"]
# Fixture params: the PostgreSQL case carries the `postgres` marker (`-m "not postgres"`).
POSTGRES_MARKED = [
    pytest.param(b, marks=[pytest.mark.postgres] if b == "postgres" else []) for b in BACKENDS
]


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_CONNINFO, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if os.environ.get("TRACKING_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unreachable: {e}")
        pytest.skip(f"PostgreSQL unreachable: {e}")


@contextmanager
def fresh_settings(backend: str, data_dir: Path) -> Iterator[Settings]:
    env = {"TRACKING_DATA_DIR": str(data_dir)}
    if backend == "sqlite":
        yield load_settings(env)
        return
    name = f"t_{uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f"CREATE DATABASE {name}")
    params = psycopg.conninfo.conninfo_to_dict(ADMIN_CONNINFO)
    url = (
        f"postgresql://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:"
        f"{params.get('port', 5432)}/{name}"
    )
    try:
        yield load_settings(env | {"TRACKING_DATABASE_URL": url})
    finally:
        with _admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
