"""The door-to-door line as a Hypothesis state machine over ``TrackingApp`` on a real store.

Every rule is an application command (``register_travellers``, ``screen``,
``assign_destination``, ``plan_run``, ``assign_seats``, ``scan_boarding``, ``depart_run``,
``arrive_run``, ``scan_check_in``, ``withdraw_*``, ``offer/accept_custody``, ``cancel``,
``mark_no_show``, ``refer_to_hospital``, ``start_quarantine``, ``release``) with arguments
Hypothesis chooses, wrong ones included; a ``DomainError`` is an allowed refusal. The machine runs
on both backends through the ``store_settings`` fixture (SQLite file and a fresh PostgreSQL
database). Examples share one store: each example names its own entry points, sites, vehicles
and documents, and checks only the notifications written since it started.

Checked after every step, from the store only:

* the notification log, read with ``recorder.select_notifications`` and decoded with
  ``mapper.to_domain_event``: versions of each aggregate follow each other; no ``RoomHeld`` for
  a room already held (without ``RoomReleased`` in between); no ``SeatAssigned`` on a run for a
  seat already assigned (without ``SeatReleased`` in between); every ``CustodyAccepted``
  answers a standing ``CustodyOffered`` to that custodian (the desk's custody comes with
  ``Screened``); a journey's stage goes back only through a withdrawal with a reason;
* every aggregate loaded with ``app.repository.get`` equals the one replayed from the log;
* on the loaded aggregates: one party per room, one journey per seat, journey and run agree
  (passengers on board are where the vehicle is; an arrived run with nobody left on board is
  closed and its vehicle free); exactly one (non-blank) custodian per open, screened journey;
  one open journey per person, whatever the spelling of the document;
* a duplicate scan writes nothing (but the receipt of its Idempotency-Key); a misdirected scan
  writes exactly its own record; a command repeated with its Idempotency-Key answers the same
  and writes nothing.

Each example starts with every party some steps along the line (an ``initialize`` rule), and an
``advance`` rule plays the careful operator, so that 25 steps reach the room door and beyond.

Shrinking is off here (each attempt replays a whole program against a database, which would
take minutes); the same rules, shrunk, run over the pure domain in
``tests/unit/test_domain_state_machine.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, CanMutateAggregate
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from domain import custody
from domain.context import Context
from domain.errors import DomainError
from domain.identity import IdentityRecord, identity_key, identity_record_id
from domain.journey import Journey
from domain.quarantine import OrderDecision
from domain.site import FREE, Site, site_id
from domain.stages import DestinationKind, RiskLevel, Stage
from domain.transfer import REQUESTED, VEHICLE_ASSIGNED, HospitalTransfer
from domain.transport import (
    ARRIVED,
    BOARDING,
    CLOSED,
    DEPARTED,
    PLANNED,
    TransportRun,
    Vehicle,
    vehicle_id,
)
from tracking.application import Person, TrackingApp
from tracking.receipts import CommandReceipt
from tracking.services import Services
from tracking.unit_of_work import Answer, Idempotency

R = TypeVar("R")
Event = CanMutateAggregate[UUID]

NOW = datetime(2020, 3, 28, 9, 30, tzinfo=UTC)
PARTY_SIZES = (1, 1, 2, 3)
N_JOURNEYS = sum(PARTY_SIZES)
VEHICLE_SEATS = (4, 2)

OPEN = frozenset(Stage) - {
    Stage.RELEASED, Stage.REFERRED_TO_HOSPITAL, Stage.NO_SHOW, Stage.CANCELLED
}
WITH_DESTINATION = frozenset(
    {
        Stage.DESTINATION_ASSIGNED, Stage.SEAT_ASSIGNED, Stage.BOARDED, Stage.IN_TRANSIT,
        Stage.ARRIVED, Stage.CHECKED_IN, Stage.UNDER_QUARANTINE,
    }
)
WITH_SEAT = WITH_DESTINATION - {Stage.DESTINATION_ASSIGNED}
# Where a passenger still with the vehicle is, by the run's status; and after the room door.
ON_BOARD = {
    PLANNED: Stage.BOARDED, BOARDING: Stage.BOARDED, DEPARTED: Stage.IN_TRANSIT,
    ARRIVED: Stage.ARRIVED,
}
THROUGH_THE_DOOR = frozenset(
    {Stage.CHECKED_IN, Stage.UNDER_QUARANTINE, Stage.RELEASED, Stage.REFERRED_TO_HOSPITAL}
)
AFTER_CAR_DOOR = frozenset(
    {Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED, Stage.CHECKED_IN, Stage.UNDER_QUARANTINE}
)
# Where custody is handed over by hand: anywhere once screened, or where a planned handoff
# (to the escort, to the receiver) is standing and can be superseded.
HANDOFF_STAGE = st.sampled_from(
    [OPEN - {Stage.REGISTERED}, frozenset({Stage.SEAT_ASSIGNED}), frozenset({Stage.ARRIVED})]
)
CLOSING_EVENTS = (
    Journey.Released, Journey.ReferredToHospital, Journey.MarkedNoShow, Journey.Cancelled
)

# Below N_JOURNEYS: that traveller's current journey, whatever its stage (mostly refusals);
# from N_JOURNEYS on: one of the journeys at the stage the command expects.
JOURNEY = st.integers(0, 2 * N_JOURNEYS - 1)
# Below 4: a run by its index (wrong runs included); from 4 on: one at the status expected.
RUN = st.integers(0, 7)
SITE = st.sampled_from(["hotel", "street"])
VEHICLE = st.sampled_from([0, 1])
REASON = st.sampled_from(["", "   ", "family request", " room flooded ", "wrong vehicle"])
SCAN_ID = st.sampled_from(["scan-1", "scan-2", "scan-3"])
ROOM = st.sampled_from(["", "", "101", "102", "999", "taken", "taken"])
CUSTODIANS = ["", "blank", "desk", "other-desk", "escort", "other-escort", "receiver", "hospital"]
OFFERED_TO = st.sampled_from(CUSTODIANS)
ACCEPTED_BY = st.sampled_from(["standing"] * 4 + CUSTODIANS)
# The same document as a person types it again: case, spaces, dashes, full-width digits.
SPELLING = st.sampled_from(["same", "lower", "spaced", "dashed", "full-width"])


RELEASE = OrderDecision("order completed", "notice 7", "commander Li")


def ctx(role: str = "dispatcher") -> Context:
    return Context(command_id=uuid4(), actor=f"{role}-1", role=role, where="", occurred_at=NOW)


def spelled(number: str, spelling: str) -> str:
    if spelling == "lower":
        return number.lower()
    if spelling == "spaced":
        return " ".join(number[i : i + 3] for i in range(0, len(number), 3)) + " "
    if spelling == "dashed":
        return f"{number[:4]}-{number[4:]}"
    if spelling == "full-width":
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number)
    return number


def public_state(aggregate: Aggregate) -> dict[str, Any]:
    state = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    return state | {
        "id": aggregate.id,
        "version": aggregate.version,
        "created_on": aggregate.created_on,
        "modified_on": aggregate.modified_on,
    }


class LogChecker:
    """Reads the notification log from a position on and checks the history it holds."""

    def __init__(self, app: TrackingApp) -> None:
        self.app = app
        self.position = app.recorder.max_notification_id() or 0
        self.replayed: dict[UUID, Aggregate] = {}
        self.held_rooms: dict[tuple[UUID, str], UUID] = {}
        self.held_seats: dict[tuple[UUID, int], UUID] = {}
        self.standing_offer: dict[UUID, str | None] = {}
        self.changed: set[UUID] = set()  # aggregates with events not yet compared with the store

    def read(self) -> list[Event]:
        """Decode and check every notification written since the last read."""
        notifications = self.app.recorder.select_notifications(
            start=self.position + 1, limit=10**6
        )
        events: list[Event] = []
        for notification in notifications:
            self.position = notification.id
            event = self.app.mapper.to_domain_event(notification)
            assert isinstance(event, CanMutateAggregate)
            self._check(event)
            events.append(event)
        return events

    def _check(self, e: Event) -> None:
        before = self.replayed.get(e.originator_id)
        expected_version = 1 if before is None else before.version + 1
        assert e.originator_version == expected_version, (
            f"{type(e).__qualname__} of {e.originator_id} has version {e.originator_version}, "
            f"expected {expected_version}"
        )
        before_stage = before.stage if isinstance(before, Journey) else None
        after = e.mutate(before)
        assert after is not None
        self.replayed[e.originator_id] = after
        self.changed.add(e.originator_id)

        if isinstance(e, Site.RoomHeld):
            place = (e.originator_id, e.room)
            assert place not in self.held_rooms, (
                f"room {e.room} held for {e.party_id} while held for {self.held_rooms[place]}"
            )
            self.held_rooms[place] = e.party_id
        elif isinstance(e, Site.RoomReleased):
            assert self.held_rooms.pop((e.originator_id, e.room), None) == e.party_id
        elif isinstance(e, TransportRun.SeatAssigned):
            seat = (e.originator_id, e.seat)
            assert seat not in self.held_seats, (
                f"seat {e.seat} given to {e.journey_id} while held by {self.held_seats[seat]}"
            )
            self.held_seats[seat] = e.journey_id
        elif isinstance(e, TransportRun.SeatReleased):
            assert self.held_seats.pop((e.originator_id, e.seat), None) == e.journey_id

        if not isinstance(after, Journey):
            return
        if before_stage is not None and after.stage.rank < before_stage.rank:
            assert isinstance(e, Journey.DestinationWithdrawn | Journey.SeatWithdrawn), (
                f"{type(e).__name__} took the journey back from {before_stage} to {after.stage}"
            )
            assert e.reason.strip()
        if isinstance(e, Journey.Screened):
            assert e.custodian == custody.desk(after.entry_point)
        elif isinstance(e, Journey.CustodyOffered):
            self.standing_offer[e.originator_id] = e.offered_to
        elif isinstance(e, Journey.CustodyOfferWithdrawn):
            self.standing_offer[e.originator_id] = None
        elif isinstance(e, Journey.CustodyAccepted):
            standing = self.standing_offer.get(e.originator_id)
            assert standing == e.custodian, (
                f"custody accepted by {e.custodian!r}; the standing offer was to {standing!r}"
            )
            self.standing_offer[e.originator_id] = None
        elif isinstance(e, CLOSING_EVENTS):
            self.standing_offer[e.originator_id] = None


class LineMachine(RuleBasedStateMachine):
    """One example: its own entry points, sites, vehicles and travellers on a shared store
    (``services``, bound by the test in a subclass)."""

    services: ClassVar[Services]

    def __init__(self) -> None:
        super().__init__()
        self.app = self.services.app
        self.app.clock = lambda: NOW  # the day the orders start, and the day of releases
        self.secret = self.services.settings.secret
        self.log = LogChecker(self.app)
        self.loaded: dict[UUID, Aggregate] = {}  # every aggregate of this example, from the store
        self.scans = 0
        tag = uuid4().hex[:8].upper()
        self.entry, self.other_entry = f"EP-{tag}", f"RC-{tag}"
        self.sites = {"hotel": f"H-{tag}", "street": f"ST-{tag}"}
        self.plates = [f"V{i}-{tag}" for i in range(len(VEHICLE_SEATS))]
        app = self.app
        app.register_entry_point(self.entry, "Airport T2")
        app.register_entry_point(self.other_entry, "Reception point")
        app.register_site(self.sites["hotel"], "Hotel", DestinationKind.HOTEL, ["101", "102"])
        app.register_site(self.sites["street"], "Street", DestinationKind.HOME, capacity=2)
        self.runs: list[UUID] = []
        for plate, seats in zip(self.plates, VEHICLE_SEATS, strict=True):
            app.register_vehicle(plate, seats)
            self.runs.append(UUID(app.plan_run(plate, "escort-1", self.entry)["run_id"]))
        # documents[p][k]: the k-th member of party p; current[i]: traveller i's latest journey
        self.documents: list[list[str]] = []
        self.current: list[UUID] = []
        self.all_journeys: list[UUID] = []
        n = 0
        for size in PARTY_SIZES:
            numbers = [f"E{tag}{n + k:02d}" for k in range(size)]
            n += size
            self.documents.append(numbers)
            answer = app.register_travellers(self.entry, self._people(numbers, "same"), ctx())
            ids = [UUID(j) for j in answer["journey_ids"]]
            self.current += ids
            self.all_journeys += ids

    # -- helpers ----------------------------------------------------------------------------

    def _people(self, numbers: list[str], spelling: str) -> list[Person]:
        country = " gbr " if spelling == "lower" else "GBR"
        return [Person("passport", country, spelled(n, spelling), {"name": n}) for n in numbers]

    def _try(self, command: Callable[[], R]) -> R | None:
        try:
            return command()
        except DomainError:
            return None

    def _journey(self, journey_id: UUID) -> Journey:
        return self.app.journey(journey_id)

    def _jid(self, index: int, *stages: Stage) -> UUID:
        if index < N_JOURNEYS:
            return self.current[index]
        index -= N_JOURNEYS
        wanted = [j for j in self.current if not stages or self._journey(j).stage in stages]
        return wanted[index % len(wanted)] if wanted else self.current[index]

    def _run_id(self, index: int, *statuses: str) -> UUID:
        runs = self.runs
        if index >= 4:
            runs = [r for r in self.runs if self.app.run(r).status in statuses] or self.runs
        return runs[index % len(runs)]

    def _code_of(self, site: UUID) -> str:
        (code,) = (c for c in self.sites.values() if site_id(c) == site)
        return code

    def _fresh_scan_id(self) -> str:
        self.scans += 1
        return f"scan-fresh-{self.scans}"

    def _custodian(self, kind: str, journey: Journey) -> str:
        return {
            "": "",
            "blank": "   ",
            "standing": journey.offered_to or "",
            "desk": custody.desk(journey.entry_point),
            "other-desk": custody.desk(self.other_entry),
            "escort": custody.escort(journey.run_id or self.runs[0]),
            "other-escort": "escort:relief-team",
            "receiver": custody.receiver(journey.site_id or site_id(self.sites["hotel"])),
            "hospital": custody.HOSPITAL,
        }[kind]

    def _taken(self, code: str, party_id: UUID) -> str:
        """A room (or home place) of the site that another party holds, or ""."""
        holder = self.app.site(code).holder
        return next((room for room, p in sorted(holder.items()) if p != party_id), "")

    def _head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    # -- commands with checked outcomes ---------------------------------------------------------

    def _scan(self, journey_id: UUID, scan: Callable[[Idempotency | None], Answer],
              scan_id: str, retry: bool) -> str | None:
        """Run a scan command; check what it wrote against the outcome it answered."""
        self.log.read()  # whatever came before is not this scan's doing
        was = self._journey(journey_id)
        key = Idempotency(key=f"scan-{uuid4()}", fingerprint=scan_id) if retry else None
        answer = self._try(lambda: scan(key))
        written = self.log.read()
        outcome = None if answer is None else str(answer["outcome"])
        now = self._journey(journey_id)
        receipts = sum(1 for e in written if isinstance(e, CommandReceipt.Issued))
        if scan_id in was.seen_scans:
            assert outcome == "duplicate"
        if outcome is None or outcome == "duplicate":
            assert len(written) == receipts, f"a {outcome} scan wrote {written}"
            assert now.version == was.version
        elif outcome == "misdirected":
            mine = [e for e in written if not isinstance(e, CommandReceipt.Issued)]
            assert [type(e) for e in mine] == [Journey.MisdirectedScanRecorded]
            assert (now.stage, now.custodian, now.offered_to) == (
                was.stage, was.custodian, was.offered_to
            )
        if answer is not None and key is not None:
            head = self._head()
            assert scan(key) == answer, "a repeated Idempotency-Key answered differently"
            assert self._head() == head, "a repeated Idempotency-Key wrote again"
        return outcome

    def _scan_boarding(self, journey_id: UUID, run_id: UUID, scan_id: str, retry: bool) -> None:
        def scan(key: Idempotency | None) -> Answer:
            return self.app.scan_boarding(journey_id, run_id, scan_id, ctx("escort"), key)

        if self._scan(journey_id, scan, scan_id, retry) == "accepted":
            journey = self._journey(journey_id)
            assert journey.stage is Stage.BOARDED
            assert journey.custodian == custody.escort(run_id)
            assert journey_id in self.app.run(run_id).boarded

    def _scan_check_in(self, journey_id: UUID, code: str, scan_id: str, retry: bool) -> None:
        def scan(key: Idempotency | None) -> Answer:
            return self.app.scan_check_in(journey_id, code, scan_id, ctx("receiver"), key)

        if self._scan(journey_id, scan, scan_id, retry) == "accepted":
            journey = self._journey(journey_id)
            assert journey.stage is Stage.CHECKED_IN
            assert journey.site_id == site_id(code)
            assert journey.custodian == custody.receiver(site_id(code))

    def _open_run(self, vehicle: int) -> UUID | None:
        for run_id in self.runs:
            run = self.app.run(run_id)
            if run.status in (PLANNED, BOARDING) and run.entry_point == self.entry:
                return run_id
        answer = self._try(lambda: self.app.plan_run(self.plates[vehicle], "escort-1", self.entry))
        if answer is None:
            return None
        self.runs.append(UUID(answer["run_id"]))
        return self.runs[-1]

    def _board_everyone_seated_on(self, run_id: UUID) -> None:
        run = self.app.run(run_id)
        for journey_id in sorted(set(run.seat_of) - run.boarded):
            self._scan_boarding(journey_id, run_id, self._fresh_scan_id(), retry=False)

    # -- rules: a careful operator moves a party along the line ---------------------------------

    @initialize(depths=st.lists(st.integers(0, 9), min_size=len(PARTY_SIZES),
                                max_size=len(PARTY_SIZES)),
                sites=st.lists(SITE, min_size=len(PARTY_SIZES), max_size=len(PARTY_SIZES)))
    def start_somewhere_along_the_line(self, depths: list[int], sites: list[str]) -> None:
        """Before the mistakes begin, each party is some steps along the line already."""
        first = 0
        for size, depth, where in zip(PARTY_SIZES, depths, sites, strict=True):
            self._advance(self.current[first], where, 0, depth)
            first += size

    @rule(j=JOURNEY, where=SITE, vehicle=VEHICLE, steps=st.integers(1, 9))
    def advance(self, j: int, where: str, vehicle: int, steps: int) -> None:
        """The next `steps` commands of the traveller's party, with the right arguments."""
        self._advance(self._jid(j, *OPEN), where, vehicle, steps)

    def _advance(self, journey_id: UUID, where: str, vehicle: int, steps: int) -> None:
        app = self.app
        for _ in range(steps):
            journey = self._journey(journey_id)
            party = [m.id for m in app.party_of(journey)]
            stage = journey.stage
            if stage is Stage.REGISTERED:
                for member in party:
                    self._try(partial(app.screen, member, RiskLevel.LOW, 36.6, False, False,
                                      ctx("screener")))
            elif stage is Stage.SCREENED:
                # the dispatcher first clicks a place somebody else holds (refused), then
                # lets the site choose
                code = self.sites[where]
                taken = self._taken(code, journey.party_id)
                if taken:
                    refused = self._try(partial(app.assign_destination, journey_id, code, ctx(),
                                                taken))
                    assert refused is None, f"{taken} was held, yet given to another party"
                self._try(partial(app.assign_destination, journey_id, code, ctx()))
            elif stage is Stage.DESTINATION_ASSIGNED:
                run_id = self._open_run(vehicle)
                if run_id is not None:
                    self._try(partial(app.assign_seats, journey_id, run_id, ctx()))
            elif stage is Stage.SEAT_ASSIGNED:
                assert journey.run_id is not None
                for member in party:
                    self._scan_boarding(member, journey.run_id, self._fresh_scan_id(), False)
            elif stage is Stage.BOARDED:
                # try to leave first (refused while somebody seated is not on board), then
                # board everyone: the next step leaves
                assert journey.run_id is not None
                self._try(partial(app.depart_run, journey.run_id, ctx("escort")))
                if app.run(journey.run_id).status != DEPARTED:
                    self._board_everyone_seated_on(journey.run_id)
            elif stage is Stage.IN_TRANSIT:
                assert journey.run_id is not None
                self._try(partial(app.arrive_run, journey.run_id, ctx("escort")))
            elif stage is Stage.ARRIVED:
                assert journey.site_id is not None
                code = self._code_of(journey.site_id)
                for member in party:
                    self._scan_check_in(member, code, self._fresh_scan_id(), False)
            elif stage is Stage.CHECKED_IN:
                self._try(lambda: app.start_quarantine(
                    journey_id, NOW.date() + timedelta(days=14), ctx("receiver")))
            elif stage is Stage.UNDER_QUARANTINE:
                self._try(lambda: app.record_test_result(
                    journey_id, 1, {"outcome": "negative"}, ctx("receiver")))
                self._try(lambda: app.release(journey_id, RELEASE, ctx("receiver")))
            self.log.read()

    @rule(j=JOURNEY, r=RUN, where=SITE, k=st.integers(0, 3), handoff=st.booleans(),
          retry=st.booleans())
    def replay_a_scan(self, j: int, r: int, where: str, k: int, handoff: bool,
                      retry: bool) -> None:
        """A device sends again a scan it already sent (retry, offline queue): at the car door
        or at the room door, it must be a duplicate that writes nothing."""
        journey_id = self._jid(j)
        if j >= N_JOURNEYS:
            scanned = [i for i in self.current if self._journey(i).seen_scans]
            if scanned:
                journey_id = scanned[(j - N_JOURNEYS) % len(scanned)]
        seen = sorted(self._journey(journey_id).seen_scans)
        if not seen:
            return
        if handoff:
            self._scan_boarding(journey_id, self._run_id(r), seen[k % len(seen)], retry)
        else:
            self._scan_check_in(journey_id, self.sites[where], seen[k % len(seen)], retry)

    @rule(r=RUN)
    def board_everyone_seated(self, r: int) -> None:
        self._board_everyone_seated_on(self._run_id(r, PLANNED, BOARDING))

    # -- rules: any command, any arguments ------------------------------------------------------

    @rule(p=st.integers(0, len(PARTY_SIZES) - 1), spelling=SPELLING)
    def register_again(self, p: int, spelling: str) -> None:
        """The same people scan the poster again: same open journeys (amended), or new trips
        when every one of them is closed."""
        people = self._people(self.documents[p], spelling)
        first = sum(PARTY_SIZES[:p])
        mine = self.current[first : first + len(people)]
        closed = [self._journey(j).is_closed for j in mine]
        answer = self._try(lambda: self.app.register_travellers(self.entry, people, ctx()))
        if all(closed):
            assert answer is not None and answer["already_registered"] is False
            fresh = [UUID(j) for j in answer["journey_ids"]]
            assert not set(fresh) & set(self.all_journeys)
            self.current[first : first + len(people)] = fresh
            self.all_journeys += fresh
        elif not any(closed):
            assert answer is not None and answer["already_registered"] is True
            assert [UUID(j) for j in answer["journey_ids"]] == mine
        else:
            assert answer is None  # some open, some closed: refused, nothing written

    @rule(j=JOURNEY, risk=st.sampled_from(list(RiskLevel)),
          temperature=st.sampled_from([None, 36.6, 38.4, 29.0, 46.0]))
    def screen(self, j: int, risk: RiskLevel, temperature: float | None) -> None:
        journey_id = self._jid(j, Stage.REGISTERED)
        self._try(lambda: self.app.screen(journey_id, risk, temperature, False, False,
                                          ctx("screener")))

    @rule(j=JOURNEY, where=SITE, room=ROOM)
    def assign_destination(self, j: int, where: str, room: str) -> None:
        journey_id = self._jid(j, Stage.SCREENED)
        if room == "taken":
            room = self._taken(self.sites[where], self._journey(journey_id).party_id) or "101"
        self._try(lambda: self.app.assign_destination(journey_id, self.sites[where], ctx(), room))

    @rule(j=JOURNEY, what=st.sampled_from(["destination", "seat"]), reason=REASON)
    def withdraw(self, j: int, what: str, reason: str) -> None:
        if what == "destination":
            journey_id = self._jid(j, Stage.DESTINATION_ASSIGNED)
            self._try(lambda: self.app.withdraw_destination(journey_id, reason, ctx()))
        else:
            journey_id = self._jid(j, Stage.SEAT_ASSIGNED)
            self._try(lambda: self.app.withdraw_seats(journey_id, reason, ctx()))

    @rule(vehicle=VEHICLE, other_entry=st.booleans(), escort=st.sampled_from(["escort-2", " "]))
    def plan_run(self, vehicle: int, other_entry: bool, escort: str) -> None:
        entry = self.other_entry if other_entry else self.entry
        answer = self._try(lambda: self.app.plan_run(self.plates[vehicle], escort, entry))
        if answer is not None:
            self.runs.append(UUID(answer["run_id"]))

    @rule(j=JOURNEY, r=RUN)
    def assign_seats(self, j: int, r: int) -> None:
        journey_id = self._jid(j, Stage.DESTINATION_ASSIGNED)
        run_id = self._run_id(r, PLANNED, BOARDING)
        self._try(lambda: self.app.assign_seats(journey_id, run_id, ctx()))

    @rule(j=JOURNEY, r=RUN, scan_id=SCAN_ID, retry=st.booleans())
    def scan_boarding(self, j: int, r: int, scan_id: str, retry: bool) -> None:
        self._scan_boarding(self._jid(j, Stage.SEAT_ASSIGNED), self._run_id(r), scan_id, retry)

    @rule(r=RUN, leg=st.sampled_from(["depart", "arrive"]))
    def drive(self, r: int, leg: str) -> None:
        if leg == "depart":
            self._try(lambda: self.app.depart_run(self._run_id(r, BOARDING), ctx("escort")))
        else:
            self._try(lambda: self.app.arrive_run(self._run_id(r, DEPARTED), ctx("escort")))

    @rule(j=JOURNEY, where=SITE, scan_id=SCAN_ID, retry=st.booleans())
    def scan_check_in(self, j: int, where: str, scan_id: str, retry: bool) -> None:
        self._scan_check_in(self._jid(j, Stage.ARRIVED), self.sites[where], scan_id, retry)

    @rule(j=JOURNEY, kind=OFFERED_TO, at=HANDOFF_STAGE)
    def offer_custody(self, j: int, kind: str, at: frozenset[Stage]) -> None:
        journey_id = self._jid(j, *at)
        to = self._custodian(kind, self._journey(journey_id))
        self._try(lambda: self.app.offer_custody(journey_id, to, ctx("escort")))

    @rule(j=JOURNEY, kind=ACCEPTED_BY, at=HANDOFF_STAGE)
    def accept_custody(self, j: int, kind: str, at: frozenset[Stage]) -> None:
        journey_id = self._jid(j, *at)
        by = self._custodian(kind, self._journey(journey_id))
        taker = custody.ACCEPTED_BY.get(custody.kind_of(by), "receiver")
        self._try(lambda: self.app.accept_custody(journey_id, by, ctx(taker)))

    @rule(j=JOURNEY, days=st.sampled_from([14, 14, 0, -1, None, 1]))
    def quarantine(self, j: int, days: int | None) -> None:
        """start_quarantine (planned end `days` after today); with no days, release; with
        1, the day-1 test's result (a second one without a reason is refused)."""
        if days is None:
            journey_id = self._jid(j, Stage.UNDER_QUARANTINE)
            self._try(lambda: self.app.release(journey_id, RELEASE, ctx("receiver")))
        elif days == 1:
            journey_id = self._jid(j, Stage.UNDER_QUARANTINE)
            self._try(lambda: self.app.record_test_result(
                journey_id, 1, {"outcome": "negative"}, ctx("receiver")))
        else:
            journey_id = self._jid(j, Stage.CHECKED_IN)
            self._try(lambda: self.app.start_quarantine(
                journey_id, NOW.date() + timedelta(days=days), ctx("receiver")))

    @rule(j=JOURNEY, how=st.sampled_from(["hospital", "cancel", "cancel", "no-show"]),
          reason=REASON, late=st.booleans())
    def leave_the_line(self, j: int, how: str, reason: str, late: bool) -> None:
        """`late`: a journey after the car door, where only the hospital exit is left."""
        journey_id = self._jid(j, *(AFTER_CAR_DOOR if late else OPEN))
        if how == "hospital":
            self._try(lambda: self.app.refer_to_hospital(journey_id, reason, ctx("screener")))
        elif how == "cancel":
            self._try(lambda: self.app.cancel(journey_id, reason, ctx()))
        else:
            self._try(lambda: self.app.mark_no_show(journey_id, ctx()))

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def check_the_store(self) -> None:
        self.log.read()
        # Reload what has events since the last check (nothing else can have changed: the
        # store has no snapshots), and compare it with its replay from the log.
        for aggregate_id in self.log.changed:
            aggregate: Aggregate = self.app.repository.get(aggregate_id)
            replayed = self.log.replayed[aggregate_id]
            assert public_state(aggregate) == public_state(replayed), "store differs from log"
            self.loaded[aggregate_id] = aggregate
        self.log.changed.clear()
        loaded = self.loaded
        journeys = {k: a for k, a in loaded.items() if isinstance(a, Journey)}
        sites = {k: a for k, a in loaded.items() if isinstance(a, Site)}
        runs = {k: a for k, a in loaded.items() if isinstance(a, TransportRun)}
        vehicles = {k: a for k, a in loaded.items() if isinstance(a, Vehicle)}
        waiting = {a.journey_id: a.pickup for a in loaded.values()
                   if isinstance(a, HospitalTransfer) and a.status in (REQUESTED, VEHICLE_ASSIGNED)}
        assert set(journeys) == set(self.all_journeys)
        assert set(vehicles) == {vehicle_id(p) for p in self.plates}
        check_places(journeys, sites, waiting)
        check_seats(journeys, runs, vehicles)
        check_custodians(journeys)
        self._check_one_open_journey_per_person()

    def _check_one_open_journey_per_person(self) -> None:
        numbers = [num for party in self.documents for num in party]
        for number, current in zip(numbers, self.current, strict=True):
            key = identity_key(self.secret, "passport", "GBR", number)
            record: Aggregate = self.app.repository.get(identity_record_id(key))
            assert isinstance(record, IdentityRecord)
            assert record.latest_journey == current
            assert len(set(record.journeys)) == len(record.journeys)
            assert all(self._journey(j).is_closed for j in record.journeys[:-1])


