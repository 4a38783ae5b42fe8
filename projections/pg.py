"""PostgreSQL: our own SQL on the library's events table; set-based page writes.

Reading the log: the library's default write path takes a table lock per transaction, so
notification ids commit in id order and `notification_id > position` never skips a late
commit; ids lost to rolled-back transactions are just gaps. Pages are fetched in binary
(bytea travels raw instead of hex-encoded).

Writing: one statement per table and page. Small row sets travel as one binary array per
column (`unnest`); large ones go through COPY, whose row formatting psycopg does in C while
its array dumping is Python (measured: COPY halves the cost of a 3,000-row timeline page).
Upserts COPY into a per-connection temporary table and merge from it in one statement.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from projections.backend import Backend, columns
from projections.events import Row
from projections.schema import VIEW_TABLES, VIEWS_CHANNEL, Table, pg_keyed, pg_merge, pg_upsert
from tracking.settings import Settings

# Serialises setup/reset between processes: CREATE TABLE IF NOT EXISTS run concurrently fails
# on PostgreSQL ("tuple concurrently updated").
_SETUP_LOCK = 0x7472_6163_6B76  # "trackv"
# A page write never waits long on a lock; the page is simply retried.
_OPTIONS = "-c timezone=UTC -c lock_timeout=10000 -c statement_timeout=300000"
# A page's commit need not wait for its WAL flush: a crash can lose the last pages, but views
# and position together (one transaction), and the projector re-applies them from the log.
# Consistency is kept, only durability is traded, and the log itself is the durable copy.
_WRITER_OPTIONS = _OPTIONS + " -c synchronous_commit=off"
# Rows from which COPY + merge beats one unnest statement (measured: even at ~100 rows,
# 1.4x faster at 2,000).
COPY_FROM = 100


class PostgresBackend(Backend):
    postgres = True

    def __init__(self, settings: Settings, events_table: str) -> None:
        self.conninfo = settings.postgres_conninfo
        self.events = sql.Identifier(events_table)
        self._reader: psycopg.Connection[Any] | None = None
        self._writer: psycopg.Connection[Any] | None = None
        self._status: psycopg.Connection[Any] | None = None
        self._status_lock = threading.Lock()
        self._staging: set[str] = set()  # temporary tables made on the current writer

    def _conn(self, which: str) -> psycopg.Connection[Any]:
        # Pages are read on one connection and written on another (reads never sit inside a
        # write transaction); small status reads from any thread (position, head) share a
        # third, under a lock. Each reconnects after the server went away.
        conn: psycopg.Connection[Any] | None = getattr(self, which)
        if conn is None or conn.closed or conn.broken:
            options = _WRITER_OPTIONS if which == "_writer" else _OPTIONS
            conn = psycopg.connect(self.conninfo, autocommit=True, options=options)
            setattr(self, which, conn)
            if which == "_writer":
                self._staging.clear()
        return conn

    def read(self, after: int, limit: int) -> list[Row]:
        # No upper bound in the SQL: with one, and statistics not yet refreshed after a bulk
        # load, the planner chose a bitmap scan plus sort of the whole range (76 ms a page
        # instead of 2 ms). The caller trims a page that runs past where it must stop.
        query = sql.SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state "
            "FROM {} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(self.events)
        try:
            with self._conn("_reader").cursor(binary=True) as cur:
                return cur.execute(query, (after, limit)).fetchall()
        except psycopg.errors.UndefinedTable:
            return []  # the store was not migrated yet: nothing to project

    def head(self) -> int:
        row = self._peek(sql.SQL("SELECT max(notification_id) FROM {}").format(self.events))
        return int(row[0] or 0) if row else 0

    def count(self, after: int, upto: int) -> int:
        row = self._peek(
            sql.SQL(
                "SELECT count(*) FROM {} WHERE notification_id > %s AND notification_id <= %s"
            ).format(self.events),
            (after, upto),
        )
        return int(row[0]) if row else 0

    def _peek(self, query: str | sql.Composed, params: tuple[Any, ...] = ()) -> Row | None:
        with self._status_lock:
            try:
                row: Row | None = self._conn("_status").execute(query, params).fetchone()
            except psycopg.errors.UndefinedTable:
                return None
            return row

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        conn = self._conn("_writer")
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except BaseException:
            # A rolled-back transaction takes the staging tables it created with it.
            self._staging.clear()
            raise

    def setup(self) -> bool:
        with self._exclusive():
            return super().setup()

    def reset(self, rebuild_target: int) -> None:
        with self._exclusive():
            super().reset(rebuild_target)

    def _reset(self, cur: Any, rebuild_target: int) -> None:
        # Staging tables copy the views' columns: make them again after the views change.
        for table in VIEW_TABLES:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.staging_{table.name}")
        self._staging.clear()
        super()._reset(cur, rebuild_target)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        # Session-level, so it also covers the head() read before the DDL. Page transactions
        # need no part of it: they serialise with a reset on the position row's lock.
        conn = self._conn("_writer")
        conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))

    def _load(self, cur: Any, table: Table, keys: list[tuple[str, ...]]) -> list[Row]:
        rows: list[Row] = cur.execute(pg_keyed(table, "SELECT"), columns(keys)).fetchall()
        return rows

    def _upsert(self, cur: Any, table: Table, rows: list[Row]) -> None:
        if table.append_only:
            self._copy(cur, table.name, table, rows)
        elif len(rows) < COPY_FROM:
            cur.execute(pg_upsert(table), columns(rows))
        else:
            staging = f"staging_{table.name}"
            if staging not in self._staging:
                # Rows vanish at each commit; the table itself lives as long as the connection.
                cur.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
                    f"(LIKE {table.name}) ON COMMIT DELETE ROWS"
                )
                self._staging.add(staging)
            self._copy(cur, staging, table, rows)
            cur.execute(pg_merge(table, staging))

    @staticmethod
    def _copy(cur: Any, into: str, table: Table, rows: list[Row]) -> None:
        # Text format: uuids and ISO times are already text, and the server parses them.
        with cur.copy(f"COPY {into} ({', '.join(table.names)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _delete(self, cur: Any, table: Table, keys: list[Row], extra: str = "") -> None:
        cur.execute(pg_keyed(table, "DELETE", extra), columns(keys))

    def _notify(self, cur: Any, position: int) -> None:
        # Delivered at commit only: listeners never see a position whose rows are not visible.
        cur.execute("SELECT pg_notify(%s, %s)", (VIEWS_CHANNEL, str(position)))

    def close(self) -> None:
        with self._status_lock:  # not while another thread reads the status
            for conn in (self._reader, self._writer, self._status):
                if conn is not None:
                    conn.close()
            self._reader = self._writer = self._status = None
