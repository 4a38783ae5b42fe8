"""Registering an upstream list: each party of an `Arrivals` file becomes pre-registered
journeys (`source="manifest"`), a few at a time so that the group committer shares their
transactions. Importing the same file again stores nothing. docs/import.md is the guide.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from eventsourcing.application import AggregateNotFoundError

from domain.context import Context
from domain.errors import DomainError, NotFound
from domain.reference import entry_point_id
from tracking.application import TrackingApp
from tracking.arrivals import Arrivals, ImportSummary, RejectedRow, Traveller
from tracking.receipts import CommandReceipt, receipt_id
from tracking.unit_of_work import Idempotency

# The group committer turns concurrent commands into shared transactions; a few workers keep
# it fed (measured in docs/import.md).
WORKERS = 8


def import_arrivals(
    app: TrackingApp,
    arrivals: Arrivals,
    entry_point: str,
    *,
    workers: int = WORKERS,
    on_rows: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Register every party as pre-registered (`source="manifest"`); `on_rows(n)` reports
    each party's n rows done. A store failure stops the import; running it again is safe."""
    require_entry_point(app, entry_point)
    importer = _Importer(app, entry_point, f"import:{arrivals.name}")
    summary = ImportSummary(arrivals.rows, 0, 0, 0, list(arrivals.rejected))
    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="import") as pool:
        futures = [pool.submit(importer.party, party) for party in arrivals.parties]
        try:
            for future in as_completed(futures):
                outcome = future.result()
                summary.parties += outcome.parties
                summary.registered += outcome.registered
                summary.already_registered += outcome.already
                summary.rejected += outcome.rejected
                if on_rows is not None:
                    on_rows(outcome.rows)
        except BaseException:
            pool.shutdown(cancel_futures=True)  # also on Ctrl-C: the parties running finish
            raise
    summary.rejected.sort(key=lambda r: r.row)
    return summary


def require_entry_point(app: TrackingApp, code: str) -> None:
    if entry_point_id(code) not in app.repository:
        raise NotFound(f"no such entry point {code!r}")


@dataclass
class _Outcome:
    rows: int = 0
    parties: int = 0
    registered: int = 0
    already: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    def __iadd__(self, other: _Outcome) -> _Outcome:
        self.parties += other.parties
        self.registered += other.registered
        self.already += other.already
        self.rejected += other.rejected
        return self


class _Importer:
    def __init__(self, app: TrackingApp, entry_point: str, actor: str) -> None:
        self.app = app
        self.entry_point = entry_point
        self.actor = actor

    def party(self, members: list[Traveller]) -> _Outcome:
        outcome = self._register(members)
        outcome.rows = len(members)
        return outcome

    def _register(self, members: list[Traveller]) -> _Outcome:
        idempotency = self._idempotency(members)
        # A repeat returns the first answer word for word, so only the receipt tells that
        # these travellers were registered by an earlier import rather than by this one.
        earlier = self._earlier_answer(idempotency)
        ctx = Context(
            command_id=uuid4(), actor=self.actor, role="admin", where=self.entry_point,
            occurred_at=datetime.now(UTC),
        )
        try:
            answer = earlier or self.app.register_travellers(
                self.entry_point, [m.details.as_person() for m in members], ctx, idempotency,
                source="manifest",
            )
        except DomainError as e:
            return _Outcome(rejected=[RejectedRow(m.row, "", "", str(e)) for m in members])
        if not answer["already_registered"]:
            n = len(members)
            return _Outcome(already=n) if earlier else _Outcome(parties=1, registered=n)
        if len(answer["journey_ids"]) == len(members):
            return _Outcome(already=len(members))
        # Part of the party is open already (a family member's corrected row, imported after
        # the others): register the rest each on their own; the desk can join them.
        outcome = _Outcome()
        for member in members:
            outcome += self._register([member])
        return outcome

    def _earlier_answer(self, idempotency: Idempotency) -> dict[str, Any] | None:
        try:
            receipt: object = self.app.repository.get(receipt_id(idempotency.key))
        except AggregateNotFoundError:
            return None
        # The key is a keyed hash of the content, so a receipt under it is for this party.
        assert isinstance(receipt, CommandReceipt)
        return receipt.answer

    def _idempotency(self, members: list[Traveller]) -> Idempotency:
        # Keyed: receipts are stored in the clear and documents are a small space.
        content = json.dumps([self.entry_point, sorted(m.content for m in members)])
        digest = hmac.new(
            self.app.secret, b"arrivals\0" + content.encode(), hashlib.sha256
        ).hexdigest()
        return Idempotency(key=f"arrivals:{digest}", fingerprint=f"arrivals:{digest}")


def write_rejected(path: Path, rejected: Iterable[RejectedRow]) -> None:
    """The rejected rows as CSV Excel opens on any Windows (UTF-8 with BOM)."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "column", "field", "reason"])
        writer.writerows([r.row, r.column, r.field, r.reason] for r in rejected)
