"""Dependencies every router shares: services, the signed-in staff member, idempotency."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Header, HTTPException, Request

from domain.context import Context
from domain.staff import Role
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


def current_staff(
    services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> StaffMember:
    scheme, _, token = (authorization or "").partition(" ")
    member = services.accounts.member_for_token(token) if scheme.lower() == "bearer" else None
    if member is None:
        raise HTTPException(
            status_code=401,
            detail="sign in first: send 'Authorization: Bearer <token>' from /api/auth/token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return member


def allow(*roles: Role) -> Callable[..., StaffMember]:
    """A dependency admitting only the named roles; every staff endpoint names its roles."""

    def check(member: Annotated[StaffMember, Depends(current_staff)]) -> StaffMember:
        if member.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(status_code=403, detail=f"this needs one of the roles: {allowed}")
        return member

    check.allowed_roles = roles  # type: ignore[attr-defined]
    return check


def _caller(services: Services, authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    member = services.accounts.member_for_token(token) if scheme.lower() == "bearer" else None
    return f"staff:{member.username}" if member else "public"


async def _fingerprint(request: Request) -> str:
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        digest.update(part + b"\0")
    return digest.hexdigest()


def idempotency(
    services: ServicesDep,
    fingerprint: Annotated[str, Depends(_fingerprint)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Idempotency | None:
    """A repeat of a request with the same key gets the first answer (keys are per caller)."""
    if not idempotency_key:
        return None
    caller = _caller(services, authorization)
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
