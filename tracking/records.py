"""A traveller's record read from their own events: the quarantine order with its history,
and the health record (declaration, screening, surveys, test results) for survey staff.

These read the write model, so that what was just recorded shows at once; sealed fields are
opened with the traveller's key (an erased traveller's come back as `{"erased": true}`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain import quarantine
from domain.journey import Journey
from tracking.application import TrackingApp

# What of the registration is the traveller's health declaration.
DECLARATION_FIELDS = ("symptoms", "temperature", "came_from", "travel_history", "flight",
                      "flight_seat")
ORDER_EVENTS = (Journey.QuarantineStarted, Journey.QuarantineExtended,
                Journey.QuarantineShortened, Journey.Released)


def _who(e: Any) -> dict[str, Any]:
    return {
        "actor": e.ctx.actor, "role": e.ctx.role, "where": e.ctx.where,
        "occurred_at": e.ctx.occurred_at.isoformat() if e.ctx.occurred_at else None,
        "recorded_at": e.timestamp.isoformat(),
    }


def quarantine_order(
    app: TrackingApp, journey_id: UUID, *, with_reasons: bool
) -> dict[str, Any] | None:
    """The order (None before it started): its dates, legal basis, test days (due, whether a
    result is in, never the result) and every change with who decided it. `with_reasons`:
    reasons may be medical, so only survey staff and commanders see them."""
    journey = app.journey(journey_id)
    if journey.planned_end is None:
        return None
    opened = app.vault.opener(journey.id) if with_reasons else None
    return _order(journey, list(app.events.get(journey_id)), opened)


Opener = Callable[[str], dict[str, Any]]


def _order(journey: Journey, events: list[Any], opened: Opener | None) -> dict[str, Any] | None:
    """`opened`: opens the sealed reasons (None: the reasons are not shown)."""
    if journey.planned_end is None:
        return None
    changes = []
    for e in events:
        if not isinstance(e, ORDER_EVENTS):
            continue
        change: dict[str, Any] = {"event_type": type(e).__name__, **_who(e)}
        if isinstance(e, Journey.QuarantineStarted):
            change |= {"planned_end": e.planned_end.isoformat(), "legal_basis": e.legal_basis}
        elif isinstance(e, Journey.QuarantineExtended | Journey.QuarantineShortened):
            change |= {
                "planned_end": e.planned_end.isoformat(),
                "previous_end": e.previous_end.isoformat(), "legal_basis": e.legal_basis,
                "decided_by": e.decided_by, "added_tests": e.added_tests,
                "dropped_tests": e.dropped_tests,
            }
        else:
            change |= {"legal_basis": e.legal_basis, "decided_by": e.decided_by,
                       "early": e.early}
        if opened is not None and not isinstance(e, Journey.QuarantineStarted):
            change["reason"] = _reason(opened, e.reason)
        changes.append(change)
    starts = journey.quarantine_starts_on
    return {
        "journey_id": str(journey.id),
        "stage": journey.stage.value,
        "starts_on": starts.isoformat() if starts else None,
        "planned_end": journey.planned_end.isoformat(),
        "legal_basis": journey.legal_basis,
        "tests": [
            {"day": day,
             "due_on": quarantine.due_on(starts, day).isoformat() if starts else None,
             "recorded": sealed is not None}
            for day, sealed in journey.tests.items()
        ],
        "changes": changes,
    }


def _reason(opened: Opener, sealed: str) -> str:
    """A decision's reason, opened ("" when erased; as it is if recorded unsealed)."""
    if not sealed.startswith("v1:"):
        return sealed
    return str(opened(sealed).get("reason", ""))


def health_record(app: TrackingApp, journey_id: UUID) -> dict[str, Any]:
    """Everything health-related on the record, opened: for survey staff and commanders only,
    after the read was written to the access log."""
    journey = app.journey(journey_id)
    opened = app.vault.opener(journey.id)  # one read of the key for every sealed field
    details = opened(journey.personal)
    declaration = {k: details[k] for k in DECLARATION_FIELDS if k in details}
    screening = None
    surveys, tests = [], []
    events = list(app.events.get(journey_id))
    for e in events:
        if isinstance(e, Journey.Screened):
            screening = {"risk": e.risk, **opened(e.health), **_who(e)}
        elif isinstance(e, Journey.SurveyRecorded):
            surveys.append({"risk": e.risk, "answers": opened(e.answers),
                            **_who(e)})
        elif isinstance(e, Journey.TestResultRecorded):
            tests.append({"day": e.test_day, "correction_reason": "",
                          **opened(e.result), **_who(e)})
    return {
        "journey_id": str(journey.id),
        "stage": journey.stage.value,
        "name_native": details.get("name_native", ""),
        "name_latin": details.get("name_latin", ""),
        "risk": journey.risk.value if journey.risk else None,
        "survey_risk": journey.survey_risk.value if journey.survey_risk else None,
        "declaration": declaration,
        "screening": screening,
        "surveys": surveys,
        "latest_survey": surveys[-1] if surveys else None,
        "test_results": tests,
        "quarantine": _order(journey, events, opened),
    }
