"""QR codes as SVG (pages, posters) and PNG (downloads), from the `qrcode` library."""

from __future__ import annotations

import io
import re

import qrcode
import qrcode.constants
import qrcode.image.svg

# M recovers from ~15 % damage: enough for a creased phone screen or a worn poster.
_LEVEL = qrcode.constants.ERROR_CORRECT_M


def _code(data: str, box_size: int = 10) -> qrcode.QRCode:  # type: ignore[type-arg]
    code = qrcode.QRCode(error_correction=_LEVEL, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_svg(data: str, *, title: str = "") -> str:
    """An SVG element (no XML declaration) that scales to its container."""
    buffer = io.BytesIO()
    _code(data).make_image(image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    svg = buffer.getvalue().decode()
    svg = svg[svg.index("<svg") :]
    # Size comes from the page's CSS; the viewBox keeps the modules square.
    svg = re.sub(r' (width|height)="[^"]*"', "", svg, count=2)
    svg = svg.replace("<svg ", '<svg role="img" shape-rendering="crispEdges" ', 1)
    if title:
        escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        svg = svg.replace(">", f"><title>{escaped}</title>", 1)
    return svg


def qr_png(data: str, *, box_size: int = 10) -> bytes:
    buffer = io.BytesIO()
    _code(data, box_size).make_image().save(buffer, format="PNG")
    return buffer.getvalue()
