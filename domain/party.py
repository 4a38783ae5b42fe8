"""A travel party (a family) registered in one submission and moved as one.

A traveller alone is a party of one whose party id is the journey id; no aggregate is stored
for it.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput

MAX_PARTY_SIZE = 12


class TravelParty(Aggregate):
    class Formed(Aggregate.Created):
        members: list[UUID]

    @event(Formed)
    def __init__(self, members: list[UUID]) -> None:
        self.members = members

    @classmethod
    def form(cls, members: list[UUID]) -> TravelParty:
        if not 2 <= len(members) <= MAX_PARTY_SIZE or len(set(members)) != len(members):
            raise InvalidInput(
                f"a travel party has between 2 and {MAX_PARTY_SIZE} distinct members"
            )
        return cls(members=members)
