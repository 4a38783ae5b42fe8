"""A thin HTTP client speaking the API's vocabulary, for end-to-end tests."""

from __future__ import annotations

import time
import zlib
from typing import Any
from uuid import uuid4

import httpx

from domain.staff import Role
from tracking.services import open_services
from tracking.settings import Settings

PASSWORD = "correct horse battery staple"


def add_staff(settings: Settings, role: Role) -> str:
    username = f"{role.value}-{uuid4().hex[:6]}"
    services = open_services(settings)
    try:
        services.accounts.add(username, role, f"Test {role.value}", PASSWORD)
    finally:
        services.close()
    return username


class Api:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=15)

    @classmethod
    def signed_in(cls, base_url: str, settings: Settings, role: Role) -> Api:
        username = add_staff(settings, role)
        answer = httpx.post(
            f"{base_url}/api/auth/token", json={"username": username, "password": PASSWORD}
        )
        answer.raise_for_status()
        return cls(base_url, answer.json()["access_token"])

    def post(
        self, path: str, body: dict[str, Any], *, key: str | None = None, expect: int | None = 200
    ) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        response = self.http.post(path, json=body, headers=headers)
        if expect is not None:
            assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def get(self, path: str, *, expect: int = 200) -> Any:
        response = self.http.get(path)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json()

    def wait_for_views(self, timeout: float = 20) -> dict[str, Any]:
        """Wait until the projector has applied everything recorded so far."""
        deadline = time.monotonic() + timeout
        while True:
            health = self.get("/healthz")
            if health["projector"]["lag"] == 0:
                return health  # type: ignore[no-any-return]
            if time.monotonic() > deadline:
                raise AssertionError(f"views still lag: {health}")
            time.sleep(0.05)


def traveller(number: str, name: str = "测试 旅客", **extra: Any) -> dict[str, Any]:
    # One phone each, as in life: public registration is throttled per phone number.
    phone = f"+44791112{zlib.crc32(number.encode()) % 10_000:04d}"
    return {
        "doc_type": "passport",
        "doc_country": "GBR",
        "doc_number": number,
        "name_native": name,
        "name_latin": "TEST TRAVELLER",
        "birth_date": "1985-04-12",
        "phone": phone,
        "flight": "CZ3100",
        "came_from": "London",
        **extra,
    }


def open_entry_point(base_url: str, settings: Settings, name: str, street_name: str) -> str:
    """A new entry point (`EP-<tag>`) and a home street `ST-<tag>`, both in the views."""
    admin = Api.signed_in(base_url, settings, Role.ADMIN)
    tag = uuid4().hex[:6].upper()
    admin.post("/api/entry-points", {"code": f"EP-{tag}", "name": name}, expect=201)
    admin.post(
        "/api/sites", {"code": f"ST-{tag}", "name": street_name, "kind": "home", "capacity": 50},
        expect=201,
    )
    admin.wait_for_views()
    return f"EP-{tag}"


def street_of(entry_point: str) -> str:
    return "ST-" + entry_point.removeprefix("EP-")


def event_count(settings: Settings) -> int:
    """How many events the store holds: a refused command must not change it."""
    services = open_services(settings)
    try:
        return services.app.recorder.max_notification_id() or 0
    finally:
        services.close()
