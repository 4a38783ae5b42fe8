"""Command receipts: the first answer to an Idempotency-Key, stored with the command's events."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


class CommandReceipt(Aggregate):
    class Issued(Aggregate.Created):
        key: str
        fingerprint: str
        answer: dict[str, Any]

    @staticmethod
    def create_id(key: str, fingerprint: str, answer: dict[str, Any]) -> UUID:
        return receipt_id(key)

    @event(Issued)
    def __init__(self, key: str, fingerprint: str, answer: dict[str, Any]) -> None:
        self.key = key
        self.fingerprint = fingerprint
        self.answer = answer


def receipt_id(key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/receipts/{key}")
