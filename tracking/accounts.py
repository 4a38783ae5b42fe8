"""Staff accounts: Argon2id password hashes, server-side sessions, throttled sign-in.

A session token is 256 random bits handed to the client once and kept here only as its
SHA-256 hash (table `staff_sessions`), so a copy of the database signs no one in. Because the
session lives on the server, signing out and disabling an account end it at once, and the
role is read from the account on every request, never from the token.

Failed sign-ins are counted in the database (table `staff_sign_in_failures`), not in a
process's memory, so that every API worker process sees the same count.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic
from pwdlib import PasswordHash

from domain.errors import InvalidInput, NotFound, RuleBroken
from domain.staff import Role, StaffAccount, staff_account_id
from tracking.application import TrackingApp
from tracking.sidestore import SideStore
from tracking.unit_of_work import Answer, Decision, execute

SESSION_LIFETIME = timedelta(hours=12)  # one shift and its overlap; then sign in again
MIN_PASSWORD_LENGTH = 10
FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_PER_USERNAME = 5  # guesses at one account per window
FAILURES_PER_ADDRESS = 30  # a desk's shared address mistypes more; a sprayer is caught here
_hasher = PasswordHash.recommended()  # Argon2id
# Verifying against this when the user is unknown keeps the timing of both answers alike.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS staff_sessions ("
    " token_hash TEXT PRIMARY KEY,"
    " username TEXT NOT NULL,"
    " issued_at TEXT NOT NULL,"
    " expires_at TEXT NOT NULL,"
    " revoked_at TEXT)",
    "CREATE INDEX IF NOT EXISTS staff_sessions_username ON staff_sessions (username)",
    "CREATE INDEX IF NOT EXISTS staff_sessions_expires ON staff_sessions (expires_at)",
    # username_key: an HMAC of the name typed, not the name: people type passwords into the
    # username field, and this table must not become a list of them.
    "CREATE TABLE IF NOT EXISTS staff_sign_in_failures ("
    " username_key TEXT NOT NULL,"
    " address TEXT NOT NULL,"
    " at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS staff_sign_in_failures_user"
    " ON staff_sign_in_failures (username_key, at)",
    "CREATE INDEX IF NOT EXISTS staff_sign_in_failures_address"
    " ON staff_sign_in_failures (address, at)",
    "CREATE INDEX IF NOT EXISTS staff_sign_in_failures_at ON staff_sign_in_failures (at)",
)
_FAILURES_OF_USERNAME = (
    "SELECT at FROM staff_sign_in_failures WHERE username_key = ? AND at > ? ORDER BY at"
)
_FAILURES_FROM_ADDRESS = (
    "SELECT at FROM staff_sign_in_failures WHERE address = ? AND at > ? ORDER BY at"
)


@dataclass(frozen=True)
class StaffMember:
    username: str
    role: Role
    display_name: str
    # Sites a receiver is bound to; empty: not bound (every site).
    site_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Session:
    member: StaffMember
    token: str


class SignInThrottled(Exception):
    """Too many failed sign-ins for this username or address; try again after a while."""

    def __init__(self, retry_after_s: int) -> None:
        minutes = max(1, math.ceil(retry_after_s / 60))
        super().__init__(
            "too many failed sign-ins for this account or from this address;"
            f" try again in {minutes} minute{'s' if minutes > 1 else ''}"
        )
        self.retry_after_s = retry_after_s


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _stamp(moment: datetime) -> str:
    # Fixed width, so that the text columns compare in time order on both backends.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class Accounts:
    def __init__(
        self,
        app: TrackingApp,
        store: SideStore,
        secret: bytes,
        lifetime: timedelta = SESSION_LIFETIME,
    ) -> None:
        self.app = app
        self.store = store
        self.lifetime = lifetime
        self._key = hmac.new(secret, b"staff-sign-in-failures", hashlib.sha256).digest()

    def create_table(self) -> None:
        with self.store.transaction() as cur:
            for statement in SCHEMA:
                cur.execute(statement)

    # -- accounts ----------------------------------------------------------------------------
    def add(self, username: str, role: Role, display_name: str, password: str) -> Answer:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"a password has at least {MIN_PASSWORD_LENGTH} characters")

        def decide() -> Decision:
            account = StaffAccount.create(username, role, display_name, _hasher.hash(password))
            if account.id in self.app.repository:
                raise InvalidInput(f"user {account.username!r} already exists")
            return Decision([account], {"username": account.username, "role": role.value})

        return execute(self.app, decide)

    def change(
        self,
        username: str,
        *,
        role: Role | None = None,
        active: bool | None = None,
        site_codes: list[str] | None = None,
        reason: str = "",
        decided_by: str,
        now: datetime | None = None,
    ) -> Answer:
        """One event per change asked for; a request that would change nothing is refused.
        Disabling also ends the account's sessions."""
        if role is None and active is None and site_codes is None:
            raise InvalidInput("say what to change: role, active or site_codes")

        def decide() -> Decision:
            account = self._account(username)
            if account is None:
                raise NotFound(f"no staff account {username!r}")
            unchanged = []
            if active is not None and active != account.active:
                (account.enable if active else account.disable)(reason, decided_by)
            elif active is not None:
                unchanged.append("enabled" if active else "disabled")
            if role is not None and role is not account.role:
                account.change_role(role, reason, decided_by)
            elif role is not None:
                unchanged.append(f"already has the role {role.value}")
            if site_codes is not None:
                try:
                    account.assign_sites(site_codes, decided_by)
                except RuleBroken:
                    unchanged.append("already has these sites")
            if unchanged and not account.pending_events:
                raise RuleBroken(f"nothing to change: the account {account.username!r} is "
                                 + " and ".join(unchanged))
            return Decision([account], _listed(account))

        answer = execute(self.app, decide)
        if active is False:
            self.revoke_sessions(username, now)
        return answer

    def list_staff(self) -> list[Answer]:
        """Every account (never its password hash), by username."""
        ids: list[UUID] = []
        start: int | None = None
        topic = get_topic(StaffAccount.Created)
        while True:
            page = self.app.recorder.select_notifications(
                start, 1000, topics=[topic], inclusive_of_start=False
            )
            ids.extend(UUID(str(n.originator_id)) for n in page)
            if len(page) < 1000:
                break
            start = page[-1].id
        accounts: list[object] = [self.app.repository.get(i) for i in ids]
        return sorted(
            (_listed(a) for a in accounts if isinstance(a, StaffAccount)),
            key=lambda a: str(a["username"]),
        )

    def authenticate(self, username: str, password: str) -> StaffMember | None:
        account = self._account(username)
        if account is None:
            _hasher.verify(password, _DUMMY_HASH)
            return None
        if not _hasher.verify(password, account.password_hash) or not account.active:
            return None
        return _member(account)

    # -- sign-in, sessions -------------------------------------------------------------------
    def sign_in(
        self, username: str, password: str, address: str, now: datetime | None = None
    ) -> Session | None:
        """A new session, or None for a wrong username or password. Raises SignInThrottled
        while this username or address has too many recent failures, whatever the password:
        answering the right guess differently would tell the guesser it was right."""
        now = now or datetime.now(UTC)
        user_key = hmac.new(self._key, username.strip().lower().encode(), "sha256").hexdigest()
        self._refuse_if_throttled(user_key, address, now)
        member = self.authenticate(username, password)
        if member is None:
            with self.store.transaction() as cur:
                cur.execute(
                    "DELETE FROM staff_sign_in_failures WHERE at <= ?",
                    (_stamp(now - FAILURE_WINDOW),),
                )
                cur.execute(
                    "INSERT INTO staff_sign_in_failures (username_key, address, at)"
                    " VALUES (?, ?, ?)",
                    (user_key, address, _stamp(now)),
                )
            return None
        return Session(member, self.issue_token(member, now))

    def _refuse_if_throttled(self, user_key: str, address: str, now: datetime) -> None:
        since = _stamp(now - FAILURE_WINDOW)
        waits = []
        with self.store.transaction(write=False) as cur:
            for query, value, limit in (
                (_FAILURES_OF_USERNAME, user_key, FAILURES_PER_USERNAME),
                (_FAILURES_FROM_ADDRESS, address, FAILURES_PER_ADDRESS),
            ):
                cur.execute(query, (value, since))
                times = [row[0] for row in cur.fetchall()]
                if len(times) >= limit:
                    # Free again once enough of these failures have left the window.
                    frees_at = datetime.fromisoformat(times[len(times) - limit]) + FAILURE_WINDOW
                    waits.append(math.ceil((frees_at - now).total_seconds()))
        if waits:
            raise SignInThrottled(max(1, *waits))

    def issue_token(self, member: StaffMember, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        with self.store.transaction() as cur:
            # Sessions past their end are of no use to anyone: each sign-in sweeps them.
            cur.execute("DELETE FROM staff_sessions WHERE expires_at <= ?", (_stamp(now),))
            cur.execute(
                "INSERT INTO staff_sessions (token_hash, username, issued_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (token_hash(token), member.username, _stamp(now), _stamp(now + self.lifetime)),
            )
        return token

    def member_for_token(self, token: str, now: datetime | None = None) -> StaffMember | None:
        """The active staff member of a live session, as the account is now; None for an
        unknown, expired or revoked token and for a disabled account, alike."""
        username = self._session_username(token, now)
        account = self._account(username) if username is not None else None
        if account is None or not account.active:
            return None
        return _member(account)

    def sign_out(self, token: str, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE staff_sessions SET revoked_at = ?"
                " WHERE token_hash = ? AND revoked_at IS NULL",
                (_stamp(now), token_hash(token)),
            )
            return bool(cur.rowcount)

    def revoke_sessions(self, username: str, now: datetime | None = None) -> int:
        """End every session of the account; returns how many were live."""
        now = now or datetime.now(UTC)
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE staff_sessions SET revoked_at = ?"
                " WHERE username = ? AND revoked_at IS NULL",
                (_stamp(now), username.strip().lower()),
            )
            return int(cur.rowcount)

    def _session_username(self, token: str, now: datetime | None) -> str | None:
        if not 20 <= len(token) <= 100:
            return None
        now = now or datetime.now(UTC)
        with self.store.transaction(write=False) as cur:
            cur.execute(
                "SELECT username FROM staff_sessions"
                " WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ?",
                (token_hash(token), _stamp(now)),
            )
            row = cur.fetchone()
        return None if row is None else str(row[0])

    def _account(self, username: str) -> StaffAccount | None:
        try:
            account: object = self.app.repository.get(staff_account_id(username))
        except AggregateNotFoundError:
            return None
        return account if isinstance(account, StaffAccount) else None


def _member(account: StaffAccount) -> StaffMember:
    return StaffMember(account.username, account.role, account.display_name, account.site_codes)


def _listed(account: StaffAccount) -> Answer:
    return {
        "username": account.username,
        "role": account.role.value,
        "display_name": account.display_name,
        "active": account.active,
        "site_codes": list(account.site_codes),
    }
