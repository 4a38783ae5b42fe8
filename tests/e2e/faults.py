"""Faults made in the real database under a running server (no mocks): while the block runs,
the store refuses to insert events whose topic matches, and every other write goes on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from tracking.persistence import events_table, sqlite_connect
from tracking.settings import Settings


@contextmanager
def refuse_inserts(settings: Settings, topic_like: str) -> Iterator[None]:
    table = events_table(settings)
    if settings.is_postgres:
        with psycopg.connect(settings.postgres_conninfo, autocommit=True) as conn:
            conn.execute(
                "CREATE OR REPLACE FUNCTION refuse_event() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'this store refuses %', NEW.topic; END $$ LANGUAGE plpgsql"
            )
            conn.execute(
                f"CREATE TRIGGER refuse_event BEFORE INSERT ON {table} FOR EACH ROW "
                f"WHEN (NEW.topic LIKE '{topic_like}') EXECUTE FUNCTION refuse_event()"
            )
            try:
                yield
            finally:
                conn.execute(f"DROP TRIGGER refuse_event ON {table}")
        return
    conn = sqlite_connect(settings)
    try:
        conn.execute(
            f"CREATE TRIGGER refuse_event BEFORE INSERT ON {table} "
            f"WHEN NEW.topic LIKE '{topic_like}' BEGIN "
            "SELECT RAISE(ABORT, 'this store refuses the event'); END"
        )
        try:
            yield
        finally:
            conn.execute("DROP TRIGGER refuse_event")
    finally:
        conn.close()
