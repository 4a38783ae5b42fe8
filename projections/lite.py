"""SQLite: the views live in the event store's own file, beside the library's events table.

The library's SQLite events table has no notification_id column: the notification id is the
table's rowid. SQLite has one writer at a time, so rowids commit in order. Pages are read on
a separate connection outside the write transaction (WAL readers never block the writer), so
the application's writers wait on us only while a folded page is written.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from projections.backend import Backend
from projections.events import Row
from projections.schema import Table, lite_delete, lite_select, lite_upsert
from tracking.persistence import sqlite_connect
from tracking.settings import Settings


class SQLiteBackend(Backend):
    postgres = False

    def __init__(self, settings: Settings, events_table: str) -> None:
        self.settings = settings
        self.events = events_table  # a constant of ours (tracking.persistence), not input
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._status: sqlite3.Connection | None = None
        self._status_lock = threading.Lock()

    def _conn(self, which: str) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self, which)
        if conn is None:
            conn = sqlite_connect(self.settings)
            if which == "_writer":
                # WAL with synchronous=NORMAL: a power cut may lose the last pages, but views
                # and position together (one transaction); the projector re-applies them from
                # the log, which the application still writes with synchronous=FULL.
                conn.execute("PRAGMA synchronous=NORMAL")
            setattr(self, which, conn)
        return conn

    def read(self, after: int, limit: int) -> list[Row]:
        try:
            return self._conn("_reader").execute(
                "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
                f"FROM {self.events} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (after, limit),
            ).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []  # the store was not migrated yet: nothing to project
            raise

    def head(self) -> int:
        row = self._peek(f"SELECT max(rowid) FROM {self.events}")  # noqa: S608
        return int(row[0] or 0) if row else 0

    def count(self, after: int, upto: int) -> int:
        row = self._peek(
            f"SELECT count(*) FROM {self.events} WHERE rowid > ? AND rowid <= ?",  # noqa: S608
            (after, upto),
        )
        return int(row[0]) if row else 0

    def _peek(self, query: str, params: tuple[Any, ...] = ()) -> Row | None:
        with self._status_lock:
            try:
                # fetchall, not fetchone: a statement left unfinished keeps its read
                # transaction (and the WAL snapshot) open.
                rows: list[Row] = self._conn("_status").execute(query, params).fetchall()
            except sqlite3.OperationalError as e:
                if "no such table" in str(e):
                    return None
                raise
            return rows[0] if rows else None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        conn = self._conn("_writer")
        # IMMEDIATE takes the write lock now, so the position read below cannot go stale
        # before our writes (SQLite's stand-in for PostgreSQL's SELECT ... FOR UPDATE).
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn.cursor()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # also when COMMIT itself failed
                conn.execute("ROLLBACK")
            raise

    def _load(self, cur: Any, table: Table, keys: list[tuple[str, ...]]) -> list[Row]:
        param = orjson.dumps([k[0] for k in keys] if len(table.key) == 1 else keys).decode()
        rows: list[Row] = cur.execute(lite_select(table), (param,)).fetchall()
        return rows

    def _upsert(self, cur: Any, table: Table, rows: list[Row]) -> None:
        cur.executemany(lite_upsert(table), rows)

    def _delete(self, cur: Any, table: Table, keys: list[Row], extra: str = "") -> None:
        cur.executemany(lite_delete(table, extra), keys)

    def _notify(self, cur: Any, position: int) -> None:
        pass  # no NOTIFY on SQLite: readers poll the position

    def close(self) -> None:
        with self._status_lock:  # not while another thread reads the status
            for conn in (self._reader, self._writer, self._status):
                if conn is not None:
                    conn.close()
            self._reader = self._writer = self._status = None
