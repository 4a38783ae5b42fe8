"""Erasure by retention: travellers whose journey ended long enough ago lose their personal data.

A journey that ended (released, referred to hospital, no-show or cancelled) more than
`Settings.retention_days` ago is erased: its data key is destroyed in the same transaction as
the `Journey.PersonalDataErased` event that records it, so every field sealed with that key
(identity, contact, health, survey, results, reasons, the sealed personal code) is unreadable
from then on, in the store, in backups taken afterwards, and for an operator holding the store
key. Its personal codes are deleted, so the code behaves as an unknown one. What is not
personal (stages, times, sites, counts) stays, so the board, the daily report and the
door-to-door times are the same before and after.

Running it again erases nobody twice: an erased journey is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from domain.context import Context
from domain.journey import Journey
from domain.stages import CLOSED_STAGES
from tracking.services import Services

# Who the erasure events name: the retention rule, not a person.
ACTOR, ROLE = "retention", "system"
BATCH = 500
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class RetentionRun:
    erased: int
    already_erased: int  # due, but erased by an earlier run
    cutoff: datetime


def candidates(services: Services, cutoff: datetime) -> Iterator[UUID]:
    """Journeys the views show as ended at or before `cutoff` (the journey itself is checked
    before it is erased: the views may lag the log, never lead it)."""
    stages = sorted(s.value for s in CLOSED_STAGES)
    marks = ", ".join("?" for _ in stages)
    query = (
        "SELECT journey_id FROM journey_stage"  # noqa: S608 (placeholders only)
        f" WHERE stage IN ({marks}) AND entered_at <= ? ORDER BY entered_at"
    )
    at: object = cutoff if services.store.is_postgres else cutoff.isoformat()
    with services.store.transaction(write=False) as cur:
        cur.execute(query, (*stages, at))
        rows = cur.fetchall()
    for row in rows:
        yield UUID(str(row[0]))


def is_due(journey: Journey, cutoff: datetime) -> bool:
    """Ended, and nothing recorded on it since the cutoff (a survey may follow a release)."""
    modified = journey.modified_on
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return journey.is_closed and modified <= cutoff


def run_retention(
    services: Services, days: int | None = None, now: datetime | None = None
) -> RetentionRun:
    """Erase every traveller whose journey ended more than `days` (default: the setting)
    days before `now`."""
    days = services.settings.retention_days if days is None else days
    if days < 0:
        raise ValueError("the retention period cannot be negative")
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=days)
    erased = already = 0
    for journey_id in candidates(services, cutoff):
        outcome = erase(services, journey_id, days, cutoff, now)
        erased += outcome == "erased"
        already += outcome == "already erased"
    return RetentionRun(erased=erased, already_erased=already, cutoff=cutoff)


def erase(
    services: Services, journey_id: UUID, days: int, cutoff: datetime, now: datetime
) -> str:
    """One traveller: 'erased', 'already erased' or 'not due'."""
    app = services.app
    for _ in range(MAX_ATTEMPTS):
        journey = app.journey(journey_id)
        if journey.erased:
            _forget_side_data(services, journey_id)  # a run stopped between the two steps
            return "already erased"
        if not is_due(journey, cutoff):
            return "not due"
        ctx = Context(command_id=uuid4(), actor=ACTOR, role=ROLE, occurred_at=now)
        journey.record_erasure(days, ctx)
        try:
            # The key goes in the event's own transaction (tracking/persistence.py).
            app.save(journey, forget_keys=[journey_id])
        except IntegrityError:
            continue  # something was recorded on the journey meanwhile: look again
        _forget_side_data(services, journey_id)
        return "erased"
    raise RuntimeError(f"journey {journey_id} kept changing while being erased")


def _forget_side_data(services: Services, journey_id: UUID) -> None:
    # Codes are looked up by hash and their token is sealed with the destroyed key; deleting
    # the rows makes an erased traveller's code answer exactly like an unknown one.
    with services.store.transaction() as cur:
        cur.execute("DELETE FROM personal_codes WHERE journey_id = ?", (str(journey_id),))
        # Defensive: the key is deleted with the event; a key written back by nothing else.
        cur.execute("DELETE FROM personal_data_keys WHERE subject_id = ?", (str(journey_id),))
