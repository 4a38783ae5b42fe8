"""A traveller's phone in real Chromium: fill and submit the form in Chinese and in English, see
the personal code; submit again with the same passport; register a family of three at once."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Phone
from tests.e2e.client import open_entry_point, street_of
from tests.e2e.conftest import Live
from tracking.services import open_services


@pytest.fixture(scope="module")
def entry(live_server: Live) -> str:
    return open_entry_point(live_server.url, live_server.settings, "白云机场 T2", "沙面街道")


def _fill_person(page: Page, i: int, number: str, born: str, name: str) -> None:
    page.locator(f"#t{i}-doc_number").fill(number)
    page.locator(f"#t{i}-doc_country").fill("CHN")
    page.locator(f"#t{i}-birth_date").fill(born)
    page.locator(f"#t{i}-name_native").fill(name)


def _fill_trip(page: Page, street: str) -> None:
    page.locator("#phone").fill("+86 138 0013 8000")
    page.locator("#flight").fill("CZ3100")
    page.locator("#came_from").fill("London")
    page.locator("#h0-place").fill("London, UK")
    page.locator("#destination_street").select_option(street)
    page.locator("#destination_address").fill("沙面北街 12 号")


def _fits_the_phone(page: Page) -> None:
    # Phone first: nothing may push the page sideways (a mobile browser then zooms out).
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] if page.viewport_size else False, width


def _accessible(page: Page) -> None:
    # Every control has a label a screen reader announces, every error is tied to its field,
    # and every button or link is a target a thumb can hit.
    problems = page.evaluate(
        """() => {
          const out = [];
          for (const el of document.querySelectorAll('input, select, textarea')) {
            if (el.type === 'hidden') continue;
            if (!el.labels || el.labels.length === 0) out.push('unlabelled ' + el.name);
          }
          for (const err of document.querySelectorAll('.error')) {
            const field = document.querySelector(`[aria-describedby~="${err.id}"]`);
            if (!field) out.push('error not tied to a field: ' + err.id);
          }
          for (const el of document.querySelectorAll('button, a.button, .languages a')) {
            const r = el.getBoundingClientRect();
            if (r.height < 44) out.push('small target ' + el.textContent.trim());
          }
          return out;
        }"""
    )
    assert problems == []


def _journey_of(live: Live, page: Page) -> UUID:
    code = re.search(r"/t/([\w-]+)", page.url)
    assert code is not None, page.url
    services = open_services(live.settings)
    try:
        journey_id = services.codes.resolve(code.group(1))
    finally:
        services.close()
    assert journey_id is not None
    return journey_id


def test_a_traveller_registers_in_chinese_and_again_with_the_same_passport(
    live_server: Live, entry: str, phone: Phone, artifacts: Path
) -> None:
    page = phone("zh-CN")
    page.goto(f"{live_server.url}/r/{entry}")
    expect(page.locator("h1")).to_have_text("入境人员信息登记")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    _fits_the_phone(page)
    page.screenshot(path=artifacts / "1-form-zh.png", full_page=True)
    number = f"E{uuid4().hex[:8].upper()}"
    _fill_person(page, 0, number, "1986-03-04", "王小明")
    # A mistake first: the error appears next to the field, in Chinese, and nothing is lost.
    page.locator("#phone").fill("12345")
    page.get_by_role("button", name="提交登记").click()
    expect(page.locator("#phone-error")).to_contain_text("不是有效的电话号码")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#t0-name_native")).to_have_value("王小明")
    _accessible(page)
    page.screenshot(path=artifacts / "2-error-zh.png", full_page=True)
    _fill_trip(page, street_of(entry))
    page.get_by_role("button", name="提交登记").click()
    expect(page.locator(".notice.ok")).to_have_text("登记完成。")
    expect(page.locator("figure.code svg")).to_be_visible()
    expect(page.locator(".now")).to_contain_text("白云机场 T2")
    _fits_the_phone(page)
    page.screenshot(path=artifacts / "3-code-zh.png", full_page=True)
    first = _journey_of(live_server, page)

    again = phone("zh-CN")
    again.goto(f"{live_server.url}/r/{entry}")
    _fill_person(again, 0, number, "1986-03-04", "王小明")
    _fill_trip(again, street_of(entry))
    again.get_by_role("button", name="提交登记").click()
    expect(again.locator(".notice.ok")).to_have_text("您已登记过，修改已保存。")
    again.screenshot(path=artifacts / "4-already-registered-zh.png", full_page=True)
    assert _journey_of(live_server, again) == first
    assert again.url.split("?")[0] == page.url.split("?")[0]  # the same personal code


def test_an_english_speaker_switches_language_and_registers_a_family_of_three(
    live_server: Live, entry: str, phone: Phone, artifacts: Path
) -> None:
    page = phone("zh-CN")
    page.goto(f"{live_server.url}/r/{entry}")
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Arrival registration")
    tag = uuid4().hex[:6].upper()
    _fill_person(page, 0, f"F{tag}1", "1980-01-02", "Amelia Hart")
    page.get_by_role("button", name="Add a family member travelling with you").click()
    page.get_by_role("button", name="Add a family member travelling with you").click()
    # What was typed before the page was redrawn is still there.
    expect(page.locator("#t0-doc_number")).to_have_value(f"F{tag}1")
    _fill_person(page, 1, f"F{tag}2", "2012-05-06", "Oliver Hart")
    _fill_person(page, 2, f"F{tag}3", "2016-07-08", "Ha𠮷 Hart")
    _fill_trip(page, street_of(entry))
    _fits_the_phone(page)
    _accessible(page)
    page.screenshot(path=artifacts / "1-family-form-en.png", full_page=True)
    page.get_by_role("button", name="Register").click()
    expect(page.locator(".notice.ok")).to_have_text("Registration complete.")
    expect(page.locator(".family a")).to_have_text(["Oliver Hart", "Ha𠮷 Hart"])
    page.screenshot(path=artifacts / "2-family-code-en.png", full_page=True)
    lead = _journey_of(live_server, page)
    page.locator(".family a").first.click()
    expect(page.locator(".who")).to_have_text("Oliver Hart")
    child = _journey_of(live_server, page)
    services = open_services(live_server.settings)
    try:
        parties = {services.app.journey(j).party_id for j in (lead, child)}
    finally:
        services.close()
    assert len(parties) == 1 and lead != child
