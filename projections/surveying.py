"""The survey desk's reads with the people named: the worklist with its SLA clocks, derived
contacts, the tests due and hospital transfers. The views hold no names; they are opened here
(once per journey version, projections/opened_details.py) for staff allowed to see them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.errors import NotFound
from projections.care_queries import (
    read_contacts,
    read_survey_worklist,
    read_tests_due,
    read_transfers,
)
from projections.opened_details import OPENED, Opened
from projections.queries import read_reference
from tracking.application import TrackingApp
from tracking.sidestore import SideStore


def _names(app: TrackingApp, journey_id: str, version: int) -> dict[str, str]:
    opened: Opened = OPENED.get(app, journey_id, version)
    return {"name_native": opened.name_native, "name_latin": opened.name_latin,
            "room": opened.room}


def _sites(store: SideStore) -> dict[str, dict[str, Any]]:
    return {s["site_id"]: s for s in read_reference(store)["sites"]}


def _place(sites: dict[str, dict[str, Any]], site_id: str | None) -> dict[str, Any] | None:
    site = sites.get(site_id or "")
    if site is None:
        return None
    return {"site_id": site["site_id"], "code": site["code"], "name": site["name"],
            "kind": site["kind"]}


def survey_worklist(
    app: TrackingApp, store: SideStore, now: datetime, sla_hours: int
) -> dict[str, Any]:
    """Journeys due for a survey. The clock runs from the room door: `deadline` is check-in
    plus the SLA, `minutes_left` goes negative once it has passed (`overdue`)."""
    worklist = read_survey_worklist(store)
    sites = _sites(store)
    items = []
    for due in worklist.due:
        deadline = None
        if due.checked_in_at is not None:
            deadline = datetime.fromisoformat(due.checked_in_at) + timedelta(hours=sla_hours)
        items.append({
            "journey_id": due.journey_id, "party_id": due.party_id, "stage": due.stage,
            "entry_point": due.entry_point, "risk": due.risk,
            "registered_at": due.registered_at, "checked_in_at": due.checked_in_at,
            "deadline": deadline.isoformat() if deadline else None,
            "minutes_left": None if deadline is None
            else int((deadline - now).total_seconds() // 60),
            "overdue": deadline is not None and now > deadline,
            "destination": _place(sites, due.site_id),
            **_names(app, due.journey_id, due.version),
        })
    return {
        "position": worklist.position, "now": now.isoformat(), "sla_hours": sla_hours,
        "total": worklist.total, "overdue": sum(1 for i in items if i["overdue"]),
        "journeys": items,
    }


def derived_contacts(app: TrackingApp, store: SideStore, journey_id: UUID) -> dict[str, Any]:
    found = read_contacts(store, str(journey_id))
    if found is None:
        raise NotFound("no such journey (or not projected yet)")
    position, contacts = found
    sites = _sites(store)
    return {
        "journey_id": str(journey_id), "position": position,
        "contacts": [
            {"journey_id": c.journey_id, "relations": c.relations, "stage": c.stage,
             "risk": c.risk, "surveyed": c.surveyed, "destination": _place(sites, c.site_id),
             **_names(app, c.journey_id, c.version)}
            for c in contacts
        ],
    }


def due_tests(
    app: TrackingApp, store: SideStore, on: date, site_code: str = ""
) -> dict[str, Any]:
    sites = _sites(store)
    site_id = None
    if site_code:
        site_id = next((sid for sid, s in sites.items() if s["code"] == site_code), None)
        if site_id is None:
            raise NotFound(f"no such site {site_code!r}")
    position, due = read_tests_due(store, on, site_id)
    return {
        "position": position, "on": on.isoformat(),
        "tests": [
            {"journey_id": t.journey_id, "day": t.day, "due_on": t.due_on,
             "overdue": t.due_on is not None and t.due_on < on.isoformat(),
             "planned_end": t.planned_end, "destination": _place(sites, t.site_id),
             **_names(app, t.journey_id, t.version)}
            for t in due
        ],
    }


def open_transfers(app: TrackingApp, store: SideStore, now: datetime) -> dict[str, Any]:
    """Hospital transfers not yet delivered, with where to collect each traveller in words."""
    found = read_transfers(store)
    reference = read_reference(store)
    entry_points = {e["code"]: e["name"] for e in reference["entry_points"]}
    return {"position": found["position"],
            "transfers": named_transfers(app, found["transfers"], reference["sites"],
                                         entry_points, now)}


def named_transfers(
    app: TrackingApp,
    transfers: list[dict[str, Any]],
    sites: list[dict[str, Any]],
    entry_points: dict[str, str],
    now: datetime,
) -> list[dict[str, Any]]:
    """Transfers as the views hold them, with the traveller's name, the pick-up place in
    words and how long the request has waited."""
    by_id = {s["site_id"]: s for s in sites}
    named = []
    for t in transfers:
        kind, _, ref = t["pickup"].partition(":")
        if kind == "site":
            place = by_id.get(ref, {})
            where = {"kind": "site", "code": place.get("code", ""),
                     "name": place.get("name", ""), "room": t["room"]}
        elif kind == "run":
            where = {"kind": "vehicle", "run_id": ref}
        else:
            where = {"kind": "desk", "code": ref, "name": entry_points.get(ref, ref)}
        journey = app.journey(UUID(t["journey_id"]))
        waited = now - datetime.fromisoformat(t["requested_at"])
        named.append(t | {
            "pickup": where,
            "waiting_minutes": max(0, int(waited.total_seconds() // 60)),
            **_names(app, t["journey_id"], journey.version),
        })
    return named
