"""Personal codes: the token in a traveller's QR and status-page address.

A code is 256 random bits, carries no personal data, and is looked up by its SHA-256 hash
only. So that the traveller can be shown the same code again (a second submission, a
bookmark, a printed manifest), the token is also kept sealed with the traveller's own data
key: destroying that key (erasure) leaves nothing that opens it. Unknown, expired and revoked
codes all resolve to None, so callers cannot tell them apart.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

from tracking.sidestore import SideStore
from tracking.vault import PersonalDataVault

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS personal_codes ("
    " code_hash TEXT PRIMARY KEY,"
    " journey_id TEXT NOT NULL,"
    " sealed_code TEXT NOT NULL,"
    " issued_at TEXT NOT NULL,"
    " expires_at TEXT NOT NULL,"
    " revoked_at TEXT)"
)
INDEX = "CREATE INDEX IF NOT EXISTS personal_codes_journey ON personal_codes (journey_id)"
# Long enough for a 14-day quarantine, its extensions and the days after release.
DEFAULT_LIFETIME = timedelta(days=60)


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class PersonalCodes:
    def __init__(
        self,
        store: SideStore,
        vault: PersonalDataVault,
        lifetime: timedelta = DEFAULT_LIFETIME,
    ) -> None:
        self.store = store
        self.vault = vault
        self.lifetime = lifetime

    def create_table(self) -> None:
        with self.store.transaction() as cur:
            cur.execute(SCHEMA)
            cur.execute(INDEX)

    def code_for(self, journey_id: UUID, now: datetime | None = None) -> str:
        """The journey's current code, issuing one if it has none that still works."""
        now = now or datetime.now(UTC)
        current = self._current(journey_id, now)
        return current if current is not None else self.issue(journey_id, now)

    def issue(self, journey_id: UUID, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        code = secrets.token_urlsafe(32)
        sealed = self.vault.seal(journey_id, {"code": code})
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO personal_codes"
                " (code_hash, journey_id, sealed_code, issued_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    code_hash(code),
                    str(journey_id),
                    sealed,
                    now.isoformat(),
                    (now + self.lifetime).isoformat(),
                ),
            )
        return code

    def resolve(self, code: str, now: datetime | None = None) -> UUID | None:
        """The journey a working code belongs to; None for anything else, alike."""
        if not 20 <= len(code) <= 100:
            return None
        now = now or datetime.now(UTC)
        with self.store.transaction(write=False) as cur:
            cur.execute(
                "SELECT journey_id FROM personal_codes"
                " WHERE code_hash = ? AND revoked_at IS NULL AND expires_at > ?",
                (code_hash(code), now.isoformat()),
            )
            row = cur.fetchone()
        return None if row is None else UUID(row[0])

    def revoke(self, journey_id: UUID, now: datetime | None = None) -> int:
        """Stop every code of the journey working (a lost or shared phone); returns how many."""
        now = now or datetime.now(UTC)
        with self.store.transaction() as cur:
            cur.execute(
                "UPDATE personal_codes SET revoked_at = ?"
                " WHERE journey_id = ? AND revoked_at IS NULL",
                (now.isoformat(), str(journey_id)),
            )
            count = cur.rowcount
        return count

    def _current(self, journey_id: UUID, now: datetime) -> str | None:
        with self.store.transaction(write=False) as cur:
            cur.execute(
                "SELECT sealed_code FROM personal_codes"
                " WHERE journey_id = ? AND revoked_at IS NULL AND expires_at > ?"
                " ORDER BY issued_at DESC LIMIT 1",
                (str(journey_id), now.isoformat()),
            )
            row = cur.fetchone()
        if row is None:
            return None
        opened = self.vault.open(journey_id, row[0])
        code = opened.get("code")
        return code if isinstance(code, str) else None
