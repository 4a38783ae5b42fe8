"""QR posters: one per entry point, whose code opens the traveller's registration form.

The same bilingual text (zh-CN and English) goes into an SVG poster (for screens, signage
printers and further editing) and an A4 PDF (for office printers, with the CJK font embedded).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from tracking.qr import qr_svg

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("tracking.printing", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# WeasyPrint shares fontconfig/Pango state between documents; one render at a time is safe,
# and renders are CPU-bound under the GIL anyway.
RENDER_LOCK = threading.Lock()

# SVG text does not wrap: long names and addresses are set smaller to fit the A4 width (mm).
_SVG_TEXT_WIDTH_MM = 180.0


@dataclass(frozen=True)
class Step:
    number: int
    zh: str
    en: str


STEPS = (
    Step(1, "用手机扫描二维码", "Scan the code with your phone"),
    Step(
        2,
        "填写一次信息（含同行家人）",
        "Fill in the form once, with the family travelling with you",
    ),
    Step(
        3,
        "保存您的个人二维码，在每个交接点出示",
        "Keep your personal code and show it at every handoff",
    ),
)
TITLE_ZH = "入境人员信息登记"
TITLE_EN = "Arrival registration"


def registration_url(base: str, code: str) -> str:
    """The address of the registration form at entry point `code` (what the poster QR holds)."""
    return f"{base.rstrip('/')}/r/{quote(code, safe='')}"


def registration_lines(entry_points: Iterable[tuple[str, str]], base: str) -> list[str]:
    """Start-up lines of `tracking serve`: where each entry point's form is reached."""
    return [
        f"Registration form for {code} ({name}): {registration_url(base, code)}"
        for code, name in entry_points
    ]


def _em_width(text: str) -> float:
    """Rough advance width in em: wide (CJK) characters are 1 em, others about 0.6 em."""
    return sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in text)


def _fit(text: str, size: float, width: float = _SVG_TEXT_WIDTH_MM) -> float:
    needed = _em_width(text) * size
    return size if needed <= width else round(width / _em_width(text), 2)


def _qr(url: str) -> str:
    return qr_svg(url, title=f"{TITLE_ZH} {TITLE_EN}: {url}")


def _context(code: str, name: str, url: str, qr: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "url": url,
        "title_zh": TITLE_ZH,
        "title_en": TITLE_EN,
        "steps": STEPS,
        # qr_svg escapes its only text (the title); the rest is path data.
        "qr": Markup(qr),  # noqa: S704
    }


def poster_svg(code: str, name: str, url: str) -> str:
    """A standalone A4 SVG poster (210 by 297 mm)."""
    qr = _qr(url).replace("<svg ", '<svg x="45" y="78" width="120" height="120" ', 1)
    return _templates.get_template("poster.svg").render(
        _context(code, name, url, qr),
        name_size=_fit(name, 8.0),
        url_size=_fit(url, 5.0),
    )


def poster_html(code: str, name: str, url: str) -> str:
    """The A4 poster as an HTML page, the source of the PDF."""
    return _templates.get_template("poster.html").render(_context(code, name, url, _qr(url)))


def poster_pdf(code: str, name: str, url: str) -> bytes:
    """The A4 poster as PDF, with the subset of Noto Sans CJK SC it uses embedded."""
    import weasyprint  # type: ignore[import-untyped]  # slow to import; only PDFs need it

    html = poster_html(code, name, url)
    with RENDER_LOCK:
        pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
