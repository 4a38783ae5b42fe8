"""The dispatcher's reads: the queue of waiting parties with their names, and a suggestion
for one party built from live capacity.

Names and streets are personal data: the views hold none, so they are opened from each
journey's sealed details here, for the staff member who is allowed to see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.dispatch import (
    REASON_TEXT,
    IdleVehicle,
    OpenRun,
    Party,
    Place,
    Policy,
    Suggestion,
    suggest,
)
from domain.journey import Journey
from domain.stages import DestinationKind, RiskLevel
from projections.dispatch_queries import DispatchView, Waiting, read_dispatch
from projections.opened_details import OPENED
from projections.surveying import named_transfers
from tracking.application import TrackingApp
from tracking.sidestore import SideStore


def dispatch_snapshot(app: TrackingApp, store: SideStore, now: datetime) -> dict[str, Any]:
    view = read_dispatch(store)
    sites = {s["site_id"]: s for s in view.sites}
    queue: dict[str, dict[str, Any]] = {}
    for party_id, rows in _parties(view.waiting).items():
        lead = rows[0]
        group = queue.setdefault(lead.entry_point, _entry_point_group(view, lead.entry_point))
        group["parties"].append(_party(app, party_id, rows, sites, now))
    # Every entry point has its group, an empty one saying "nobody waiting" included.
    for code in [*view.entry_points, *view.awaiting_screening]:
        queue.setdefault(code, _entry_point_group(view, code))
    return {
        "position": view.position,
        "now": now.isoformat(),
        "queue": [queue[code] for code in sorted(queue)],
        "sites": view.sites,
        "runs": [_public_run(r) for r in view.runs],
        "vehicles": view.vehicles,
        "transfers": named_transfers(app, view.transfers, view.sites, view.entry_points, now),
    }


def suggestion_for(
    app: TrackingApp, store: SideStore, journey_id: UUID, policy: Policy
) -> dict[str, Any]:
    journey = app.journey(journey_id)
    party = app.party_of(journey)
    view = read_dispatch(store)
    codes = {s["site_id"]: s["code"] for s in view.sites}
    destination = codes.get(str(journey.site_id), "") if journey.site_id else ""
    street = str(app.personal_details(journey).get("destination_street", ""))
    wanted = Party(
        size=len(party), risk=_highest_risk(party), entry_point=journey.entry_point,
        street=street, destination=destination,
    )
    places = [
        Place(s["code"], s["name"], DestinationKind(s["kind"]), int(s["free"]))
        for s in view.sites
    ]
    runs = [
        OpenRun(
            UUID(r["run_id"]), r["plate"], r["entry_point"], int(r["free"]),
            frozenset(codes.get(s, "") for s in r["site_ids"]),
            int(r["high_risk_aboard"]), int(r["others_aboard"]),
        )
        for r in view.runs
        if r["status"] in ("planned", "boarding")
    ]
    idle = [IdleVehicle(v["plate"], int(v["seats"])) for v in view.vehicles if not v["active_run"]]
    return _suggestion_answer(suggest(wanted, places, runs, idle, policy))


def _parties(waiting: list[Waiting]) -> dict[str, list[Waiting]]:
    """Waiting journeys grouped by party, in the order the oldest member started waiting."""
    parties: dict[str, list[Waiting]] = {}
    for row in waiting:
        parties.setdefault(row.party_id, []).append(row)
    return parties


def _entry_point_group(view: DispatchView, code: str) -> dict[str, Any]:
    return {
        "entry_point": code,
        "entry_point_name": view.entry_points.get(code, code),
        "awaiting_screening": view.awaiting_screening.get(code, 0),
        "parties": [],
    }


def _party(
    app: TrackingApp,
    party_id: str,
    rows: list[Waiting],
    sites: dict[str, dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    lead = rows[0]
    opened = [OPENED.get(app, r.journey_id, r.version) for r in rows]
    since = min(r.since for r in rows)
    site = sites.get(lead.site_id or "")
    risk = _riskiest(o.risk for o in opened)
    return {
        "party_id": party_id,
        "journey_id": lead.journey_id,
        "size": len(rows),
        "stage": lead.stage,
        "waiting_since": since,
        "waiting_minutes": max(0, int((now - datetime.fromisoformat(since)).total_seconds() // 60)),
        "risk": None if risk is None else risk.value,
        "street": opened[0].street,
        "destination": None if site is None else {
            "site_code": site["code"], "site_name": site["name"], "kind": site["kind"],
            "room": opened[0].room,
        },
        "members": [
            {
                "journey_id": r.journey_id,
                "name_native": o.name_native,
                "name_latin": o.name_latin,
                "stage": r.stage,
            }
            for r, o in zip(rows, opened, strict=True)
        ],
    }


def _riskiest(risks: Iterable[str | None]) -> RiskLevel | None:
    found = {RiskLevel(r) for r in risks if r}
    return next((r for r in (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW) if r in found), None)


def _highest_risk(party: list[Journey]) -> RiskLevel | None:
    """A party is as risky as its riskiest member: it travels and stays together."""
    order = [RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW]
    risks = {j.risk for j in party if j.risk is not None}
    return next((r for r in order if r in risks), None)


def _public_run(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k != "site_ids"}


def _suggestion_answer(s: Suggestion) -> dict[str, Any]:
    return {
        "site": None if s.place is None else {
            "code": s.place.code, "name": s.place.name, "kind": s.place.kind.value,
            "free": s.place.free,
        },
        "room": "",
        "run": None if s.run is None else {
            "run_id": str(s.run.run_id), "plate": s.run.plate, "free": s.run.free,
        },
        "new_run": None if s.new_run is None else {
            "plate": s.new_run.plate, "seats": s.new_run.seats,
        },
        "reasons": [{"code": code, "text": REASON_TEXT[code]} for code in s.reasons],
        "problem": s.problem,
    }
