"""Public registration is throttled per document and phone, generously per address: hundreds of
travellers share the airport's address, so one person hammering one record must not block the
family behind them."""

from __future__ import annotations

from uuid import uuid4

import httpx

from tests.e2e.client import Api, event_count, open_entry_point, traveller
from tests.e2e.conftest import Live

PER_DOCUMENT = 10


def test_one_document_is_throttled_while_the_next_family_registers(live: Live) -> None:
    entry = open_entry_point(live.url, live.settings, "白云机场 T2", "沙面街道")
    public = Api(live.url)
    hammered = traveller(f"H{uuid4().hex[:8].upper()}")
    answers = [
        public.post("/api/registrations", {"entry_point": entry, "travellers": [hammered]},
                    expect=None)
        for _ in range(PER_DOCUMENT + 2)
    ]
    throttled = [a for a in answers if a.get("detail", "").startswith("too many requests")]
    assert len(throttled) == 2
    before = event_count(live.settings)
    family = [traveller(f"F{uuid4().hex[:8].upper()}") for _ in range(3)]
    public.post("/api/registrations", {"entry_point": entry, "travellers": family}, expect=201)
    assert event_count(live.settings) > before
    # The form says so in the traveller's language, keeps what they typed and stores nothing.
    page = httpx.post(
        f"{live.url}/r/{entry}",
        data={
            "members": "0", "places": "0", "action": "submit", "t0-doc_type": "passport",
            "t0-doc_country": hammered["doc_country"], "t0-doc_number": hammered["doc_number"],
            "t0-birth_date": hammered["birth_date"], "t0-name_native": hammered["name_native"],
            "phone": hammered["phone"], "no_local_address": "on",
        },
        headers={"Accept-Language": "zh-CN"},
    )
    assert page.status_code == 429
    assert "尝试次数过多，请稍等一分钟再试" in page.text
    assert f'value="{hammered["doc_number"]}"' in page.text
