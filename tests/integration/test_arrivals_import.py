"""Importing upstream lists (airline manifests, customs exports); bodies run on both stores."""

from __future__ import annotations

import csv
import random
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from stdnum.cn import ric

from domain.errors import NotFound
from domain.identity import identity_key, identity_record_id
from domain.journey import Journey
from tests.integration.test_application import registered
from tests.support import ctx, seed_line
from tracking.application import TrackingApp
from tracking.arrivals import ALIASES, ArrivalsFileError, parse_date, read_arrivals
from tracking.arrivals_import import import_arrivals, write_rejected
from tracking.services import Services
from tracking.traveller_details import TravellerDetails

GUIDE = Path(__file__).parents[2] / "docs" / "import.md"
# (surname, given names, native name, nationality, phone): names in many scripts,
# a CJK character beyond the BMP (𠮷), Arabic, and Latin written with combining marks.
PEOPLE = [
    ("ZHANG", "WEI", "张伟", "CHN", "+86 139 {:08d}"),
    ("YOSHIDA", "HANAKO", "𠮷田 花子", "JPN", "+86 138{:08d}"),
    ("AL-ABDULLAH", "MOHAMMED", "محمد عبد الله", "ARE", "+971 50 {:07d}"),
    ("NGUYEN", "VAN AN", unicodedata.normalize("NFD", "Nguyễn Văn An"), "VNM", "+84 91 {:07d}"),
    ("NU\u0301N\u0303EZ", "JOSE\u0301 MARI\u0301A", "", "ESP", "137{:08d}"),
    ("KUMAR", "ANIL", "अनिल कुमार", "IND", "(+86) 136-{:08d}"),
    ("KIM", "MINJUN", "김민준", "KOR", "+86 135 {:08d}"),
]
FLIGHTS = ["CZ 312", "CA910", "MU 220", "QR874", "EK362"]


@dataclass
class Manifest:
    path: Path
    rows: list[dict[str, str]]
    parties: int


def birth_cell(born: date, i: int) -> str:
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    return [
        born.isoformat(),
        born.strftime("%d/%m/%Y"),
        born.strftime("%Y%m%d"),
        f"{born.day:02d}{months[born.month - 1]}{born.year % 100:02d}",
    ][i % 4]


