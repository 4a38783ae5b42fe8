"""Fixtures for tests that run on real databases: every test body runs on SQLite and PostgreSQL.

`store_settings` (function scope) is the one to use: a `Settings` for an empty store of its
own, parametrized over both backends (test ids `[sqlite]` and `[postgres]`):

* sqlite   - a fresh database file (and data dir, with its secret) under the test's tmp_path;
* postgres - a new database `t_<random>` created on 127.0.0.1:5432 through the `postgres`
             database and dropped (WITH FORCE) after the test.

`module_store_settings` is the same with one store shared by a module's tests, for data that
is expensive to seed; tests sharing it must not depend on each other's writes.

PostgreSQL unreachable: the test is skipped, unless TRACKING_REQUIRE_POSTGRES=1 (as on CI),
where it fails. The PostgreSQL cases carry the `postgres` marker (`-m "not postgres"`).
Nothing here creates the store's tables: tests migrate (or write events) themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.databases import POSTGRES_MARKED, fresh_settings
from tracking.services import Services, migrate, open_services
from tracking.settings import Settings

_PARAMS = POSTGRES_MARKED


@pytest.fixture(params=_PARAMS)
def store_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    with fresh_settings(str(request.param), tmp_path_factory.mktemp("store")) as settings:
        yield settings


@pytest.fixture(scope="module", params=_PARAMS)
def module_store_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    with fresh_settings(str(request.param), tmp_path_factory.mktemp("store")) as settings:
        yield settings


@pytest.fixture
def services(store_settings: Settings) -> Iterator[Services]:
    """Migrated services on `store_settings`, closed after the test."""
    migrate(store_settings)
    services = open_services(store_settings)
    yield services
    services.close()
