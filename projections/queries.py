"""Read functions for the API: each reads in ONE snapshot, so the position it reports is the
position its rows reflect (a board delta can then say exactly what it follows).

Before the projector's first setup there are no view tables; the reads then answer as of
position 0 (empty board, no timeline) instead of failing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import psycopg

from domain import alerts
from domain.alerts import AlertFacts, JourneyFacts, OpenAlert, RunFacts
from domain.stages import Stage
from domain.transport import ARRIVED
from projections.board import (
    Board,
    board_as_of,
    board_range,
    empty_board,
    position_at,
    read_board_state,
    read_deltas,
    resume,
)
from projections.board import read_position as _position  # (position, rebuilding)
from tracking.sidestore import Cursor, SideStore

ALERTS_LIMIT = 1000  # a read of all alerts (open and cleared) shows the newest this many


class NoViews(Exception):
    pass


@contextmanager
def snapshot(store: SideStore) -> Iterator[Cursor]:
    try:
        with store.transaction(write=False) as cur:
            if store.is_postgres:
                # One snapshot for every statement below (READ COMMITTED takes one each).
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield cur
    except psycopg.errors.UndefinedTable as e:
        raise NoViews from e
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            raise NoViews from e
        raise


def _iso(value: Any) -> str | None:
    """Times as UTC ISO 8601 text on both backends (PostgreSQL gives datetimes, SQLite text)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC).isoformat()


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def read_position(store: SideStore) -> int:
    try:
        with snapshot(store) as cur:
            return _position(cur)[0]
    except NoViews:
        return 0


def read_board(store: SideStore) -> Board:
    """The whole command board (docs/board.md) and the position it reflects."""
    try:
        with snapshot(store) as cur:
            return read_board_state(cur)
    except NoViews:
        return empty_board()


def read_board_head(store: SideStore) -> tuple[int, bool]:
    """(the position a board read now would have, whether the views are rebuilding): one
    cheap query, to tell whether a board kept in memory is current."""
    try:
        with snapshot(store) as cur:
            views, rebuilding = _position(cur)
            cur.execute("SELECT max(position) FROM board_deltas WHERE position <= ?", (views,))
            row = cur.fetchone()
    except NoViews:
        return 0, False
    return (0 if row is None or row[0] is None else int(row[0])), rebuilding


def read_board_deltas(store: SideStore, after: int) -> list[Board] | None:
    """The board deltas after `after` (None: the client needs a fresh snapshot)."""
    try:
        with snapshot(store) as cur:
            return resume(cur, after)
    except NoViews:
        return None


def read_board_feed(
    store: SideStore, after: int, limit: int = 2000
) -> tuple[int, bool, list[Board]]:
    """(views position, rebuilding, up to `limit` deltas after `after`) in one snapshot."""
    try:
        with snapshot(store) as cur:
            position, rebuilding = _position(cur)
            return position, rebuilding, read_deltas(cur, after, upto=position, limit=limit)
    except NoViews:
        return 0, False, []


def read_board_as_of(
    store: SideStore, *, position: int | None = None, moment: datetime | None = None
) -> Board:
    """The board as it was live at a past position or moment (time travel)."""
    try:
        with snapshot(store) as cur:
            if position is None:
                position = position_at(cur, moment) if moment is not None else 0
            return board_as_of(cur, min(position, _position(cur)[0]))
    except NoViews:
        return empty_board()


def read_board_range(store: SideStore) -> Board:
    try:
        with snapshot(store) as cur:
            return board_range(cur)
    except NoViews:
        return {"first": None, "last": None, "position": 0}


def _sites(cur: Cursor, *, with_counts: bool) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT site_id, code, name, kind, capacity, held, occupied FROM site_occupancy "
        "ORDER BY kind, code"
    )
    sites = [
        {
            "site_id": _id(sid), "code": code, "name": name, "kind": kind,
            "capacity": capacity, "held": held, "occupied": occupied,
            "free": capacity - held - occupied,
        }
        for sid, code, name, kind, capacity, held, occupied in cur.fetchall()
    ]
    if with_counts:
        counts: dict[str, dict[str, int]] = {}
        cur.execute("SELECT site_id, stage, n FROM board_site_counts")
        for sid, stage, n in cur.fetchall():
            counts.setdefault(str(sid), {})[stage] = int(n)
        for site in sites:
            site["stages"] = counts.get(site["site_id"], {})
    return sites


def _journey_id(journey_id: UUID | str) -> str | None:
    try:
        return str(UUID(str(journey_id)))
    except ValueError:
        return None


