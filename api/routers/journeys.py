"""Commands on one journey, from screening to the room door, its exits before the car door,
and its timeline. The care side is in routers/survey.py, quarantine.py and transfers.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import AppDep, IdempotencyDep, ServicesDep, Staff, context_for, require_own
from api.errors import STAFF_ERRORS
from domain.stages import RiskLevel
from projections.queries import read_timeline
from tracking.accounts import StaffMember

router = APIRouter(prefix="/api/journeys", tags=["journeys"], responses=STAFF_ERRORS)

# Who may call each endpoint, and on whose records, is api/policy.py's table, which `allow`
# (api/deps.py) applies at request time; the names below only say whom each endpoint is for.
Screener = Staff
Dispatcher = Staff
Escort = Staff
Receiver = Staff
Handler = Staff
Taker = Staff
Exiting = Staff
Viewer = Staff


class FieldFacts(BaseModel):
    """Where the staff member was and the device's clock when it happened."""

    where: str = Field(default="", max_length=100)
    occurred_at: AwareDatetime | None = None


class Screen(FieldFacts):
    risk: RiskLevel
    temperature: float | None = Field(default=None, ge=30, le=45)
    symptomatic: bool = False
    sample_taken: bool = False


class AssignDestination(FieldFacts):
    site: str = Field(min_length=1, max_length=40)
    room: str = Field(default="", max_length=20)


class WithReason(FieldFacts):
    reason: str = Field(min_length=1, max_length=500)


class AssignSeats(FieldFacts):
    run_id: UUID


class Dispatch(FieldFacts):
    """A destination (unless the party has one), a run, or both, recorded together."""

    site: str | None = Field(default=None, max_length=40)
    room: str | None = Field(default=None, max_length=20)
    run_id: UUID | None = None


class ReassignSeats(WithReason):
    run_id: UUID


class Scan(FieldFacts):
    scan_id: str = Field(
        min_length=8, max_length=100, description="unique per scan, from the device"
    )
    off_route: bool = Field(
        default=False,
        description="the scanner stopped this traveller: record the off-route scan, and "
        "refuse (409) rather than accept them if they are no longer off route here",
    )


class ScanBoarding(Scan):
    run_id: UUID


class ScanCheckIn(Scan):
    site: str = Field(min_length=1, max_length=40)
    start_quarantine: bool = Field(
        default=False,
        description="start the district's standard quarantine order at this room door, in the "
        "same transaction (its length, tests and legal basis come from the settings)",
    )


class OfferCustody(FieldFacts):
    offered_to: str = Field(pattern=r"^(desk|escort|receiver):[A-Za-z0-9-]{1,40}$")


class AcceptCustody(FieldFacts):
    custodian: str = Field(pattern=r"^(desk|escort|receiver):[A-Za-z0-9-]{1,40}$")


def field_context(member: StaffMember, facts: FieldFacts) -> Any:
    occurred: datetime | None = facts.occurred_at
    return context_for(member, facts.where, occurred)


@router.get("/{journey_id}")
def journey_status(journey_id: UUID, app: AppDep, _: Viewer) -> dict[str, Any]:
    journey = app.journey(journey_id)
    return {
        "journey_id": str(journey.id),
        "stage": journey.stage.value,
        "party_id": str(journey.party_id),
        "entry_point": journey.entry_point,
        "custodian": journey.custodian,
        "offered_to": journey.offered_to,
        "site_id": str(journey.site_id) if journey.site_id else None,
        "room": journey.room,
        "run_id": str(journey.run_id) if journey.run_id else None,
        "seat": journey.seat,
        "version": journey.version,
    }


@router.get("/{journey_id}/timeline")
def timeline(journey_id: UUID, services: ServicesDep, _: Viewer) -> dict[str, Any]:
    entries = read_timeline(services.store, journey_id)
    if entries is None:
        raise HTTPException(status_code=404, detail="no such journey (or not projected yet)")
    return {"journey_id": str(journey_id), "events": entries}


@router.post("/{journey_id}/screening")
def screen(
    journey_id: UUID, body: Screen, app: AppDep, who: Screener, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.screen(
        journey_id,
        body.risk,
        body.temperature,
        body.symptomatic,
        body.sample_taken,
        field_context(who, body),
        idem,
    )


@router.post("/{journey_id}/destination")
def assign_destination(
    journey_id: UUID, body: AssignDestination, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.assign_destination(journey_id, body.site, field_context(who, body), body.room, idem)


@router.post("/{journey_id}/destination/withdrawal")
def withdraw_destination(
    journey_id: UUID, body: WithReason, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.withdraw_destination(journey_id, body.reason, field_context(who, body), idem)


@router.post("/{journey_id}/seats")
def assign_seats(
    journey_id: UUID, body: AssignSeats, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.assign_seats(journey_id, body.run_id, field_context(who, body), idem)


@router.post("/{journey_id}/dispatch")
def dispatch(
    journey_id: UUID, body: Dispatch, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.dispatch(
        journey_id, field_context(who, body), (body.site or "").strip(), (body.room or "").strip(),
        body.run_id, idem,
    )


@router.post("/{journey_id}/seats/reassignment")
def reassign_seats(
    journey_id: UUID, body: ReassignSeats, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.reassign_seats(journey_id, body.run_id, body.reason, field_context(who, body), idem)


@router.post("/{journey_id}/seats/withdrawal")
def withdraw_seats(
    journey_id: UUID, body: WithReason, app: AppDep, who: Dispatcher, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.withdraw_seats(journey_id, body.reason, field_context(who, body), idem)


@router.post("/{journey_id}/boarding")
def scan_boarding(
    journey_id: UUID, body: ScanBoarding, services: ServicesDep, who: Escort,
    idem: IdempotencyDep,
) -> dict[str, Any]:
    require_own(services, who, run_id=body.run_id)  # the run is in the body
    return services.app.scan_boarding(
        journey_id, body.run_id, body.scan_id, field_context(who, body), idem,
        off_route_only=body.off_route,
    )


@router.post("/{journey_id}/check-in")
def scan_check_in(
    journey_id: UUID, body: ScanCheckIn, services: ServicesDep, who: Receiver,
    idem: IdempotencyDep,
) -> dict[str, Any]:
    require_own(services, who, site=body.site)  # the door is in the body
    return services.app.scan_check_in(
        journey_id, body.site, body.scan_id, field_context(who, body), idem,
        off_route_only=body.off_route, start_quarantine=body.start_quarantine,
    )


@router.post("/{journey_id}/custody/offer")
def offer_custody(
    journey_id: UUID, body: OfferCustody, app: AppDep, who: Handler, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.offer_custody(journey_id, body.offered_to, field_context(who, body), idem)


@router.post("/{journey_id}/custody/acceptance")
def accept_custody(
    journey_id: UUID, body: AcceptCustody, app: AppDep, who: Taker, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.accept_custody(journey_id, body.custodian, field_context(who, body), idem)


@router.post("/{journey_id}/no-show")
def mark_no_show(
    journey_id: UUID, body: FieldFacts, app: AppDep, who: Exiting, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.mark_no_show(journey_id, field_context(who, body), idem)


@router.post("/{journey_id}/cancellation")
def cancel(
    journey_id: UUID, body: WithReason, app: AppDep, who: Exiting, idem: IdempotencyDep
) -> dict[str, Any]:
    return app.cancel(journey_id, body.reason, field_context(who, body), idem)