def check_places(
    journeys: dict[UUID, Journey], sites: dict[UUID, Site], waiting: dict[UUID, str]
) -> None:
    """(a) one party per room or home place; a destination is a held place, and vice versa
    (a traveller referred to hospital keeps their room until the vehicle picks them up:
    `waiting` maps such journeys to the pick-up)."""
    holders: dict[UUID, UUID] = {}
    for site in sites.values():
        assert set(site.holder) == {r for r, s in site.rooms.items() if s != FREE}
        assert {p: r for r, p in site.holder.items()} == site.room_of
        for party_id in site.room_of:
            assert party_id not in holders, "a party holds places at two sites"
            holders[party_id] = site.id
            assert any(
                j.party_id == party_id and j.site_id == site.id
                and (not j.is_closed or waiting.get(j.id) == f"site:{site.id}")
                for j in journeys.values()
            ), f"{site.code} keeps a place for a party with nobody going there"
    for journey in journeys.values():
        if journey.is_closed or journey.stage not in WITH_DESTINATION:
            continue
        assert journey.site_id is not None
        site = sites[journey.site_id]
        assert journey.party_id in site.room_of, "a destination without a held place"
        held = site.room_of[journey.party_id]
        assert journey.room == (held if site.kind is DestinationKind.HOTEL else "")


