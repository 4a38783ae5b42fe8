"""The event store with the library's defaults changed for a service.

Defaults that would make a request hang (lock timeout 0, pool waits of 30 s retried ten times)
are replaced so that an unavailable store fails within `Settings.db_timeout_s`; the API turns
that failure into 503. SQLite runs in WAL mode with synchronous FULL.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)

from tracking.settings import Settings

APP_NAME = "tracking"


def _single_attempt(method: Callable[..., Any]) -> Callable[..., Any]:
    # The library retries connection errors ten times, 0.2 s apart, each after a full pool
    # wait: a request would hang for half a minute. One attempt, then 503.
    return getattr(method, "__wrapped__", method)


# A traveller's data key is written in the same transaction as the events sealed with it:
# no event without its key, and no extra round trip per registration.
INSERT_KEYS = (
    "INSERT INTO personal_data_keys (subject_id, data_key) VALUES ({p}, {p})"
    " ON CONFLICT (subject_id) DO NOTHING"
)


# Erasure destroys a traveller's key in the same transaction as the event that records it
# (tracking/retention.py): never an "erased" event with its key still there, nor the reverse.
DELETE_KEYS = "DELETE FROM personal_data_keys WHERE subject_id = {p}"


def _key_rows(kwargs: dict[str, Any]) -> list[tuple[str, bytes]]:
    keys: dict[Any, bytes] = kwargs.get("personal_keys") or {}
    return [(str(subject), key) for subject, key in keys.items()]


def _forgotten(kwargs: dict[str, Any]) -> list[tuple[str]]:
    return [(str(subject),) for subject in kwargs.get("forget_keys") or ()]


class FailFastPostgresRecorder(PostgresApplicationRecorder):
    insert_events = _single_attempt(PostgresApplicationRecorder.insert_events)
    select_events = _single_attempt(PostgresApplicationRecorder.select_events)
    select_notifications = _single_attempt(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _single_attempt(PostgresApplicationRecorder.max_notification_id)

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        rows = _key_rows(kwargs)
        if rows:
            curs.executemany(INSERT_KEYS.format(p="%s"), rows)
        forgotten = _forgotten(kwargs)
        if forgotten:
            curs.executemany(DELETE_KEYS.format(p="%s"), forgotten)
        super()._insert_events(curs, stored_events, **kwargs)


class KeyWritingSQLiteRecorder(SQLiteApplicationRecorder):
    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = _key_rows(kwargs)
        if rows:
            c.executemany(INSERT_KEYS.format(p="?"), rows)
        forgotten = _forgotten(kwargs)
        if forgotten:
            c.executemany(DELETE_KEYS.format(p="?"), forgotten)
        return super()._insert_events(c, stored_events, **kwargs)


class FailFastPostgresFactory(PostgresFactory):
    application_recorder_class = FailFastPostgresRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        timeout = int(self.env.get("POSTGRES_CONNECT_TIMEOUT") or "2")
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        # libpq's own connect timeout, which the library leaves unbounded.
        kwargs["connect_timeout"] = max(timeout, 2)
        kwargs["options"] = f"-c lock_timeout={timeout * 1000} -c statement_timeout=30000"


class DurableSQLitePool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        conn = super()._create_connection()
        conn._sqlite_conn.execute("PRAGMA synchronous=FULL")
        return conn


class DurableSQLiteFactory(SQLiteFactory):
    application_recorder_class = KeyWritingSQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        old = self.datastore.pool
        self.datastore.pool = DurableSQLitePool(
            db_name=old.db_name, lock_timeout=old.lock_timeout, pool_timeout=5.0
        )
        old.close()


def cipher_env(settings: Settings) -> dict[str, str]:
    """Every event's state is encrypted with the store key ring (tracking/store_cipher.py).

    Set under both the plain and the application-prefixed names: the library reads
    `TRACKING_CIPHER_TOPIC` from the process environment before `CIPHER_TOPIC`, and ours must
    be the one it finds."""
    ring = ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in settings.cipher_keys)
    topic = "tracking.store_cipher:KeyRingCipher"
    prefix = APP_NAME.upper()
    return {
        "CIPHER_TOPIC": topic, f"{prefix}_CIPHER_TOPIC": topic,
        "CIPHER_KEYS": ring, f"{prefix}_CIPHER_KEYS": ring,
    }


def store_env(settings: Settings, *, create_tables: bool) -> dict[str, str]:
    """The eventsourcing environment for our application."""
    return _store_env(settings, create_tables=create_tables) | cipher_env(settings)


def _store_env(settings: Settings, *, create_tables: bool) -> dict[str, str]:
    create = "y" if create_tables else "n"
    if settings.is_postgres:
        p = settings.postgres_params
        timeout = str(settings.db_timeout_s)
        return {
            "PERSISTENCE_MODULE": f"{__name__}:FailFastPostgresFactory",
            "POSTGRES_DBNAME": p["dbname"],
            "POSTGRES_HOST": p["host"],
            "POSTGRES_PORT": p["port"],
            "POSTGRES_USER": p["user"],
            "POSTGRES_PASSWORD": p["password"],
            "POSTGRES_CONNECT_TIMEOUT": timeout,
            "POSTGRES_LOCK_TIMEOUT": timeout,
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_POOL_SIZE": "4",
            "POSTGRES_MAX_OVERFLOW": "8",
            "POSTGRES_MAX_WAITING": "64",
            "CREATE_TABLE": create,
        }
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": f"{__name__}:DurableSQLiteFactory",
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "SQLITE_LOCK_TIMEOUT": "5",
        "CREATE_TABLE": create,
    }


def events_table(settings: Settings) -> str:
    return f"{APP_NAME}_events" if settings.is_postgres else "stored_events"


def sqlite_connect(settings: Settings) -> sqlite3.Connection:
    """A connection for our own tables beside the SQLite event store (views, keys)."""
    conn = sqlite3.connect(
        settings.sqlite_path, timeout=5.0, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn
