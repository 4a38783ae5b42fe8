"""The browser harness itself: a phone that is a phone, a page that needs no internet, Chinese
that is drawn in a Chinese font, and a missing browser that fails the run instead of skipping."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Request, Route

from tests.browser.conftest import INSTALL_HINT, ROOT, LaunchBrowser, Phone
from tests.e2e.conftest import Live

CHINESE = "入境人员"  # "inbound travellers"

# One canvas per character; the alpha channel is the glyph's ink. Tofu (the missing-glyph box)
# is the same picture for every character, so distinct characters must give distinct pictures.
_GLYPH_BITMAPS = """(chars) => chars.map((ch) => {
  const canvas = document.createElement("canvas");
  canvas.width = 48;
  canvas.height = 48;
  const g = canvas.getContext("2d");
  g.font = "40px sans-serif";
  g.textBaseline = "top";
  g.fillText(ch, 4, 4);
  const alpha = g.getImageData(0, 0, 48, 48).data;
  let ink = 0, bits = "";
  for (let i = 3; i < alpha.length; i += 4) {
    if (alpha[i] > 0) ink++;
    bits += alpha[i] > 127 ? "1" : "0";
  }
  return {ink, bits};
})"""


def cjk_rendering_problems(page: Page, text: str = CHINESE) -> list[str]:
    """What is wrong with how `page` draws `text` in its default sans-serif; [] if nothing."""
    page.set_content(
        '<html lang="zh-CN"><meta name="viewport" content="width=device-width">'
        f'<body style="font-family: sans-serif"><p id="cjk" style="font-size: 32px">{text}</p>'
        "</body></html>"
    )
    problems = []
    # document.fonts.check() cannot tell: it answers true for any font that is not a web font,
    # installed or not. Chromium's own record of the fonts it drew the text with can.
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#cjk"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    families = {font["familyName"] for font in fonts}
    if not families or not all("CJK" in family for family in families):
        problems.append(f"drawn with {sorted(families)}, not a CJK font")
    glyphs = page.evaluate(_GLYPH_BITMAPS, list(text))
    if any(glyph["ink"] == 0 for glyph in glyphs):
        problems.append("a character left no ink")
    if len({glyph["bits"] for glyph in glyphs}) != len(set(text)):
        problems.append("different characters look the same (tofu)")
    return problems


def test_a_phone_is_a_phone(phone: Phone) -> None:
    page = phone(locale="zh-CN")
    # Without this a mobile browser lays pages out 980 px wide, as it should; our pages have it.
    page.set_content('<meta name="viewport" content="width=device-width, initial-scale=1">')
    seen = page.evaluate(
        """() => ({
            width: window.innerWidth,
            height: window.innerHeight,
            ratio: window.devicePixelRatio,
            touch: navigator.maxTouchPoints > 0 && matchMedia("(pointer: coarse)").matches,
            language: navigator.language,
        })"""
    )
    assert seen == {
        "width": 390,
        "height": 844,
        "ratio": 2,
        "touch": True,
        "language": "zh-CN",
    }


# /docs does not touch the event store: one backend is enough, and a server start costs seconds.
@pytest.mark.parametrize("live", ["sqlite"], indirect=True)
def test_swagger_ui_renders_from_the_server_alone_on_a_phone(
    live_server: Live, phone: Phone, artifacts: Path
) -> None:
    page = phone(locale="zh-CN")
    requests: list[Request] = []
    page.context.on("request", lambda request: requests.append(request))

    def local_only(route: Route) -> None:
        # Recorded above before this runs; aborting keeps a failing run off the internet too.
        if _is_local(route.request.url):
            route.continue_()
        else:
            route.abort()

    page.context.route("**/*", local_only)
    page.goto(f"{live_server.url}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    page.locator(".swagger-ui .opblock").first.wait_for()
    # Late requests (validator badge, fonts, source maps) would come after the first render.
    page.wait_for_load_state("networkidle")

    schema = httpx.get(f"{live_server.url}/openapi.json").json()
    operations = sum(
        method in ("get", "put", "post", "delete", "patch", "head", "options")
        for path in schema["paths"].values()
        for method in path
    )
    assert schema["info"]["title"] in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".swagger-ui .opblock").count() == operations
    assert page.locator(".swagger-ui .errors-wrapper").count() == 0

    offsite = [r.url for r in requests if not _is_local(r.url)]
    assert offsite == []
    assert any(urlsplit(r.url).path.endswith("swagger-ui-bundle.js") for r in requests)
    docs = next(r for r in requests if urlsplit(r.url).path == "/docs")
    assert docs.all_headers().get("accept-language", "").startswith("zh-CN")

    screenshot = artifacts / "docs-phone.png"
    page.screenshot(path=screenshot, full_page=True)
    assert _png_size(screenshot)[0] == 390 * 2  # the phone's width at its pixel ratio


def test_chinese_text_renders_with_a_cjk_font(phone: Phone, artifacts: Path) -> None:
    page = phone(locale="zh-CN")
    problems = cjk_rendering_problems(page)
    page.screenshot(path=artifacts / "chinese.png", full_page=True)
    assert problems == [], f"Chinese text is not drawn properly: install {INSTALL_HINT}"


def test_the_cjk_check_fails_without_cjk_fonts(
    launch_browser: LaunchBrowser, phone: Phone, tmp_path: Path
) -> None:
    # The same check in a browser that sees every installed font except the CJK ones: a
    # machine without fonts-noto-cjk. Both halves of the check must notice.
    latin_only = _fontconfig_without_cjk(tmp_path)
    browser = launch_browser(env={"FONTCONFIG_FILE": str(latin_only)})
    problems = cjk_rendering_problems(phone(browser=browser))
    assert any("not a CJK font" in p for p in problems), problems
    assert any("no ink" in p or "tofu" in p for p in problems), problems


def test_without_chromium_the_browser_tests_fail_naming_the_install_command(
    tmp_path: Path,
) -> None:
    test = f"{Path(__file__).relative_to(ROOT)}::test_chinese_text_renders_with_a_cjk_font"
    run = subprocess.run(
        # Plugins this run does not use cost seconds of start-up on these machines.
        [sys.executable, "-m", "pytest", "-q", test, *_NO_PLUGINS],
        cwd=ROOT,
        env={
            **os.environ,
            "TRACKING_CHROMIUM": str(tmp_path / "no-chromium-here"),
            "TEST_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert INSTALL_HINT in run.stdout
    assert "1 error" in run.stdout
    assert "skipped" not in run.stdout


_NO_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True  # never touches the network
    return parts.hostname == "127.0.0.1"


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _fontconfig_without_cjk(directory: Path) -> Path:
    fonts = directory / "fonts"
    fonts.mkdir()
    every = _font_files(":")
    chinese = _font_files(":lang=zh")
    for number, file in enumerate(sorted(every - chinese)):
        (fonts / f"{number}-{Path(file).name}").symlink_to(file)
    config = directory / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{fonts}</dir>\n  <cachedir>{directory / 'cache'}</cachedir>\n</fontconfig>\n"
    )
    return config


def _font_files(pattern: str) -> set[str]:
    listed = subprocess.run(
        ["fc-list", pattern, "file"], capture_output=True, text=True, check=True
    ).stdout
    return {line.rstrip().rstrip(":") for line in listed.splitlines() if line.strip()}
