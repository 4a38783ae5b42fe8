"""The staff poster page in real Chromium: sign in, see the previews, download a PDF whose
QR opens the registration form."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from playwright.sync_api import Browser

from domain.staff import Role
from tests.e2e.client import PASSWORD, Api, add_staff
from tests.e2e.conftest import Live
from tests.unit.test_posters import decoded_qr_codes

NAME = "荔湾区集中接待点 Liwan Reception Point"


def test_staff_page_signs_in_previews_and_downloads(
    live_server: Live, browser: Browser, tmp_path: Path
) -> None:
    admin = Api.signed_in(live_server.url, live_server.settings, Role.ADMIN)
    code = f"EP-{uuid4().hex[:6].upper()}"
    admin.post("/api/entry-points", {"code": code, "name": NAME}, expect=201)
    username = add_staff(live_server.settings, Role.DISPATCHER)
    admin.wait_for_views()
    context = browser.new_context(accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/posters")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录 / Sign in").click()
        card = page.get_by_role("article", name=NAME).filter(has_text=code)
        card.locator(".preview-image[src^='blob:']").wait_for()
        assert card.locator(".preview-image").evaluate("i => i.naturalWidth") > 0
        form = f"{live_server.url}/r/{code}"
        assert card.get_by_role("link", name=form).get_attribute("href") == form
        with page.expect_download() as download:
            card.get_by_role("button", name="下载 PDF（A4） / Download PDF (A4)").click()
        assert download.value.suggested_filename == f"poster-{code}.pdf"
        saved = tmp_path / "saved.pdf"
        download.value.save_as(saved)
        assert decoded_qr_codes(saved.read_bytes(), tmp_path) == [form]
        token = page.evaluate("sessionStorage.getItem('tracking.staff.token')")
        assert token
        assert token not in page.url
    finally:
        context.close()
