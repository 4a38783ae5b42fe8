"""Saving a command's decision exactly once.

A command decides on freshly loaded aggregates and returns them with its answer. Saving
retries on optimistic-concurrency conflicts by deciding again; a conflict that is really our
own earlier commit (the reply was lost and the library's retry saw a duplicate key) is
recognised by finding our very events in the store. An Idempotency-Key stores the first
answer as a receipt in the same transaction, so a repeat returns it, also after a restart.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
)
from psycopg_pool import PoolTimeout

from domain.errors import DomainError
from tracking.errors import Busy, IdempotencyKeyReused, StoreUnavailable
from tracking.receipts import CommandReceipt, receipt_id

MAX_ATTEMPTS = 12
Answer = dict[str, Any]


@dataclass
class Decision:
    """What a command changed and what it answers."""

    changed: Sequence[Aggregate]
    answer: Answer
    # Data keys of new subjects, written in the same transaction as the events.
    personal_keys: dict[UUID, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Idempotency:
    key: str
    fingerprint: str


class Saver(Protocol):
    def save(self, events: list[Any], personal_keys: dict[UUID, bytes]) -> None: ...


def execute(
    app: Application[UUID],
    decide: Callable[[], Decision],
    idempotency: Idempotency | None = None,
    saver: Saver | None = None,
) -> Answer:
    for attempt in range(MAX_ATTEMPTS):
        if idempotency is not None:
            earlier = _earlier_answer(app, idempotency)
            if earlier is not None:
                return earlier
        try:
            decision = decide()
        except DomainError:
            # A concurrent request with our key may have won the race and changed the state
            # this command depends on: its answer is ours.
            if idempotency is not None:
                earlier = _earlier_answer(app, idempotency)
                if earlier is not None:
                    return earlier
            raise
        events: list[CanMutateAggregate[UUID]] = [
            e for aggregate in decision.changed for e in aggregate.collect_events()
        ]
        if idempotency is not None:
            receipt = CommandReceipt(
                key=idempotency.key,
                fingerprint=idempotency.fingerprint,
                answer=decision.answer,
            )
            events.extend(receipt.collect_events())
        if not events:
            return decision.answer
        try:
            if saver is not None:
                saver.save(list(events), decision.personal_keys)
            else:
                app.save(*events, personal_keys=decision.personal_keys)
            return decision.answer
        except IntegrityError:
            if _landed(app, events):
                return decision.answer
            # Somebody else changed one of our aggregates first: decide again on fresh state.
            time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))  # noqa: S311
        except (OperationalError, InterfaceError) as e:
            if not isinstance(e.__cause__, PoolTimeout):  # no connection: nothing was sent
                with contextlib.suppress(PersistenceError):
                    if _landed(app, events):
                        return decision.answer
            raise StoreUnavailable(str(e)) from e
    raise Busy("too many people changed these records at once; please try again")


def _earlier_answer(app: Application[UUID], idempotency: Idempotency) -> Answer | None:
    try:
        receipt: object = app.repository.get(receipt_id(idempotency.key))
    except AggregateNotFoundError:
        return None
    assert isinstance(receipt, CommandReceipt)
    if receipt.fingerprint != idempotency.fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request; use a new key"
        )
    return receipt.answer


def _landed(app: Application[UUID], events: list[CanMutateAggregate[UUID]]) -> bool:
    """True if the store holds exactly these events (our commit landed, its reply was lost)."""
    first = events[0]
    stored = list(
        app.events.get(
            first.originator_id,
            gt=first.originator_version - 1,
            lte=first.originator_version,
        )
    )
    return bool(stored) and stored[0] == first