def manifest_rows(n: int, seed: int = 7) -> tuple[list[dict[str, str]], int]:
    """n rows: families by booking reference, a tour group of 14 (two parties), one booking
    reference on two flights (two parties); every 9th traveller has a resident ID."""
    rnd = random.Random(seed)
    rows: list[dict[str, str]] = []
    groups: dict[tuple[str, str], int] = {}
    solos = 0
    while len(rows) < n:
        i = len(rows)
        flight = FLIGHTS[rnd.randrange(len(FLIGHTS))]
        if i == 0:
            size, booking = 14, "TOUR14"
        elif i in (14, 16):
            size, booking = 2, "SHARED"
            flight = FLIGHTS[i % 3]
        else:
            size = rnd.choice([1, 1, 1, 1, 2, 3, 4])
            booking = f"PNR{i:05d}" if size > 1 else ""
        members = min(size, n - len(rows))
        for _ in range(members):
            j = len(rows)
            surname, given, native, nationality, phone = PEOPLE[j % len(PEOPLE)]
            born = date(1940 + j % 80, 1 + j % 12, 1 + j % 28)
            row = {
                "Flight": flight, "Booking Ref": booking,
                "Surname": surname, "Given Names": given, "姓名": native,
                "Sex": ["M", "F", "男", "女"][j % 4], "Date of Birth": birth_cell(born, j),
                "Nationality": nationality, "Document Type": "P",
                "Passport No": f"E{j:08d}", "Issuing Country": nationality,
                "Phone": phone.format(j), "From": "London LHR",
            }
            if j % 9 == 4:
                row |= {
                    "Document Type": "身份证", "Issuing Country": "", "Nationality": "中国",
                    "Passport No": resident_id(born, j),
                }
            rows.append(row)
        if booking:
            key = (flight.replace(" ", ""), booking)
            groups[key] = groups.get(key, 0) + members
        else:
            solos += 1
    parties = solos + sum(-(-size // 12) for size in groups.values())
    return rows, parties


def resident_id(born: date, j: int) -> str:
    body = f"110101{born:%Y%m%d}{j % 1000:03d}"
    return body + ric.calc_check_digit(body + "?")  # it skips the last character


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_manifest(path: Path, n: int = 5000) -> Manifest:
    rows, parties = manifest_rows(n)
    return Manifest(write_csv(path, rows), rows, parties)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    return write_manifest(tmp_path_factory.mktemp("manifest") / "CZ312-manifest.csv")


def journey_of(app: TrackingApp, doc_type: str, country: str, number: str) -> Journey:
    key = identity_key(app.secret, doc_type, country, number)
    record: Any = app.repository.get(identity_record_id(key))
    return app.journey(record.latest_journey)


def journey_of_row(app: TrackingApp, row: dict[str, str]) -> Journey:
    if row["Document Type"] == "身份证":
        return journey_of(app, "prc_id", "CHN", row["Passport No"])
    return journey_of(app, "passport", row["Issuing Country"], row["Passport No"])


# -- on both stores -------------------------------------------------------------------------------


def test_a_5000_row_manifest_imports_fully_and_again_stores_nothing(
    services: Services, manifest: Manifest
) -> None:
    app = services.app
    line = seed_line(app)
    arrivals = read_arrivals(manifest.path)
    assert arrivals.rows == 5000
    assert arrivals.rejected == []
    progress: list[int] = []
    summary = import_arrivals(app, arrivals, line.entry_point, on_rows=progress.append)
    assert (summary.registered, summary.already_registered, summary.rejected) == (5000, 0, [])
    assert summary.parties == manifest.parties
    assert sum(progress) == 5000

    events = registered(app)
    assert len(events) == 5000
    assert {e.source for e in events} == {"manifest"}
    assert {e.ctx.actor for e in events} == {"import:CZ312-manifest.csv"}
    party_sizes: dict[UUID, int] = {}
    for e in events:
        party_sizes[e.party_id] = party_sizes.get(e.party_id, 0) + 1
    assert len(party_sizes) == manifest.parties
    assert max(party_sizes.values()) == 12

    # Names come back exactly as written (after NFC), whatever the script.
    for j in range(7):
        row = manifest.rows[j + 20]
        journey = journey_of_row(app, row)
        details = app.personal_details(journey)
        latin = unicodedata.normalize("NFC", f"{row['Surname']} {row['Given Names']}")
        assert details["name_latin"] == latin
        assert details["name_native"] == (unicodedata.normalize("NFC", row["姓名"]) or latin)
    tour = [journey_of_row(app, r) for r in manifest.rows[:14]]
    assert len({j.party_id for j in tour[:12]}) == 1
    assert tour[12].party_id == tour[13].party_id != tour[0].party_id

    head = app.recorder.max_notification_id()
    again = import_arrivals(app, read_arrivals(manifest.path), line.entry_point)
    assert (again.registered, again.parties, again.already_registered) == (0, 0, 5000)
    assert app.recorder.max_notification_id() == head


def test_bad_rows_are_reported_without_their_values_and_the_rest_imported(
    services: Services, tmp_path: Path
) -> None:
    app = services.app
    line = seed_line(app)

    def row(number: str, name: str = "王小明", **cells: str) -> dict[str, str]:
        base = {
            "航班号": "CZ312", "订座记录": "", "姓名": name, "性别": "男",
            "出生日期": "1985-06-15", "国籍": "CHN", "证件类型": "护照", "证件号码": number,
            "联系电话": "13900001111", "出发地": "伦敦",
        }
        return base | cells

    rows = [
        row("E10000001", name="𠮷田 一郎"),  # row 2
        row("E10000002", 出生日期="31/02/1985"),  # 3: no such date
        row("E10000003", 联系电话="12345"),  # 4
        row(""),  # 5: no document number
        row("E10000005", name="王\x07小明"),  # 6: a control character
        row("110101198506150010", 证件类型="身份证"),  # 7: wrong check digit (9)
        row("E10000007", 订座记录="FAM001"),  # 8: a family of three...
        row("E10000008", name="\u202eabc", 订座记录="FAM001"),  # 9: ...one with a bidi override
        row("E10000009", 订座记录="FAM001"),  # 10
        row("e 1000 0001"),  # 11: row 2's document again
    ]
    path = write_csv(tmp_path / "海关申报.csv", rows, encoding="gb18030")
    summary = import_arrivals(app, read_arrivals(path), line.entry_point)

    found = {(r.row, r.column, r.field) for r in summary.rejected}
    assert found == {
        (3, "出生日期", "birth_date"),
        (4, "联系电话", "phone"),
        (5, "证件号码", "doc_number"),
        (6, "姓名", "name_native"),
        (7, "证件号码", "doc_number"),
        (9, "姓名", "name_native"),
        (11, "证件号码", "doc_number"),
    }
    reasons = {r.row: r.reason for r in summary.rejected}
    assert "YYYY-MM-DD" in reasons[3]
    assert "country code" in reasons[4]
    assert "control" in reasons[6]
    assert "check the birth date and last digit" in reasons[7]
    assert reasons[11] == "this document is already on row 2 of this file"
    # The good members of the family travel as one party without the rejected one.
    assert (summary.rows, summary.registered, summary.parties) == (10, 3, 2)
    assert summary.rejected_rows == 7
    family = [journey_of(app, "passport", "CHN", n) for n in ("E10000007", "E10000009")]
    assert family[0].party_id == family[1].party_id != family[0].id
    first = journey_of(app, "passport", "CHN", "E10000001")
    assert app.personal_details(first)["name_native"] == "𠮷田 一郎"

    report = tmp_path / "rejected.csv"
    write_rejected(report, summary.rejected)
    text = report.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "row,column,field,reason"
    for value in ("12345", "E1000000", "110101", "王", "abc", "31/02"):
        assert value not in text

    # The corrected row, imported with the whole file again, is registered (on its own).
    rows[7] = row("E10000008", 订座记录="FAM001")
    fixed = import_arrivals(app, read_arrivals(write_csv(path, rows)), line.entry_point)
    assert (fixed.registered, fixed.parties, fixed.already_registered) == (1, 1, 3)
    assert {r.row for r in fixed.rejected} == {3, 4, 5, 6, 7, 11}
    assert len(registered(app)) == 4


def test_a_changed_list_registers_nobody_twice(services: Services, tmp_path: Path) -> None:
    app = services.app
    line = seed_line(app)
    rows, _ = manifest_rows(40, seed=11)
    import_arrivals(app, read_arrivals(write_csv(tmp_path / "a.csv", rows)), line.entry_point)
    journeys = {e.originator_id for e in registered(app)}
    # Another export of the same flight: other order, other phones, no booking references.
    changed = [r | {"Phone": f"+86 138 {i:08d}", "Booking Ref": ""} for i, r in
               enumerate(reversed(rows))]
    summary = import_arrivals(
        app, read_arrivals(write_csv(tmp_path / "b.csv", changed)), line.entry_point
    )
    assert (summary.registered, summary.already_registered) == (0, 40)
    assert {e.originator_id for e in registered(app)} == journeys


def test_a_listed_traveller_who_registers_lands_on_the_same_journey(
    services: Services, tmp_path: Path
) -> None:
    app = services.app
    line = seed_line(app)
    rows, _ = manifest_rows(3, seed=5)
    import_arrivals(app, read_arrivals(write_csv(tmp_path / "m.csv", rows)), line.entry_point)
    listed = rows[1]
    journey = journey_of_row(app, listed)
    assert (journey.source, journey.confirmed_by_traveller) == ("manifest", False)

    typed = TravellerDetails(
        doc_type="passport", doc_country=listed["Nationality"], doc_number=listed["Passport No"],
        name_native="吉田花子", birth_date=parse_date(listed["Date of Birth"]),
        phone="+86 138 0013 8000",
    )
    answer = app.register_travellers(
        line.entry_point, [typed.as_person()], ctx(actor="traveller", role="traveller")
    )
    assert answer["journey_ids"] == [str(journey.id)]
    assert answer["pre_registered"] is True
    assert app.journey(journey.id).confirmed_by_traveller is True
    assert len(registered(app)) == 3


def test_an_unknown_entry_point_stops_the_import(services: Services, tmp_path: Path) -> None:
    arrivals = read_arrivals(write_csv(tmp_path / "m.csv", manifest_rows(3)[0]))
    with pytest.raises(NotFound, match="entry point"):
        import_arrivals(services.app, arrivals, "NO-SUCH-PLACE")
    assert registered(services.app) == []


# -- reading only ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1980-01-02", date(1980, 1, 2)),
        ("02/01/1980", date(1980, 1, 2)),
        ("19800102", date(1980, 1, 2)),
        ("02JAN80", date(1980, 1, 2)),
        ("2 jan 1980", date(1980, 1, 2)),
        ("01DEC05", date(2005, 12, 1)),
        ("1980/1/2", date(1980, 1, 2)),
        ("1980年1月2日", date(1980, 1, 2)),
        ("1980-01-02 00:00:00", date(1980, 1, 2)),
        ("30/02/1980", None),
        ("02XYZ80", None),
        ("yesterday", None),
    ],
)
def test_birth_dates_in_export_formats(cell: str, expected: date | None) -> None:
    assert parse_date(cell) == expected


