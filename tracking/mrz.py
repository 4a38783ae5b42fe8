"""Passport and identity-card machine-readable zones (ICAO Doc 9303, TD3 and TD2).

The registration form lets a traveller paste the two MRZ lines of the data page instead of
typing the same fields again. Pasting is forgiving about how the lines are separated and about
letter case; it is strict about everything that could change a value: a '<' typed as a space
or as '«' is refused rather than guessed, and every check digit must match.

What the check digits can and cannot see (Doc 9303 Part 3, 4.9): the weights 7, 3, 1 are all
coprime to 10, so a single changed character inside a checked field is caught exactly when its
value changes modulo 10. Every digit-for-digit typo is caught, but '0', '<', 'A', 'K' and 'U'
(values 0, 0, 10, 20, 30) are interchangeable, as are '1', 'B', 'L', 'V', and so on. The
nationality and sex are covered by no check digit at all. The composite digit adds nothing
for a single substitution that the per-field digits do not already catch, except in TD2's
optional data, which has no digit of its own.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from domain.errors import InvalidInput

# Fixed sentences: they are message-catalogue msgids, translated where they are shown, so they
# carry no values of their own.
MRZ_SHAPE = "the machine-readable lines should be two lines of 44 characters (passports) or 36"
MRZ_FILLER = (
    "the machine-readable lines contain spaces or '«' where the document prints '<'; "
    "type each '<' as it is printed"
)
MRZ_CHARACTER = "the machine-readable lines may contain only the letters A to Z, digits and '<'"
MRZ_CHECK_DIGIT = (
    "a check digit in the machine-readable lines does not match; check for typing mistakes"
)
MRZ_DATE = "a date in the machine-readable lines is not a real date"
MRZ_FIELD = (
    "a field in the machine-readable lines holds characters that do not belong there; "
    "check for typing mistakes"
)
MRZ_VISA = (
    "these machine-readable lines are from a visa; "
    "use the two lines on the passport's or identity card's data page"
)

TD3_WIDTH = 44
TD2_WIDTH = 36
_WIDTHS = (TD3_WIDTH, TD2_WIDTH)

Sex = Literal["female", "male", "unspecified"]
DocType = Literal["passport", "other"]

_ALPHABET = frozenset(string.ascii_uppercase + string.digits + "<")
_VALUES = {ch: i for i, ch in enumerate(string.digits + string.ascii_uppercase)} | {"<": 0}
_WEIGHTS = (7, 3, 1)
# Look-alikes that keyboards, word processors and OCR put where the document prints '<'.
# Guillemets, the fullwidth '<' of CJK input methods, much-less-than and angle brackets; written
# as escapes because they are exactly the characters a reader would mistake for '<'.
_FILLER_LOOKALIKES = frozenset("\u00ab\u2039\uff1c\u226a\u3008\u27e8")
# Far longer than two lines plus generous whitespace: refuse before scanning megabytes.
_MAX_INPUT = 400
_SEX_CODES: dict[str, Sex] = {"F": "female", "M": "male", "<": "unspecified", "X": "unspecified"}
_SEX_LETTERS: dict[str, str] = {"female": "F", "male": "M", "unspecified": "<"}


@dataclass(frozen=True, slots=True)
class MrzData:
    """The MRZ fields, named after the registration form's fields."""

    doc_type: DocType
    doc_country: str
    doc_number: str
    name_latin: str
    nationality: str
    birth_date: date
    sex: Sex
    expiry: date


def check_digit(s: str) -> str:
    """ICAO 9303 check digit: weights 7, 3, 1 repeating; '<' = 0, digits, A = 10 … Z = 35."""
    try:
        total = sum(_VALUES[ch] * _WEIGHTS[i % 3] for i, ch in enumerate(s))
    except KeyError:
        raise ValueError("MRZ check digits are defined for A-Z, 0-9 and '<' only") from None
    return str(total % 10)


def parse_mrz(text: str, *, today: date | None = None) -> MrzData:
    """Fields of a TD3 (passport) or TD2 MRZ; InvalidInput with one of the MRZ_* sentences.

    `today` decides the century of two-digit birth years; it defaults to today's UTC date.
    """
    today = today or datetime.now(UTC).date()
    line1, line2 = _two_lines(text)
    if line1[0] == "V":
        # Visas (MRV-A/B) share the TD3/TD2 sizes but have no composite digit; without this
        # they would be refused with a misleading check-digit message.
        raise InvalidInput(MRZ_VISA)
    width = len(line1)
    doc_number = _checked_document_number(line2, width)
    _require(line2[19], check_digit(line2[13:19]))
    _require(line2[27], check_digit(line2[21:27]))
    if width == TD3_WIDTH:
        personal = line2[28:42]
        if not (personal == "<" * 14 and line2[42] == "<"):
            # Doc 9303 Part 4 allows '<' as the digit of an unused personal-number field.
            _require(line2[42], check_digit(personal))
        composite = line2[0:10] + line2[13:20] + line2[21:43]
    else:
        composite = line2[0:10] + line2[13:20] + line2[21:35]
    _require(line2[-1], check_digit(composite))

    doc_code, issuing_state, name_field = line1[0:2], line1[2:5], line1[5:]
    if not (doc_code[0].isalpha() and (doc_code[1].isalpha() or doc_code[1] == "<")):
        raise InvalidInput(MRZ_FIELD)
    sex = _SEX_CODES.get(line2[20])
    if sex is None:
        raise InvalidInput(MRZ_FIELD)
    return MrzData(
        doc_type="passport" if doc_code[0] == "P" else "other",
        doc_country=_country(issuing_state),
        doc_number=doc_number,
        name_latin=_name(name_field),
        nationality=_country(line2[10:13]),
        birth_date=_birth_date(line2[13:19], today),
        sex=sex,
        expiry=_date(2000, line2[21:27]),
    )


