"""The survey (流调) on the traveller's record: the worklist, the survey itself, the derived
contacts, the health record, and who read it.

Survey answers and health data are for survey staff and commanders only (DESIGN.md §6), and
every read of them is written to the access log first: a read that cannot be logged fails.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import AppDep, IdempotencyDep, ServicesDep, Staff, context_for
from api.errors import STAFF_ERRORS, refusal
from api.routers.journeys import FieldFacts, field_context
from domain.audit import CONTACTS, HEALTH, PURPOSES, SURVEY
from domain.stages import RiskLevel
from projections.care_queries import read_access_log
from projections.surveying import derived_contacts, survey_worklist
from tracking.audit import record_access
from tracking.records import health_record
from tracking.survey_answers import SurveyAnswers

router = APIRouter(tags=["survey"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
SurveyStaff = Staff
Auditor = Staff
Purpose = Literal[
    "survey", "contact_tracing", "test_follow_up", "quarantine_decision", "hospital_referral",
    "command_review",
]
assert set(Purpose.__args__) == set(PURPOSES)  # type: ignore[attr-defined]
PurposeQuery = Annotated[
    Purpose, Query(description="why the data is read; recorded in the access log")
]
READ_IS_LOGGED: dict[int | str, dict[str, Any]] = {
    403: refusal("survey answers and health data are for survey staff and commanders"),
    503: refusal("the read could not be written to the access log: nothing is shown"),
}


class RecordSurvey(FieldFacts):
    risk: RiskLevel
    answers: SurveyAnswers


@router.get("/api/survey/worklist")
def worklist(app: AppDep, services: ServicesDep, _: SurveyStaff) -> dict[str, Any]:
    """Open journeys not yet surveyed, high risk first, then by how long their clock has run
    (it starts at the room door; the SLA is TRACKING_SURVEY_SLA_HOURS, 24 by default)."""
    return survey_worklist(
        app, services.store, datetime.now(UTC), services.settings.survey_sla_hours
    )


@router.post("/api/journeys/{journey_id}/survey")
def record_survey(
    journey_id: UUID, body: RecordSurvey, app: AppDep, who: SurveyStaff, idem: IdempotencyDep
) -> dict[str, Any]:
    """Record the survey (or a later update of it): the answers are sealed in the event."""
    return app.record_survey(
        journey_id, body.risk, body.answers.model_dump(mode="json"), field_context(who, body),
        idem,
    )


@router.get("/api/journeys/{journey_id}/health-record", responses=READ_IS_LOGGED)
def read_health_record(
    journey_id: UUID, purpose: PurposeQuery, app: AppDep, who: SurveyStaff
) -> dict[str, Any]:
    """The traveller's health declaration, screening findings, surveys and test results."""
    access_id = record_access(app, journey_id, [SURVEY, HEALTH], purpose, context_for(who))
    return health_record(app, journey_id) | {"access_id": str(access_id)}


@router.get("/api/journeys/{journey_id}/contacts", responses=READ_IS_LOGGED)
def read_contacts(
    journey_id: UUID, purpose: PurposeQuery, app: AppDep, services: ServicesDep,
    who: SurveyStaff,
) -> dict[str, Any]:
    """Who travelled with the traveller, derived from the record: the same party, the same
    vehicle run, the same flight (and, when seats are known, the rows near theirs)."""
    access_id = record_access(app, journey_id, [CONTACTS], purpose, context_for(who))
    return derived_contacts(app, services.store, journey_id) | {"access_id": str(access_id)}


@router.get("/api/journeys/{journey_id}/access-log")
def access_log(journey_id: UUID, app: AppDep, services: ServicesDep, _: Auditor) -> dict[str, Any]:
    """Every recorded read of this traveller's survey, health or contact data."""
    app.journey(journey_id)
    return {"journey_id": str(journey_id),
            "reads": read_access_log(services.store, str(journey_id))}
