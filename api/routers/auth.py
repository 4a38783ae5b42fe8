"""Staff sign-in and staff accounts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import BaseModel, Field

from api.deps import ServicesDep, Staff, bearer_token
from api.errors import STAFF_STATUSES, error_responses
from api.limits import client_address
from domain.staff import Role
from tracking.accounts import SignInThrottled

# Signing in is throttled per account and per address (429), on top of what any staff route
# may answer.
router = APIRouter(tags=["staff"], responses=error_responses(*STAFF_STATUSES, 429))


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)


class AddStaff(BaseModel):
    username: str = Field(min_length=3, max_length=40)
    role: Role
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=10, max_length=200)


class ChangeStaff(BaseModel):
    # Each field given is one change (one event); those left out stay as they are.
    role: Role | None = None
    active: bool | None = None
    site_codes: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=50
    )
    reason: str = Field(default="", max_length=200)


@router.post("/api/auth/token")
def sign_in(body: SignIn, request: Request, services: ServicesDep) -> dict[str, str]:
    try:
        session = services.accounts.sign_in(
            body.username, body.password, client_address(request)
        )
    except SignInThrottled as e:
        raise HTTPException(
            status_code=429, detail=str(e), headers={"Retry-After": str(e.retry_after_s)}
        ) from None
    if session is None:
        raise HTTPException(status_code=401, detail="wrong username or password")
    return {
        "access_token": session.token,
        "token_type": "bearer",
        "role": session.member.role.value,
    }


@router.post("/api/auth/sign-out", status_code=204)
def sign_out(
    services: ServicesDep,
    _: Staff,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """End the caller's session: its token answers 401 from now on, in every process."""
    services.accounts.sign_out(bearer_token(authorization))


@router.post("/api/staff", status_code=201)
def add_staff(
    body: AddStaff,
    services: ServicesDep,
    _: Staff,  # admins: api/policy.py
) -> dict[str, str]:
    answer = services.accounts.add(body.username, body.role, body.display_name, body.password)
    return {k: str(v) for k, v in answer.items()}


@router.get("/api/staff")
def list_staff(services: ServicesDep, _: Staff) -> list[dict[str, Any]]:
    """Every staff account: username, role, display name, active, sites (never a hash)."""
    return services.accounts.list_staff()


@router.patch("/api/staff/{username}")
def change_staff(
    username: str, body: ChangeStaff, services: ServicesDep, admin: Staff
) -> dict[str, Any]:
    """Change an account's role, active flag or sites; disabling ends its sessions at once.
    Takes effect on the account's next request and, within 2 s, on its open board sockets."""
    return services.accounts.change(
        username, role=body.role, active=body.active, site_codes=body.site_codes,
        reason=body.reason, decided_by=admin.username,
    )
