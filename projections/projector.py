"""The projector: the notification log, page by page, into the views, exactly once.

Each page is decoded, folded in memory and committed together with its position
(`Backend.apply_page`). Following the log, the projector LISTENs on PostgreSQL on the channel
the library's recorder NOTIFYs with every insert, with a slow poll as a fallback; SQLite has
no notifications, so there it polls.

Several projectors may run against the same views (one per API process, say): page writes
serialise on the position row and a projector that finds the views moved on simply re-reads
from there. Call `setup()` once in the deployment's migrate step; it is idempotent.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from projections.backend import Backend
from projections.events import Row, decode_page
from projections.lite import SQLiteBackend
from projections.pg import PostgresBackend
from tracking.persistence import events_table
from tracking.settings import Settings
from tracking.store_cipher import store_cipher

log = logging.getLogger(__name__)

# Up to 5,000 events per page: a from-zero rebuild ran ~20 % faster than with 2,000 (fewer
# commits and statements), and a full page still holds SQLite's write lock for well under
# 0.1 s. Pages while following the log are as small as what arrived.
PAGE_SIZE = 5000
Progress = Callable[[int, int], None]  # (events applied, events to apply)


@dataclass(frozen=True)
class Status:
    position: int
    head: int
    rebuilding: bool

    @property
    def lag(self) -> int:
        """Notification ids not yet applied (gaps in the log count too)."""
        return max(self.head - self.position, 0)


class Projector:
    def __init__(
        self,
        settings: Settings,
        *,
        page_size: int = PAGE_SIZE,
        poll_interval: float | None = None,
        listen: bool = True,
    ) -> None:
        """`poll_interval`: seconds between polls (default 1 s with LISTEN, else 0.2 s);
        `None` keeps the default, 0 disables polling (tests of the LISTEN wake-up)."""
        self.settings = settings
        self.page_size = page_size
        table = events_table(settings)
        self.listen = listen and settings.is_postgres
        self.channel = table.replace(".", "_")  # as the library's recorder names it
        if poll_interval is None:
            poll_interval = 1.0 if self.listen else 0.2
        self.poll_interval = poll_interval
        self.backend: Backend = (
            PostgresBackend(settings, table) if settings.is_postgres
            else SQLiteBackend(settings, table)
        )
        self._decrypt = store_cipher(settings).decrypt
        self._ready = False

    # -- reading the state -------------------------------------------------------------------
    def position(self) -> int:
        state = self.backend.state()
        return state.position if state else 0

    def status(self) -> Status:
        state = self.backend.state()
        return Status(
            position=state.position if state else 0,
            head=self.backend.head(),
            rebuilding=state.rebuilding if state else False,
        )

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """True once the views reflect `position` (by any projector), False on timeout."""
        deadline = time.monotonic() + timeout
        pause = 0.002
        while self.position() < position:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        return True

    # -- applying ----------------------------------------------------------------------------
    def setup(self) -> None:
        """Create the position table and views (rebuilding views of an older schema)."""
        if not self._ready:
            if self.backend.setup():
                log.info("views created or reset to schema; they will be rebuilt from the log")
            self._ready = True

    def run_once(self, until: int | None = None) -> int:
        """Apply everything available (up to `until`); return how many events were read."""
        self.setup()
        return self._catch_up(until, None)

    def rebuild(self, progress: Progress | None = None, *, fresh: bool = False) -> int:
        """Rebuild every view from the start of the log; return how many events were applied.

        A rebuild that was interrupted (killed, crashed) is resumed from its last committed
        page, which gives the same views as starting over, only sooner; `fresh` starts over.
        """
        self.setup()
        state = self.backend.state()
        if fresh or state is None or not state.rebuilding:
            self.backend.reset(self.backend.head())
            state = self.backend.state()
        assert state is not None
        target = state.rebuild_target
        applied = 0
        if target is not None:
            done = self.backend.count(0, state.position) if progress else 0
            total = self.backend.count(0, target) if progress else 0
            report: Progress | None = None
            if progress is not None:
                progress(done, total)

                def report(n: int, _: int) -> None:
                    progress(done + n, total)

            applied = self._catch_up(target, report)
        # Whatever was stored while rebuilding, so that the views end up current.
        return applied + self._catch_up(None, None)

    def _catch_up(self, until: int | None, report: Progress | None) -> int:
        # Pages are read, folded and written in turn. Reading the next page on a helper thread
        # while this one is written gained nothing measurable here (the GIL hands the writes'
        # round trips to the reader's row building), so there is none.
        applied = 0
        position = self.position()
        with _gc_paused():
            while (rows := self._read(position, until)) is not None:
                end = int(rows[-1][0])
                if self.backend.apply_page(position, end, decode_page(rows, self._decrypt)):
                    applied += len(rows)
                    position = end
                    if report is not None:
                        report(applied, position)
                else:
                    # Another projector (or a reset) moved the views: go on from where they are.
                    position = self.position()
        return applied

    def _read(self, after: int, until: int | None) -> list[Row] | None:
        if until is not None and after >= until:
            return None
        rows = self.backend.read(after, self.page_size)
        if until is not None and rows and rows[-1][0] > until:
            rows = [r for r in rows if r[0] <= until]
        return rows or None

    # -- following the log -------------------------------------------------------------------
    def run_forever(self, stop: threading.Event) -> None:
        """Keep the views current until `stop` is set; survives the database going away."""
        listener: psycopg.Connection[Any] | None = None
        backoff = 0.5
        while not stop.is_set():
            try:
                if self.listen and listener is None:
                    # LISTEN before catching up, so that nothing stored meanwhile is missed.
                    listener = psycopg.connect(self.settings.postgres_conninfo, autocommit=True)
                    listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                self.run_once()
                backoff = 0.5
                self._wait(listener, stop)
            except Exception:
                log.exception("projector failed; retrying in %.1f s", backoff)
                if listener is not None:
                    listener.close()
                    listener = None
                self.backend.close()
                self._ready = False
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        if listener is not None:
            listener.close()
        self.backend.close()

    def _wait(self, listener: psycopg.Connection[Any] | None, stop: threading.Event) -> None:
        """Until a notification, the poll interval, or stop (checked every 0.1 s)."""
        deadline = time.monotonic() + self.poll_interval if self.poll_interval else None
        while not stop.is_set():
            left = 0.1 if deadline is None else min(deadline - time.monotonic(), 0.1)
            if left <= 0:
                return
            if listener is None:
                stop.wait(left)
                continue
            for _ in listener.notifies(timeout=left, stop_after=1):
                return

    def close(self) -> None:
        self.backend.close()


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while pages are decoded and folded.

    A page is tens of thousands of fresh dicts, all kept alive until the page commits; the
    collector traverses them again and again for nothing (they hold no cycles and are freed
    by reference counting): measured, decoding took two to three times as long with it on.
    Nested and thread-safe; the collector is back on as soon as no catch-up is running.
    """
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()
