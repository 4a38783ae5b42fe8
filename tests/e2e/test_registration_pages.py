"""The traveller's face over real HTTP: the form a poster opens, register once, the personal
code page and its QR, pre-filling from an upstream list or an earlier trip."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import PIL.Image
import pytest
import zxingcpp

from domain.journey import Journey
from domain.staff import Role
from tests.e2e.client import Api, event_count, open_entry_point, street_of, traveller
from tests.e2e.conftest import Live
from tests.support import ctx
from tracking.application import Person
from tracking.mrz import compose_td3
from tracking.services import open_services


@pytest.fixture(scope="module")
def entry(live: Live) -> str:
    return open_entry_point(live.url, live.settings, "白云机场 T2", "沙面街道")


def _form(number: str, street: str, **extra: str) -> dict[str, str]:
    return {
        "members": "0",
        "places": "1",
        "t0-doc_type": "passport",
        "t0-doc_country": "GBR",
        "t0-doc_number": number,
        "t0-birth_date": "1984-05-06",
        "t0-name_native": "Amelia Hart",
        "t0-name_latin": "HART AMELIA",
        "t0-sex": "female",
        "t0-nationality": "GBR",
        "phone": traveller(number)["phone"],
        "flight": "CZ304",
        "came_from": "London",
        "h0-place": "London, UK",
        "h0-arrived": "2026-11-01",
        "destination_street": street,
        "destination_address": "沙面北街 12 号",
        "action": "submit",
        **extra,
    }


def _journey(live: Live, journey_id: UUID) -> Journey:
    services = open_services(live.settings)
    try:
        return services.app.journey(journey_id)
    finally:
        services.close()


def _resolve(live: Live, code: str) -> UUID:
    services = open_services(live.settings)
    try:
        journey_id = services.codes.resolve(code)
    finally:
        services.close()
    assert journey_id is not None
    return journey_id


def _submit(live: Live, entry: str, data: dict[str, str], lang: str = "en") -> httpx.Response:
    return httpx.post(
        f"{live.url}/r/{entry}",
        data=data,
        headers={"Accept-Language": lang},
        follow_redirects=False,
        timeout=15,
    )


def _code_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:2000]
    match = re.fullmatch(r"/t/([A-Za-z0-9_-]+)\?done=(\w+)", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def _errors(page: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="([^"]+)-error">([^<]*)</p>', page))


def test_the_form_speaks_the_browsers_language_with_a_visible_switch(
    live: Live, entry: str
) -> None:
    zh = httpx.get(f"{live.url}/r/{entry}", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 200
    assert '<html lang="zh-CN" dir="ltr">' in zh.text
    assert "入境人员信息登记" in zh.text and "证件号码" in zh.text
    # Relative to the page itself, so no page echoes its address (a personal code's included).
    assert 'href="?lang=en"' in zh.text
    en = httpx.get(f"{live.url}/r/{entry}", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en"' in en.text and "Document number" in en.text
    # The switch wins over the browser and sticks through a cookie.
    switched = httpx.get(f"{live.url}/r/{entry}?lang=zh-CN", headers={"Accept-Language": "en"})
    assert "证件号码" in switched.text
    assert switched.cookies.get("lang") == "zh-CN"
    assert "沙面街道" in zh.text  # the district's streets are the destinations offered
    unknown = httpx.get(f"{live.url}/r/NOPE-{uuid4().hex[:4]}", headers={"Accept-Language": "en"})
    assert unknown.status_code == 404 and "not in use" in unknown.text


def test_invalid_fields_are_named_in_the_travellers_language_and_nothing_is_stored(
    live: Live, entry: str
) -> None:
    before = event_count(live.settings)
    bad = _form(
        "BAD12345",
        street_of(entry),
        **{"phone": "12345", "t0-birth_date": "2199-01-01", "t0-name_native": "Eve\u202egnp"},
    )
    response = _submit(live, entry, bad, lang="zh-CN")
    assert response.status_code == 422
    errors = _errors(response.text)
    assert errors == {
        "phone": "这不是有效的电话号码；请包含国家代码，例如 +86 138 0013 8000",
        "t0-birth_date": "出生日期必须早于今天且晚于1900年",
        "t0-name_native": "含有不可见的控制字符或文字方向字符，请重新输入",
    }
    assert 'aria-invalid="true"' in response.text
    # What the traveller typed is kept, so they correct only what is wrong.
    assert 'value="BAD12345"' in response.text
    assert event_count(live.settings) == before


def test_register_once_then_the_same_passport_reaches_the_same_journey(
    live: Live, entry: str
) -> None:
    number = f"R{uuid4().hex[:8].upper()}"
    first = _submit(live, entry, _form(number, street_of(entry)))
    code = _code_of(first)
    assert first.headers["location"].endswith("done=registered")
    page = httpx.get(f"{live.url}{first.headers['location']}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Registered. Go to the health desk at 白云机场 T2 and show this code." in page.text
    assert "Registration complete." in page.text

    again = _submit(live, entry, _form(number, street_of(entry), phone="+447911123457"))
    assert _code_of(again) == code
    assert again.headers["location"].endswith("done=amended")
    journey = _journey(live, _resolve(live, code))
    commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)
    commander.wait_for_views()
    timeline = commander.get(f"/api/journeys/{journey.id}/timeline")["events"]
    assert [e["event_type"] for e in timeline] == ["Registered", "Amended"]
    assert timeline[1]["role"] == "traveller"
    # The personal code in the QR is the status page's address, decoded by a real decoder.
    png = httpx.get(f"{live.url}/t/{code}/qr.png")
    assert png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png.content)))
    assert [d.text for d in decoded] == [f"{live.url}/t/{code}"]


def test_a_family_of_three_registers_in_one_submission_as_one_party(
    live: Live, entry: str
) -> None:
    tag = uuid4().hex[:6].upper()
    data = _form(f"P{tag}1", street_of(entry), members="2")
    for i, (name, born) in enumerate((("李雷", "2014-02-03"), ("李𠮷", "2018-07-08")), start=1):
        data |= {
            f"t{i}-doc_type": "passport",
            f"t{i}-doc_country": "CHN",
            f"t{i}-doc_number": f"P{tag}{i + 1}",
            f"t{i}-birth_date": born,
            f"t{i}-name_native": name,
        }
    code = _code_of(_submit(live, entry, data))
    page = httpx.get(f"{live.url}/t/{code}", headers={"Accept-Language": "zh-CN"})
    family = re.findall(r'href="/t/([A-Za-z0-9_-]+)">([^<]*)</a>', page.text)
    assert [name for _, name in family] == ["李雷", "李𠮷"]
    journeys = [_journey(live, _resolve(live, c)) for c in (code, *(c for c, _ in family))]
    assert len({j.id for j in journeys}) == 3
    assert len({j.party_id for j in journeys}) == 1


def test_adding_a_member_and_a_place_needs_no_javascript(live: Live, entry: str) -> None:
    data = _form("X0000001", street_of(entry), action="add_member")
    page = _submit(live, entry, data)
    assert page.status_code == 200
    assert 'name="t1-doc_number"' in page.text and 'name="members" value="1"' in page.text
    assert 'value="X0000001"' in page.text
    page = _submit(live, entry, data | {"members": "1", "action": "add_place"})
    assert 'name="h1-place"' in page.text and 'name="places" value="2"' in page.text


def test_the_passport_lines_fill_the_document_fields(live: Live, entry: str) -> None:
    line1, line2 = compose_td3(
        doc_country="NLD",
        surname="DE BRUIJN",
        given_names="WILLEKE LISELOTTE",
        doc_number="SPECI2014",
        nationality="NLD",
        birth_date=datetime(1965, 3, 10).date(),
        sex="female",
        expiry=datetime(2030, 3, 9).date(),
    )
    page = _submit(
        live, entry, {"members": "0", "places": "0", "t0-mrz": f"{line1}\n{line2}",
                      "action": "read_mrz-0"}
    )
    assert page.status_code == 200
    for value in ("SPECI2014", "NLD", "1965-03-10", "DE BRUIJN WILLEKE LISELOTTE"):
        assert f'value="{value}"' in page.text
    broken = line2[:9] + ("1" if line2[9] != "1" else "2") + line2[10:]
    page = _submit(
        live, entry, {"members": "0", "places": "0", "t0-mrz": f"{line1}\n{broken}",
                      "action": "read_mrz-0"}, lang="zh-CN"
    )
    assert _errors(page.text) == {"t0-mrz": "机读码中的校验位不符，请检查是否输入有误"}


def test_an_upstream_list_pre_fills_the_form_and_nothing_is_typed_twice(
    live: Live, entry: str
) -> None:
    number = f"M{uuid4().hex[:8].upper()}"
    services = open_services(live.settings)
    try:
        services.app.register_travellers(
            entry,
            [Person("passport", "FRA", number, {
                "name_native": "Zoé Lefèvre", "name_latin": "LEFEVRE ZOE",
                "birth_date": "1990-01-02", "phone": "+33612345678", "flight": "AF116",
                "nationality": "FRA"})],
            ctx("import:manifest.csv", "admin"),
            source="manifest",
        )
    finally:
        services.close()
    lookup = {"members": "0", "places": "0", "t0-doc_type": "passport", "t0-doc_country": "FRA",
              "t0-doc_number": number, "t0-birth_date": "1990-01-02", "action": "lookup"}
    page = _submit(live, entry, lookup)
    assert "we found the details your airline or the border gave us" in page.text
    for value in ("Zoé Lefèvre", "+33612345678", "AF116", "FRA"):
        assert f'value="{value}"' in page.text
    # A wrong birth date reveals nothing.
    wrong = _submit(live, entry, lookup | {"t0-birth_date": "1990-01-03"})
    assert "Zoé" not in wrong.text and "we found nothing" in wrong.text
    confirmed = _submit(
        live,
        entry,
        _form(number, street_of(entry), **{
            "t0-doc_country": "FRA", "t0-birth_date": "1990-01-02",
            "t0-name_native": "Zoé Lefèvre", "phone": "+33612345678"}),
    )
    assert confirmed.headers["location"].endswith("done=confirmed")
    journey = _journey(live, _resolve(live, _code_of(confirmed)))
    assert journey.source == "manifest" and journey.confirmed_by_traveller


def test_a_returning_traveller_starts_a_new_journey_pre_filled_from_the_last(
    live: Live, entry: str
) -> None:
    number = f"B{uuid4().hex[:8].upper()}"
    first = _resolve(live, _code_of(_submit(live, entry, _form(number, street_of(entry)))))
    dispatcher = Api.signed_in(live.url, live.settings, Role.DISPATCHER)
    dispatcher.post(f"/api/journeys/{first}/cancellation", {"reason": "flight cancelled"})
    lookup = _form(number, "", action="lookup", phone="", flight="", **{"t0-name_native": ""})
    page = _submit(live, entry, lookup)
    assert "welcome back" in page.text
    assert 'value="Amelia Hart"' in page.text
    assert f'value="{traveller(number)["phone"]}"' in page.text
    assert 'value="CZ304"' not in page.text  # the last trip's flight is not this trip's
    second = _resolve(live, _code_of(_submit(live, entry, _form(number, street_of(entry)))))
    assert second != first


def test_a_different_birth_date_cannot_take_over_a_registration(live: Live, entry: str) -> None:
    number = f"T{uuid4().hex[:8].upper()}"
    _code_of(_submit(live, entry, _form(number, street_of(entry))))
    before = event_count(live.settings)
    other = _submit(live, entry, _form(number, street_of(entry), **{"t0-birth_date": "1970-01-01"}))
    assert other.status_code == 409
    assert "do not match the registration" in other.text
    assert event_count(live.settings) == before


def test_unknown_expired_and_revoked_codes_look_the_same(live: Live, entry: str) -> None:
    code = _code_of(_submit(live, entry, _form(f"C{uuid4().hex[:8].upper()}", street_of(entry))))
    journey_id = _resolve(live, code)
    services = open_services(live.settings)
    try:
        expired = services.codes.issue(journey_id, now=datetime.now(UTC) - timedelta(days=400))
        services.codes.revoke(journey_id)
    finally:
        services.close()
    codes = (code, expired, "x" * 43)
    answers = [httpx.get(f"{live.url}/t/{c}", headers={"Accept-Language": "en"}) for c in codes]
    assert {a.status_code for a in answers} == {404}
    # The page links back to its own address (language switch); apart from that, identical.
    assert len({a.text.replace(c, "CODE") for a, c in zip(answers, codes, strict=True)}) == 1
    api = [httpx.get(f"{live.url}/api/travellers/{c}") for c in (code, expired, "x" * 43)]
    assert {(a.status_code, a.text) for a in api} == {(404, api[0].text)}


def test_an_error_in_the_travel_history_is_shown_on_the_row_it_is_in(
    live: Live, entry: str
) -> None:
    data = _form("H0000001", street_of(entry), places="3")
    data |= {"h0-place": "", "h0-arrived": "", "h2-place": "Paris", "h2-arrived": "2026-11-10",
             "h2-left": "2026-11-01"}
    page = _submit(live, entry, data)
    assert page.status_code == 422
    assert _errors(page.text) == {"h2-left": "the date you left is before the date you arrived"}


def test_each_traveller_gives_their_seat_and_a_bad_one_is_named_next_to_it(
    live: Live, entry: str
) -> None:
    form = httpx.get(f"{live.url}/r/{entry}", headers={"Accept-Language": "zh-CN"})
    assert "航班座位号（如知道）" in form.text and 'name="t0-flight_seat"' in form.text
    tag = uuid4().hex[:6].upper()
    data = _form(f"F{tag}1", street_of(entry), members="1", **{"t0-flight_seat": "23c"})
    data |= {"t1-doc_type": "passport", "t1-doc_country": "GBR", "t1-doc_number": f"F{tag}2",
             "t1-birth_date": "2015-03-04", "t1-name_native": "Leo Hart", "t1-flight_seat": "23D"}
    code = _code_of(_submit(live, entry, data))
    seats = ((f"F{tag}1", "1984-05-06", "23c"), (f"F{tag}2", "2015-03-04", "23D"))
    for number, born, seat in seats:
        found = httpx.post(f"{live.url}/api/registrations/lookup", json={
            "doc_type": "passport", "doc_country": "GBR", "doc_number": number,
            "birth_date": born}).json()
        assert found["found"] and found["details"]["flight_seat"] == seat  # as given
    assert _journey(live, _resolve(live, code)).flight_row == 23

    before = event_count(live.settings)
    bad = _form(f"F{tag}3", street_of(entry), **{"t0-flight_seat": "ABC"})
    for lang, message in (
        ("zh-CN", "这不是有效的座位号：应为排号加字母，例如 23C"),
        ("en", "this is not a seat number: a row and a letter, e.g. 23C"),
    ):
        response = _submit(live, entry, bad, lang=lang)
        assert response.status_code == 422
        assert _errors(response.text) == {"t0-flight_seat": message}
        assert 'aria-describedby="t0-flight_seat-hint t0-flight_seat-error"' in response.text
        assert 'value="ABC"' in response.text
    assert event_count(live.settings) == before
