"""Who did a thing, where, and when it happened in the field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class Context:
    """Carried by every event after the first: the accountable actor and the field facts.

    `occurred_at` is the device's clock (scans can be queued offline); it is data, never
    ordering. The store's order and the event's own timestamp say when it was recorded.
    `command_id` lets the application find out whether an indeterminate commit landed.
    """

    command_id: UUID
    actor: str
    role: str
    where: str = ""
    occurred_at: datetime | None = None
