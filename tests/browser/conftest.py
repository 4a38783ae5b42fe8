"""Real-browser harness: Playwright for Python driving Debian's Chromium (DESIGN.md §8).

Fixtures:
    playwright      the sync Playwright driver, started once for tests/browser
    browser         headless Chromium with the project's arguments, launched once likewise
    launch_browser  launch_browser(extra_args=[...], env=None): one more Chromium for one test
                    (the scanner's fake camera needs arguments the shared browser lacks)
    phone           phone(locale="zh-CN", browser=None, **context_options) -> Page on a new
                    phone-sized context; a failed test leaves screenshots of its phone pages
    artifacts       test-artifacts/<test name>/ (or $TEST_ARTIFACTS_DIR/<test name>/), kept
    live, live_server   a real server process per backend (tests/e2e/conftest.py's `live`)

Why package scope rather than session scope: between calls the sync Playwright API leaves its
event loop registered as the main thread's running loop, so while it is alive every later
`asyncio.run()` and every pytest-asyncio test fails with "cannot be called from a running
event loop". Package scope still starts one driver and one browser for a whole run of
tests/browser, and stops them before the rest of the suite runs.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
from playwright.sync_api import Browser, Dialog, Page, Playwright, sync_playwright

from tests.e2e.conftest import Live
from tests.e2e.conftest import live as live  # re-exported: the fixture, for browser tests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Overridable only so that the harness can prove it fails (not skips) without a browser.
CHROMIUM = Path(os.environ.get("TRACKING_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
INSTALL_HINT = "apt-get install -y chromium fonts-noto-cjk"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}

# Start-up costs of this run, printed in the terminal summary.
STARTUP: dict[str, float] = {}
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the marker must be on the items before `-m` deselects by it. The hook sees the
    # whole session's items, hence the path test.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if STARTUP:
        parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in STARTUP.items())
        terminalreporter.write_line(f"browser start-up: {parts}")


def launch_chromium(
    playwright: Playwright,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Browser:
    """Headless Debian Chromium with the project's arguments plus `extra_args`."""
    _require_chromium()
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, *extra_args],
        env={**os.environ, **env} if env is not None else None,
    )


def _require_chromium() -> None:
    # A failure, never a skip: a run without the browser must not look like a green run.
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium and CJK fonts. "
            f"Install them with: {INSTALL_HINT} (`make test` does this when run as root)",
            pytrace=False,
        )


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    _require_chromium()  # before the driver's second of start-up, not after
    started = time.perf_counter()
    driver = sync_playwright().start()
    STARTUP["Playwright driver"] = time.perf_counter() - started
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    started = time.perf_counter()
    shared = launch_chromium(playwright)
    STARTUP["Chromium launch"] = time.perf_counter() - started
    try:
        yield shared
    finally:
        shared.close()


class LaunchBrowser(Protocol):
    def __call__(
        self, extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None
    ) -> Browser: ...


@pytest.fixture
def launch_browser(playwright: Playwright) -> Iterator[LaunchBrowser]:
    """A browser of the test's own, closed when the test ends (about a second each)."""
    launched: list[Browser] = []

    def launch(extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Browser:
        launched.append(launch_chromium(playwright, extra_args, env))
        return launched[-1]

    try:
        yield launch
    finally:
        for each in launched:
            each.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where a test saves screenshots; emptied when the test starts, kept after the run."""
    directory = _artifacts_dir(request)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def _artifacts_dir(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("TEST_ARTIFACTS_DIR") or ROOT / "test-artifacts").resolve()
    # Parametrised names carry brackets and ids: keep them readable but shell-friendly.
    return base / re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")


class Phone(Protocol):
    def __call__(
        self, locale: str = "zh-CN", *, browser: Browser | None = None, **context_options: Any
    ) -> Page: ...


@pytest.fixture
def phone(
    browser: Browser, launch_browser: LaunchBrowser, request: pytest.FixtureRequest
) -> Iterator[Phone]:
    """A new phone-sized context and page per call; the locale is also the Accept-Language."""
    # launch_browser is requested only for its order: set up before this fixture, its browsers
    # are closed after this fixture has closed (and on failure photographed) their pages.
    del launch_browser
    shared = browser
    pages: list[Page] = []
    # Pictures of an earlier run's failure would pass for this run's.
    for stale in _artifacts_dir(request).glob("failure-*.png"):
        stale.unlink()

    def open_phone(
        locale: str = "zh-CN", *, browser: Browser | None = None, **context_options: Any
    ) -> Page:
        context = (browser or shared).new_context(**(PHONE | {"locale": locale} | context_options))
        pages.append(context.new_page())
        return pages[-1]

    try:
        yield open_phone
    finally:
        if request.node.stash.get(_FAILED, False):
            _save_failure_screenshots(request, pages)
        for page in pages:
            page.context.close()


def _save_failure_screenshots(request: pytest.FixtureRequest, pages: list[Page]) -> None:
    directory = _artifacts_dir(request)
    directory.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(pages, 1):
        if not page.is_closed():
            try:
                page.screenshot(path=directory / f"failure-{number}.png", full_page=True)
            except Exception as e:
                # A missing screenshot must not hide the failure it was meant to show.
                print(f"no failure screenshot of page {number}: {e}")


@pytest.fixture(scope="module")
def live_server(live: Live) -> Live:
    """The running server (`.url`, `.settings`), once per backend and module."""
    return live


def watched_page(phone: Phone, viewport: dict[str, Any]) -> tuple[Page, list[str]]:
    """A staff page at `viewport` (photographed by the phone fixture if the test fails) and
    the script errors it raises, which every test expects to stay empty. Nothing on a staff
    page may ask through alert()/confirm(): a dialog fails the test."""
    page = phone("zh-CN", **viewport)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def refuse(dialog: Dialog) -> None:
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", refuse)
    return page, errors
