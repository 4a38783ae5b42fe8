"""Paper for the line: the manifest of a vehicle run and the door labels of a hotel, read back
as a printer and a phone camera would (text, embedded fonts, QR codes)."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pypdf
import pytest
import zxingcpp
from PIL import Image

from domain.errors import NotFound, RuleBroken
from domain.stages import RiskLevel
from tests.support import Line, ctx, district_today, seed_line
from tests.unit.test_posters import _font_files
from tracking.application import Person, TrackingApp
from tracking.printing.paper import door_labels, door_labels_pdf, run_manifest, run_manifest_pdf
from tracking.services import Services

# Not the default address: the codes must carry the base they were given.
BASE = "https://rk.liwan.example"
FAMILY = [
    ("E10293847", "王小明", "WANG XIAOMING"),
    ("E10293848", "王𠮷", "WANG JI"),
    ("E10293849", "李娜", "LI NA"),
]
COUPLE = [("G55501234", "Ahmed Ali", "AHMED ALI"), ("G55505678", "張美玲", "CHEUNG MEI LING")]
ALONE = ("K77702468", "陈大文", "CHAN TAI MAN")
HOME_ADDRESS = "沙面北街 23 号 501 房"
TEMPERATURE = 38.7  # a health finding: it must never reach paper


def _person(number: str, native: str, latin: str, **extra: str) -> Person:
    return Person(
        "passport",
        "CHN",
        number,
        {"name_native": native, "name_latin": latin, "phone": "+8613800138000", **extra},
    )


@dataclass
class Scene:
    app: TrackingApp
    line: Line
    run_id: UUID
    family: list[UUID]
    couple: list[UUID]
    alone: UUID


def _register(app: TrackingApp, line: Line, people: list[Person]) -> list[UUID]:
    answer = app.register_travellers(line.entry_point, people, ctx())
    ids = [UUID(j) for j in answer["journey_ids"]]
    for journey_id in ids:
        app.screen(journey_id, RiskLevel.LOW, TEMPERATURE, False, False, ctx())
    return ids


def _scene(services: Services) -> Scene:
    """A family and a couple for the hotel, a traveller going home, all seated on one run."""
    app = services.app
    line = seed_line(app, rooms=["301", "302", "303"], seats=14)
    family = _register(app, line, [_person(*p) for p in FAMILY])
    couple = _register(app, line, [_person(*p) for p in COUPLE])
    [alone] = _register(app, line, [_person(*ALONE, destination_address=HOME_ADDRESS)])
    app.assign_destination(family[0], line.hotel, ctx("dispatcher"))
    app.assign_destination(couple[0], line.hotel, ctx("dispatcher"), room="303")
    app.assign_destination(alone, line.street, ctx("dispatcher"))
    run_id = UUID(app.plan_run(line.plate, "escort-张伟", line.entry_point)["run_id"])
    for party in (family[0], alone, couple[0]):
        app.assign_seats(party, run_id, ctx("dispatcher"))
    for journey_id in family:
        app.scan_boarding(journey_id, run_id, f"scan-{uuid4()}", ctx("escort-张伟", "escort"))
    return Scene(app, line, run_id, family, couple, alone)


def _pages_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _decoded(pdf: bytes, folder: Path) -> list[str]:
    """Every QR code on every page, rasterised at 200 dpi as an office printer would."""
    source = folder / "paper.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "200", str(source), str(folder / "page")],
        check=True,
        timeout=120,
    )
    found: list[str] = []
    for page in sorted(folder.glob("page*.png")):
        with Image.open(page) as image:
            found += [b.text for b in zxingcpp.read_barcodes(image)]
    return found


def _status_url(services: Services, journey_id: UUID) -> str:
    return f"{BASE}/t/{services.codes.code_for(journey_id)}"


def test_manifest_lists_each_passenger_by_seat_with_their_personal_code(
    services: Services, tmp_path: Path
) -> None:
    scene = _scene(services)
    pdf = run_manifest_pdf(services.app, services.codes, scene.run_id, BASE)

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    width_mm, height_mm = (float(v) * 25.4 / 72 for v in reader.pages[0].mediabox[2:])
    assert (round(width_mm), round(height_mm)) == (210, 297)
    text = _pages_text(pdf)
    assert scene.line.plate in text and "escort-张伟" in text
    for number, native, latin in [*FAMILY, *COUPLE, ALONE]:
        assert native in text, native
        assert latin in text, latin
        assert number[-4:] in text, number
        # Never the whole number, nor a longer tail of it than the last four.
        assert number not in text and number[-5:] not in text, number
    assert HOME_ADDRESS in text and "Test street" in text and "Test hotel" in text
    assert "Room 301" in text and "Room 303" in text
    assert str(TEMPERATURE) not in text
    assert "escort" in text.lower() and "receiver" in text.lower()  # the signature boxes

    fonts = _font_files(pdf)
    assert any("NotoSansCJK" in name or "Noto-Sans-CJK-SC" in name for name in fonts), fonts
    assert fonts and all(fonts.values()), fonts

    expected = [_status_url(services, j) for j in [*scene.family, scene.alone, *scene.couple]]
    assert sorted(_decoded(pdf, tmp_path)) == sorted(expected)


def test_manifest_seats_parties_together_and_marks_who_boarded(services: Services) -> None:
    scene = _scene(services)
    manifest = run_manifest(services.app, services.codes, scene.run_id, BASE)

    assert manifest.plate == scene.line.plate and manifest.passenger_count == 6
    assert manifest.destinations == ["Test hotel", "Test street"]
    assert manifest.planned_at and manifest.departed_at == ""
    parties = [
        [(p.seat, p.traveller.name_native, p.boarded) for p in party.passengers]
        for party in manifest.parties
    ]
    assert parties == [
        [(1, "王小明", True), (2, "王𠮷", True), (3, "李娜", True)],
        [(4, "陈大文", False)],
        [(5, "Ahmed Ali", False), (6, "張美玲", False)],
    ]
    alone = manifest.parties[1].passengers[0].traveller
    assert (alone.destination, alone.where) == ("Test street", HOME_ADDRESS)
    assert alone.document == "护照 Passport ····2468"
    # Printing again shows the same personal codes: the ones on the travellers' phones.
    again = run_manifest(services.app, services.codes, scene.run_id, BASE)
    assert [p.traveller.status_url for party in again.parties for p in party.passengers] == [
        p.traveller.status_url for party in manifest.parties for p in party.passengers
    ]

    # After departure, the manifest says when.
    services.app.withdraw_seats(scene.alone, "stays at the desk", ctx("dispatcher"))
    services.app.withdraw_seats(scene.couple[0], "next vehicle", ctx("dispatcher"))
    services.app.depart_run(scene.run_id, ctx("escort-张伟", "escort"))
    departed = run_manifest(services.app, services.codes, scene.run_id, BASE)
    assert departed.departed_at and departed.status == "已出发 Departed"
    assert departed.passenger_count == 3


def test_door_labels_name_who_is_behind_each_held_or_occupied_door(
    services: Services, tmp_path: Path
) -> None:
    scene = _scene(services)
    app = services.app
    app.withdraw_seats(scene.alone, "stays at the desk", ctx("dispatcher"))
    app.withdraw_seats(scene.couple[0], "next vehicle", ctx("dispatcher"))
    app.depart_run(scene.run_id, ctx("escort-张伟", "escort"))
    app.arrive_run(scene.run_id, ctx("escort-张伟", "escort"))
    end = district_today() + timedelta(days=14)
    for journey_id in scene.family:
        app.scan_check_in(journey_id, scene.line.hotel, f"door-{uuid4()}", ctx("r", "receiver"))
        app.start_quarantine(journey_id, end, ctx("r", "receiver"))

    labels = door_labels(app, services.codes, scene.line.hotel, BASE)
    assert [
        (lb.room, lb.occupied, [t.name_native for t in lb.travellers]) for lb in labels.labels
    ] == [
        ("301", True, ["王小明", "王𠮷", "李娜"]),
        ("303", False, ["Ahmed Ali", "張美玲"]),
    ]
    assert all(t.planned_end == end for t in labels.labels[0].travellers)

    pdf = door_labels_pdf(app, services.codes, scene.line.hotel, BASE)
    text = _pages_text(pdf)
    for expected in ("301", "303", "Test hotel", end.isoformat()):
        assert expected in text
    for _, native, latin in [*FAMILY, *COUPLE]:
        assert native in text and latin in text
    assert "302" not in text  # a free room gets no label
    assert "陈大文" not in text  # going home, not to this hotel
    for number, _, _ in [*FAMILY, *COUPLE]:
        assert number[-4:] not in text  # a door shows no document at all
    fonts = _font_files(pdf)
    assert fonts and all(fonts.values()), fonts
    expected_urls = [_status_url(services, j) for j in [*scene.family, *scene.couple]]
    assert sorted(_decoded(pdf, tmp_path)) == sorted(expected_urls)


def test_paper_for_what_does_not_exist_or_has_no_doors(services: Services) -> None:
    line = seed_line(services.app)
    with pytest.raises(NotFound):
        run_manifest(services.app, services.codes, uuid4(), BASE)
    with pytest.raises(NotFound):
        door_labels(services.app, services.codes, "NO-SUCH-HOTEL", BASE)
    with pytest.raises(RuleBroken):
        door_labels(services.app, services.codes, line.street, BASE)
    empty = door_labels(services.app, services.codes, line.hotel, BASE)
    assert empty.labels == []
    assert "No room is held" in _pages_text(
        door_labels_pdf(services.app, services.codes, line.hotel, BASE)
    )