def read_journey(store: SideStore, journey_id: UUID | str) -> dict[str, Any] | None:
    """Where one journey is now: stage (and since when), site, run, custodian."""
    jid = _journey_id(journey_id)
    if jid is None:
        return None
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            cur.execute(
                "SELECT stage, entered_at, entry_point, site_id, run_id, party_id, custodian, "
                "version, risk FROM journey_stage WHERE journey_id = ?",
                (jid,),
            )
            row = cur.fetchone()
    except NoViews:
        return None
    if row is None:
        return None
    stage, entered_at, entry_point, site_id, run_id, party_id, custodian, version, risk = row
    return {
        "journey_id": jid, "position": position, "stage": stage, "entered_at": _iso(entered_at),
        "entry_point": entry_point, "site_id": _id(site_id), "run_id": _id(run_id),
        "party_id": _id(party_id), "custodian": custodian, "version": version, "risk": risk,
    }


def read_timeline(store: SideStore, journey_id: UUID | str) -> list[dict[str, Any]] | None:
    """Every event of one journey in order, with who, where, device time and recorded time;
    None if the views know no such journey."""
    jid = _journey_id(journey_id)
    if jid is None:
        return None
    try:
        with snapshot(store) as cur:
            cur.execute("SELECT 1 FROM journey_stage WHERE journey_id = ?", (jid,))
            if cur.fetchone() is None:
                return None
            cur.execute(
                "SELECT version, notification_id, event_type, actor, role, place, occurred_at, "
                "recorded_at, summary FROM journey_timeline WHERE journey_id = ? ORDER BY version",
                (jid,),
            )
            rows = cur.fetchall()
    except NoViews:
        return None
    return [
        {
            "version": version, "notification_id": nid, "event_type": event_type, "actor": actor,
            "role": role, "where": place, "occurred_at": _iso(occurred_at),
            "recorded_at": _iso(recorded_at), "summary": orjson.loads(summary),
        }
        for version, nid, event_type, actor, role, place, occurred_at, recorded_at, summary
        in rows
    ]


def read_reference(store: SideStore) -> dict[str, Any]:
    """Entry points, sites (with free/held/occupied) and vehicles, for pickers and admin."""
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            cur.execute("SELECT code, name FROM entry_points ORDER BY code")
            entry_points = [{"code": c, "name": n} for c, n in cur.fetchall()]
            sites = _sites(cur, with_counts=False)
            cur.execute("SELECT vehicle_id, plate, seats, active_run FROM vehicles ORDER BY plate")
            vehicles = [
                {"vehicle_id": _id(v), "plate": p, "seats": s, "active_run": _id(a)}
                for v, p, s, a in cur.fetchall()
            ]
    except NoViews:
        return {"position": 0, "entry_points": [], "sites": [], "vehicles": []}
    return {
        "position": position, "entry_points": entry_points, "sites": sites, "vehicles": vehicles,
    }


def read_entry_point_journeys(
    store: SideStore, entry_point: str, limit: int = 5000
) -> dict[str, Any]:
    """The open journeys that started at an entry point, oldest first (the desk's list)."""
    open_stages = [s.value for s in Stage if not s.is_closed]
    marks = ", ".join("?" for _ in open_stages)
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            cur.execute(
                "SELECT journey_id, stage, entered_at, party_id FROM journey_stage "  # noqa: S608
                f"WHERE entry_point = ? AND stage IN ({marks}) ORDER BY entered_at LIMIT ?",
                (entry_point, *open_stages, limit),
            )
            rows = cur.fetchall()
    except NoViews:
        return {"position": 0, "journeys": []}
    return {
        "position": position,
        "journeys": [
            {"journey_id": _id(j), "stage": s, "entered_at": _iso(e), "party_id": _id(p)}
            for j, s, e, p in rows
        ],
    }


# -- loop-not-closed alerts ---------------------------------------------------------------------

_ALERT_COLUMNS = (
    "alert_id", "kind", "status", "subject", "journey_id", "run_id", "entry_point", "detail",
    "since", "threshold_minutes", "raised_at", "cleared_at", "reason",
)


