"""How our value objects are written into stored events."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Transcoding

from domain.context import Context


class ContextAsDict(Transcoding):
    type = Context
    name = "context"

    def encode(self, obj: Context) -> dict[str, Any]:
        return {
            "command_id": obj.command_id,
            "actor": obj.actor,
            "role": obj.role,
            "where": obj.where,
            "occurred_at": obj.occurred_at,
        }

    def decode(self, data: dict[str, Any]) -> Context:
        command_id = data["command_id"]
        occurred_at = data["occurred_at"]
        assert isinstance(command_id, UUID)
        assert occurred_at is None or isinstance(occurred_at, datetime)
        return Context(
            command_id=command_id,
            actor=data["actor"],
            role=data["role"],
            where=data["where"],
            occurred_at=occurred_at,
        )


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)
