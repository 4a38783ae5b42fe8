"""Checks on what people type: names in any script, phones, Chinese resident ID numbers."""

from __future__ import annotations

import unicodedata

import phonenumbers
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from domain.errors import InvalidInput

# Bidi embedding/override/isolate controls can make a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# Messages are fixed sentences: the form shows them next to the field, translated from the
# message catalogue (they are its msgids), so they name neither the field nor the value.
EMPTY = "this field is empty"
TOO_LONG = "this is too long"
CONTROL_CHARACTER = (
    "this contains an invisible control or text-direction character; please type it again"
)
BAD_PHONE = "this is not a phone number; include the country code, e.g. +44 20 7946 0958"
BAD_RESIDENT_ID = (
    "this resident ID number is not valid (18 characters; check the birth date and last digit)"
)


def clean_name(value: str, *, max_length: int = 100) -> str:
    """NFC-normalised name; any script, combining marks and characters beyond the BMP kept."""
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise InvalidInput(EMPTY)
    if len(name) > max_length:
        raise InvalidInput(TOO_LONG)
    for ch in name:
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            if ch in ("\u200c", "\u200d"):  # joiners are part of correct spelling in some scripts
                continue
            raise InvalidInput(CONTROL_CHARACTER)
    return name


def clean_text(value: str, *, max_length: int = 2000) -> str:
    """NFC-normalised free text (a note): like a name, but it may run over several lines."""
    lines = [clean_name(line, max_length=max_length) if line.strip() else ""
             for line in value.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip()
    if len(text) > max_length:
        raise InvalidInput(TOO_LONG)
    return text


def e164_phone(value: str, default_region: str = "CN") -> str:
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(BAD_PHONE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(BAD_PHONE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def prc_resident_id(value: str) -> str:
    try:
        return str(ric.validate(value))
    except ValidationError:
        raise InvalidInput(BAD_RESIDENT_ID) from None