def test_headers_are_recognised_in_either_language_and_can_be_named(tmp_path: Path) -> None:
    rows = [{
        "PASSPORT NO.": "G12345678", "Family Name": "LI", "First Name": "LEI",
        "DOB": "01JAN80", "Mobile": "+852 9123 4567", "Nationality": "China",
        "Gender": "F", "PNR": "X1", "Departure Airport": "DXB", "证件类型": "港澳通行证",
        "Contact": "+86 139 0000 2222",
    }]
    path = write_csv(tmp_path / "m.csv", rows)
    [[traveller]] = read_arrivals(path).parties
    d = traveller.details
    assert (d.doc_type, d.doc_country, d.doc_number, d.nationality) == (
        "hk_macao_permit", "CHN", "G12345678", "CHN")
    assert (d.name_latin, d.name_native, d.sex) == ("LI LEI", "LI LEI", "female")
    assert d.came_from == "DXB"
    assert (d.birth_date, d.phone) == (date(1980, 1, 1), "+85291234567")

    [[named]] = read_arrivals(path, {"phone": "contact"}).parties
    assert named.details.phone == "+8613900002222"
    with pytest.raises(ArrivalsFileError, match="no column 'Fax'"):
        read_arrivals(path, {"phone": "Fax"})
    with pytest.raises(ArrivalsFileError, match="unknown field 'fax'"):
        read_arrivals(path, {"fax": "Contact"})


def test_a_file_without_a_needed_column_is_refused_whole(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "m.csv", [{"Name": "Li Lei", "DOB": "1980-01-01", "Tel": "1"}])
    with pytest.raises(ArrivalsFileError, match="--column doc_number=HEADER"):
        read_arrivals(path)
    with pytest.raises(ArrivalsFileError, match="cannot read"):
        read_arrivals(tmp_path / "missing.csv")


def test_the_guide_lists_every_header_and_its_example_imports_as_it_says(tmp_path: Path) -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for name, aliases in ALIASES.items():
        [line] = [x for x in guide.splitlines() if x.startswith(f"| `{name}`")]
        assert line.split("|")[2].strip() == ", ".join(aliases)
    example = guide.split("```csv\n", 1)[1].split("```", 1)[0]
    (tmp_path / "CZ312-manifest.csv").write_text(example, encoding="utf-8")
    arrivals = read_arrivals(tmp_path / "CZ312-manifest.csv")
    assert arrivals.rejected == []
    assert [[t.row for t in party] for party in arrivals.parties] == [[2, 3], [4], [5], [6]]
    li = arrivals.parties[-1][0].details
    assert (li.doc_type, li.doc_country, li.nationality) == ("prc_id", "CHN", "CHN")
