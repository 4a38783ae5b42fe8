"""Suite-wide rule: on CI (TRACKING_REQUIRE_POSTGRES=1) a skipped PostgreSQL test fails the run."""

from __future__ import annotations

import os

import pytest

_skipped_postgres: list[str] = []


def _is_postgres(item: pytest.Item) -> bool:
    return item.get_closest_marker("postgres") is not None or "[postgres" in item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and _is_postgres(item):
        _skipped_postgres.append(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("TRACKING_REQUIRE_POSTGRES") == "1" and _skipped_postgres:
        print(f"\nPostgreSQL tests were skipped but are required: {_skipped_postgres}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
