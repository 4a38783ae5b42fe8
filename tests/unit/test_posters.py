"""QR posters: what a traveller reads and what a phone decodes, from the PDF and the SVG."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pypdf
import pytest
import zxingcpp
from PIL import Image

from tracking.printing.posters import (
    STEPS,
    TITLE_EN,
    TITLE_ZH,
    poster_pdf,
    poster_svg,
    registration_lines,
    registration_url,
)
from tracking.qr import qr_svg

SVG = "{http://www.w3.org/2000/svg}"
CODE = "LW-RC"
NAME = "荔湾区集中接待点 Liwan Reception Point"
# Not the default address: the code must carry the base it was given, not a built-in one.
URL = "https://rk.liwan.example/r/LW-RC"


def decoded_qr_codes(pdf: bytes, folder: Path) -> list[str]:
    """Every barcode a phone camera would find on page 1, rasterised as a printer would."""
    source = folder / "poster.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", "-singlefile", str(source),
         str(folder / "page")],
        check=True,
        timeout=60,
    )
    with Image.open(folder / "page.png") as image:
        return [b.text for b in zxingcpp.read_barcodes(image)]


def svg_as_pdf(svg: str) -> bytes:
    """An SVG poster placed on an A4 page, so that the same rasteriser can read it."""
    import weasyprint  # type: ignore[import-untyped]

    data = base64.b64encode(svg.encode()).decode()
    html = (
        "<style>@page { size: A4; margin: 0 }</style>"
        f'<img style="display: block; width: 210mm; height: 297mm" '
        f'src="data:image/svg+xml;base64,{data}">'
    )
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return poster_pdf(CODE, NAME, URL)


def test_registration_url_is_the_form_of_the_entry_point() -> None:
    assert registration_url("http://127.0.0.1:8000", "CAN-T2") == "http://127.0.0.1:8000/r/CAN-T2"
    assert registration_url("https://rk.example/", "LW-RC") == "https://rk.example/r/LW-RC"
    assert registration_lines([("CAN-T2", "白云机场 T2"), ("LW-RC", "荔湾")], "http://h:1") == [
        "Registration form for CAN-T2 (白云机场 T2): http://h:1/r/CAN-T2",
        "Registration form for LW-RC (荔湾): http://h:1/r/LW-RC",
    ]


def test_pdf_is_one_a4_page_with_the_bilingual_instructions(pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    width_mm, height_mm = (float(v) * 25.4 / 72 for v in page.mediabox[2:])
    assert (round(width_mm), round(height_mm)) == (210, 297)
    text = page.extract_text()
    for expected in (TITLE_ZH, TITLE_EN, "荔湾区集中接待点", CODE, URL):
        assert expected in text
    for step in STEPS:
        assert step.zh in text
        assert step.en in text
    assert "用手机扫描二维码" in text
    assert "保存您的个人二维码，在每个交接点出示" in text


def _font_files(pdf: bytes) -> dict[str, bool]:
    """Base font name -> whether the PDF carries the font program itself."""
    fonts: dict[str, bool] = {}
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        resources: Any = page["/Resources"]
        for reference in resources["/Font"].values():
            font = reference.get_object()
            descriptors = [font.get("/FontDescriptor")] + [
                d.get_object().get("/FontDescriptor") for d in font.get("/DescendantFonts", [])
            ]
            embedded = any(
                key in d.get_object()
                for d in descriptors
                if d is not None
                for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
            fonts[str(font["/BaseFont"])] = embedded
    return fonts


def test_pdf_embeds_the_chinese_font(pdf: bytes) -> None:
    fonts = _font_files(pdf)
    cjk = [name for name in fonts if "Noto-Sans-CJK-SC" in name or "NotoSansCJK" in name]
    assert cjk, f"no Noto Sans CJK SC font in {sorted(fonts)}"
    assert all(fonts[name] for name in cjk), fonts
    # A reader without the font installed must still see every glyph.
    assert all(fonts.values()), fonts


def test_pdf_qr_opens_the_registration_form(pdf: bytes, tmp_path: Path) -> None:
    assert decoded_qr_codes(pdf, tmp_path) == [URL]


def test_a_different_entry_point_gets_its_own_code(tmp_path: Path) -> None:
    other = "https://rk.liwan.example/r/CAN-T2"
    pdf = poster_pdf("CAN-T2", "白云机场 T2 国际到达 Baiyun Airport T2", other)
    assert decoded_qr_codes(pdf, tmp_path) == [other]


def test_svg_poster_shows_the_url_and_holds_the_qr_of_it() -> None:
    svg = poster_svg(CODE, NAME, URL)
    root = ET.fromstring(svg)  # noqa: S314  (our own output)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 210 297"
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert URL in texts
    assert TITLE_ZH in texts
    assert NAME in texts
    assert any(CODE in t for t in texts)
    for step in STEPS:
        assert step.zh in texts
        assert step.en in texts
    nested = [e for e in root.iter(f"{SVG}svg") if e is not root]
    assert len(nested) == 1
    drawn = nested[0].find(f"{SVG}path")
    assert drawn is not None
    expected = ET.fromstring(qr_svg(URL)).find(f"{SVG}path")  # noqa: S314
    assert expected is not None
    assert drawn.get("d") == expected.get("d")


def test_svg_poster_qr_decodes_when_rendered(tmp_path: Path) -> None:
    assert decoded_qr_codes(svg_as_pdf(poster_svg(CODE, NAME, URL)), tmp_path) == [URL]


def test_names_are_escaped_and_long_ones_set_smaller() -> None:
    hostile = '<script>alert("x")</script> & 很长的入境点名称' * 3
    svg = poster_svg("X-1", hostile, "http://h/r/X-1")
    root = ET.fromstring(svg)  # noqa: S314
    assert not list(root.iter(f"{SVG}script"))
    name = next(t for t in root.iter(f"{SVG}text") if "".join(t.itertext()) == hostile)
    assert float(name.get("font-size", "0")) < 8
    short = ET.fromstring(poster_svg("X-1", "短", "http://h/r/X-1"))  # noqa: S314
    assert any(t.get("font-size") == "8.0" for t in short.iter(f"{SVG}text"))


def test_pdf_html_escapes_names() -> None:
    text = pypdf.PdfReader(io.BytesIO(poster_pdf("X-1", "<b>A&B</b>", "http://h/r/X-1")))
    assert "<b>A&B</b>" in text.pages[0].extract_text()


def test_svg_has_no_xml_declaration_after_the_start() -> None:
    svg = poster_svg(CODE, NAME, URL)
    assert svg.startswith("<?xml")
    assert len(re.findall(r"<\?xml", svg)) == 1
