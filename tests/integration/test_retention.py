"""Retention on real stores (every body on SQLite and PostgreSQL): who is due, what erasure
leaves, that a second run erases nobody twice; and the store-wide cipher under the events."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
import pytest

from domain.journey import Journey
from domain.stages import RiskLevel, Stage
from projections.projector import Projector
from projections.queries import read_board, read_journey, read_timeline
from tests.support import ctx, person, seed_line
from tracking.persistence import events_table, sqlite_connect
from tracking.retention import run_retention
from tracking.services import Services, migrate, open_services
from tracking.settings import Settings, new_key_entry, parse_key_ring
from tracking.store_cipher import KeyRingCipher, store_cipher
from tracking.vault import ERASED_DETAILS

SENTINEL = "Zq7SentinelReason"


@pytest.fixture
def projector(store_settings: Settings, services: Services) -> Iterator[Projector]:
    p = Projector(store_settings)
    yield p
    p.close()


def registered(services: Services, entry_point: str, number: str) -> UUID:
    answer = services.app.register_travellers(
        entry_point, [person(number, name=f"姓名{number}")], ctx(role="traveller")
    )
    return UUID(answer["journey_ids"][0])


def stored_states(settings: Settings) -> list[bytes]:
    table = events_table(settings)
    if settings.is_postgres:
        with psycopg.connect(settings.postgres_conninfo) as conn:
            return [bytes(r[0]) for r in conn.execute(f"SELECT state FROM {table}")]
    lite = sqlite_connect(settings)
    try:
        return [bytes(r[0]) for r in lite.execute(f"SELECT state FROM {table}")]
    finally:
        lite.close()


def test_retention_erases_only_journeys_ended_before_the_period_and_only_once(
    services: Services, projector: Projector
) -> None:
    app = services.app
    line = seed_line(app, rooms=["101"])
    cancelled = registered(services, line.entry_point, "R1000001")
    referred = registered(services, line.entry_point, "R1000002")
    still_open = registered(services, line.entry_point, "R1000003")
    for traveller in (cancelled, referred, still_open):
        app.screen(traveller, RiskLevel.MEDIUM, 36.8, False, True, ctx())
    app.cancel(cancelled, f"{SENTINEL} family matter", ctx(role="dispatcher"))
    app.refer_to_hospital(referred, f"{SENTINEL} fever", ctx(role="screener"))
    codes = {j: services.codes.code_for(j) for j in (cancelled, referred, still_open)}
    projector.run_once()
    board_before = read_board(services.store)
    timelines_before = {j: read_timeline(services.store, j) for j in codes}
    now = datetime.now(UTC)

    # Ended just now: not due under a 30-day period, nor under the setting's default.
    assert run_retention(services, days=30, now=now).erased == 0
    assert run_retention(services, now=now).erased == 0
    assert services.settings.retention_days == 30
    # A day short of the period: still not due.
    assert run_retention(services, days=30, now=now + timedelta(days=29)).erased == 0
    assert app.personal_details(app.journey(cancelled))["name_native"] == "姓名R1000001"

    done = run_retention(services, days=30, now=now + timedelta(days=31))
    assert (done.erased, done.already_erased) == (2, 0)
    for journey_id in (cancelled, referred):
        journey = app.journey(journey_id)
        assert journey.erased and journey.is_closed
        assert app.personal_details(journey) == ERASED_DETAILS
        assert services.vault.open(journey_id, journey.personal) == {"erased": True}
        assert services.codes.resolve(codes[journey_id]) is None  # as unknown as any guess
        (event,) = [e for e in app.events.get(journey_id)
                    if isinstance(e, Journey.PersonalDataErased)]
        assert event.retention_days == 30
    # The open journey keeps everything.
    assert app.personal_details(app.journey(still_open))["name_native"] == "姓名R1000003"
    assert services.codes.resolve(codes[still_open]) == still_open
    assert not app.journey(still_open).erased

    projector.run_once()
    again = run_retention(services, days=30, now=now + timedelta(days=40))
    assert (again.erased, again.already_erased) == (0, 2)
    projector.run_once()
    # Counts stay; the timeline gains the erasure event and keeps everything else.
    assert read_board(services.store)["stages"] == board_before["stages"]
    for journey_id in (cancelled, referred):
        after = read_timeline(services.store, journey_id)
        assert after is not None and timelines_before[journey_id] is not None
        assert after[:-1] == timelines_before[journey_id]
        assert after[-1]["event_type"] == "PersonalDataErased"
        row = read_journey(services.store, journey_id)
        assert row is not None and row["stage"] in (
            Stage.CANCELLED.value, Stage.REFERRED_TO_HOSPITAL.value
        )
    # The reasons were sealed from the start: the store-wide plaintext never held them.
    cipher = store_cipher(services.settings)
    plaintexts = [cipher.decrypt(s) for s in stored_states(services.settings)]
    assert plaintexts and not any(SENTINEL.encode() in p for p in plaintexts)


def test_every_stored_event_is_encrypted_and_the_store_key_rotates(
    store_settings: Settings,
) -> None:
    migrate(store_settings)
    services = open_services(store_settings)
    try:
        line = seed_line(services.app)
        first = registered(services, line.entry_point, "K1000001")
    finally:
        services.close()
    states = stored_states(store_settings)
    assert states and all(KeyRingCipher.key_id_of(s) == "k1" for s in states)
    assert not any(b"K1000001" in s or b"_type_" in s for s in states)  # no JSON in clear

    # Rotation: a new current key, the old one kept to decrypt.
    old_ring = store_settings.cipher_keys
    new_id, new_key = parse_key_ring(new_key_entry("k2"), "test")[0]
    rotated = dataclasses.replace(store_settings, cipher_keys=((new_id, new_key), *old_ring))
    after = open_services(rotated)
    try:
        assert after.app.personal_details(after.app.journey(first))["number"] == "K1000001"
        second = registered(after, line.entry_point, "K1000002")
        new_states = stored_states(rotated)[len(states):]
        assert new_states and all(KeyRingCipher.key_id_of(s) == "k2" for s in new_states)
        assert after.app.journey(second).stage is Stage.REGISTERED
    finally:
        after.close()
    # Without the old key, the old events no longer open: the ring must keep it.
    only_new = dataclasses.replace(store_settings, cipher_keys=((new_id, new_key),))
    lost = open_services(only_new)
    try:
        with pytest.raises(ValueError, match="not in the key ring"):
            lost.app.journey(first)
    finally:
        lost.close()
