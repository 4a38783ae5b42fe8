"""projector_catchup: a from-zero rebuild of every view, against reading the same log bare.

value    = events/s of `Projector.rebuild()` (read, decode, fold, write, commit per page);
baseline = events/s of the library alone reading and decoding the same log: the recorder's
           `select_notifications` in pages of the same size + `mapper.to_domain_event`.
The log is encrypted with the store key ring, as production runs (tracking/store_cipher.py:
the synthetic writer uses the application's own store environment, cipher included), so both
decrypt: the projector with `store_cipher`, the library's mapper with the same cipher. (The
projector skips, undecrypted, the events of aggregates no view shows; the mapper opens all.)
A sample of the stored rows is checked to be sealed, and the count is reported.
Both are measured twice, alternately, in one run, and the better of each is kept: the
machines are shared and noisy, and a ratio from one run is what can be compared.
"""

from __future__ import annotations

import time

import orjson
import psycopg

from projections.projector import PAGE_SIZE, Projector
from projections.synthetic import open_writer, seed
from tracking.persistence import events_table
from tracking.settings import Settings
from tracking.store_cipher import KeyRingCipher, store_cipher


def _seed(settings: Settings, n_events: int) -> None:
    """Top the store's log up to `n_events` synthetic events."""
    app = open_writer(settings)
    try:
        have = app.recorder.max_notification_id() or 0
    finally:
        app.close()
    if have < n_events:
        seed(settings, n_events - have, seed=2020 + have, tag=f"{have}-" if have else "")


def _sealed(settings: Settings, sample: int = 1000) -> str:
    """How many of `sample` stored rows (spread over the log) are sealed with the store's
    current key, open with it, and are not readable as they are stored."""
    cipher = store_cipher(settings)
    with psycopg.connect(settings.postgres_conninfo) as conn:
        rows = conn.execute(
            f"SELECT state FROM {events_table(settings)} TABLESAMPLE SYSTEM (5) LIMIT %s",
            (sample,),
        ).fetchall()
    sealed = 0
    for (state,) in rows:
        state = bytes(state)
        try:
            orjson.loads(state)
            continue  # plain JSON: not sealed
        except orjson.JSONDecodeError:
            pass
        if KeyRingCipher.key_id_of(state) == cipher.current_id:
            orjson.loads(cipher.decrypt(state))
            sealed += 1
    return f"{sealed}/{len(rows)} sampled rows sealed with key {cipher.current_id!r}"


def _library_read(settings: Settings) -> tuple[int, float]:
    app = open_writer(settings)
    try:
        started = time.perf_counter()
        n, start = 0, 1
        while notifications := app.recorder.select_notifications(start, PAGE_SIZE):
            for notification in notifications:
                app.mapper.to_domain_event(notification)
            n += len(notifications)
            start = notifications[-1].id + 1
        return n, time.perf_counter() - started
    finally:
        app.close()


def _rebuild(settings: Settings) -> tuple[int, float]:
    projector = Projector(settings, page_size=PAGE_SIZE)
    try:
        projector.setup()
        started = time.perf_counter()
        n = projector.rebuild(fresh=True)
        return n, time.perf_counter() - started
    finally:
        projector.close()


def bench_projector_catchup(settings: Settings, n_events: int = 200_000) -> dict[str, float | str]:
    _seed(settings, n_events)
    value = baseline = 0.0
    for _ in range(2):
        read, seconds = _library_read(settings)
        baseline = max(baseline, read / seconds)
        applied, seconds = _rebuild(settings)
        assert applied == read, (applied, read)
        value = max(value, applied / seconds)
    return {
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3),
        "unit": "events/s, store cipher on",
        "encrypted": _sealed(settings),
    }
