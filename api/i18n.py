"""Languages of the traveller's pages: one gettext catalogue per language, chosen per request.

A language is a directory `dashboard/locales/<locale>/LC_MESSAGES/messages.po`; adding one needs
no code. Catalogues are read from the .po text at start-up (no compile step); English is the
language of the msgids, so an untranslated message falls back to English.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from fastapi import Request

from dashboard import LOCALES_DIR

SOURCE_LOCALE = "en"
# Used when the browser states no preference: the district's own language.
DEFAULT_LOCALE = "zh_CN"
COOKIE = "lang"


@dataclass(frozen=True)
class Language:
    """Everything a page needs to speak one language."""

    code: str  # BCP 47, for <html lang> and links: "zh-CN"
    locale: str  # Babel / gettext: "zh_CN"
    name: str  # in its own language, for the switch
    direction: str  # "ltr" or "rtl"
    translations: NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def format_date(self, value: date) -> str:
        return format_date(value, format="long", locale=self.locale)


@cache
def languages(directory: Path = LOCALES_DIR) -> dict[str, Language]:
    found = {SOURCE_LOCALE: _language(SOURCE_LOCALE, NullTranslations())}
    for po in sorted(directory.glob("*/LC_MESSAGES/messages.po")):
        locale = po.parent.parent.name
        with po.open("rb") as f:
            catalog = read_po(f, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        found[locale] = _language(locale, Translations(buffer))
    return found


def _language(locale: str, translations: NullTranslations) -> Language:
    parsed = Locale.parse(locale)
    return Language(
        code=locale.replace("_", "-"),
        locale=locale,
        name=(parsed.display_name or locale).split(" (")[0],
        direction="rtl" if parsed.character_order == "right-to-left" else "ltr",
        translations=translations,
    )


def choose(request: Request) -> Language:
    """?lang= (the visible switch), then the cookie it set, then Accept-Language."""
    available = languages()
    for asked in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        match = _match(asked or "", available)
        if match:
            return available[match]
    header = request.headers.get("accept-language", "")
    for tag in _preferences(header):
        match = _match(tag, available)
        if match:
            return available[match]
    # A browser that asks for a language we lack is more likely read by a foreigner.
    fallback = SOURCE_LOCALE if header.strip() else DEFAULT_LOCALE
    return available.get(fallback, available[SOURCE_LOCALE])


def _match(tag: str, available: dict[str, Language]) -> str | None:
    tag = tag.strip().replace("-", "_")
    if not tag or tag == "*":
        return None
    by_lower = {code.lower(): code for code in available}
    if tag.lower() in by_lower:
        return by_lower[tag.lower()]
    language = tag.split("_")[0].lower()
    for code in sorted(available):
        if code.split("_")[0].lower() == language:
            return code
    return None


def _preferences(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, i, tag))
    return [tag for _, _, tag in sorted(weighted)]
