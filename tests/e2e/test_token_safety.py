"""Personal codes are safe to hand out (DESIGN.md §6): guessing finds nothing, an unknown, an
expired and a revoked code get the very same answer on every public endpoint that takes one,
and whoever keeps guessing (or hammers one document or phone) is told to wait: 429 with
Retry-After.

The server trusts X-Forwarded-For from 127.0.0.1 (uvicorn's proxy headers, as behind the
deployment's reverse proxy), so each test speaks from its own address and the per-address
limits of one test do not spill into another's.
"""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from tests.e2e.client import open_entry_point, traveller
from tests.e2e.conftest import Live
from tracking.services import open_services

# secrets.token_urlsafe(32): 256 random bits as 43 characters of URL-safe base64.
CODE_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")
CODE_ENDPOINTS = ("/api/travellers/{}", "/t/{}", "/t/{}/qr.svg", "/t/{}/qr.png")
PER_CODE_ADDRESS = 300  # api/routers/registrations.py per_code_address
PER_DOCUMENT = 10
PER_PHONE = 20
PER_ADDRESS = 600
# Headers that differ between any two answers whatever they say.
CLOCK_HEADERS = {"date"}


def _address() -> dict[str, str]:
    """Headers that make the caller a fresh client address (a documentation range)."""
    return {"X-Forwarded-For": f"198.51.{secrets.randbelow(254) + 1}.{secrets.randbelow(254) + 1}"}


def _client(live: Live) -> httpx.Client:
    ip = f"203.0.{secrets.randbelow(254) + 1}.{secrets.randbelow(254) + 1}"
    return httpx.Client(base_url=live.url, headers={"X-Forwarded-For": ip}, timeout=15)


def _register(live: Live, entry: str, *numbers: str) -> list[tuple[UUID, str]]:
    """(journey id, personal code) of each traveller registered, as the public API gives them."""
    with _client(live) as http:
        answer = http.post(
            "/api/registrations",
            json={"entry_point": entry, "travellers": [traveller(n) for n in numbers]},
        )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    codes = [url.rsplit("/", 1)[1] for url in body["status_urls"]]
    return [(UUID(j), c) for j, c in zip(body["journey_ids"], codes, strict=True)]


def test_ten_thousand_guesses_find_no_code(live: Live) -> None:
    entry = open_entry_point(live.url, live.settings, "白云机场 T2", "沙面街道")
    issued = _register(live, entry, *(f"G{uuid4().hex[:8].upper()}" for _ in range(4)))
    assert all(CODE_FORMAT.fullmatch(code) for _, code in issued)
    real = {code for _, code in issued}
    # One character off a real code is a guess too: nothing near a code opens it.
    near = {
        code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
        for code in real
        for i in range(len(code))
    }
    guesses = {secrets.token_urlsafe(32) for _ in range(10_000)} | near
    assert len(guesses - real) >= 10_000
    services = open_services(live.settings)
    try:
        # The path the endpoints take, on the store the server writes: it does find real codes.
        assert {services.codes.resolve(code) for _, code in issued} == {j for j, _ in issued}
        # Guessers work in parallel, and a round trip per guess is the cost: four at once.
        with ThreadPoolExecutor(max_workers=4) as guessers:
            found = list(guessers.map(services.codes.resolve, guesses - real))
        hits = [journey for journey in found if journey is not None]
    finally:
        services.close()
    assert hits == []

    # And over HTTP, from one address, until that address is told to wait.
    with _client(live) as guesser:
        answers = [
            guesser.get(CODE_ENDPOINTS[i % 2].format(secrets.token_urlsafe(32))).status_code
            for i in range(PER_CODE_ADDRESS)
        ]
        assert answers == [404] * PER_CODE_ADDRESS
        for endpoint in CODE_ENDPOINTS:
            refused = guesser.get(endpoint.format(issued[0][1]))  # even a real code, now
            assert refused.status_code == 429, (endpoint, refused.text)
            assert 0 < int(refused.headers["Retry-After"]) <= 60
    # The limit is the address's: the traveller next to the guesser still gets in.
    with _client(live) as traveller_phone:
        assert traveller_phone.get(f"/api/travellers/{issued[0][1]}").status_code == 200
        assert traveller_phone.get(f"/t/{issued[0][1]}").status_code == 200