def compose_td3(
    *,
    doc_number: str,
    doc_country: str,
    surname: str,
    given_names: str,
    nationality: str,
    birth_date: date,
    sex: Sex,
    expiry: date,
    doc_code: str = "P",
    personal_number: str = "",
) -> tuple[str, str]:
    """Two valid TD3 lines; for tests and demo data (ValueError on what cannot be encoded)."""
    if not 2000 <= expiry.year <= 2099:
        raise ValueError("TD3 expiry years are read as 20xx")
    name = _filled(f"{_name_part(surname)}<<{_name_part(given_names)}".rstrip("<"), 39)
    line1 = _filled(doc_code, 2) + _country_field(doc_country) + name
    number = _filled(doc_number, 9)
    personal = _filled(personal_number, 14)
    body = (
        number
        + check_digit(number)
        + _country_field(nationality)
        + birth_date.strftime("%y%m%d")
        + check_digit(birth_date.strftime("%y%m%d"))
        + _SEX_LETTERS[sex]
        + expiry.strftime("%y%m%d")
        + check_digit(expiry.strftime("%y%m%d"))
        + personal
        + check_digit(personal)
    )
    composite = body[0:10] + body[13:20] + body[21:43]
    line2 = body + check_digit(composite)
    assert len(line1) == len(line2) == TD3_WIDTH
    return line1, line2


def _two_lines(text: str) -> tuple[str, str]:
    if len(text) > _MAX_INPUT:
        raise InvalidInput(MRZ_SHAPE)
    for ch in text:
        if ch in _FILLER_LOOKALIKES:
            raise InvalidInput(MRZ_FILLER)
        if not (ch.isspace() or (ch.isascii() and ch.isalnum()) or ch == "<"):
            raise InvalidInput(MRZ_CHARACTER)
    # Only ASCII letters are left, so upper() cannot change the length.
    text = text.strip().upper()
    if "\n" in text or "\r" in text:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if any(re.search(r"\s", line) for line in lines):
            raise InvalidInput(MRZ_FILLER)
    else:
        lines = text.split()
        if len(lines) > 2:
            # One pasted line with more than one gap: the gaps stand for '<'.
            raise InvalidInput(MRZ_FILLER)
        if len(lines) == 1 and len(lines[0]) in (2 * TD3_WIDTH, 2 * TD2_WIDTH):
            # Both lines run together without a separator: the widths still say where to cut.
            half = len(lines[0]) // 2
            lines = [lines[0][:half], lines[0][half:]]
    if len(lines) != 2 or len(lines[0]) != len(lines[1]) or len(lines[0]) not in _WIDTHS:
        raise InvalidInput(MRZ_SHAPE)
    return lines[0], lines[1]


def _checked_document_number(line2: str, width: int) -> str:
    principal, digit = line2[0:9], line2[9]
    if width == TD2_WIDTH and digit == "<":
        # Doc 9303 Part 6: a number longer than 9 characters continues in the optional data,
        # followed by its check digit and a filler; '<' in the digit's place marks this.
        rest = line2[28:35].split("<", 1)[0]
        if len(rest) < 2:
            raise InvalidInput(MRZ_CHECK_DIGIT)
        number, digit = principal + rest[:-1], rest[-1]
    else:
        number = principal
    _require(digit, check_digit(number))
    # The number is left-aligned; a '<' before its end would be a typo that the digit
    # could not see, so it is refused instead of being dropped.
    number = number.rstrip("<")
    if not number or "<" in number:
        raise InvalidInput(MRZ_FIELD)
    return number


def _require(found: str, expected: str) -> None:
    if found != expected:
        raise InvalidInput(MRZ_CHECK_DIGIT)


def _country(field: str) -> str:
    # Germany is the one state with a one-letter code, padded with fillers.
    code = "DEU" if field == "D<<" else field
    if len(code) != 3 or not code.isalpha():
        raise InvalidInput(MRZ_FIELD)
    return code


def _name(field: str) -> str:
    # The primary identifier (surname) comes first and is never empty: a single name is put
    # there, so a leading '<' is not a name.
    if field.startswith("<") or not all(ch.isalpha() or ch == "<" for ch in field):
        raise InvalidInput(MRZ_FIELD)
    return " ".join(field.replace("<", " ").split())


def _birth_date(field: str, today: date) -> date:
    if not field.isdigit():
        raise InvalidInput(MRZ_DATE)
    # Doc 9303 leaves the century to the reader; a traveller is younger than 100, so a year
    # above this year's two digits can only be last century's.
    century = 1900 if int(field[:2]) > today.year % 100 else 2000
    born = _date(century, field)
    if born > today:
        raise InvalidInput(MRZ_DATE)
    return born


def _date(century: int, field: str) -> date:
    # Unknown parts of a date are printed as '<' on some documents; they make no form date.
    if not field.isdigit():
        raise InvalidInput(MRZ_DATE)
    try:
        return date(century + int(field[:2]), int(field[2:4]), int(field[4:6]))
    except ValueError:
        raise InvalidInput(MRZ_DATE) from None


def _filled(value: str, width: int) -> str:
    if len(value) > width or not set(value) <= _ALPHABET:
        raise ValueError(f"{value!r} does not fit an MRZ field of {width}")
    return value.ljust(width, "<")


def _country_field(code: str) -> str:
    return "D<<" if code == "DEU" else _filled(code, 3)


def _name_part(words: str) -> str:
    return "<".join(words.upper().split())
