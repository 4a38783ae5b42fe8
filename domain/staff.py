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

    # Who changed an account is kept with the change: the account's history is its audit.
    class Disabled(Aggregate.Event):
        reason: str
        decided_by: str

    class Enabled(Aggregate.Event):
        reason: str
        decided_by: str

    class RoleChanged(Aggregate.Event):
        role: str
        reason: str
        decided_by: str

    class SitesAssigned(Aggregate.Event):
        # The sites whose travellers a receiver may see and check in; empty means every site.
        site_codes: list[str]
        decided_by: str

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
        self.site_codes: tuple[str, ...] = ()

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

    def disable(self, reason: str, decided_by: str) -> None:
        if not self.active:
            raise RuleBroken("the account is already disabled")
        self._disabled(reason=reason, decided_by=decided_by)

    def enable(self, reason: str, decided_by: str) -> None:
        if self.active:
            raise RuleBroken("the account is already enabled")
        self._enabled(reason=reason, decided_by=decided_by)

    def change_role(self, role: Role, reason: str, decided_by: str) -> None:
        if role is self.role:
            raise RuleBroken(f"the account already has the role {role.value}")
        self._role_changed(role=role.value, reason=reason, decided_by=decided_by)

    def assign_sites(self, site_codes: list[str], decided_by: str) -> None:
        codes = sorted({code.strip().upper() for code in site_codes if code.strip()})
        if tuple(codes) == self.site_codes:
            raise RuleBroken("the account already has these sites")
        self._sites_assigned(site_codes=codes, decided_by=decided_by)

    @event(PasswordChanged)
    def _password_changed(self, password_hash: str) -> None:
        self.password_hash = password_hash

    @event(Disabled)
    def _disabled(self, reason: str, decided_by: str) -> None:
        self.active = False

    @event(Enabled)
    def _enabled(self, reason: str, decided_by: str) -> None:
        self.active = True

    @event(RoleChanged)
    def _role_changed(self, role: str, reason: str, decided_by: str) -> None:
        self.role = Role(role)

    @event(SitesAssigned)
    def _sites_assigned(self, site_codes: list[str], decided_by: str) -> None:
        self.site_codes = tuple(site_codes)


def staff_account_id(username: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/staff/{username.strip().lower()}")