def test_unknown_expired_and_revoked_codes_get_the_same_answer(live: Live) -> None:
    entry = open_entry_point(live.url, live.settings, "白云机场 T2", "沙面街道")
    (revoked_journey, revoked), (expired_journey, _) = _register(
        live, entry, f"U{uuid4().hex[:8].upper()}", f"U{uuid4().hex[:8].upper()}"
    )
    services = open_services(live.settings)
    try:
        long_ago = datetime.now(UTC) - timedelta(days=400)
        expired = services.codes.issue(expired_journey, now=long_ago)
        with _client(live) as http:
            assert http.get(f"/api/travellers/{revoked}").status_code == 200  # it did work
        assert services.codes.revoke(revoked_journey) == 1
    finally:
        services.close()
    unknown = secrets.token_urlsafe(32)

    def answer(http: httpx.Client, path: str) -> tuple[int, dict[str, str], bytes]:
        response = http.get(path)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in CLOCK_HEADERS}
        return response.status_code, headers, response.content

    with _client(live) as http:
        for endpoint in CODE_ENDPOINTS:
            for language in ("en", "zh-CN"):
                http.headers["Accept-Language"] = language
                seen = {
                    kind: answer(http, endpoint.format(code))
                    for kind, code in (
                        ("unknown", unknown), ("expired", expired), ("revoked", revoked)
                    )
                }
                assert seen["unknown"][0] == 404, (endpoint, seen["unknown"])
                assert seen["expired"] == seen["unknown"], (endpoint, language)
                assert seen["revoked"] == seen["unknown"], (endpoint, language)
                # The answer does not echo the code, so none can be told from another by it.
                body = seen["revoked"][2]
                assert all(c.encode() not in body for c in (unknown, expired, revoked))


def test_one_document_or_phone_is_throttled_from_any_address(live: Live) -> None:
    entry = open_entry_point(live.url, live.settings, "白云机场 T2", "沙面街道")
    document = {"doc_type": "passport", "doc_country": "GBR", "birth_date": "1985-04-12"}
    hammered = document | {"doc_number": f"D{uuid4().hex[:8].upper()}"}
    with _client(live) as here:
        looked_up = [
            here.post("/api/registrations/lookup", json=hammered) for _ in range(PER_DOCUMENT + 1)
        ]
        assert [r.status_code for r in looked_up] == [200] * PER_DOCUMENT + [429]
        assert 0 < int(looked_up[-1].headers["Retry-After"]) <= 60
        other = document | {"doc_number": f"D{uuid4().hex[:8].upper()}"}
        assert here.post("/api/registrations/lookup", json=other).status_code == 200
    with _client(live) as elsewhere:  # another address does not reset the document's count
        again = elsewhere.post("/api/registrations/lookup", json=hammered)
        assert again.status_code == 429 and "Retry-After" in again.headers

    # One phone behind many documents (one family member's, say) is limited per phone.
    phone = f"+44791112{secrets.randbelow(10**4):04d}"
    with _client(live) as here:
        registered = [
            here.post(
                "/api/registrations",
                json={"entry_point": entry, "travellers": [
                    traveller(f"P{uuid4().hex[:8].upper()}", phone=phone)
                ]},
            )
            for _ in range(PER_PHONE + 1)
        ]
    assert [r.status_code for r in registered] == [201] * PER_PHONE + [429], registered[0].text
    assert 0 < int(registered[-1].headers["Retry-After"]) <= 60
    # The registration form answers the same, in HTML, with the same Retry-After.
    form = httpx.post(
        f"{live.url}/r/{entry}",
        data={
            "members": "0", "places": "0", "action": "submit", "t0-doc_type": "passport",
            "t0-doc_country": "GBR", "t0-doc_number": hammered["doc_number"],
            "t0-birth_date": "1985-04-12", "t0-name_native": "测试 旅客", "phone": phone,
            "no_local_address": "on",
        },
        headers=_address(),
    )
    assert form.status_code == 429 and 0 < int(form.headers["Retry-After"]) <= 60


def test_one_address_is_throttled_past_its_generous_limit(live: Live) -> None:
    # Hundreds of travellers share the airport's address: its limit is high, but it is one.
    with _client(live) as airport:
        statuses = [
            airport.post(
                "/api/registrations/lookup",
                json={"doc_type": "passport", "doc_country": "GBR", "birth_date": "1985-04-12",
                      "doc_number": f"A{i:07d}{uuid4().hex[:4].upper()}"},
            ).status_code
            for i in range(PER_ADDRESS + 1)
        ]
        last = airport.post("/api/registrations", json={
            "entry_point": "EP-ANY", "travellers": [traveller(f"A{uuid4().hex[:8].upper()}")],
        })
    assert statuses == [200] * PER_ADDRESS + [429]
    assert last.status_code == 429 and 0 < int(last.headers["Retry-After"]) <= 60
