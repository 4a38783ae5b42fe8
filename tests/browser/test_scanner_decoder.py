"""The vendored decoder (npm barcode-detector + zxing_reader.wasm, served by us) reads the
seven test frames a phone camera produces at a car door — clean, inverted (a dark-mode code
page), blurred, tilted, low contrast, tiny, and photographed at an angle with sensor noise —
inside the scanner page, under its own Content-Security-Policy, with no network beyond it."""

from __future__ import annotations

import base64
import io
import random
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageFilter, ImageOps
from playwright.sync_api import Page, Route

from tests.browser.conftest import Phone
from tests.e2e.conftest import Live, live_server_on
from tracking.qr import qr_png

CODE_URL = f"https://arrivals.example.gov.cn/t/{secrets.token_urlsafe(32)}"

_DECODE = """async (frames) => {
  const api = window.BarcodeDetectionAPI;
  const wasm = "/static/vendor/barcode-detector/zxing_reader.wasm";
  await api.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasm : prefix + path) },
    fireImmediately: true,
  });
  const detector = new api.BarcodeDetector({ formats: ["qr_code"] });
  const read = {};
  for (const [name, src] of Object.entries(frames)) {
    const img = new Image();
    img.src = src;
    await img.decode();
    const found = await detector.detect(img);
    read[name] = found.map((b) => b.rawValue);
  }
  return read;
}"""


def _camera(qr: Image.Image) -> Image.Image:
    """The code on white paper in a 640x480 frame, as the fake camera delivers it."""
    frame = Image.new("L", (640, 480), 255)
    qr = qr.convert("L")
    frame.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    return frame


def _noisy(image: Image.Image, amount: int) -> Image.Image:
    rng = random.Random(7)  # the same frame every run: a test must not pass by luck
    noisy = [max(0, min(255, int(v) + rng.randint(-amount, amount))) for v in image.tobytes()]
    image.putdata(noisy)
    return image


def _frames() -> dict[str, Callable[[], Image.Image]]:
    base = Image.open(io.BytesIO(qr_png(CODE_URL, box_size=6))).convert("L")
    small = Image.open(io.BytesIO(qr_png(CODE_URL, box_size=2))).convert("L")

    def angled() -> Image.Image:
        frame = _camera(base)
        # Corners of the source quad (clockwise from top-left): a phone held at an angle.
        quad = (40, 10, 10, 470, 630, 440, 600, 40)
        return _noisy(frame.transform((640, 480), Image.Transform.QUAD, quad,
                                      Image.Resampling.BILINEAR, fillcolor=255), 40)

    return {
        "clean": lambda: _camera(base),
        "inverted": lambda: ImageOps.invert(_camera(base)),
        "blurred": lambda: _camera(base).filter(ImageFilter.GaussianBlur(2.2)),
        "tilted": lambda: _camera(base).rotate(23, expand=False, fillcolor=255),
        "low_contrast": lambda: _camera(base).point(lambda v: 105 if v < 128 else 165),
        "tiny": lambda: _camera(small),
        "angled_noisy": angled,
    }


def _data_url(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Decoding does not touch the store: one backend is enough."""
    with live_server_on("sqlite", tmp_path_factory.mktemp("decoder")) as server:
        yield server


def test_the_vendored_decoder_reads_all_seven_frames_offline(
    sqlite_server: Live, phone: Phone, artifacts: Path
) -> None:
    frames = {name: make() for name, make in _frames().items()}
    artifacts.mkdir(parents=True, exist_ok=True)
    for name, image in frames.items():
        image.save(artifacts / f"{name}.png")
    page: Page = phone()
    elsewhere: list[str] = []

    def only_this_server(route: Route) -> None:
        if route.request.url.startswith(sqlite_server.url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(f"{sqlite_server.url}/scan")
    read = page.evaluate(_DECODE, {name: _data_url(img) for name, img in frames.items()})
    assert read == {name: [CODE_URL] for name in frames}, read
    assert elsewhere == []


def test_a_frame_without_a_code_reads_nothing(sqlite_server: Live, phone: Phone) -> None:
    page: Page = phone()
    page.goto(f"{sqlite_server.url}/scan")
    blank = _noisy(Image.new("L", (640, 480), 200), 40)
    assert page.evaluate(_DECODE, {"blank": _data_url(blank)}) == {"blank": []}
