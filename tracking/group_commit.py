"""Group commit: the pending saves of many concurrent commands in one transaction.

The store serialises writers on a table lock and each transaction costs client CPU, so under
concurrency fewer, larger transactions go faster. A batch that conflicts is split: each save
is retried alone, so a duplicate fails by itself and the others still land. Events are kept
by the caller (never re-collected from aggregates), so a retry stores what was decided.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

MAX_BATCH = 64
LINGER_S = 0.0005


@dataclass
class _Save:
    events: list[Any]
    personal_keys: dict[UUID, bytes]
    done: Future[None] = field(default_factory=Future)


class GroupCommitter:
    def __init__(self, app: Application[UUID]) -> None:
        self.app = app
        self._pending: queue.SimpleQueue[_Save | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._writer.start()

    def save(self, events: list[Any], personal_keys: dict[UUID, bytes]) -> None:
        """Blocks until the events are stored; raises what storing them alone would raise."""
        request = _Save(events, personal_keys)
        self._pending.put(request)
        request.done.result()

    def close(self) -> None:
        self._pending.put(None)
        self._writer.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._pending.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    # A moment's wait gathers the commands whose requests are arriving now;
                    # it is small beside the transaction it saves.
                    more = self._pending.get(timeout=LINGER_S)
                except queue.Empty:
                    break
                if more is None:
                    self._pending.put(None)
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Save]) -> None:
        if len(batch) > 1:
            try:
                self._store(
                    [e for s in batch for e in s.events],
                    {k: v for s in batch for k, v in s.personal_keys.items()},
                )
            except IntegrityError:
                pass  # somebody in the batch conflicts: let each try alone
            except Exception as e:
                for save in batch:
                    save.done.set_exception(e)
                return
            else:
                for save in batch:
                    save.done.set_result(None)
                return
        for save in batch:
            try:
                self._store(save.events, save.personal_keys)
            except Exception as e:
                save.done.set_exception(e)
            else:
                save.done.set_result(None)

    def _store(self, events: list[Any], personal_keys: dict[UUID, bytes]) -> None:
        self.app.save(*events, personal_keys=personal_keys)