def check_seats(journeys: dict[UUID, Journey], runs: dict[UUID, TransportRun],
                vehicles: dict[UUID, Vehicle]) -> None:
    """(a) one journey per seat; journey and run agree on seat and stage."""
    for run in runs.values():
        seats = list(run.seat_of.values())
        assert len(set(seats)) == len(seats), f"a seat of {run.plate} is held twice"
        assert all(1 <= s <= run.seats for s in seats)
        assert run.boarded <= set(run.seat_of)
        assert run.handed_over <= run.boarded
        if run.status not in (PLANNED, BOARDING):  # nobody seated was left at the car door
            assert set(run.seat_of) == run.boarded
        assert run.left <= run.boarded
        assert not run.left & run.handed_over
        if run.status == ARRIVED:  # the last handover or exit closes an arrived run
            assert run.on_board, f"run on {run.plate} arrived, nobody is left, yet it is open"
        for journey_id, seat in run.seat_of.items():
            journey = journeys[journey_id]
            assert (journey.run_id, journey.seat) == (run.id, seat)
            if journey_id in run.on_board:  # with the vehicle: where the vehicle is
                assert run.status != CLOSED
                assert journey.stage is ON_BOARD[run.status], (
                    f"passenger {journey.stage} on a run that is {run.status}"
                )
            elif journey_id in run.left:
                assert journey.stage is Stage.REFERRED_TO_HOSPITAL
            elif journey_id in run.handed_over:
                assert journey.stage in THROUGH_THE_DOOR
            else:
                assert journey.stage is Stage.SEAT_ASSIGNED
    for journey in journeys.values():
        if journey.is_closed:
            continue
        if journey.stage in WITH_SEAT:
            assert journey.run_id is not None
            assert runs[journey.run_id].seat_of.get(journey.id) == journey.seat
        else:
            assert (journey.run_id, journey.seat) == (None, None)
            assert all(journey.id not in run.seat_of for run in runs.values())
    for vehicle in vehicles.values():
        unfinished = [
            r.id for r in runs.values() if r.vehicle_id == vehicle.id and r.status != CLOSED
        ]
        assert unfinished == ([] if vehicle.active_run is None else [vehicle.active_run])


