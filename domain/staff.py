"""Staff accounts and the roles the product knows."""

from __future__ import annotations

from enum import Enum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput, RuleBroken


class Role(Enum):
    ADMIN = "admin"
    SCREENER = "screener"
    DISPATCHER = "dispatcher"
    ESCORT = "escort"
    RECEIVER = "receiver"
    SURVEYOR = "surveyor"
    COMMANDER = "commander"


class StaffAccount(Aggregate):
    class Created(Aggregate.Created):
        username: str
        role: str
        display_name: str
        password_hash: str

    class PasswordChanged(Aggregate.Event):
        password_hash: str

    class Disabled(Aggregate.Event):
        reason: str

    @staticmethod
    def create_id(username: str, role: str, display_name: str, password_hash: str) -> UUID:
        return staff_account_id(username)

    @event(Created)
    def __init__(self, username: str, role: str, display_name: str, password_hash: str) -> None:
        self.username = username
        self.role = Role(role)
        self.display_name = display_name
        self.password_hash = password_hash
        self.active = True

    @classmethod
    def create(
        cls, username: str, role: Role, display_name: str, password_hash: str
    ) -> StaffAccount:
        username = username.strip().lower()
        if not 3 <= len(username) <= 40 or not username.replace(".", "").replace("-", "").isalnum():
            raise InvalidInput("a username has 3 to 40 letters, digits, dots or dashes")
        return cls(
            username=username,
            role=role.value,
            display_name=display_name.strip(),
            password_hash=password_hash,
        )

    def change_password(self, password_hash: str) -> None:
        self._password_changed(password_hash=password_hash)

    def disable(self, reason: str) -> None:
        if not self.active:
            raise RuleBroken("the account is already disabled")
        self._disabled(reason=reason)

    @event(PasswordChanged)
    def _password_changed(self, password_hash: str) -> None:
        self.password_hash = password_hash

    @event(Disabled)
    def _disabled(self, reason: str) -> None:
        self.active = False


def staff_account_id(username: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/staff/{username.strip().lower()}")
