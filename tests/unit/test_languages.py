"""Languages are catalogue files: negotiation, direction, completeness."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request

from api.catalogue import all_messages
from api.i18n import choose, languages


def _request(accept: str = "", query: str = "", cookie: str = "") -> Request:
    headers = []
    if accept:
        headers.append((b"accept-language", accept.encode()))
    if cookie:
        headers.append((b"cookie", f"lang={cookie}".encode()))
    return Request({"type": "http", "query_string": query.encode(), "headers": headers})


@pytest.mark.parametrize(
    ("accept", "query", "cookie", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "", "", "zh_CN"),
        ("en-GB,en;q=0.9", "", "", "en"),
        ("fr-FR,de;q=0.5", "", "", "en"),  # a foreign browser reads English better
        ("", "", "", "zh_CN"),  # no preference: the district's language
        ("zh-TW", "", "", "zh_CN"),  # same language, nearest variant we have
        ("en;q=0.2, zh;q=0.9", "", "", "zh_CN"),  # quality, not order, decides
        ("zh-CN", "lang=en", "", "en"),  # the visible switch wins
        ("zh-CN", "", "en", "en"),  # and is remembered
        ("en", "lang=xx-YY", "zh-CN", "zh_CN"),  # an unknown switch falls through
    ],
)
def test_the_language_is_chosen_from_switch_cookie_then_browser(
    accept: str, query: str, cookie: str, expected: str
) -> None:
    assert choose(_request(accept, query, cookie)).locale == expected


def test_every_message_the_pages_show_is_translated_in_every_catalogue() -> None:
    messages = all_messages()
    assert len(messages) > 100
    for language in languages().values():
        if language.locale == "en":
            continue
        missing = [m for m in messages if language.gettext(m) == m]
        hint = "run scripts/update_catalogues.py and translate"
        assert missing == [], f"{language.locale} lacks translations ({hint})"


def test_placeholders_survive_translation() -> None:
    for language in languages().values():
        for message in all_messages():
            if "%(" in message:
                names = sorted(p.split(")")[0] for p in message.split("%(")[1:])
                translated = language.gettext(message)
                assert sorted(p.split(")")[0] for p in translated.split("%(")[1:]) == names


def test_a_new_language_is_a_file_and_right_to_left_ones_say_so(tmp_path: Path) -> None:
    po = tmp_path / "ar" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Arrival registration"\nmsgstr "تسجيل الوصول"\n',
        encoding="utf-8",
    )
    found = languages(tmp_path)
    assert set(found) == {"en", "ar"}
    arabic = found["ar"]
    assert (arabic.code, arabic.direction) == ("ar", "rtl")
    assert arabic.gettext("Arrival registration") == "تسجيل الوصول"
    assert arabic.gettext("Register") == "Register"  # untranslated falls back to English
    assert found["en"].direction == "ltr"
