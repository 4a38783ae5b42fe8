"""Names in any script go form → event → board → export and come back exactly (after NFC);
names carrying control or direction-override characters get 422 and store nothing."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from uuid import uuid4

import httpx
import pytest

from domain.staff import Role
from tests.e2e.client import Api, event_count, open_entry_point, street_of, traveller
from tests.e2e.conftest import Live
from tracking.services import open_services

VALID = {
    "cjk": "王小明",
    "cjk_beyond_bmp": "𠮷野家 𩸽",  # U+20BB7, U+29E3D: four bytes in UTF-8
    "arabic": "محمد بن سلمان",
    "hebrew": "דוד לוי",
    "combining_decomposed": "Zoe\u0301 Lefe\u0300vre",  # NFC composes these
    "vietnamese": "Nguyễn Thị Minh Khai",
    "devanagari": "अनुष्का शर्मा",
    # The zero-width non-joiner is correct Persian spelling ("I want").
    "zwj_persian": "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
    "emoji": "Ana 🌸 Flor",
    "family_emoji_zwj": "Kid 👨\u200d👩\u200d👧",
    "hangul": "김민준",
    "very_long": "长" * 100,
}
INVALID = {
    "right_to_left_override": "Eve\u202elivE",
    "left_to_right_isolate": "Adam\u2066Smith",
    "null_byte": "Nul\x00Byte",
    "bell": "Bell\x07",
    "escape": "Esc\x1b[31mRed",
    "byte_order_mark": "\ufeffBom",
    "soft_hyphen": "Soft\u00adHyphen",
    "unassigned": "Name\U000e0fff",
    "private_use": "Private\ue000",
    "too_long": "长" * 101,
    "only_spaces": "   ",
}


@pytest.fixture(scope="module")
def desk(live: Live) -> tuple[str, Api]:
    entry = open_entry_point(live.url, live.settings, "荔湾接待点", "岭南街道")
    return entry, Api.signed_in(live.url, live.settings, Role.SCREENER)


def _submit(live: Live, entry: str, name: str) -> httpx.Response:
    number = f"N{uuid4().hex[:8].upper()}"
    return httpx.post(
        f"{live.url}/r/{entry}",
        data={
            "members": "0", "places": "0", "action": "submit",
            "t0-doc_type": "passport", "t0-doc_country": "GBR",
            "t0-doc_number": number, "t0-birth_date": "1979-09-09",
            "t0-name_native": name, "phone": traveller(number)["phone"],
            "destination_street": street_of(entry),
            "destination_address": name[:50] or "x",
        },
        headers={"Accept-Language": "en"},
        follow_redirects=False,
        timeout=15,
    )


@pytest.mark.parametrize("case", sorted(VALID))
def test_valid_names_come_back_exactly(live: Live, desk: tuple[str, Api], case: str) -> None:
    entry, screener = desk
    name = VALID[case]
    expected = unicodedata.normalize("NFC", name)
    response = _submit(live, entry, name)
    assert response.status_code == 303, response.text[-3000:]
    code = re.search(r"/t/([\w-]+)", response.headers["location"])
    assert code is not None
    services = open_services(live.settings)
    try:
        journey_id = services.codes.resolve(code.group(1))
        assert journey_id is not None
        # The event holds it sealed; opened, it is byte for byte the NFC of what was typed.
        stored = services.app.personal_details(services.app.journey(journey_id))
    finally:
        services.close()
    assert stored["name_native"].encode() == expected.encode()
    # The board counts the journey where it is on the line.
    screener.wait_for_views()
    board = screener.get(f"/api/journeys/{journey_id}")
    assert board["stage"] == "registered"
    # The desk's export gives the same bytes back.
    export = screener.http.get(f"/api/entry-points/{entry}/arrivals.csv")
    assert export.status_code == 200
    assert export.content.startswith(b"\xef\xbb\xbf")
    rows = {r["journey_id"]: r for r in csv.DictReader(io.StringIO(export.content.decode()[1:]))}
    assert rows[str(journey_id)]["name_native"].encode() == expected.encode()
    # The status page shows it too, escaped but whole.
    page = httpx.get(f"{live.url}/t/{code.group(1)}")
    assert expected in page.text or expected.replace("&", "&amp;") in page.text


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_names_are_refused_with_a_message_and_store_nothing(
    live: Live, desk: tuple[str, Api], case: str
) -> None:
    entry, _ = desk
    before = event_count(live.settings)
    response = _submit(live, entry, INVALID[case])
    assert response.status_code == 422
    errors = dict(re.findall(r'<p class="error" id="([^"]+)-error">([^<]*)</p>', response.text))
    assert errors.get("t0-name_native") in {
        "this contains an invisible control or text-direction character; please type it again",
        "this is too long",
        "this field is required",
        "this field is empty",
    }
    assert event_count(live.settings) == before


def test_the_api_refuses_the_same_names_with_422_and_a_message(
    live: Live, desk: tuple[str, Api]
) -> None:
    entry, _ = desk
    before = event_count(live.settings)
    for name in INVALID.values():
        response = httpx.post(
            f"{live.url}/api/registrations",
            json={"entry_point": entry, "travellers": [{
                "doc_type": "passport", "doc_country": "GBR", "doc_number": "Z12345678",
                "birth_date": "1980-01-01", "name_native": name, "phone": "+447911123456"}]},
        )
        assert response.status_code == 422, (name, response.text)
        assert response.json()["problems"][0]["field"] == "travellers.0.name_native"
    assert event_count(live.settings) == before
