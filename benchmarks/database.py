"""A fresh PostgreSQL database per benchmark run, on the server named by the environment."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse
from uuid import uuid4

import psycopg

from tracking.settings import Settings, load_settings

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def fresh_postgres() -> Iterator[Settings]:
    """Settings for a new database beside TRACKING_BENCH_DATABASE_URL's, dropped afterwards."""
    base = urlparse(os.environ.get("TRACKING_BENCH_DATABASE_URL", DEFAULT_URL))
    name = f"bench_{uuid4().hex[:10]}"
    admin = urlunparse(base._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            yield load_settings(
                {
                    "TRACKING_DATA_DIR": str(Path(data_dir)),
                    "TRACKING_DATABASE_URL": urlunparse(base._replace(path=f"/{name}")),
                }
            )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
