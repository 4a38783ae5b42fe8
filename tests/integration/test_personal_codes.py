"""Personal codes: random, looked up by hash only, the same one shown again, and unknown,
expired and revoked codes indistinguishable."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

from tests.support import ctx, person, seed_line
from tracking.codes import code_hash
from tracking.services import Services


def _journey(services: Services, number: str) -> UUID:
    line = seed_line(services.app)
    answer = services.app.register_travellers(line.entry_point, [person(number)], ctx())
    return UUID(answer["journey_ids"][0])


def test_a_journey_keeps_one_working_code_until_it_is_revoked(services: Services) -> None:
    codes = services.codes
    journey_id = _journey(services, "K1000001")
    code = codes.code_for(journey_id)
    assert len(code) >= 43  # 256 random bits, URL-safe base64
    assert codes.code_for(journey_id) == code
    assert codes.resolve(code) == journey_id
    assert codes.revoke(journey_id) == 1
    assert codes.resolve(code) is None
    replacement = codes.code_for(journey_id)
    assert replacement != code and codes.resolve(replacement) == journey_id


def test_codes_expire(services: Services) -> None:
    journey_id = _journey(services, "K1000002")
    long_ago = datetime.now(UTC) - timedelta(days=61)
    old = services.codes.issue(journey_id, now=long_ago)
    assert services.codes.resolve(old, now=long_ago + timedelta(days=59)) == journey_id
    assert services.codes.resolve(old) is None
    assert services.codes.code_for(journey_id) != old


def test_the_store_holds_hashes_and_sealed_codes_never_the_code(services: Services) -> None:
    journey_id = _journey(services, "K1000003")
    code = services.codes.code_for(journey_id)
    with services.store.transaction(write=False) as cur:
        cur.execute("SELECT code_hash, sealed_code FROM personal_codes")
        rows = cur.fetchall()
    assert [r[0] for r in rows] == [code_hash(code)]
    assert all(code not in str(cell) for row in rows for cell in row)
    # Erasing the traveller's key leaves nothing that opens the sealed copy.
    services.vault.forget(journey_id)
    assert services.codes._current(journey_id, datetime.now(UTC)) is None


def test_ten_thousand_guesses_find_nothing(services: Services) -> None:
    for number in ("K1000004", "K1000005", "K1000006"):
        services.codes.code_for(_journey(services, number))
    hits = [
        guess
        for guess in (secrets.token_urlsafe(32) for _ in range(10_000))
        if services.codes.resolve(guess) is not None
    ]
    assert hits == []