def check_custodians(journeys: dict[UUID, Journey]) -> None:
    """(b) exactly one accountable custodian once screened; none once closed (but hospital)."""
    for journey in journeys.values():
        if journey.stage is Stage.REGISTERED:
            assert journey.custodian is None
        elif journey.stage is Stage.REFERRED_TO_HOSPITAL:
            assert journey.custodian == custody.HOSPITAL
        elif journey.is_closed:
            assert journey.custodian is None
        else:
            assert isinstance(journey.custodian, str)
            assert journey.custodian.strip(), f"custodian is {journey.custodian!r}"
        if journey.is_closed:
            assert journey.offered_to is None


def test_the_line_keeps_its_invariants_on_a_real_store(services: Services) -> None:
    class OnThisStore(LineMachine):
        """The machine bound to this test's store (Hypothesis builds one per example)."""

    OnThisStore.services = services
    # ~10 s on SQLite, ~25 s on PostgreSQL when nothing breaks; no shrinking (module docstring).
    run_state_machine_as_test(
        OnThisStore,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


# -- liveness bugs found while building the machine (regressions now) ----------------------------


def _two_boarded_travellers(app: TrackingApp) -> tuple[UUID, UUID, UUID, str]:
    """Two travellers alone, on one run, both through the car door; returns them, the run and
    the vehicle's plate."""
    tag = uuid4().hex[:8].upper()
    entry, hotel, plate = f"EP-{tag}", f"H-{tag}", f"V-{tag}"
    app.register_entry_point(entry, "Airport T2")
    app.register_site(hotel, "Hotel", DestinationKind.HOTEL, ["101", "102"])
    app.register_vehicle(plate, 3)
    run_id = UUID(app.plan_run(plate, "escort-1", entry)["run_id"])
    travellers = []
    for n in range(2):
        answer = app.register_travellers(
            entry, [Person("passport", "GBR", f"L{tag}{n}", {})], ctx()
        )
        journey_id = UUID(answer["journey_ids"][0])
        app.screen(journey_id, RiskLevel.LOW, 36.6, False, False, ctx("screener"))
        app.assign_destination(journey_id, hotel, ctx())
        app.assign_seats(journey_id, run_id, ctx())
        assert app.scan_boarding(journey_id, run_id, f"b{n}", ctx("escort"))["outcome"] == (
            "accepted"
        )
        travellers.append(journey_id)
    return travellers[0], travellers[1], run_id, plate


def test_a_run_departs_when_a_boarded_passenger_was_referred_to_hospital(
    services: Services,
) -> None:
    """Regression: ``depart_run`` called ``passenger.depart`` on every boarded journey, the one
    referred to hospital at the car door refused, and the run, with everyone else on board,
    could never leave (fixed: the run records the exit, ``depart_run`` moves ``on_board``)."""
    app = services.app
    sick, well, run_id, _ = _two_boarded_travellers(app)
    app.refer_to_hospital(sick, "fever 39.2 at the car door", ctx("escort"))
    try:
        app.depart_run(run_id, ctx("escort"))
    except DomainError as e:
        pytest.fail(f"the run cannot leave: {e}")
    assert app.journey(well).stage is Stage.IN_TRANSIT


def test_a_run_closes_and_frees_its_vehicle_when_a_passenger_left_for_hospital(
    services: Services,
) -> None:
    """Regression: a run closed (and freed its vehicle) only when every boarded passenger was
    handed over at a door; one referred to hospital on the road never is, so the run stayed
    ``arrived`` and ``plan_run`` refused the vehicle for good (fixed by
    ``TransportRun.PassengerLeft`` / ``record_exit``)."""
    app = services.app
    sick, well, run_id, plate = _two_boarded_travellers(app)
    app.depart_run(run_id, ctx("escort"))
    app.refer_to_hospital(sick, "collapsed in the vehicle", ctx("escort"))
    app.arrive_run(run_id, ctx("escort"))
    hotel = app.journey(well).site_id
    assert hotel is not None
    site: Aggregate = app.repository.get(hotel)
    assert isinstance(site, Site)
    code = site.code
    assert app.scan_check_in(well, code, "door-1", ctx("receiver"))["outcome"] == "accepted"
    assert app.run(run_id).status == CLOSED, "everyone left the vehicle, yet the run is open"
    assert app.vehicle(plate).active_run is None


def test_a_run_closes_when_its_last_passenger_on_board_leaves_for_hospital(
    services: Services,
) -> None:
    app = services.app
    sick, well, run_id, plate = _two_boarded_travellers(app)
    app.depart_run(run_id, ctx("escort"))
    app.arrive_run(run_id, ctx("escort"))
    hotel = app.journey(well).site_id
    assert hotel is not None
    site: Aggregate = app.repository.get(hotel)
    assert isinstance(site, Site)
    assert app.scan_check_in(well, site.code, "door-1", ctx("receiver"))["outcome"] == "accepted"
    assert app.run(run_id).status == ARRIVED  # one passenger is still with the vehicle
    app.refer_to_hospital(sick, "fainted at the hotel door", ctx("receiver"))
    assert app.run(run_id).status == CLOSED
    assert app.vehicle(plate).active_run is None
