"""Our own tables beside the event store, in the same database: views, keys, tracking rows.

One small interface over sqlite3 and psycopg so that the same SQL (written with `?`
placeholders, translated for PostgreSQL) serves both backends.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
import psycopg_pool

from tracking.errors import StoreUnavailable
from tracking.persistence import sqlite_connect
from tracking.settings import Settings


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    @property
    def rowcount(self) -> int: ...


class PgCursor:
    """Translates `?` placeholders so that one SQL text serves both dialects."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(pg_sql(sql), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cur.executemany(pg_sql(sql), params)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


def pg_sql(sql: str) -> str:
    """Our `?`-placeholder SQL as psycopg takes it."""
    return sql.replace("%", "%%").replace("?", "%s")


class SideStore:
    def __init__(self, settings: Settings, *, max_size: int = 8) -> None:
        self.settings = settings
        self.is_postgres = settings.is_postgres
        self._local = threading.local()
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] | None = None
        if self.is_postgres:
            self._pool = psycopg_pool.ConnectionPool(
                settings.postgres_conninfo,
                min_size=1,
                max_size=max_size,
                timeout=settings.db_timeout_s,
                max_waiting=64,
                check=psycopg_pool.ConnectionPool.check_connection,
                open=False,
            )
            self._pool.open(wait=False)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Cursor]:
        """One transaction; an unreachable database raises StoreUnavailable."""
        if self._pool is not None:
            try:
                with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                    yield PgCursor(cur)
            except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as e:
                raise StoreUnavailable(str(e)) from e
            return
        lite = self._sqlite()
        try:
            lite.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            cursor = lite.cursor()
            try:
                yield cursor
            except BaseException:
                lite.execute("ROLLBACK")
                raise
            lite.execute("COMMIT")
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise StoreUnavailable(str(e)) from e
            raise

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite_connect(self.settings)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
