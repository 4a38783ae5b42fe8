"""Reading upstream lists: an airline manifest or customs export, checked row by row.

A traveller on the list who later scans the poster finds the form filled in: nothing is typed
twice. Each row is checked by `TravellerDetails`, the model the form and the API use; a bad row
is reported (row, column, reason; never the value, since reports get emailed around) and the
rest are kept. Rows sharing a booking reference on one flight travel as one party.
`tracking/arrivals_import.py` registers what this reads; docs/import.md is the user's guide.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.core import Locale, get_global
from pydantic import ValidationError

from domain.errors import InvalidInput
from domain.identity import normalise_document
from tracking.traveller_details import (
    ADDRESS_NEEDED,
    STREET_WITHOUT_ADDRESS,
    TravellerDetails,
)
from tracking.validation import BAD_RESIDENT_ID, EMPTY

MAX_PARTY = 12

# Header names seen in exports, per field; matched ignoring case, spaces and punctuation.
# surname + given_names are joined into name_latin; booking_ref groups rows into parties.
ALIASES: dict[str, tuple[str, ...]] = {
    "doc_number": (
        "Passport No", "Passport Number", "Passport", "Document Number", "Document No",
        "Doc No", "Doc Number", "Travel Document Number", "ID Number",
        "证件号码", "证件号", "护照号码", "护照号", "身份证号码", "身份证号",
    ),
    "doc_type": ("Document Type", "Doc Type", "Type of Document", "证件类型", "证件种类"),
    "doc_country": (
        "Issuing Country", "Country of Issue", "Issuing State", "Document Country",
        "Doc Country", "签发国", "签发国家", "发证国家",
    ),
    "surname": ("Surname", "Last Name", "Family Name", "英文姓", "姓(英文)"),
    "given_names": (
        "Given Names", "Given Name", "First Name", "First Names", "英文名", "名(英文)",
    ),
    "name_latin": (
        "Name", "Full Name", "Passenger Name", "English Name", "Name in Passport",
        "英文姓名", "护照姓名",
    ),
    "name_native": ("Native Name", "Chinese Name", "Name in Chinese", "姓名", "中文姓名"),
    "birth_date": (
        "Date of Birth", "DOB", "Birth Date", "Birthdate", "Birthday",
        "出生日期", "出生年月日", "生日",
    ),
    "nationality": ("Nationality", "Citizenship", "国籍"),
    "sex": ("Sex", "Gender", "性别"),
    "flight": ("Flight", "Flight No", "Flight Number", "航班号", "航班", "航班号码"),
    "phone": (
        "Phone", "Phone Number", "Mobile", "Mobile Number", "Telephone", "Tel",
        "Contact Number", "联系电话", "手机", "手机号", "手机号码", "电话",
    ),
    "booking_ref": (
        "Booking Ref", "Booking Reference", "PNR", "Record Locator", "订座记录",
        "订座记录编号", "订座编号",
    ),
    "came_from": (
        "From", "Departure Airport", "Departure", "Origin", "Port of Embarkation",
        "出发地", "始发地", "出发机场",
    ),
    "destination_address": ("Address in China", "Destination Address", "境内住址", "在华住址"),
}
FIELDS = tuple(ALIASES)
DOCUMENT_TYPES = {
    "passport": ("passport", "p", "pp", "护照", "普通护照"),
    "prc_id": ("prc_id", "id", "i", "id card", "身份证", "居民身份证"),
    "hk_macao_permit": ("hk_macao_permit", "港澳通行证", "回乡证", "港澳居民来往内地通行证"),
    "taiwan_permit": ("taiwan_permit", "台胞证", "台湾居民来往大陆通行证"),
    "other": ("other", "其他"),
}
SEXES = {
    "male": ("m", "male", "man", "男"),
    "female": ("f", "female", "woman", "女"),
    "unspecified": ("", "u", "x", "unknown", "unspecified", "未知"),
}
# Chinese travel documents are issued by the PRC, whatever the holder's nationality says.
ISSUED_BY_CHINA = ("prc_id", "hk_macao_permit", "taiwan_permit")

BAD_DATE = "this is not a date; use YYYY-MM-DD, DD/MM/YYYY, YYYYMMDD or DDMMMYY (01JAN80)"
BAD_DOC_TYPE = "unknown document type; use P, ID, 护照, 身份证, 港澳通行证 or 台胞证"
BAD_SEX = "use M, F, 男 or 女"
EXTRA_CELLS = "this row has more cells than the header has columns"
DUPLICATE = "this document is already on row {row} of this file"
_MODEL_LEVEL_FIELD = {
    BAD_RESIDENT_ID: "doc_number",
    STREET_WITHOUT_ADDRESS: "destination_address",
    ADDRESS_NEEDED: "destination_address",
}


class ArrivalsFileError(Exception):
    """The file as a whole cannot be imported (unreadable, or a needed column is missing)."""


@dataclass(frozen=True)
class RejectedRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    column: str
    field: str
    reason: str


@dataclass(frozen=True)
class Traveller:
    row: int
    details: TravellerDetails
    content: str  # the normalised document and details: what makes a re-import a repeat


@dataclass
class Arrivals:
    name: str
    rows: int
    parties: list[list[Traveller]]
    rejected: list[RejectedRow]

    @property
    def travellers(self) -> int:
        return sum(map(len, self.parties))


@dataclass
class ImportSummary:
    rows: int
    parties: int  # parties (a solo traveller is one) registered by this import
    registered: int
    already_registered: int
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def rejected_rows(self) -> int:
        return len({r.row for r in self.rejected})


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrivalsFile:
    """A file whose columns are known; its rows not yet checked."""

    name: str
    header: list[str]
    mapping: dict[str, int]  # field → column index
    records: list[tuple[int, list[str]]]  # (row number, cells), blank rows left out

    @property
    def rows(self) -> int:
        return len(self.records)


def open_arrivals(path: Path, columns: Mapping[str, str] | None = None) -> ArrivalsFile:
    """Read the file and find its columns; `columns` maps field → header where the aliases
    do not. Raises ArrivalsFileError for what makes the whole file unusable."""
    header, records = _records(path)
    mapping = _map_columns(header, columns or {})
    # Spreadsheets export trailing empty rows; numbers stay as the spreadsheet shows them.
    numbered = [(n, row) for n, row in enumerate(records, start=2) if any(map(str.strip, row))]
    return ArrivalsFile(path.name, header, mapping, numbered)


def check_arrivals(
    file: ArrivalsFile, on_row: Callable[[int], None] | None = None
) -> Arrivals:
    """Check every row and group the good ones into parties; `on_row(n)` after each row."""
    header, mapping = file.header, file.mapping
    rejected: list[RejectedRow] = []
    good: list[tuple[Traveller, tuple[str, str] | None]] = []
    first_row_of: dict[str, int] = {}
    for done, (number, cells) in enumerate(file.records, start=1):
        if on_row is not None:
            on_row(done)
        if any(c.strip() for c in cells[len(header):]):
            rejected.append(RejectedRow(number, "", "", EXTRA_CELLS))
            continue
        values = {f: cells[i] if i < len(cells) else "" for f, i in mapping.items()}
        traveller, problems = _traveller(number, values)
        if traveller is not None:
            document = traveller.content.split("\n", 1)[0]
            if document in first_row_of:
                problems = [("doc_number", DUPLICATE.format(row=first_row_of[document]))]
                traveller = None
            else:
                first_row_of[document] = number
        if traveller is None:
            rejected += [
                RejectedRow(number, _column(header, mapping, f), f, why) for f, why in problems
            ]
            continue
        booking = _compact(values.get("booking_ref", ""))
        good.append((traveller, (traveller.details.flight, booking) if booking else None))
    return Arrivals(file.name, file.rows, _parties(good), rejected)


def read_arrivals(path: Path, columns: Mapping[str, str] | None = None) -> Arrivals:
    return check_arrivals(open_arrivals(path, columns))


def _records(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ArrivalsFileError(f"cannot read {path}: {e.strerror}") from None
    text = _decode(raw)
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not records or not any(h.strip() for h in records[0]):
        raise ArrivalsFileError(f"{path.name} has no header row")
    return [h.strip() for h in records[0]], records[1:]


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")  # Excel's "Unicode text"
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves CSV in the ANSI code page (GBK, a subset of GB18030).
        return raw.decode("gb18030")


def _key(header: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", header).casefold() if ch.isalnum())


def _map_columns(header: list[str], overrides: Mapping[str, str]) -> dict[str, int]:
    by_key: dict[str, int] = {}
    for i, name in enumerate(header):
        by_key.setdefault(_key(name), i)
    mapping: dict[str, int] = {}
    for name, column in overrides.items():
        if name not in FIELDS:
            raise ArrivalsFileError(f"unknown field {name!r}; fields: {', '.join(FIELDS)}")
        index = header.index(column.strip()) if column.strip() in header else by_key.get(
            _key(column)
        )
        if index is None:
            raise ArrivalsFileError(f"the file has no column {column!r} (for {name})")
        mapping[name] = index
    taken = set(mapping.values())
    for name, aliases in ALIASES.items():
        if name in mapping:
            continue
        found = [by_key[_key(a)] for a in aliases if _key(a) in by_key]
        free = [i for i in found if i not in taken]
        if free:
            mapping[name] = min(free)
            taken.add(min(free))
    for needed in ("doc_number", "birth_date", "phone"):
        if needed not in mapping:
            raise ArrivalsFileError(_no_column(needed))
    if not {"name_native", "name_latin", "surname", "given_names"} & mapping.keys():
        raise ArrivalsFileError(_no_column("name_native"))
    return mapping


def _no_column(name: str) -> str:
    return (
        f"no column for {name} (looked for: {', '.join(ALIASES[name])}); "
        f"name it with --column {name}=HEADER"
    )


def _column(header: list[str], mapping: dict[str, int], name: str) -> str:
    sources = {
        "name_latin": ("name_latin", "surname"),
        "name_native": ("name_native", "name_latin", "surname"),
        "doc_country": ("doc_country", "nationality"),
    }
    for source in sources.get(name, (name,)):
        if source in mapping:
            return header[mapping[source]]
    return ""


# -- one row ------------------------------------------------------------------------------------


def _traveller(row: int, values: dict[str, str]) -> tuple[Traveller | None, list[tuple[str, str]]]:
    """The checked traveller of one row, or the problems found (field, reason)."""
    v = {k: _strip(x) for k, x in values.items()}
    problems: list[tuple[str, str]] = []
    data: dict[str, Any] = {}
    doc_type = _lookup(DOCUMENT_TYPES, v.get("doc_type", "")) if v.get("doc_type") else "passport"
    if doc_type is None:
        problems.append(("doc_type", BAD_DOC_TYPE))
    else:
        data["doc_type"] = doc_type
    nationality = country_code(v.get("nationality", ""))
    country = country_code(v.get("doc_country", ""))
    data["doc_country"] = country or ("CHN" if doc_type in ISSUED_BY_CHINA else nationality)
    name_latin = v.get("name_latin") or " ".join(
        x for x in (v.get("surname", ""), v.get("given_names", "")) if x
    )
    # A Latin-script name is the traveller's own script: nobody should have to type it again.
    data["name_native"] = v.get("name_native") or name_latin
    birth = v.get("birth_date", "")
    birth_date = parse_date(birth) if birth else None
    if birth and birth_date is None:
        problems.append(("birth_date", BAD_DATE))
    sex = _lookup(SEXES, v.get("sex", ""))
    if sex is None:
        problems.append(("sex", BAD_SEX))
    data |= {
        "doc_number": v.get("doc_number", ""),
        "name_latin": name_latin,
        "birth_date": birth_date,
        "nationality": nationality,
        "sex": sex,
        "phone": v.get("phone", ""),
        "flight": _compact(v.get("flight", "")),
        "came_from": v.get("came_from", ""),
        "destination_address": v.get("destination_address", ""),
    }
    data = {k: x for k, x in data.items() if x not in ("", None)}
    try:
        details = TravellerDetails.model_validate(data)
        document = normalise_document(details.doc_type, details.doc_country, details.doc_number)
    except ValidationError as e:
        reported = {f for f, _ in problems}
        problems += [p for p in _problems(e) if p[0] not in reported]
        return None, problems
    except InvalidInput as e:
        return None, [*problems, ("doc_number", str(e))]
    if problems:
        return None, problems
    person = details.as_person()
    content = document + "\n" + json.dumps(person.details, sort_keys=True, ensure_ascii=False)
    return Traveller(row, details, content), []


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    found = []
    for e in error.errors(include_input=False, include_url=False):
        message = EMPTY if e["type"] == "missing" else e["msg"].removeprefix("Value error, ")
        name = str(e["loc"][0]) if e["loc"] else _MODEL_LEVEL_FIELD.get(message, "")
        found.append((name, message))
    return found


def _strip(value: str) -> str:
    # Only spacing: other invisible characters must reach the checks that reject them.
    return value.strip(" \t\r\n\u00a0\u3000")


def _compact(value: str) -> str:
    return "".join(unicodedata.normalize("NFKC", value).upper().split())


def _lookup(table: dict[str, tuple[str, ...]], value: str) -> str | None:
    wanted = unicodedata.normalize("NFKC", value).strip().casefold()
    return next((name for name, spellings in table.items() if wanted in spellings), None)


_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DATE_FORMATS = (
    (re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"), "ymd"),
    (re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})"), "dmy"),
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), "ymd"),
    (re.compile(r"(\d{1,2})[- ]?([A-Z]{3})[- ]?(\d{2}|\d{4})"), "dMy"),
)
# Excel adds a midnight time to dates it recognised.
_TIME = re.compile(r"(?:[ T]0?0:00(?::00)?)?")


def parse_date(value: str) -> date | None:
    text = unicodedata.normalize("NFKC", value).strip().upper()
    for pattern, order in _DATE_FORMATS:
        m = re.fullmatch(pattern.pattern + _TIME.pattern, text)
        if m is None:
            continue
        a, b, c = m.groups()
        if order == "ymd":
            y, mo, d = int(a), int(b), int(c)
        elif order == "dmy":
            d, mo, y = int(a), int(b), int(c)
        else:
            if b not in _MONTHS:
                return None
            d, mo, y = int(a), _MONTHS.index(b) + 1, int(c)
            if len(c) == 2:  # a birth date is in the past: 01JAN80 is 1980, 01JAN05 is 2005
                this_year = datetime.now(UTC).year
                y += 2000 if 2000 + y <= this_year else 1900
        try:
            return date(y, mo, d)
        except ValueError:
            return None
    return None


def country_code(value: str) -> str:
    """A three-letter code from what exports write: CHN, CN, China, 中国, 中國 (else as given)."""
    text = unicodedata.normalize("NFKC", value).strip()
    codes = _country_codes()
    return codes.get(text.casefold(), text.upper() if len(text) == 3 else text)


@cache
def _country_codes() -> dict[str, str]:
    alpha3: dict[str, str] = {}
    aliases: Mapping[str, list[str]] = get_global("territory_aliases")
    for code, targets in aliases.items():
        if len(code) == 3 and code.isalpha() and len(targets) == 1:
            alpha3.setdefault(targets[0], code)
    codes = {a2.casefold(): a3 for a2, a3 in alpha3.items()}
    for locale in ("en", "zh", "zh_Hant"):
        for a2, name in Locale.parse(locale).territories.items():
            if a2 in alpha3:
                codes.setdefault(name.casefold(), alpha3[a2])
    # Germany's passports say D, not DEU (ICAO 9303).
    codes |= {"中华人民共和国": "CHN", "中國": "CHN", "prc": "CHN", "d": "DEU"}
    return codes


def _parties(good: Iterable[tuple[Traveller, tuple[str, str] | None]]) -> list[list[Traveller]]:
    """Rows sharing a booking reference on one flight, in file order, at most 12 a party."""
    groups: dict[object, list[Traveller]] = {}
    for traveller, booking in good:
        groups.setdefault(booking or object(), []).append(traveller)
    return [g[i : i + MAX_PARTY] for g in groups.values() for i in range(0, len(g), MAX_PARTY)]
