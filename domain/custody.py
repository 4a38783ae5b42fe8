"""Custodians: who is accountable for a traveller at each leg (desk → escort → receiver)."""

from __future__ import annotations

from uuid import UUID

from domain.errors import InvalidInput

HANDOFF_KINDS = ("desk", "escort", "receiver")
# Who may accept custody of each kind: the staff who will be accountable for the traveller.
ACCEPTED_BY = {"desk": "screener", "escort": "escort", "receiver": "receiver"}


def desk(entry_point: str) -> str:
    return f"desk:{entry_point}"


def escort(run_id: UUID) -> str:
    return f"escort:{run_id}"


def receiver(site_id: UUID) -> str:
    return f"receiver:{site_id}"


HOSPITAL = "hospital"


def kind_of(custodian: str) -> str:
    return custodian.split(":", 1)[0]


def validated(custodian: str) -> str:
    """A custodian a handoff can name: `desk:<entry point>`, `escort:<run>`, `receiver:<site>`."""
    kind, _, ref = custodian.strip().partition(":")
    if kind not in HANDOFF_KINDS or not ref.strip():
        raise InvalidInput(
            "custody is handed to a desk, an escort or a receiver, e.g. 'escort:<run id>'"
        )
    return f"{kind}:{ref.strip()}"
