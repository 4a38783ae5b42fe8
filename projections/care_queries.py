"""Reads for survey staff, receivers and dispatch on the care side: the survey worklist, a
traveller's derived contacts, the tests due, hospital transfers and the access log. Each reads
in one snapshot and reports the position its rows reflect. No row holds health data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from domain.stages import Stage
from domain.transfer import OPEN_STATUSES
from projections.board import read_position as _position
from projections.queries import NoViews, _id, _iso, _journey_id, snapshot
from tracking.sidestore import Cursor, SideStore

OPEN_STAGES = tuple(s.value for s in Stage if not s.is_closed)
WORKLIST_LIMIT = 500
CONTACTS_LIMIT = 400
# Fellow passengers of a flight are those who registered within this time of each other
# (the key is of the number alone; a daily flight number recurs every day).
SAME_FLIGHT_WITHIN = timedelta(hours=36)
# Seated within this many rows of each other (the usual close-contact rule on aircraft).
NEARBY_ROWS = 2


@dataclass
class Due:
    journey_id: str
    party_id: str
    stage: str
    entry_point: str
    site_id: str | None
    risk: str | None
    version: int
    registered_at: str
    checked_in_at: str | None


@dataclass
class Worklist:
    position: int
    total: int = 0
    due: list[Due] = field(default_factory=list)


def read_survey_worklist(store: SideStore, limit: int = WORKLIST_LIMIT) -> Worklist:
    """Open journeys never surveyed: high risk first, then those whose clock runs (checked in)
    by how long ago, then those on their way by registration time."""
    marks = ", ".join("?" for _ in OPEN_STAGES)
    try:
        with snapshot(store) as cur:
            found = Worklist(position=_position(cur)[0])
            cur.execute(
                f"SELECT count(*) FROM journey_stage WHERE surveyed_at IS NULL "  # noqa: S608
                f"AND stage IN ({marks})",
                OPEN_STAGES,
            )
            found.total = int(cur.fetchone()[0])
            cur.execute(
                "SELECT journey_id, party_id, stage, entry_point, site_id, risk, "  # noqa: S608
                "version, registered_at, checked_in_at FROM journey_stage "
                f"WHERE surveyed_at IS NULL AND stage IN ({marks}) ORDER BY "
                "CASE risk WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END, "
                "CASE WHEN checked_in_at IS NULL THEN 1 ELSE 0 END, checked_in_at, "
                "registered_at, journey_id LIMIT ?",
                (*OPEN_STAGES, limit),
            )
            found.due = [
                Due(_id(j) or "", _id(p) or "", stage, ep, _id(site), risk, int(version),
                    _iso(registered) or "", _iso(checked_in))
                for j, p, stage, ep, site, risk, version, registered, checked_in
                in cur.fetchall()
            ]
    except NoViews:
        return Worklist(position=0)
    return found


@dataclass
class Contact:
    journey_id: str
    relations: list[str]
    stage: str
    risk: str | None
    surveyed: bool
    version: int
    site_id: str | None


_CONTACT_COLUMNS = (
    "journey_id, stage, risk, surveyed_at, version, site_id, party_id, run_id, boarded_at, "
    "flight_key, flight_row, registered_at"
)


def read_contacts(store: SideStore, journey_id: str) -> tuple[int, list[Contact]] | None:
    """Who travelled with the traveller: the same party, the same vehicle (both boarded), the
    same flight (registered around the same time), and of those the nearby seat rows. None if
    the views know no such journey."""
    jid = _journey_id(journey_id)
    if jid is None:
        return None
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            cur.execute(
                f"SELECT {_CONTACT_COLUMNS} FROM journey_stage WHERE journey_id = ?",  # noqa: S608
                (jid,),
            )
            me = cur.fetchone()
            if me is None:
                return None
            found: dict[str, tuple[Contact, Any]] = {}

            def add(relation: str, where: str, params: tuple[Any, ...]) -> None:
                cur.execute(
                    f"SELECT {_CONTACT_COLUMNS} FROM journey_stage "  # noqa: S608
                    f"WHERE {where} AND journey_id <> ? ORDER BY registered_at, journey_id "
                    "LIMIT ?",
                    (*params, jid, CONTACTS_LIMIT),
                )
                for row in cur.fetchall():
                    other = str(row[0])
                    if other not in found:
                        found[other] = (Contact(
                            other, [], row[1], row[2], row[3] is not None, int(row[4]),
                            _id(row[5]),
                        ), row)
                    found[other][0].relations.append(relation)

            party_id, run_id, boarded_at, flight, row_no, registered = me[6:12]
            if party_id is not None and str(party_id) != jid:
                add("party", "party_id = ?", (str(party_id),))
            if run_id is not None and boarded_at is not None:
                add("vehicle", "run_id = ? AND boarded_at IS NOT NULL", (str(run_id),))
            if flight:
                around = datetime.fromisoformat(_iso(registered) or "")
                add("flight", "flight_key = ? AND registered_at >= ? AND registered_at <= ?",
                    (flight, _text_time(store, around - SAME_FLIGHT_WITHIN),
                     _text_time(store, around + SAME_FLIGHT_WITHIN)))
    except NoViews:
        return None
    contacts = []
    for contact, row in found.values():
        theirs = row[10]
        if ("flight" in contact.relations and row_no is not None and theirs is not None
                and abs(int(theirs) - int(row_no)) <= NEARBY_ROWS):
            contact.relations.append("nearby_seats")
        contacts.append(contact)
    order = {"party": 0, "vehicle": 1, "nearby_seats": 2, "flight": 3}
    contacts.sort(key=lambda c: (min(order[r] for r in c.relations), c.journey_id))
    return position, contacts


def _text_time(store: SideStore, moment: datetime) -> Any:
    # PostgreSQL compares timestamptz with a datetime; SQLite's times are ISO text in UTC.
    return moment if store.is_postgres else _iso(moment)


@dataclass
class DueTest:
    journey_id: str
    day: int
    due_on: str | None
    site_id: str | None
    version: int
    planned_end: str | None


def read_tests_due(
    store: SideStore, on: date, site_id: str | None = None, limit: int = 2000
) -> tuple[int, list[DueTest]]:
    """Tests of open orders due by `on` (overdue ones included) with no result recorded."""
    where = " AND t.site_id = ?" if site_id else ""
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            cur.execute(
                "SELECT t.journey_id, t.day, t.due_on, t.site_id, j.version, "  # noqa: S608
                "j.planned_end FROM quarantine_tests AS t JOIN journey_stage AS j "
                "ON j.journey_id = t.journey_id WHERE t.recorded = 0 AND t.due_on <= ? "
                f"AND j.stage = ?{where} ORDER BY t.due_on, t.site_id, t.journey_id, t.day "
                "LIMIT ?",
                (on.isoformat(), Stage.UNDER_QUARANTINE.value, *((site_id,) if site_id else ()),
                 limit),
            )
            rows = [
                DueTest(str(j), int(day), due, _id(site), int(version), planned_end)
                for j, day, due, site, version, planned_end in cur.fetchall()
            ]
    except NoViews:
        return 0, []
    return position, rows


def read_schedule(store: SideStore, journey_id: str) -> list[dict[str, Any]]:
    """One order's test days as the views hold them (due date, whether a result is in)."""
    jid = _journey_id(journey_id)
    if jid is None:
        return []
    try:
        with snapshot(store) as cur:
            cur.execute(
                "SELECT day, due_on, recorded FROM quarantine_tests WHERE journey_id = ? "
                "ORDER BY day",
                (jid,),
            )
            return [{"day": int(d), "due_on": due, "recorded": bool(r)}
                    for d, due, r in cur.fetchall()]
    except NoViews:
        return []


