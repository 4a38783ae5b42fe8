"""The quarantine order on the traveller's record: started at the room door, extended,
shortened or ended with a reason, a legal basis and who decided; its tests and their results;
and the exit to hospital, which asks dispatch for the transport there."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from api.deps import AppDep, IdempotencyDep, ServicesDep, Staff
from api.errors import STAFF_ERRORS
from api.routers.journeys import FieldFacts, WithReason, field_context
from domain.calendar import local_date
from domain.quarantine import MAX_BASIS, MAX_DECIDER, MAX_REASON, OrderDecision
from projections.surveying import due_tests
from tracking.records import quarantine_order
from tracking.survey_answers import LabResult

router = APIRouter(tags=["quarantine"], responses=STAFF_ERRORS)
# Whom each endpoint admits, and on whose records, is api/policy.py's table (see `allow`).
OrderStaff = Staff
Deciders = Staff
Exiting = Staff


class StartQuarantine(FieldFacts):
    planned_end: date | None = Field(
        default=None, description="the day the traveller may leave; default: the district's "
        "standard length (TRACKING_QUARANTINE_DAYS) from today")
    legal_basis: str = Field(default="", max_length=MAX_BASIS)


class Decided(FieldFacts):
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    legal_basis: str = Field(min_length=1, max_length=MAX_BASIS,
                             description="the law, regulation or notice the decision rests on")
    decided_by: str = Field(min_length=1, max_length=MAX_DECIDER,
                            description="the official accountable for the decision")

    def decision(self) -> OrderDecision:
        return OrderDecision(self.reason, self.legal_basis, self.decided_by)


class ChangeEnd(Decided):
    planned_end: date


class RecordTestResult(FieldFacts):
    day: int = Field(ge=1, le=90, description="day of the order the test belongs to")
    result: LabResult
    correction_reason: str = Field(
        default="", max_length=500, description="required when the day already has a result")


class ReferToHospital(WithReason):
    urgency: Literal["urgent", "routine"] = "urgent"


@router.get("/api/journeys/{journey_id}/quarantine")
def order(journey_id: UUID, app: AppDep, _: OrderStaff) -> dict[str, Any]:
    """The order: its dates, legal basis, test days (due, and whether a result is in; never
    the result) and every change with who decided it. Not why: a reason may be medical, so it
    is read with the health record (GET /api/journeys/{id}/health-record), whose reads are
    logged."""
    found = quarantine_order(app, journey_id, with_reasons=False)
    if found is None:
        raise HTTPException(404, "this traveller has no quarantine order (yet)")
    return found


@router.post("/api/journeys/{journey_id}/quarantine")
def start_quarantine(
    journey_id: UUID, body: StartQuarantine, app: AppDep, who: OrderStaff, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.start_quarantine(
        journey_id, body.planned_end, field_context(who, body), idem, legal_basis=body.legal_basis
    )


@router.post("/api/journeys/{journey_id}/quarantine/extension")
def extend_quarantine(
    journey_id: UUID, body: ChangeEnd, app: AppDep, who: Deciders, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.extend_quarantine(
        journey_id, body.planned_end, body.decision(), field_context(who, body), idem
    )


@router.post("/api/journeys/{journey_id}/quarantine/shortening")
def shorten_quarantine(
    journey_id: UUID, body: ChangeEnd, app: AppDep, who: Deciders, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.shorten_quarantine(
        journey_id, body.planned_end, body.decision(), field_context(who, body), idem
    )


@router.post("/api/journeys/{journey_id}/release")
def release(
    journey_id: UUID, body: Decided, app: AppDep, who: OrderStaff, idem: IdempotencyDep
) -> dict[str, Any]:
    """End the order: every test due by today has a result and none is positive."""
    return app.release(journey_id, body.decision(), field_context(who, body), idem)


@router.post("/api/journeys/{journey_id}/test-results")
def record_test_result(
    journey_id: UUID, body: RecordTestResult, app: AppDep, who: OrderStaff, idem: IdempotencyDep
) -> dict[str, Any]:
    """The result of one test of the order (sealed: it is health data). The answer says only
    that it was recorded."""
    return app.record_test_result(
        journey_id, body.day, body.result.model_dump(mode="json"), field_context(who, body),
        idem, correction_reason=body.correction_reason,
    )


@router.get("/api/quarantine/tests-due")
def list_due_tests(
    app: AppDep,
    services: ServicesDep,
    _: OrderStaff,
    on: date | None = None,
    site: Annotated[str, Query(max_length=40)] = "",
) -> dict[str, Any]:
    """Tests due by `on` (default today; overdue ones included) without a result, by site."""
    return due_tests(app, services.store, on or local_date(datetime.now(UTC)), site.strip())


@router.post("/api/journeys/{journey_id}/hospital-referral")
def refer_to_hospital(
    journey_id: UUID, body: ReferToHospital, app: AppDep, who: Exiting, idem: IdempotencyDep
) -> dict[str, Any]:
    """The journey ends in hospital care; dispatch is asked for the transport there (the
    answer's `transfer_ids`)."""
    return app.refer_to_hospital(
        journey_id, body.reason, field_context(who, body), idem, urgency=body.urgency
    )
