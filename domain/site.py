"""Where a journey ends: a quarantine hotel with rooms, or a street community receiving homes.

A room (or a street's home-quarantine place) is held by at most one travel party at a time:
families share a room, strangers never do.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import CapacityExhausted, InvalidInput, RuleBroken
from domain.stages import DestinationKind

FREE, HELD, OCCUPIED = "free", "held", "occupied"


class Site(Aggregate):
    class Registered(Aggregate.Created):
        code: str
        name: str
        kind: str
        rooms: list[str]
        capacity: int

    class RoomHeld(Aggregate.Event):
        room: str
        party_id: UUID

    class RoomOccupied(Aggregate.Event):
        room: str
        party_id: UUID

    class RoomReleased(Aggregate.Event):
        room: str
        party_id: UUID
        reason: str

    @staticmethod
    def create_id(code: str, name: str, kind: str, rooms: list[str], capacity: int) -> UUID:
        return site_id(code)

    @event(Registered)
    def __init__(self, code: str, name: str, kind: str, rooms: list[str], capacity: int) -> None:
        self.code = code
        self.name = name
        self.kind = DestinationKind(kind)
        self.capacity = capacity
        # A street has no room numbers: its places are numbered "1".."capacity" internally.
        self.rooms: dict[str, str] = dict.fromkeys(rooms, FREE)
        self.holder: dict[str, UUID] = {}
        self.room_of: dict[UUID, str] = {}

    @classmethod
    def register(
        cls, code: str, name: str, kind: DestinationKind, rooms: list[str], capacity: int = 0
    ) -> Site:
        code = code.strip()
        if not code or not name.strip():
            raise InvalidInput("a site needs a code and a name")
        if kind is DestinationKind.HOTEL:
            if not rooms or len(set(rooms)) != len(rooms):
                raise InvalidInput("a hotel needs a list of distinct room numbers")
            capacity = len(rooms)
        else:
            if rooms or capacity < 1:
                raise InvalidInput("a street community has a capacity in households, no rooms")
            rooms = [str(i) for i in range(1, capacity + 1)]
        return cls(code=code, name=name.strip(), kind=kind.value, rooms=rooms, capacity=capacity)

    def free_rooms(self) -> list[str]:
        return [room for room, status in self.rooms.items() if status == FREE]

    def hold(self, party_id: UUID, room: str = "") -> str:
        """Hold a room (or a home place) for a party; returns the room held.

        Holding again for the party that already holds is idempotent, whatever room is asked.
        """
        if party_id in self.room_of:
            return self.room_of[party_id]
        if not room:
            free = self.free_rooms()
            if not free:
                raise CapacityExhausted(f"{self.name} has no free room")
            room = free[0]
        if room not in self.rooms:
            raise InvalidInput(f"{self.name} has no room {room}")
        if self.rooms[room] != FREE:
            raise CapacityExhausted(f"room {room} at {self.name} is already taken")
        self._room_held(room=room, party_id=party_id)
        return room

    def occupy(self, party_id: UUID) -> None:
        room = self._room_held_by(party_id)
        if self.rooms[room] == HELD:
            self._room_occupied(room=room, party_id=party_id)

    def release(self, party_id: UUID, reason: str) -> None:
        if party_id in self.room_of:
            self._room_released(room=self.room_of[party_id], party_id=party_id, reason=reason)

    def _room_held_by(self, party_id: UUID) -> str:
        if party_id not in self.room_of:
            raise RuleBroken(f"the party holds no room at {self.name}")
        return self.room_of[party_id]

    @property
    def counts(self) -> dict[str, int]:
        statuses = list(self.rooms.values())
        return {s: statuses.count(s) for s in (FREE, HELD, OCCUPIED)}

    @event(RoomHeld)
    def _room_held(self, room: str, party_id: UUID) -> None:
        self.rooms[room] = HELD
        self.holder[room] = party_id
        self.room_of[party_id] = room

    @event(RoomOccupied)
    def _room_occupied(self, room: str, party_id: UUID) -> None:
        self.rooms[room] = OCCUPIED

    @event(RoomReleased)
    def _room_released(self, room: str, party_id: UUID, reason: str) -> None:
        self.rooms[room] = FREE
        del self.holder[room]
        del self.room_of[party_id]


def site_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/sites/{code.strip()}")
