"""Dependencies every router shares: services, the signed-in staff member, idempotency."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import Depends, Header, HTTPException, Request

from api.policy import IN_BODY, OWN_RULES, Access, Record, needs_roles, route_key, rule_for
from domain.context import Context
from domain.errors import NotFound
from domain.staff import Role, staff_account_id
from tracking.accounts import StaffMember
from tracking.application import TrackingApp
from tracking.services import Services
from tracking.unit_of_work import Idempotency


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_app(services: ServicesDep) -> TrackingApp:
    return services.app


AppDep = Annotated[TrackingApp, Depends(get_app)]


def bearer_token(authorization: str | None) -> str:
    """The token of an 'Authorization: Bearer <token>' header; '' for anything else."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def signed_in(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> StaffMember | None:
    """The caller's staff member if the request carries a live session's token, else None.

    Looked up once per request: FastAPI caches a dependency's value within a request, so
    `current_staff` and `idempotency` share this one session and account read."""
    token = bearer_token(authorization)
    return services.accounts.member_for_token(token) if token else None


def current_staff(
    member: Annotated[StaffMember | None, Depends(signed_in)],
) -> StaffMember:
    """The caller as their account is now: a live session (server-side, so signing out and
    disabling end it at once) of an active account, with the account's current role."""
    if member is None:
        raise HTTPException(
            status_code=401,
            detail="sign in first: send 'Authorization: Bearer <token>' from /api/auth/token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return member


def allow(
    request: Request,
    services: ServicesDep,
    member: Annotated[StaffMember, Depends(current_staff)],
) -> StaffMember:
    """Admit the signed-in caller if this route's row of the access table (api/policy.py)
    lets their role in, and, where the row says O, only to records they are bound to.

    The route is looked up at request time, so the table is the check and no router repeats
    a role list. A route missing from the table admits nobody (tests catch that first)."""
    route = request.scope.get("route")
    key = route_key(request.method, getattr(route, "path_format", request.url.path))
    rule = rule_for(key)
    granted = rule.of(member.role.value) if rule else Access.DENY
    if granted is Access.DENY:
        raise HTTPException(
            status_code=403,
            detail=f"the role {member.role.value} may not do this; this needs one of the roles: "
            f"{needs_roles(key)}",
        )
    if granted is Access.OWN and rule:
        for record in rule.records:
            _check_own(services, member, record, request)
    return member


Staff = Annotated[StaffMember, Depends(allow)]


def require_own(
    services: Services, member: StaffMember, *, run_id: UUID | None = None, site: str = ""
) -> None:
    """The O check for a record named in the request body, called by the handler once the
    body is valid (a path or query record is checked by `allow` already)."""
    if member.role is Role.ESCORT and run_id is not None:
        _own_run(services, member, run_id)
    if member.role is Role.RECEIVER and site:
        _own_site(member, site)


def _check_own(services: Services, member: StaffMember, record: Record, request: Request) -> None:
    _, applies_to = OWN_RULES[member.role.value]
    # A body record is the handler's (require_own); a caller's own code opens only its record.
    if record not in applies_to or record in IN_BODY or record is Record.OWN_CODE:
        return
    if record is Record.QUERY_RUN:
        value = request.query_params.get("run_id", "")
    else:
        value = str(request.path_params.get(_PATH_PARAM[record], ""))
    if not value:
        return  # an optional record not given: nothing to be bound to
    if record is Record.SITE:
        _own_site(member, value)
    elif record in (Record.RUN, Record.QUERY_RUN):
        run_id = _uuid(value)
        if run_id is not None:
            _own_run(services, member, run_id)
    else:
        journey_id = (
            services.codes.resolve(value) if record is Record.PERSONAL_CODE else _uuid(value)
        )
        if journey_id is not None:
            _own_journey(services, member, journey_id)


_PATH_PARAM = {
    Record.JOURNEY: "journey_id", Record.PERSONAL_CODE: "code", Record.SITE: "code",
    Record.RUN: "run_id",
}


def _own_journey(services: Services, member: StaffMember, journey_id: UUID) -> None:
    if not member.site_codes:
        return
    journey = services.app.journey(journey_id)  # NotFound: 404 as without the rule
    site = services.app.site_by_id(journey.site_id).code if journey.site_id else ""
    if site.upper() not in member.site_codes:
        raise HTTPException(status_code=403, detail=(
            "receivers bound to sites act only on travellers dispatched to their sites "
            f"({', '.join(member.site_codes)}): this traveller is not"
        ))


def _own_site(member: StaffMember, code: str) -> None:
    if member.site_codes and code.strip().upper() not in member.site_codes:
        raise HTTPException(status_code=403, detail=(
            "receivers bound to sites act only at their sites "
            f"({', '.join(member.site_codes)}): {code.strip()!r} is not one of them"
        ))


def _own_run(services: Services, member: StaffMember, run_id: UUID) -> None:
    try:
        escort = services.app.run_escort(run_id)
    except NotFound:
        return  # the handler answers for a run that does not exist, as without the rule
    # A run planned with a free-text escort (no account of that name) binds no one.
    mine = escort.strip().lower() == member.username.lower()
    if not mine and staff_account_id(escort) in services.app.repository:
        raise HTTPException(status_code=403, detail=(
            "escorts act only on their own runs: this run's escort is someone else"
        ))


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None  # FastAPI answers 422 for the malformed id itself


async def _fingerprint(request: Request) -> str:
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        digest.update(part + b"\0")
    return digest.hexdigest()


def idempotency(
    fingerprint: Annotated[str, Depends(_fingerprint)],
    member: Annotated[StaffMember | None, Depends(signed_in)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Idempotency | None:
    """A repeat of a request with the same key gets the first answer (keys are per caller)."""
    if not idempotency_key:
        return None
    caller = f"staff:{member.username}" if member else "public"
    return Idempotency(key=f"{caller}:{idempotency_key}", fingerprint=fingerprint)


IdempotencyDep = Annotated[Idempotency | None, Depends(idempotency)]


def public_base_url(services: Services, request: Request) -> str:
    """The address travellers' phones reach (printed in QR codes): the configured public one,
    else the one this request came in on."""
    return services.settings.public_url or str(request.base_url).rstrip("/")


def context_for(
    member: StaffMember | None, where: str = "", occurred_at: datetime | None = None
) -> Context:
    return Context(
        command_id=uuid4(),
        actor=member.username if member else "traveller",
        role=member.role.value if member else "traveller",
        where=where,
        occurred_at=occurred_at,
    )
