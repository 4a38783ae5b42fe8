"""Staff sign-in and staff accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from api.deps import ServicesDep, allow
from api.limits import Throttle, client_address
from domain.staff import Role
from tracking.accounts import StaffMember

router = APIRouter(tags=["staff"])
# Guessing one account's password is slowed per username; a desk's shared address gets more.
_per_username = Throttle("10/minute")
_per_address = Throttle("120/minute")


class SignIn(BaseModel):
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)


class AddStaff(BaseModel):
    username: str = Field(min_length=3, max_length=40)
    role: Role
    display_name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=10, max_length=200)


@router.post("/api/auth/token")
def sign_in(body: SignIn, request: Request, services: ServicesDep) -> dict[str, str]:
    _per_address.check(client_address(request))
    _per_username.check(body.username.lower())
    member = services.accounts.authenticate(body.username, body.password)
    if member is None:
        raise HTTPException(status_code=401, detail="wrong username or password")
    return {
        "access_token": services.accounts.issue_token(member),
        "token_type": "bearer",
        "role": member.role.value,
    }


@router.post("/api/staff", status_code=201)
def add_staff(
    body: AddStaff,
    services: ServicesDep,
    _: Annotated[StaffMember, Depends(allow(Role.ADMIN))],
) -> dict[str, str]:
    answer = services.accounts.add(body.username, body.role, body.display_name, body.password)
    return {k: str(v) for k, v in answer.items()}