TRANSFER_COLUMNS = (
    "transfer_id", "journey_id", "status", "status_at", "requested_at", "entry_point", "pickup",
    "room", "urgency", "vehicle_id", "plate", "hospital",
)


def read_transfers(store: SideStore, *, open_only: bool = True, limit: int = 500) -> dict[str, Any]:
    """Hospital transfers, urgent first and then oldest first (open ones unless told)."""
    try:
        with snapshot(store) as cur:
            return {"position": _position(cur)[0],
                    "transfers": transfers_on(cur, open_only=open_only, limit=limit)}
    except NoViews:
        return {"position": 0, "transfers": []}


def transfers_on(cur: Cursor, *, open_only: bool = True, limit: int = 500) -> list[dict[str, Any]]:
    """`read_transfers` inside a snapshot the caller holds (the dispatch console's)."""
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    where = f"WHERE status IN ({marks}) " if open_only else ""
    cur.execute(
        f"SELECT {', '.join(TRANSFER_COLUMNS)} FROM transfers {where}"  # noqa: S608
        "ORDER BY CASE urgency WHEN 'urgent' THEN 0 ELSE 1 END, requested_at, "
        "transfer_id LIMIT ?",
        (*OPEN_STATUSES, limit) if open_only else (limit,),
    )
    transfers = []
    for row in cur.fetchall():
        transfer = dict(zip(TRANSFER_COLUMNS, row, strict=True))
        for key in ("transfer_id", "journey_id", "vehicle_id"):
            transfer[key] = _id(transfer[key])
        for key in ("status_at", "requested_at"):
            transfer[key] = _iso(transfer[key])
        transfers.append(transfer)
    return transfers


def read_access_log(store: SideStore, journey_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Every recorded read of one traveller's survey or health data, oldest first."""
    jid = _journey_id(journey_id)
    if jid is None:
        return []
    try:
        with snapshot(store) as cur:
            cur.execute(
                "SELECT access_id, actor, role, what, purpose, recorded_at FROM data_access "
                "WHERE journey_id = ? ORDER BY notification_id LIMIT ?",
                (jid, limit),
            )
            return [
                {"access_id": _id(a), "actor": actor, "role": role, "what": what.split(","),
                 "purpose": purpose, "recorded_at": _iso(at)}
                for a, actor, role, what, purpose, at in cur.fetchall()
            ]
    except NoViews:
        return []
