"""Staff accounts: Argon2id password hashes, and signed expiring session tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pwdlib import PasswordHash

from domain.errors import InvalidInput
from domain.staff import Role, StaffAccount, staff_account_id
from tracking.application import TrackingApp
from tracking.unit_of_work import Answer, Decision, execute

SESSION_SECONDS = 12 * 3600
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHash.recommended()  # Argon2id
# Verifying against this when the user is unknown keeps the timing of both answers alike.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class StaffMember:
    username: str
    role: Role
    display_name: str


class Accounts:
    def __init__(self, app: TrackingApp, secret: bytes) -> None:
        self.app = app
        self._tokens = URLSafeTimedSerializer(secret, salt="staff-session")

    def add(self, username: str, role: Role, display_name: str, password: str) -> Answer:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"a password has at least {MIN_PASSWORD_LENGTH} characters")

        def decide() -> Decision:
            account = StaffAccount.create(username, role, display_name, _hasher.hash(password))
            if account.id in self.app.repository:
                raise InvalidInput(f"user {account.username!r} already exists")
            return Decision([account], {"username": account.username, "role": role.value})

        return execute(self.app, decide)

    def authenticate(self, username: str, password: str) -> StaffMember | None:
        account = self._account(username)
        if account is None:
            _hasher.verify(password, _DUMMY_HASH)
            return None
        if not _hasher.verify(password, account.password_hash) or not account.active:
            return None
        return _member(account)

    def issue_token(self, member: StaffMember) -> str:
        return self._tokens.dumps({"u": member.username})

    def member_for_token(self, token: str) -> StaffMember | None:
        """The active staff member a session token names; None if invalid or expired."""
        try:
            data: Any = self._tokens.loads(token, max_age=SESSION_SECONDS)
        except BadSignature:
            return None
        account = self._account(str(data.get("u", ""))) if isinstance(data, dict) else None
        if account is None or not account.active:
            return None
        return _member(account)

    def _account(self, username: str) -> StaffAccount | None:
        try:
            account: object = self.app.repository.get(staff_account_id(username))
        except AggregateNotFoundError:
            return None
        return account if isinstance(account, StaffAccount) else None


def _member(account: StaffAccount) -> StaffMember:
    return StaffMember(account.username, account.role, account.display_name)
