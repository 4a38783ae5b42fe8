"""The view tables, declared once and rendered as SQL for PostgreSQL and for SQLite.

Every statement the projector writes is generated from these specs, so that a column added
here is created, loaded, upserted and compared everywhere without a second list to forget.
Identifiers are ours and constant: nothing user-supplied is ever formatted into SQL.
"""
# ruff: noqa: S608  (every name formatted into SQL here is a constant of this module)

from __future__ import annotations

from dataclasses import dataclass

# Bump when a table below changes: a projector that finds another version rebuilds from zero.
# 2: timeline summaries hold no health data; 3: journey risk; 4: alerts and the facts they need;
# 5: the board's deltas, checkpoints, leg times and survey backlog; 6: the survey worklist,
# derived contacts, quarantine tests, hospital transfers, the access log and daily counts
SCHEMA_VERSION = 6
PROJECTION = "views"
POSITION_TABLE = "projection_position"
# PostgreSQL channel NOTIFYed with the new position whenever a page commits, so that other
# processes (API workers serving boards) learn of changes without polling.
VIEWS_CHANNEL = "tracking_views"
# A whole-board checkpoint whenever a page crosses a multiple of this many positions.
CHECKPOINT_EVERY = 20_000

_PG = {"uuid": "uuid", "text": "text", "int": "integer", "bigint": "bigint", "ts": "timestamptz"}
_LITE = {"uuid": "TEXT", "text": "TEXT", "int": "INTEGER", "bigint": "INTEGER", "ts": "TEXT"}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (column, abstract type: uuid/text/int/bigint/ts)
    key: tuple[str, ...]
    # Upserts add these columns to the stored value instead of replacing it (counters).
    additive: tuple[str, ...] = ()
    # Rows are only ever inserted: a duplicate key means a page was applied twice, so the
    # insert must fail loudly rather than be absorbed by an upsert.
    append_only: bool = False
    index: tuple[str, ...] = ()
    more_indexes: tuple[tuple[str, ...], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def kind(self, column: str) -> str:
        return dict(self.columns)[column]


BOARD_STAGE_COUNTS = Table(
    "board_stage_counts", (("stage", "text"), ("n", "int")), key=("stage",), additive=("n",)
)
BOARD_SITE_COUNTS = Table(
    "board_site_counts",
    (("site_id", "uuid"), ("stage", "text"), ("n", "int")),
    key=("site_id", "stage"),
    additive=("n",),
)
SITE_OCCUPANCY = Table(
    "site_occupancy",
    (
        ("site_id", "uuid"), ("code", "text"), ("name", "text"), ("kind", "text"),
        ("capacity", "int"), ("held", "int"), ("occupied", "int"),
    ),
    key=("site_id",),
)
# Only rooms that are held or occupied have a row: a release must know which count to lower.
SITE_ROOMS = Table(
    "site_rooms",
    (("site_id", "uuid"), ("room", "text"), ("status", "text")),
    key=("site_id", "room"),
)
JOURNEY_STAGE = Table(
    "journey_stage",
    (
        ("journey_id", "uuid"), ("stage", "text"), ("entered_at", "ts"),
        ("entry_point", "text"), ("site_id", "uuid"), ("run_id", "uuid"),
        ("party_id", "uuid"), ("custodian", "text"), ("version", "int"), ("risk", "text"),
        # What the loop-not-closed alerts read (store times): when the traveller boarded; a
        # custody offer not yet accepted or withdrawn; a misdirected scan not yet put right.
        ("boarded_at", "ts"), ("offered_to", "text"), ("offered_at", "ts"),
        ("off_route", "text"), ("off_route_at", "ts"),
        # When each leg of the line began (store times), for the board's door-to-door times.
        ("screened_at", "ts"), ("seated_at", "ts"), ("arrived_at", "ts"), ("surveyed_at", "ts"),
        # The survey worklist's clock starts at the room door; derived contacts compare flights
        # (a keyed hash of the number) and seat rows around the registration time.
        ("registered_at", "ts"), ("checked_in_at", "ts"), ("flight_key", "text"),
        ("flight_row", "int"),
        # The quarantine order: day 1 and the planned end (ISO dates).
        ("quarantine_starts_on", "text"), ("planned_end", "text"),
    ),
    key=("journey_id",),
    index=("stage", "entered_at"),
    more_indexes=(("surveyed_at", "checked_in_at"), ("flight_key",), ("party_id",), ("run_id",)),
)
# The tests of quarantine orders: one row per scheduled (or recorded) day of an order, with
# whether its result is recorded (the result itself is health data: only the event holds it).
QUARANTINE_TESTS = Table(
    "quarantine_tests",
    (("journey_id", "uuid"), ("day", "int"), ("due_on", "text"), ("site_id", "uuid"),
     ("recorded", "int")),
    key=("journey_id", "day"),
    index=("due_on",),
)
# Hospital transfers (domain/transfer.py): what dispatch is asked to move to hospital.
TRANSFERS = Table(
    "transfers",
    (("transfer_id", "uuid"), ("journey_id", "uuid"), ("status", "text"), ("status_at", "ts"),
     ("requested_at", "ts"), ("entry_point", "text"), ("pickup", "text"), ("room", "text"),
     ("urgency", "text"), ("vehicle_id", "uuid"), ("plate", "text"), ("hospital", "text")),
    key=("transfer_id",),
    index=("status", "requested_at"),
)
# Who read which traveller's survey or health data, and why (domain/audit.py).
DATA_ACCESS = Table(
    "data_access",
    (("access_id", "uuid"), ("journey_id", "uuid"), ("actor", "text"), ("role", "text"),
     ("what", "text"), ("purpose", "text"), ("recorded_at", "ts"), ("notification_id", "bigint")),
    key=("access_id",),
    append_only=True,
    index=("journey_id", "notification_id"),
)
# Counts per local day for the daily report: (day, metric, dimension, key) -> n, where the
# dimension is "all" (key ""), "entry_point" (its code) or "site" (its id).
DAILY_COUNTS = Table(
    "daily_counts",
    (("day", "text"), ("metric", "text"), ("dimension", "text"), ("key", "text"), ("n", "int")),
    key=("day", "metric", "dimension", "key"),
    additive=("n",),
)
# `place` is the event's `where` ("where" is an SQL keyword); queries return it as "where".
JOURNEY_TIMELINE = Table(
    "journey_timeline",
    (
        ("journey_id", "uuid"), ("version", "int"), ("notification_id", "bigint"),
        ("event_type", "text"), ("actor", "text"), ("role", "text"), ("place", "text"),
        ("occurred_at", "ts"), ("recorded_at", "ts"), ("summary", "text"),
    ),
    key=("journey_id", "version"),
    append_only=True,
)
RUNS = Table(
    "runs",
    (
        ("run_id", "uuid"), ("vehicle_id", "uuid"), ("plate", "text"), ("status", "text"),
        ("seats", "int"), ("seated", "int"), ("boarded", "int"), ("handed_over", "int"),
        ("escort", "text"), ("entry_point", "text"),
        # When the run entered its status (store time); passengers who left another way.
        ("status_at", "ts"), ("exited", "int"), ("first_boarded_at", "ts"),
    ),
    key=("run_id",),
)
VEHICLES = Table(
    "vehicles",
    (("vehicle_id", "uuid"), ("plate", "text"), ("seats", "int"), ("active_run", "uuid")),
    key=("vehicle_id",),
)
ENTRY_POINTS = Table("entry_points", (("code", "text"), ("name", "text")), key=("code",))
# Loop-not-closed alerts (domain/alerts.py), open and cleared; `since` is when the loop opened.
ALERTS = Table(
    "alerts",
    (
        ("alert_id", "uuid"), ("kind", "text"), ("subject", "text"), ("journey_id", "uuid"),
        ("run_id", "uuid"), ("entry_point", "text"), ("detail", "text"), ("since", "ts"),
        ("threshold_minutes", "int"), ("raised_at", "ts"), ("cleared_at", "ts"),
        ("status", "text"), ("reason", "text"),
    ),
    key=("alert_id",),
    index=("status", "raised_at"),
)
# Open alerts per kind; every kind has its row (zero included) from the start.
ALERT_COUNTS = Table("alert_counts", (("kind", "text"), ("n", "int")), key=("kind",),
                     additive=("n",))

# Board counters besides the stages: `survey_due`, open journeys not yet surveyed.
BOARD_COUNTERS = Table("board_counters", (("name", "text"), ("n", "int")), key=("name",),
                       additive=("n",))
# Door-to-door times: one row per local day and cell (`leg|dimension|key`), holding the
# minute-rounded durations as a JSON histogram {minute: count} and the figures derived from it.
LEG_TIMES = Table(
    "leg_times",
    (("day", "text"), ("cell", "text"), ("histogram", "text"), ("n", "int"), ("p50", "int"),
     ("p95", "int")),
    key=("day", "cell"),
)
# What each projected event changed on the board (docs/board.md), in log order: what live
# boards resume from and time travel replays. `previous` is the previous delta's position.
BOARD_DELTAS = Table(
    "board_deltas",
    (("position", "bigint"), ("previous", "bigint"), ("recorded_at", "ts"),
     ("changes", "text")),
    key=("position",),
    append_only=True,
    index=("recorded_at",),
)
# The whole board every CHECKPOINT_EVERY positions, so that time travel replays few deltas.
BOARD_CHECKPOINTS = Table(
    "board_checkpoints",
    (("position", "bigint"), ("recorded_at", "ts"), ("board", "text")),
    key=("position",),
    append_only=True,
)

VIEW_TABLES: tuple[Table, ...] = (
    BOARD_STAGE_COUNTS, BOARD_SITE_COUNTS, SITE_OCCUPANCY, SITE_ROOMS, JOURNEY_STAGE,
    JOURNEY_TIMELINE, RUNS, VEHICLES, ENTRY_POINTS, ALERTS, ALERT_COUNTS, BOARD_COUNTERS,
    LEG_TIMES, BOARD_DELTAS, BOARD_CHECKPOINTS, QUARANTINE_TESTS, TRANSFERS, DATA_ACCESS,
    DAILY_COUNTS,
)


def position_ddl(postgres: bool) -> str:
    # rebuild_target is set while a rebuild is under way (the log's head when it started), so
    # that a rebuild killed half-way is resumed from its last committed page, not restarted.
    big = "BIGINT" if postgres else "INTEGER"
    return (
        f"CREATE TABLE IF NOT EXISTS {POSITION_TABLE} (name TEXT PRIMARY KEY, "
        f"position {big} NOT NULL, schema_version INTEGER NOT NULL, rebuild_target {big})"
    )


def select_all(table: Table, postgres: bool) -> str:
    """Every row; on PostgreSQL uuids and times as text, the form decoded events have."""
    if postgres:
        cols = ", ".join(f"{c}::text" if t in ("uuid", "ts") else c for c, t in table.columns)
    else:
        cols = ", ".join(table.names)
    return f"SELECT {cols} FROM {table.name}"


def create_ddl(table: Table, postgres: bool) -> list[str]:
    types = _PG if postgres else _LITE
    cols = ", ".join(f"{c} {types[t]}" for c, t in table.columns)
    ddl = [f"CREATE TABLE {table.name} ({cols}, PRIMARY KEY ({', '.join(table.key)}))"]
    for index in (table.index, *table.more_indexes) if table.index else table.more_indexes:
        ddl.append(
            f"CREATE INDEX {table.name}_{'_'.join(index)}_idx "
            f"ON {table.name} ({', '.join(index)})"
        )
    return ddl


def drop_ddl(table: Table) -> str:
    return f"DROP TABLE IF EXISTS {table.name}"


def _on_conflict(table: Table) -> str:
    if table.append_only:
        return ""
    sets = [
        f"{c} = {table.name}.{c} + excluded.{c}" if c in table.additive else f"{c} = excluded.{c}"
        for c in table.names
        if c not in table.key
    ]
    return f" ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {', '.join(sets)}"


def pg_array(kind: str) -> str:
    return f"%b::{_PG[kind]}[]"


def pg_upsert(table: Table) -> str:
    """One statement for a whole page: every column travels as one binary array."""
    arrays = ", ".join(pg_array(t) for _, t in table.columns)
    return (
        f"INSERT INTO {table.name} ({', '.join(table.names)}) "
        f"SELECT * FROM unnest({arrays}){_on_conflict(table)}"
    )


def pg_merge(table: Table, staging: str) -> str:
    """Upsert the rows COPYed into a staging table (same columns as the view)."""
    cols = ", ".join(table.names)
    return f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {staging}{_on_conflict(table)}"


def lite_upsert(table: Table) -> str:
    marks = ", ".join("?" for _ in table.columns)
    cols = ", ".join(table.names)
    return f"INSERT INTO {table.name} ({cols}) VALUES ({marks}){_on_conflict(table)}"


def pg_keyed(table: Table, verb: str, extra: str = "") -> str:
    """`verb` is SELECT or DELETE: rows whose key is in a page's key arrays."""
    arrays = ", ".join(pg_array(table.kind(k)) for k in table.key)
    join = " AND ".join(f"t.{k} = k.{k}" for k in table.key)
    keys = f"unnest({arrays}) AS k({', '.join(table.key)})"
    if verb == "DELETE":
        return f"DELETE FROM {table.name} AS t USING {keys} WHERE {join}{extra}"
    # Text casts keep loaded values in the form decoded events have (uuids and ISO times as str).
    cols = ", ".join(f"t.{c}::text" if t in ("uuid", "ts") else f"t.{c}" for c, t in table.columns)
    return f"SELECT {cols} FROM {table.name} AS t JOIN {keys} ON {join}"


def lite_select(table: Table) -> str:
    """Rows whose key is in a JSON array of keys (one parameter, however many keys)."""
    if len(table.key) == 1:
        on = f"t.{table.key[0]} = k.value"
    else:
        on = " AND ".join(
            f"t.{c} = json_extract(k.value, '$[{i}]')" for i, c in enumerate(table.key)
        )
    return f"SELECT t.* FROM {table.name} AS t JOIN json_each(?) AS k ON {on}"


def lite_delete(table: Table, extra: str = "") -> str:
    return f"DELETE FROM {table.name} WHERE {' AND '.join(f'{k} = ?' for k in table.key)}{extra}"
