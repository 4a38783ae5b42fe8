"""Wiring: one place that builds the application and its side tables from settings."""

from __future__ import annotations

from dataclasses import dataclass

from tracking.accounts import Accounts
from tracking.app_base import QuarantinePlan
from tracking.application import TrackingApp
from tracking.codes import PersonalCodes
from tracking.group_commit import GroupCommitter
from tracking.persistence import store_env
from tracking.settings import Settings
from tracking.sidestore import SideStore
from tracking.vault import PersonalDataVault


@dataclass
class Services:
    settings: Settings
    app: TrackingApp
    store: SideStore
    vault: PersonalDataVault
    accounts: Accounts
    codes: PersonalCodes

    def close(self) -> None:
        if isinstance(self.app.saver, GroupCommitter):
            self.app.saver.close()
        self.app.close()
        self.store.close()


def open_services(settings: Settings, *, create_tables: bool = False) -> Services:
    """Build the services. Tables are created by `migrate` once, not by every worker: several
    processes starting at once with CREATE_TABLE=y fail on PostgreSQL."""
    store = SideStore(settings)
    vault = PersonalDataVault(store)
    app = TrackingApp(store_env(settings, create_tables=create_tables), settings.secret, vault)
    if settings.group_commit:
        app.saver = GroupCommitter(app)
    app.quarantine_plan = QuarantinePlan(
        length_days=settings.quarantine_days,
        test_days=settings.quarantine_test_days,
        legal_basis=settings.quarantine_legal_basis or QuarantinePlan.legal_basis,
    )
    codes = PersonalCodes(store, vault)
    accounts = Accounts(app, store, settings.secret)
    return Services(settings, app, store, vault, accounts, codes)


def migrate(settings: Settings) -> None:
    """Create the event store's and our own tables (idempotent)."""
    services = open_services(settings, create_tables=True)
    try:
        services.vault.create_table()
        services.codes.create_table()
        services.accounts.create_table()
    finally:
        services.close()
