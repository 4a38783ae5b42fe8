"""Reference data the line runs through: entry points (airport, reception points)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput


class EntryPoint(Aggregate):
    class Registered(Aggregate.Created):
        code: str
        name: str

    @staticmethod
    def create_id(code: str, name: str) -> UUID:
        return entry_point_id(code)

    @event(Registered)
    def __init__(self, code: str, name: str) -> None:
        self.code = code
        self.name = name

    @classmethod
    def register(cls, code: str, name: str) -> EntryPoint:
        code = code.strip()
        if not code or not code.replace("-", "").isalnum() or not code.isascii():
            raise InvalidInput("an entry point code is letters, digits and dashes")
        if not name.strip():
            raise InvalidInput("an entry point needs a name")
        return cls(code=code, name=name.strip())


def entry_point_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/entry-points/{code.strip()}")