def _alerts(cur: Cursor, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    where = "WHERE status = ? " if open_only else ""
    cur.execute(
        f"SELECT {', '.join(_ALERT_COLUMNS)} FROM alerts {where}"  # noqa: S608
        "ORDER BY raised_at DESC, alert_id LIMIT ?",
        (alerts.OPEN, limit) if open_only else (limit,),
    )
    found = []
    for row in cur.fetchall():
        alert = dict(zip(_ALERT_COLUMNS, row, strict=True))
        for key in ("alert_id", "journey_id", "run_id"):
            alert[key] = _id(alert[key])
        for key in ("since", "raised_at", "cleared_at"):
            alert[key] = _iso(alert[key])
        alert["message"] = alerts.message(
            alert["kind"], alert["detail"], alert["threshold_minutes"]
        )
        found.append(alert)
    return found


def _alert_counts(cur: Cursor) -> dict[str, int]:
    counts = dict.fromkeys(alerts.KINDS, 0)
    cur.execute("SELECT kind, n FROM alert_counts")
    counts.update({kind: int(n) for kind, n in cur.fetchall()})
    return counts


def read_alerts(
    store: SideStore, open_only: bool = True, limit: int = ALERTS_LIMIT
) -> list[dict[str, Any]]:
    """Alerts newest first (only the open ones unless `open_only` is False), each with its
    `kind` code and an English `message`."""
    found: list[dict[str, Any]] = read_alert_summary(store, open_only, limit)["alerts"]
    return found


def read_alert_summary(
    store: SideStore, open_only: bool = True, limit: int = ALERTS_LIMIT
) -> dict[str, Any]:
    """`read_alerts` with the position its rows reflect and the open alerts counted by kind,
    all in one snapshot."""
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            found = _alerts(cur, open_only=open_only, limit=limit)
            counts = _alert_counts(cur)
    except NoViews:
        return {"position": 0, "alerts": [], "counts": dict.fromkeys(alerts.KINDS, 0)}
    return {"position": position, "alerts": found, "counts": counts}


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC)


def _maybe_moment(value: Any) -> datetime | None:
    return None if value is None else _moment(value)


# Journeys whose loops may be open: on the road, with a custody offer pending, off route, or
# the subject of an open alert (whose closing the monitor must see).
_OPEN_LOOP_STAGES = (
    Stage.SEAT_ASSIGNED.value, Stage.BOARDED.value, Stage.IN_TRANSIT.value, Stage.ARRIVED.value
)


def read_alert_facts(store: SideStore) -> AlertFacts:
    """What an alert sweep needs, in one snapshot: the journeys and runs whose loops may be
    open, and the open alerts."""
    marks = ", ".join("?" for _ in _OPEN_LOOP_STAGES)
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            cur.execute(
                "SELECT journey_id, stage, entered_at, entry_point, run_id, site_id, "  # noqa: S608
                "boarded_at, offered_to, offered_at, off_route, off_route_at, checked_in_at, "
                "surveyed_at "
                f"FROM journey_stage WHERE stage IN ({marks}) OR offered_to IS NOT NULL "
                "OR off_route_at IS NOT NULL OR (surveyed_at IS NULL AND stage IN (?, ?)) "
                "OR journey_id IN "
                "(SELECT journey_id FROM alerts WHERE status = ? AND journey_id IS NOT NULL)",
                (*_OPEN_LOOP_STAGES, *sorted(alerts.AT_THE_DESTINATION), alerts.OPEN),
            )
            journeys = tuple(
                JourneyFacts(
                    journey_id=str(j), stage=stage, entered_at=_moment(entered),
                    entry_point=entry_point, run_id=_id(run), site_id=_id(site),
                    boarded_at=_maybe_moment(boarded), offered_to=offered_to,
                    offered_at=_maybe_moment(offered_at), off_route=off_route,
                    off_route_at=_maybe_moment(off_route_at),
                    checked_in_at=_maybe_moment(checked_in), surveyed=surveyed is not None,
                )
                for (j, stage, entered, entry_point, run, site, boarded, offered_to, offered_at,
                     off_route, off_route_at, checked_in, surveyed) in cur.fetchall()
            )
            cur.execute(
                "SELECT run_id, status, status_at, entry_point, plate, "
                "boarded - handed_over - exited FROM runs WHERE status = ? OR run_id IN "
                "(SELECT run_id FROM alerts WHERE status = ? AND kind = ?)",
                (ARRIVED, alerts.OPEN, alerts.NOT_HANDED_OVER),
            )
            runs = tuple(
                RunFacts(str(r), status, _moment(at), entry_point, plate, int(waiting))
                for r, status, at, entry_point, plate, waiting in cur.fetchall()
            )
            cur.execute(
                "SELECT alert_id, kind, subject, journey_id, run_id FROM alerts "
                "WHERE status = ? ORDER BY raised_at, alert_id",
                (alerts.OPEN,),
            )
            open_alerts = tuple(
                OpenAlert(str(a), kind, subject, _id(j), _id(r))
                for a, kind, subject, j, r in cur.fetchall()
            )
    except NoViews:
        return AlertFacts(position=0)
    return AlertFacts(position, journeys, runs, open_alerts)
