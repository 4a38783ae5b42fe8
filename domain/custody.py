"""Custodians: who is accountable for a traveller at each leg (desk → escort → receiver)."""

from __future__ import annotations

from uuid import UUID


def desk(entry_point: str) -> str:
    return f"desk:{entry_point}"


def escort(run_id: UUID) -> str:
    return f"escort:{run_id}"


def receiver(site_id: UUID) -> str:
    return f"receiver:{site_id}"


HOSPITAL = "hospital"


def kind_of(custodian: str) -> str:
    return custodian.split(":", 1)[0]
