"""schemathesis against the public registration endpoints of a real server: whatever it sends,
0 server errors and every answer matches the published schema (status, type and body)."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from domain.staff import Role
from tests.e2e.client import Api
from tests.e2e.conftest import Live

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def registration_api(live: Live) -> Any:
    admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
    admin.post(
        "/api/entry-points", {"code": f"EP-{uuid4().hex[:6].upper()}", "name": "fuzz"},
        expect=201,
    )
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    return schema.include(tag="registration").exclude(path_regex=r"arrivals\.csv$")


def test_registration_endpoints_hold_their_contract(registration_api: Any) -> None:
    # schemathesis' own pytest plugin does not run under pytest 9; drive hypothesis directly.
    operations = [result.ok() for result in registration_api.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/registrations", "/api/registrations/lookup", "/api/travellers/{code}",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def call(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        call()
