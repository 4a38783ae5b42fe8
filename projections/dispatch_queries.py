"""Reads for the dispatch console: the waiting queue, live capacity and open runs, each in
one snapshot so the position reported is the one the rows reflect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.stages import Stage
from domain.transport import CLOSED
from projections.board import read_position as _position
from projections.care_queries import transfers_on
from projections.queries import NoViews, _id, _iso, _sites, snapshot
from tracking.sidestore import Cursor, SideStore

# Waiting for the dispatcher: a destination (screened) or a seat (destination assigned).
WAITING = (Stage.SCREENED.value, Stage.DESTINATION_ASSIGNED.value)
QUEUE_LIMIT = 2000  # journeys; the oldest come first, a longer queue is paged by the next read
# A seat is taken (and its risk and destination count for the vehicle) until the door.
SEATED = (Stage.SEAT_ASSIGNED.value, Stage.BOARDED.value, Stage.IN_TRANSIT.value,
          Stage.ARRIVED.value)
RUN_COLUMNS = ("run_id", "vehicle_id", "plate", "status", "seats", "seated", "boarded",
               "handed_over", "escort", "entry_point")


@dataclass
class Waiting:
    journey_id: str
    party_id: str
    stage: str
    since: str
    entry_point: str
    site_id: str | None
    risk: str | None
    version: int


@dataclass
class DispatchView:
    position: int
    waiting: list[Waiting] = field(default_factory=list)
    awaiting_screening: dict[str, int] = field(default_factory=dict)
    entry_points: dict[str, str] = field(default_factory=dict)
    sites: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)  # open hospital transfers


def read_dispatch(store: SideStore) -> DispatchView:
    try:
        with snapshot(store) as cur:
            view = DispatchView(position=_position(cur)[0])
            cur.execute(
                "SELECT journey_id, party_id, stage, entered_at, entry_point, site_id, risk, "
                "version FROM journey_stage WHERE stage IN (?, ?) ORDER BY entered_at, journey_id "
                "LIMIT ?",
                (*WAITING, QUEUE_LIMIT),
            )
            view.waiting = [
                Waiting(_id(j) or "", _id(p) or "", s, _iso(t) or "", e, _id(site), risk, int(v))
                for j, p, s, t, e, site, risk, v in cur.fetchall()
            ]
            cur.execute(
                "SELECT entry_point, COUNT(*) FROM journey_stage WHERE stage = ? "
                "GROUP BY entry_point",
                (Stage.REGISTERED.value,),
            )
            view.awaiting_screening = {e: int(n) for e, n in cur.fetchall()}
            cur.execute("SELECT code, name FROM entry_points")
            view.entry_points = dict(cur.fetchall())
            view.sites = _sites(cur, with_counts=False)
            view.runs = _open_runs(cur)
            cur.execute("SELECT plate, seats, active_run FROM vehicles ORDER BY plate")
            view.vehicles = [
                {"plate": p, "seats": s, "active_run": _id(a)} for p, s, a in cur.fetchall()
            ]
            view.transfers = transfers_on(cur)
    except NoViews:
        return DispatchView(position=0)
    return view


def read_open_runs(store: SideStore, entry_point: str = "") -> dict[str, Any]:
    try:
        with snapshot(store) as cur:
            position = _position(cur)[0]
            runs = _open_runs(cur)
    except NoViews:
        return {"position": 0, "runs": []}
    if entry_point:
        runs = [r for r in runs if r["entry_point"] == entry_point]
    return {"position": position, "runs": runs}


def _open_runs(cur: Cursor) -> list[dict[str, Any]]:
    """Runs not closed, with who is seated on each: how many travellers of high-risk parties
    and of others, and which destinations (the suggestion's inputs)."""
    cur.execute(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE status <> ? "  # noqa: S608
        "ORDER BY entry_point, plate, run_id",
        (CLOSED,),
    )
    runs: dict[str, dict[str, Any]] = {}
    for row in cur.fetchall():
        run = dict(zip(RUN_COLUMNS, row, strict=True))
        run["run_id"], run["vehicle_id"] = _id(run["run_id"]), _id(run["vehicle_id"])
        run["free"] = run["seats"] - run["seated"]
        run |= {"high_risk_aboard": 0, "others_aboard": 0, "site_ids": []}
        runs[run["run_id"]] = run
    marks = ", ".join("?" for _ in SEATED)
    cur.execute(
        "SELECT run_id, party_id, site_id, risk FROM journey_stage "  # noqa: S608
        f"WHERE run_id IS NOT NULL AND stage IN ({marks})",
        SEATED,
    )
    # A party is as risky as its riskiest member (it travels together), as the command sees it.
    parties: dict[tuple[str, str], list[bool]] = {}
    for run_id, party_id, site, risk in cur.fetchall():
        seated_on = runs.get(_id(run_id) or "")
        if seated_on is None:
            continue
        parties.setdefault((seated_on["run_id"], _id(party_id) or ""), []).append(risk == "high")
        if site is not None and _id(site) not in seated_on["site_ids"]:
            seated_on["site_ids"].append(_id(site))
    for (run_id, _), risks in parties.items():
        key = "high_risk_aboard" if any(risks) else "others_aboard"
        runs[run_id][key] += len(risks)
    return list(runs.values())
