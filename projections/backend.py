"""What the projector needs from a database, and the page transaction both dialects share.

A backend reads the event log (`read`, `head`, `count`) and owns the view tables beside it.
`apply_page` is the exactly-once step: in ONE transaction it locks the position row, checks
that nobody applied this page already, loads the prior rows the page touches, folds, writes
each table with one set-based statement, and moves the position. A crash anywhere before the
commit leaves views and position as they were; after it, both have moved together.

Rows a page wrote are kept in memory (`RowCache`) for the next page, which then loads only
what it has not seen: during a rebuild most journeys recur page after page.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import orjson

from domain.alerts import KINDS
from domain.stages import Stage
from projections.board import read_board_state
from projections.board_fold import leg_days
from projections.events import Event, Row, keys_to_load
from projections.fold import Changes, Fold
from projections.schema import (
    ALERT_COUNTS,
    ALERTS,
    BOARD_CHECKPOINTS,
    BOARD_COUNTERS,
    BOARD_SITE_COUNTS,
    BOARD_STAGE_COUNTS,
    CHECKPOINT_EVERY,
    JOURNEY_STAGE,
    LEG_TIMES,
    POSITION_TABLE,
    PROJECTION,
    RUNS,
    SCHEMA_VERSION,
    SITE_OCCUPANCY,
    SITE_ROOMS,
    TRANSFERS,
    VEHICLES,
    VIEW_TABLES,
    Table,
    create_ddl,
    drop_ddl,
    position_ddl,
    select_all,
)
from tracking.sidestore import PgCursor

# Small tables every page loads whole: the board's deltas carry their absolute values.
WHOLE_TABLES = (BOARD_STAGE_COUNTS, BOARD_SITE_COUNTS, BOARD_COUNTERS, ALERT_COUNTS, SITE_OCCUPANCY)
assert POSITION_TABLE == "projection_position"  # spelled out in the statements below
_SELECT_STATE = (
    "SELECT position, schema_version, rebuild_target FROM projection_position WHERE name = ?"
)


@dataclass(frozen=True)
class ViewState:
    position: int
    schema_version: int
    rebuild_target: int | None  # set while a rebuild is under way

    @property
    def rebuilding(self) -> bool:
        return self.rebuild_target is not None


class RowCache:
    """Rows of the views as they stood at `position`, for the tables pages load from.

    The views are a function of the log up to their position alone (not of who wrote them or
    where pages ended), so cached rows are right whenever the views are at `position`; a page
    that finds them anywhere else starts with an empty cache.
    """

    TABLES = (JOURNEY_STAGE, SITE_ROOMS, RUNS, VEHICLES, ALERTS, TRANSFERS)
    LIMIT = 200_000  # rows; beyond this the cache starts over, to bound a long rebuild's memory

    def __init__(self) -> None:
        self.position = -1
        self.rows: dict[Table, dict[tuple[Any, ...], Row]] = {}
        self.clear()

    def clear(self) -> None:
        self.rows = {t: {} for t in self.TABLES}
        self.size = 0

    def split(self, table: Table, keys: set[tuple[str, ...]]) -> tuple[list[Row], list[Any]]:
        """(cached rows, keys to load from the database)."""
        known = self.rows[table]
        hits = [known[k] for k in keys if k in known]
        return hits, sorted(k for k in keys if k not in known)

    def update(self, changes: Changes, position: int) -> None:
        for table, rows in changes.upserts:
            if table in self.rows:
                width = len(table.key)
                self.rows[table].update((row[:width], row) for row in rows)
        for table, keys in changes.deletes:
            if table in self.rows:
                for key in keys:
                    self.rows[table].pop(tuple(key), None)
        self.position = position
        self.size = sum(len(rows) for rows in self.rows.values())
        if self.size > self.LIMIT:
            self.clear()  # still valid, only empty


class Backend(ABC):
    postgres: bool
    _cache: RowCache | None = None
    # Called inside the page transaction, after the writes and before the commit; tests use it
    # to crash a page half-way and check that nothing of it is left.
    before_commit: Callable[[int], None] | None = None

    # -- the log ---------------------------------------------------------------------------
    @abstractmethod
    def read(self, after: int, limit: int) -> list[Row]:
        """(notification_id, originator_id, version, topic, state) in log order."""

    @abstractmethod
    def head(self) -> int:
        """The last notification id in the log (0 when empty or not created yet)."""

    @abstractmethod
    def count(self, after: int, upto: int) -> int: ...

    @abstractmethod
    def _peek(self, query: str, params: tuple[Any, ...] = ()) -> Row | None:
        """One row of a small read on the status connection (any thread; None: no table)."""

    # -- the views -------------------------------------------------------------------------
    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Any]:
        """A write transaction that serialises with every other projector of these views."""

    @abstractmethod
    def _load(self, cur: Any, table: Table, keys: list[tuple[str, ...]]) -> list[Row]: ...

    @abstractmethod
    def _upsert(self, cur: Any, table: Table, rows: list[Row]) -> None: ...

    @abstractmethod
    def _delete(self, cur: Any, table: Table, keys: list[Row], extra: str = "") -> None: ...

    @abstractmethod
    def _notify(self, cur: Any, position: int) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    def _load_all(self, cur: Any, table: Table, where: str = "", params: Any = ()) -> list[Row]:
        cur.execute(self._sql(select_all(table, self.postgres) + where), params)
        rows: list[Row] = cur.fetchall()
        return rows

    def _load_days(self, cur: Any, days: set[str]) -> list[Row]:
        if not days:
            return []
        if self.postgres:
            return self._load_all(cur, LEG_TIMES, " WHERE day = ANY(?)", (sorted(days),))
        return self._load_all(
            cur, LEG_TIMES, " WHERE day IN (SELECT value FROM json_each(?))",
            (orjson.dumps(sorted(days)).decode(),),
        )

    def _last_delta(self, cur: Any) -> int:
        """The position the page's first delta follows: the last delta's (0 before any)."""
        cur.execute("SELECT max(position) FROM board_deltas")
        row = cur.fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    def _checkpoint(self, cur: Any, position: int) -> None:
        board = read_board_state(PgCursor(cur) if self.postgres else cur)
        board["rebuilding"] = False  # a rebuild's checkpoints equal those of a live run
        self._upsert(cur, BOARD_CHECKPOINTS, [
            (position, board["at"], orjson.dumps(board).decode())
        ])

    def _sql(self, text: str) -> str:
        """Our statements are written with `?` (SQLite); psycopg wants `%s`."""
        return text.replace("?", "%s") if self.postgres else text

    def _state(self, cur: Any, *, lock: bool) -> ViewState | None:
        # FOR UPDATE: page writers (and resets) queue here, one after the other.
        cur.execute(self._sql(_SELECT_STATE + (" FOR UPDATE" if lock and self.postgres else "")),
                    (PROJECTION,))
        row = cur.fetchone()
        return None if row is None else ViewState(int(row[0]), int(row[1]), row[2])

    def state(self) -> ViewState | None:
        """The views' position as last committed (None before the first setup)."""
        row = self._peek(self._sql(_SELECT_STATE), (PROJECTION,))
        return None if row is None else ViewState(int(row[0]), int(row[1]), row[2])

    def setup(self) -> bool:
        """Create what is missing; rebuild views of another schema version. True if reset."""
        with self._transaction() as cur:
            cur.execute(position_ddl(self.postgres))
            state = self._state(cur, lock=True)
            if state is not None and state.schema_version == SCHEMA_VERSION:
                return False
            self._reset(cur, self.head())
            return True

    def reset(self, rebuild_target: int) -> None:
        self._cache = None
        with self._transaction() as cur:
            cur.execute(position_ddl(self.postgres))
            self._state(cur, lock=True)
            self._reset(cur, rebuild_target)

    def _reset(self, cur: Any, rebuild_target: int) -> None:
        # Drop and create rather than truncate, so that a changed schema takes effect.
        for table in VIEW_TABLES:
            cur.execute(drop_ddl(table))
            for ddl in create_ddl(table, self.postgres):
                cur.execute(ddl)
        # Every stage has its row from the start: the board shows zeros, and no row's
        # existence depends on the order events arrived in.
        self._upsert(cur, BOARD_STAGE_COUNTS, [(s.value, 0) for s in Stage])
        self._upsert(cur, ALERT_COUNTS, [(kind, 0) for kind in KINDS])
        cur.execute(
            self._sql(
                "INSERT INTO projection_position (name, position, schema_version, rebuild_target) "
                "VALUES (?, 0, ?, ?) ON CONFLICT (name) DO UPDATE SET position = 0, "
                "schema_version = excluded.schema_version, rebuild_target = excluded.rebuild_target"
            ),
            (PROJECTION, SCHEMA_VERSION, rebuild_target if rebuild_target > 0 else None),
        )

    def apply_page(self, start: int, end: int, events: Sequence[Event]) -> bool:
        """Apply the events in (start, end] exactly once; False if the views are not at start.

        `end` is the page's last notification id, which may belong to an event of an
        aggregate no view shows: the position moves past it all the same.
        """
        cache = self._cache
        if cache is None or cache.position != start:
            cache = self._cache = RowCache()
        with self._transaction() as cur:
            state = self._state(cur, lock=True)
            if state is None or state.position != start:
                return False  # another projector moved on (or a rebuild reset the views)
            loaded = {table: self._load_all(cur, table) for table in WHOLE_TABLES}
            loaded[LEG_TIMES] = self._load_days(cur, leg_days(events))
            for table, keys in keys_to_load(list(events)).by_table.items():
                loaded[table], missing = cache.split(table, keys)
                if missing:
                    loaded[table] += self._load(cur, table, missing)
            changes = Fold(loaded, self._last_delta(cur)).apply(events)
            for table, rows in changes.upserts:
                if rows:
                    self._upsert(cur, table, rows)
            for table, rows in changes.deletes:
                if rows:
                    self._delete(cur, table, rows)
            for table, rows in changes.zero_checks:
                if rows:
                    self._delete(cur, table, rows, extra=" AND n = 0")
            target = state.rebuild_target
            cur.execute(
                self._sql(
                    "UPDATE projection_position SET position = ?, rebuild_target = ? WHERE name = ?"
                ),
                (end, None if target is None or end >= target else target, PROJECTION),
            )
            if start // CHECKPOINT_EVERY != end // CHECKPOINT_EVERY:
                self._checkpoint(cur, end)
            self._notify(cur, end)
            if self.before_commit is not None:
                self.before_commit(end)
        cache.update(changes, end)  # only once committed
        return True


def columns(rows: Sequence[Row]) -> list[list[Any]]:
    """Rows -> one list per column (PostgreSQL takes each column as one array parameter)."""
    return [list(c) for c in zip(*rows, strict=True)]
