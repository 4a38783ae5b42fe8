"""The command board's state (docs/board.md): read whole from the views, kept current by
deltas, and shown as of any past position from a checkpoint plus the deltas after it.

The same dict comes out of all three, so a board a browser keeps from deltas, a board read
afresh and a board replayed for time travel can be compared for equality.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from domain import alerts
from domain.staff import Role
from domain.stages import Stage
from domain.transport import CLOSED
from projections.board_fold import COUNTERS, ON_ROAD, local_day, utc_iso
from projections.schema import POSITION_TABLE, PROJECTION
from tracking.sidestore import Cursor, PgCursor

Board = dict[str, Any]
# A client further behind than this gets a fresh snapshot instead of the deltas it missed.
RESUME_LIMIT = 10_000
# Sections per role (DESIGN.md §6): survey staff see counts, not who is on which vehicle.
_COUNTS_ONLY = ("runs", "on_road", "alerts")


def empty_board() -> Board:
    return {
        "position": 0, "at": None, "day": None, "rebuilding": False,
        "stages": {s.value: 0 for s in Stage}, "counters": dict.fromkeys(COUNTERS, 0),
        "entry_points": {}, "sites": {}, "runs": {}, "on_road": {}, "alerts": {},
        "alert_counts": dict.fromkeys(alerts.KINDS, 0), "timings": {},
    }


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def read_position(cur: Cursor) -> tuple[int, bool]:
    cur.execute(
        f"SELECT position, rebuild_target FROM {POSITION_TABLE} WHERE name = ?",  # noqa: S608
        (PROJECTION,),
    )
    row = cur.fetchone()
    return (0, False) if row is None else (int(row[0]), row[1] is not None)


def read_board_state(cur: Cursor) -> Board:
    """The whole board as the views hold it (call inside one snapshot / transaction)."""
    board = empty_board()
    views_position, board["rebuilding"] = read_position(cur)
    # The board's position is that of the last event it shows: later events no board shows
    # change nothing on it, and a returning client resumes after exactly that delta.
    cur.execute(
        "SELECT position, recorded_at FROM board_deltas WHERE position <= ? "
        "ORDER BY position DESC LIMIT 1",
        (views_position,),
    )
    row = cur.fetchone()
    if row is not None:
        board["position"], board["at"] = int(row[0]), utc_iso(row[1])
    board["day"] = local_day(board["at"]) if board["at"] else None
    cur.execute("SELECT stage, n FROM board_stage_counts")
    board["stages"].update({stage: int(n) for stage, n in cur.fetchall()})
    cur.execute("SELECT name, n FROM board_counters")
    board["counters"].update({name: int(n) for name, n in cur.fetchall()})
    cur.execute("SELECT code, name FROM entry_points")
    board["entry_points"] = dict(cur.fetchall())
    board["sites"] = _sites(cur)
    board["runs"] = _runs(cur)
    board["on_road"] = _on_road(cur)
    board["alerts"] = _open_alerts(cur)
    cur.execute("SELECT kind, n FROM alert_counts")
    board["alert_counts"].update({kind: int(n) for kind, n in cur.fetchall()})
    if board["day"] is not None:
        cur.execute("SELECT cell, n, p50, p95 FROM leg_times WHERE day = ?", (board["day"],))
        cells = {
            cell: {"n": int(n), "p50": int(p50), "p95": int(p95)}
            for cell, n, p50, p95 in cur.fetchall()
        }
        board["timings"] = {board["day"]: cells} if cells else {}
    return board


def _sites(cur: Cursor) -> dict[str, Any]:
    counts: dict[str, dict[str, int]] = {}
    cur.execute("SELECT site_id, stage, n FROM board_site_counts")
    for sid, stage, n in cur.fetchall():
        if n:
            counts.setdefault(str(sid), {})[stage] = int(n)
    cur.execute("SELECT site_id, code, name, kind, capacity, held, occupied FROM site_occupancy")
    sites = {}
    for sid, code, name, kind, capacity, held, occupied in cur.fetchall():
        site_id = str(sid)
        sites[site_id] = {
            "site_id": site_id, "code": code, "name": name, "kind": kind,
            "capacity": capacity, "held": held, "occupied": occupied,
            "free": capacity - held - occupied,
            "stages": dict(sorted(counts.get(site_id, {}).items())),
        }
    return sites


def _runs(cur: Cursor) -> dict[str, Any]:
    cur.execute(
        "SELECT run_id, vehicle_id, plate, status, status_at, seats, seated, boarded, "
        "handed_over, exited, escort, entry_point, first_boarded_at FROM runs WHERE status <> ?",
        (CLOSED,),
    )
    runs = {}
    for (rid, vid, plate, status, status_at, seats, seated, boarded, handed_over, exited,
         escort, entry_point, first_boarded_at) in cur.fetchall():
        runs[str(rid)] = {
            "run_id": str(rid), "vehicle_id": _id(vid), "plate": plate, "status": status,
            "status_at": utc_iso(status_at), "seats": seats, "seated": seated,
            "boarded": boarded, "handed_over": handed_over, "exited": exited,
            "escort": escort, "entry_point": entry_point,
            "first_boarded_at": utc_iso(first_boarded_at),
        }
    return runs


def _on_road(cur: Cursor) -> dict[str, Any]:
    stages = sorted(ON_ROAD)
    cur.execute(
        "SELECT journey_id, stage, entered_at, entry_point, run_id, site_id, risk "  # noqa: S608
        f"FROM journey_stage WHERE stage IN ({', '.join('?' for _ in stages)})",
        stages,
    )
    return {
        str(jid): {
            "journey_id": str(jid), "stage": stage, "entered_at": utc_iso(entered_at),
            "entry_point": entry_point, "run_id": _id(run_id), "site_id": _id(site_id),
            "risk": risk,
        }
        for jid, stage, entered_at, entry_point, run_id, site_id, risk in cur.fetchall()
    }


def _open_alerts(cur: Cursor) -> dict[str, Any]:
    cur.execute(
        "SELECT alert_id, kind, subject, journey_id, run_id, entry_point, detail, since, "
        "threshold_minutes, raised_at FROM alerts WHERE status = ?",
        (alerts.OPEN,),
    )
    found = {}
    for (aid, kind, subject, jid, rid, entry_point, detail, since, threshold,
         raised_at) in cur.fetchall():
        found[str(aid)] = {
            "alert_id": str(aid), "kind": kind, "subject": subject, "journey_id": _id(jid),
            "run_id": _id(rid), "entry_point": entry_point, "detail": detail,
            "since": utc_iso(since), "threshold_minutes": threshold,
            "raised_at": utc_iso(raised_at),
            "message": alerts.message(kind, detail, threshold),
        }
    return found


# -- deltas ---------------------------------------------------------------------------------

_MERGED = ("stages", "counters", "alert_counts", "entry_points")
_ROWS = ("sites", "runs", "on_road", "alerts")


def delta_message(position: int, previous: int, recorded_at: Any, changes: str) -> Board:
    return {
        "type": "delta", "position": int(position), "after": int(previous),
        "at": utc_iso(recorded_at), "changes": orjson.loads(changes),
    }


def apply_delta(board: Board, delta: Board) -> None:
    """docs/board.md, "The websocket", item 3."""
    changes = delta["changes"]
    for section in _MERGED:
        if section in changes:
            board[section].update(changes[section])
    for section in _ROWS:
        for key, row in changes.get(section, {}).items():
            if row is None:
                board[section].pop(key, None)
            else:
                board[section][key] = row
    for day, cells in changes.get("timings", {}).items():
        board["timings"].setdefault(day, {}).update(cells)
    board["position"] = delta["position"]
    board["at"] = delta["at"]
    board["day"] = local_day(delta["at"])
    board["timings"] = {d: c for d, c in board["timings"].items() if d == board["day"]}


def read_deltas(cur: Cursor, after: int, upto: int | None = None,
                limit: int | None = None) -> list[Board]:
    query = "SELECT position, previous, recorded_at, changes FROM board_deltas WHERE position > ?"
    params: list[Any] = [after]
    if upto is not None:
        query += " AND position <= ?"
        params.append(upto)
    query += " ORDER BY position"
    if limit is not None:
        query += " LIMIT ?"
        params.append(limit)
    cur.execute(query, params)
    return [delta_message(*row) for row in cur.fetchall()]


def resume(cur: Cursor, after: int) -> list[Board] | None:
    """The deltas a client at `after` missed, in order; None when only a snapshot will do (it is
    ahead of the views, too far behind, or deltas it needs are no longer kept)."""
    position, rebuilding = read_position(cur)
    if rebuilding or after > position or after < 0:
        return None
    missed = read_deltas(cur, after, upto=position, limit=RESUME_LIMIT + 1)
    if len(missed) > RESUME_LIMIT:
        return None
    if missed and missed[0]["after"] > after:
        return None  # the deltas right after `after` are gone
    # No deltas at all since `after` is fine: deltas are a function of the log alone (a rebuild
    # writes the same ones again), and events no board shows have none.
    return missed


# -- time travel ----------------------------------------------------------------------------

def position_at(cur: Cursor, moment: datetime) -> int:
    """The last position recorded at or before `moment` (0: before anything)."""
    cur.execute(
        "SELECT max(position) FROM board_deltas WHERE recorded_at <= ?",
        (moment if isinstance(cur, PgCursor) else utc_iso(moment),),
    )
    row = cur.fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def board_as_of(cur: Cursor, position: int) -> Board:
    """The board as it stood at `position`: the newest checkpoint at or before it, then the
    deltas up to it."""
    cur.execute(
        "SELECT position, board FROM board_checkpoints WHERE position <= ? "
        "ORDER BY position DESC LIMIT 1",
        (position,),
    )
    row = cur.fetchone()
    board = orjson.loads(row[1]) if row else empty_board()
    for delta in read_deltas(cur, int(row[0]) if row else 0, upto=position):
        apply_delta(board, delta)
    board["rebuilding"] = False
    return board


def board_range(cur: Cursor) -> Board:
    cur.execute("SELECT min(recorded_at), max(recorded_at) FROM board_deltas")
    first, last = cur.fetchone() or (None, None)
    return {"first": utc_iso(first), "last": utc_iso(last), "position": read_position(cur)[0]}


# -- who sees what --------------------------------------------------------------------------

def visible(part: Board, role: Role) -> Board:
    """A board or a delta's changes as `role` may see it (DESIGN.md §6)."""
    if role in (Role.COMMANDER, Role.DISPATCHER):
        return part
    shown = dict(part)
    if role is Role.SURVEYOR:
        for section in _COUNTS_ONLY:
            shown.pop(section, None)
    elif "on_road" in part:
        # Risk is health-derived: not for admins.
        shown["on_road"] = {
            jid: None if row is None else {k: v for k, v in row.items() if k != "risk"}
            for jid, row in part["on_road"].items()
        }
    return shown


BOARD_ROLES = (Role.COMMANDER, Role.DISPATCHER, Role.ADMIN, Role.SURVEYOR)
