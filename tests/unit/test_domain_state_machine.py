"""The door-to-door line as a Hypothesis state machine over the pure domain (DESIGN.md §3).

A small world — seven journeys in four travel parties (two alone, a couple, a family of three),
a hotel with two rooms, a street that takes two households, two vehicles with four and two
seats, each with a run planned — and rules that call the public domain methods in any order
with any arguments, including the wrong run or site, repeated scan ids, blank reasons, custody
offered to anybody. A ``DomainError`` is an allowed refusal. Steps that touch several
aggregates are orchestrated exactly as ``tracking/application.py`` does (each rule says which
command it mirrors), and, like a command that is not saved, a refused step leaves the world as
it was. Each example starts with every party some steps along the line (an ``initialize``
rule), and an ``advance`` rule plays the careful operator (the right next command for a party),
so that deep stages are reached in 40 steps; the other rules bring the mistakes.

Checked after every step:

(a) a room or street place is held by at most one party and a seat by at most one journey; a
    journey holding a seat is in that run's seat map with the same seat, and vice versa;
(b) every open, screened journey has exactly one (non-blank) custodian; closed journeys have
    none, except those referred to hospital, which the hospital holds; every acceptance of
    custody answers a standing offer to that custodian;
(c) a journey's stage never goes back, except through ``DestinationWithdrawn`` or
    ``SeatWithdrawn`` carrying a non-blank reason;
(d) every aggregate rebuilt from the events collected so far equals the live one;
(e) a duplicate scan adds no event anywhere;
and, for every single domain call, a refusal leaves that aggregate untouched (no state change,
no pending event).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, CanMutateAggregate
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from domain import custody
from domain.context import Context
from domain.errors import DomainError, RuleBroken
from domain.identity import identity_key
from domain.journey import Journey
from domain.party import TravelParty
from domain.quarantine import OrderDecision
from domain.site import FREE, Site
from domain.stages import DestinationKind, RiskLevel, ScanOutcome, Stage
from domain.transport import (
    ARRIVED,
    BOARDING,
    CLOSED,
    DEPARTED,
    PLANNED,
    TransportRun,
    Vehicle,
)

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A", bound=Aggregate)
Event = CanMutateAggregate[UUID]

ENTRY = "CAN-T2"
OTHER_ENTRY = "LW-RC"
NOW = datetime(2020, 3, 28, 9, 30, tzinfo=UTC)
SECRET = b"\x07" * 32
PARTY_SIZES = (1, 1, 2, 3)
N_JOURNEYS = sum(PARTY_SIZES)
HOTEL, STREET = "H-LW01", "ST-SHAMIAN"
VEHICLE_SEATS = {"YUE-A-0001": 4, "YUE-A-0002": 2}

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
OPEN = frozenset(Stage) - {Stage.RELEASED, Stage.REFERRED_TO_HOSPITAL, Stage.NO_SHOW,
                           Stage.CANCELLED}
AFTER_CAR_DOOR = frozenset(
    {Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED, Stage.CHECKED_IN, Stage.UNDER_QUARANTINE}
)
# Where custody is handed over by hand: anywhere once screened, or where a planned handoff
# (to the escort, to the receiver) is standing and can be superseded.
HANDOFF_STAGE = st.sampled_from(
    [OPEN - {Stage.REGISTERED}, frozenset({Stage.SEAT_ASSIGNED}), frozenset({Stage.ARRIVED})]
)
ON_THE_ROAD = (Stage.SEAT_ASSIGNED, Stage.BOARDED, Stage.IN_TRANSIT, Stage.ARRIVED)
CLOSING_EVENTS = (
    Journey.Released, Journey.ReferredToHospital, Journey.MarkedNoShow, Journey.Cancelled
)

# Below N_JOURNEYS: that journey, whatever its stage (mostly refusals); from N_JOURNEYS on: one
# of the journeys at the stage the command expects, so that deep stages see every command too.
JOURNEY = st.integers(0, 2 * N_JOURNEYS - 1)
# Below 4: a run by its index (wrong runs included); from 4 on: one at the status expected.
RUN = st.integers(0, 7)
SITE = st.sampled_from([HOTEL, STREET])
PLATE = st.sampled_from(sorted(VEHICLE_SEATS))
REASON = st.sampled_from(["", "   ", "family request", " room flooded ", "wrong vehicle"])
SCAN_ID = st.sampled_from(["scan-1", "scan-2", "scan-3"])
ROOM = st.sampled_from(["", "", "101", "102", "999", "taken", "taken"])
# Who custody is offered to / accepted by, resolved against the journey in `_custodian`.
CUSTODIANS = ["", "blank", "desk", "other-desk", "escort", "other-escort", "receiver", "hospital"]
OFFERED_TO = st.sampled_from(CUSTODIANS)
ACCEPTED_BY = st.sampled_from(["standing"] * 4 + CUSTODIANS)  # mostly the one offered


RELEASE = OrderDecision("order completed", "notice 7", "commander Li")


def seal_reason(data: dict[str, Any]) -> str:
    return "v1:" + str(data["reason"])


def open_result(sealed: str) -> dict[str, Any]:
    return {"outcome": sealed.removeprefix("v1:")}


def ctx(role: str = "dispatcher") -> Context:
    return Context(command_id=uuid4(), actor=f"{role}-1", role=role, where=ENTRY, occurred_at=NOW)


def snapshot(aggregate: Aggregate) -> dict[str, Any]:
    """A copy of the aggregate's attributes, pending events included.

    Cheaper than ``copy.deepcopy`` (which dominated the run time): the attributes of our
    aggregates are immutable values (str, int, UUID, datetime, Enum) or flat containers of them
    (the set of seen scans, a site's room maps, a run's seat map, a party's members, the list of
    pending events, which are frozen), so copying the containers one level deep is a deep copy.
    """
    return {
        k: v.copy() if isinstance(v, dict | set | list) else v for k, v in vars(aggregate).items()
    }


def clone(aggregate: A) -> A:
    twin = copy.copy(aggregate)
    vars(twin).update(snapshot(aggregate))
    return twin


def attempt(aggregate: Aggregate, method: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call one public domain method. If it refuses, it must leave its aggregate untouched:
    same state, no pending event (a caller may keep the object after a refusal)."""
    before = snapshot(aggregate)
    try:
        return method(*args, **kwargs)
    except DomainError:
        after = vars(aggregate)
        assert after == before, (
            f"{type(aggregate).__name__}.{getattr(method, '__name__', method)} refused but "
            f"changed the aggregate: pending {[type(e).__name__ for e in aggregate.pending_events]}"
        )
        raise


def replay(events: list[Event]) -> Aggregate:
    """The aggregate rebuilt from its events alone: the created event, then each in turn."""
    aggregate: Aggregate | None = None
    for e in events:
        aggregate = e.mutate(aggregate)
    assert aggregate is not None
    return aggregate


def public_state(aggregate: Aggregate) -> dict[str, Any]:
    state = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    return state | {
        "id": aggregate.id,
        "version": aggregate.version,
        "created_on": aggregate.created_on,
        "modified_on": aggregate.modified_on,
    }


@dataclass
class World:
    journeys: dict[UUID, Journey] = field(default_factory=dict)
    parties: dict[UUID, TravelParty] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    vehicles: dict[str, Vehicle] = field(default_factory=dict)
    runs: dict[UUID, TransportRun] = field(default_factory=dict)

    def aggregates(self) -> Iterator[Aggregate]:
        yield from self.journeys.values()
        yield from self.parties.values()
        yield from self.sites.values()
        yield from self.vehicles.values()
        yield from self.runs.values()

    def site_by_id(self, site_id: UUID) -> Site:
        (site,) = (s for s in self.sites.values() if s.id == site_id)
        return site

    def clone(self) -> World:
        return World(
            {k: clone(v) for k, v in self.journeys.items()},
            {k: clone(v) for k, v in self.parties.items()},
            {k: clone(v) for k, v in self.sites.items()},
            {k: clone(v) for k, v in self.vehicles.items()},
            {k: clone(v) for k, v in self.runs.items()},
        )

    def vehicle_by_id(self, vehicle_id: UUID) -> Vehicle:
        (vehicle,) = (v for v in self.vehicles.values() if v.id == vehicle_id)
        return vehicle


# -- orchestration shared by several rules, as in tracking/application.py ----------------------


def party_of(world: World, journey: Journey) -> list[Journey]:
    """Mirrors ``TrackingApp.party_of``: the traveller first, then the open members."""
    if journey.party_id == journey.id:
        return [journey]
    party = world.parties[journey.party_id]
    others = [world.journeys[m] for m in party.members if m != journey.id]
    return [journey, *(j for j in others if not j.is_closed)]


def free_if_party_closed(world: World, journey: Journey, reason: str) -> None:
    """Mirrors ``TrackingApp.free_room_if_party_closed``."""
    if journey.site_id is None or any(not m.is_closed for m in party_of(world, journey)):
        return
    site = world.site_by_id(journey.site_id)
    attempt(site, site.release, journey.party_id, reason)


def finish_vehicle_run(world: World, run: TransportRun) -> None:
    """Mirrors ``TrackingApp._finish_vehicle_run``."""
    vehicle = world.vehicle_by_id(run.vehicle_id)
    attempt(vehicle, vehicle.finish_run, run.id)


class DomainLineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.history: dict[UUID, list[Event]] = {}
        self.replayed: dict[UUID, Aggregate] = {}  # rebuilt from the collected events only
        self.standing_offer: dict[UUID, str | None] = {}  # per journey, from events only
        self.step_events: list[Event] = []
        self.journey_ids: list[UUID] = []
        self.scans = 0
        n = 0
        for size in PARTY_SIZES:
            ids = [uuid4() for _ in range(size)]
            party_id = ids[0]
            if size > 1:
                party = TravelParty.form(ids)
                self.world.parties[party.id] = party
                party_id = party.id
            for journey_id in ids:
                n += 1
                key = identity_key(SECRET, "passport", "CHN", f"E{n:08d}")
                self.world.journeys[journey_id] = Journey.register(
                    journey_id, key, party_id, ENTRY, "v1:sealed", ctx("traveller")
                )
                self.journey_ids.append(journey_id)
        self.world.sites[HOTEL] = Site.register(
            HOTEL, "Liwan Hotel", DestinationKind.HOTEL, ["101", "102"]
        )
        self.world.sites[STREET] = Site.register(STREET, "Shamian", DestinationKind.HOME, [], 2)
        for plate, seats in VEHICLE_SEATS.items():
            vehicle = Vehicle.register(plate, seats)
            run = TransportRun.plan(vehicle, "escort-1", ENTRY)
            vehicle.assign_run(run.id)
            self.world.vehicles[plate] = vehicle
            self.world.runs[run.id] = run  # two runs at once: scans can go to the wrong one
        self._commit(self.world)

    # -- transactions -----------------------------------------------------------------------

    def _command(self, decide: Callable[[World], R]) -> R | None:
        """Decide on fresh copies, as a command decides on freshly loaded aggregates; keep the
        result only if nothing refused (the application saves nothing on a DomainError)."""
        work = self.world.clone()
        try:
            result = decide(work)
        except DomainError:
            self.step_events = []
            return None
        self._commit(work)
        return result

    def _commit(self, work: World) -> None:
        self.world = work
        self.step_events = [e for a in work.aggregates() for e in a.collect_events()]
        for e in self.step_events:
            self.history.setdefault(e.originator_id, []).append(e)
        for e in self.step_events:
            self._observe(e)

    def _observe(self, e: Event) -> None:
        """Replay one recorded event on the shadow copy and check (b) and (c) on it."""
        before = self.replayed.get(e.originator_id)
        before_stage = before.stage if isinstance(before, Journey) else None
        after = e.mutate(before)
        assert after is not None
        self.replayed[e.originator_id] = after
        if not isinstance(after, Journey):
            return
        # (c) never backwards silently
        if before_stage is not None and after.stage.rank < before_stage.rank:
            assert isinstance(e, Journey.DestinationWithdrawn | Journey.SeatWithdrawn), (
                f"{type(e).__name__} took the journey back from {before_stage} to {after.stage}"
            )
            assert e.reason.strip(), f"{type(e).__name__} without a reason"
        # (b) handoffs: custody is taken by screening (the desk), then only offered and accepted
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

    # -- helpers ----------------------------------------------------------------------------

    def _jid(self, index: int, *stages: Stage) -> UUID:
        """The journey `index` names (see JOURNEY); `stages`: where the command expects it."""
        if index < N_JOURNEYS:
            return self.journey_ids[index]
        index -= N_JOURNEYS
        wanted = [
            journey_id for journey_id in self.journey_ids
            if not stages or self.world.journeys[journey_id].stage in stages
        ]
        return wanted[index % len(wanted)] if wanted else self.journey_ids[index]

    def _run_id(self, index: int, *statuses: str) -> UUID:
        runs = list(self.world.runs)
        if index >= 4:
            wanted = [r for r in runs if self.world.runs[r].status in statuses]
            runs = wanted or runs
        return runs[index % len(runs)]

    def _custodian(self, kind: str, journey: Journey) -> str:
        run_id = journey.run_id or next(iter(self.world.runs), uuid4())
        site_id = journey.site_id or self.world.sites[HOTEL].id
        return {
            "": "",
            "blank": "   ",
            "standing": journey.offered_to or "",
            "desk": custody.desk(journey.entry_point),
            "other-desk": custody.desk(OTHER_ENTRY),
            "escort": custody.escort(run_id),
            "other-escort": "escort:relief-team",
            "receiver": custody.receiver(site_id),
            "hospital": custody.HOSPITAL,
        }[kind]

    def _assert_unchanged(self, before: World) -> None:
        assert self.step_events == []
        for a, b in zip(self.world.aggregates(), before.aggregates(), strict=True):
            assert public_state(a) == public_state(b)

    # -- commands: each mirrors one TrackingApp command -----------------------------------------

    def _screen(self, journey_id: UUID, risk: RiskLevel, temperature: float | None) -> None:
        """Mirrors TrackingApp.screen."""
        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            attempt(journey, journey.screen, risk, temperature, False, False, ctx("screener"),
                    lambda findings: "sealed")

        self._command(decide)

    def _assign_destination(self, journey_id: UUID, code: str, room: str) -> None:
        """Mirrors TrackingApp.assign_destination: hold for the party, then assign each."""
        def decide(w: World) -> None:
            party = party_of(w, w.journeys[journey_id])
            site = w.sites[code]
            held = attempt(site, site.hold, party[0].party_id, room)
            for member in party:
                attempt(member, member.assign_destination, site.kind, site.id,
                        held if site.kind is DestinationKind.HOTEL else "", ctx())

        self._command(decide)

    def _plan_run(self, plate: str, entry: str, escort: str) -> None:
        """Mirrors TrackingApp.plan_run."""
        def decide(w: World) -> None:
            vehicle = w.vehicles[plate]
            run = TransportRun.plan(vehicle, escort, entry)
            attempt(vehicle, vehicle.assign_run, run.id)
            w.runs[run.id] = run

        self._command(decide)

    def _assign_seats(self, journey_id: UUID, run_id: UUID) -> None:
        """Mirrors TrackingApp.assign_seats: the whole party, custody offered to the escort."""
        def decide(w: World) -> None:
            party = party_of(w, w.journeys[journey_id])
            run = w.runs[run_id]
            if run.entry_point != party[0].entry_point:
                raise RuleBroken("the run leaves from a different entry point")
            seats = attempt(run, run.assign_seats, [m.id for m in party])
            for member in party:
                attempt(member, member.assign_seat, run.id, seats[member.id], ctx())

        self._command(decide)

    def _scan_boarding(self, journey_id: UUID, run_id: UUID, scan_id: str) -> None:
        """Mirrors TrackingApp.scan_boarding; checks the outcome against what changed."""
        before = self.world.clone()
        was = before.journeys[journey_id]

        def decide(w: World) -> ScanOutcome:
            journey, run = w.journeys[journey_id], w.runs[run_id]
            outcome = attempt(journey, journey.board, run.id, scan_id, ctx("escort"))
            if outcome is ScanOutcome.ACCEPTED:
                attempt(run, run.record_boarding, journey.id)
            return outcome

        outcome = self._command(decide)
        now = self.world.journeys[journey_id]
        if scan_id in was.seen_scans:
            assert outcome is ScanOutcome.DUPLICATE
        if outcome is None or outcome is ScanOutcome.DUPLICATE:
            self._assert_unchanged(before)  # (e)
        elif outcome is ScanOutcome.MISDIRECTED:
            self._assert_misdirected(was, now, before)
        else:
            assert now.stage is Stage.BOARDED
            assert now.custodian == custody.escort(run_id)
            assert journey_id in self.world.runs[run_id].boarded

    def _depart_run(self, run_id: UUID) -> None:
        """Mirrors TrackingApp.depart_run."""
        def decide(w: World) -> None:
            run = w.runs[run_id]
            attempt(run, run.depart)
            for passenger in [w.journeys[j] for j in sorted(run.on_board)]:
                attempt(passenger, passenger.depart, run.id, ctx("escort"))

        self._command(decide)

    def _arrive_run(self, run_id: UUID) -> None:
        """Mirrors TrackingApp.arrive_run."""
        def decide(w: World) -> None:
            run = w.runs[run_id]
            emptied = attempt(run, run.arrive)
            for passenger in [w.journeys[j] for j in sorted(run.on_board)]:
                attempt(passenger, passenger.arrive, run.id, ctx("escort"))
            if emptied:
                finish_vehicle_run(w, run)

        self._command(decide)

    def _scan_check_in(self, journey_id: UUID, code: str, scan_id: str) -> None:
        """Mirrors TrackingApp.scan_check_in; checks the outcome against what changed."""
        before = self.world.clone()
        was = before.journeys[journey_id]

        def decide(w: World) -> ScanOutcome:
            journey, site = w.journeys[journey_id], w.sites[code]
            outcome = attempt(journey, journey.check_in, site.id, scan_id, ctx("receiver"))
            if outcome is ScanOutcome.ACCEPTED:
                assert journey.run_id is not None
                attempt(site, site.occupy, journey.party_id)
                run = w.runs[journey.run_id]
                if attempt(run, run.record_handover, journey.id):
                    finish_vehicle_run(w, run)
            return outcome

        outcome = self._command(decide)
        now = self.world.journeys[journey_id]
        if scan_id in was.seen_scans:
            assert outcome is ScanOutcome.DUPLICATE
        if outcome is None or outcome is ScanOutcome.DUPLICATE:
            self._assert_unchanged(before)  # (e)
        elif outcome is ScanOutcome.MISDIRECTED:
            self._assert_misdirected(was, now, before)
        else:
            assert now.stage is Stage.CHECKED_IN
            assert now.site_id == self.world.sites[code].id
            assert now.custodian == custody.receiver(now.site_id)

    def _start_quarantine(self, journey_id: UUID, days: int) -> None:
        """Mirrors TrackingApp.start_quarantine (the district's schedule: days 1, 4, 7, 14)."""
        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            attempt(journey, journey.start_quarantine, NOW.date() + timedelta(days=days),
                    ctx("receiver"), starts_on=NOW.date(), legal_basis="notice 7",
                    test_days=(1, 4, 7, 14))

        self._command(decide)

    def _record_test(self, journey_id: UUID, day: int, outcome: str, correction: str) -> None:
        """Mirrors TrackingApp.record_test_result; the "sealed" result names its outcome."""
        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            attempt(journey, journey.record_test_result, day, f"v1:{outcome}", ctx("receiver"),
                    correction)

        self._command(decide)

    def _release(self, journey_id: UUID, days_in: int = 0) -> None:
        """Mirrors TrackingApp.release, `days_in` days after the order started."""
        on = NOW.date() + timedelta(days=days_in)

        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            tests = dict(journey.tests)
            attempt(journey, journey.release, RELEASE, on, ctx("receiver"), open_result,
                    lambda data: "v1:sealed")
            if journey.stage is Stage.RELEASED:
                # Released only with every test due by then recorded, none of them positive.
                assert journey.quarantine_starts_on is not None
                due = [d for d in tests if journey.quarantine_starts_on + timedelta(d - 1) <= on]
                assert all(tests[d] is not None for d in due), tests
                assert not any(r == "v1:positive" for r in tests.values()), tests
            free_if_party_closed(w, journey, "released")

        self._command(decide)

    def _assert_misdirected(self, was: Journey, now: Journey, before: World) -> None:
        """Recorded as an event of its own, and nothing else changes."""
        assert [type(e) for e in self.step_events] == [Journey.MisdirectedScanRecorded]
        assert (now.stage, now.custodian, now.offered_to) == (
            was.stage, was.custodian, was.offered_to
        )
        for a, b in zip(self.world.aggregates(), before.aggregates(), strict=True):
            if a.id != now.id:
                assert public_state(a) == public_state(b)

    def _fresh_scan_id(self) -> str:
        self.scans += 1
        return f"scan-fresh-{self.scans}"

    # -- rules: a careful operator moves a party along the line ---------------------------------

    @initialize(depths=st.lists(st.integers(0, 9), min_size=len(PARTY_SIZES),
                                max_size=len(PARTY_SIZES)),
                codes=st.lists(SITE, min_size=len(PARTY_SIZES), max_size=len(PARTY_SIZES)))
    def start_somewhere_along_the_line(self, depths: list[int], codes: list[str]) -> None:
        """Before the mistakes begin, each party is some steps along the line already."""
        first = 0
        for size, depth, code in zip(PARTY_SIZES, depths, codes, strict=True):
            self._advance(self.journey_ids[first], code, sorted(VEHICLE_SEATS)[0], depth)
            first += size

    @rule(j=JOURNEY, code=SITE, plate=PLATE, steps=st.integers(1, 4))
    def advance(self, j: int, code: str, plate: str, steps: int) -> None:
        """Take the traveller's party the next `steps` steps along the line with the right
        arguments, so that deep stages are reached; the other rules bring the mistakes."""
        self._advance(self._jid(j, *OPEN), code, plate, steps)

    def _advance(self, journey_id: UUID, code: str, plate: str, steps: int) -> None:
        for _ in range(steps):
            journey = self.world.journeys[journey_id]
            party = [m.id for m in party_of(self.world, journey)]
            stage = journey.stage
            if stage is Stage.REGISTERED:
                for member in party:
                    self._screen(member, RiskLevel.LOW, 36.6)
            elif stage is Stage.SCREENED:
                # the dispatcher first clicks a place somebody else holds (refused), then
                # lets the site choose
                taken = self._taken(code, journey.party_id)
                if taken:
                    self._assign_destination(journey_id, code, taken)
                    assert self.world.journeys[journey_id].stage is Stage.SCREENED
                self._assign_destination(journey_id, code, "")
            elif stage is Stage.DESTINATION_ASSIGNED:
                run_id = self._open_run(plate)
                if run_id is not None:
                    self._assign_seats(journey_id, run_id)
            elif stage is Stage.SEAT_ASSIGNED:
                assert journey.run_id is not None
                for member in party:
                    self._scan_boarding(member, journey.run_id, self._fresh_scan_id())
            elif stage is Stage.BOARDED:
                # try to leave first (refused while somebody seated is not on board), then
                # board everyone: the next step leaves
                assert journey.run_id is not None
                self._depart_run(journey.run_id)
                if self.world.runs[journey.run_id].status != DEPARTED:
                    self.board_everyone_seated_on(journey.run_id)
            elif stage is Stage.IN_TRANSIT:
                assert journey.run_id is not None
                self._arrive_run(journey.run_id)
            elif stage is Stage.ARRIVED:
                assert journey.site_id is not None
                site_code = self.world.site_by_id(journey.site_id).code
                for member in party:
                    self._scan_check_in(member, site_code, self._fresh_scan_id())
            elif stage is Stage.CHECKED_IN:
                self._start_quarantine(journey_id, 14)
            elif stage is Stage.UNDER_QUARANTINE:
                self._record_test(journey_id, 1, "negative", "")
                self._release(journey_id)

    def _open_run(self, plate: str) -> UUID | None:
        for run in self.world.runs.values():
            if run.status in (PLANNED, BOARDING) and run.entry_point == ENTRY:
                return run.id
        self._plan_run(plate, ENTRY, "escort-1")
        for run in self.world.runs.values():
            if run.status in (PLANNED, BOARDING) and run.entry_point == ENTRY:
                return run.id
        return None

    @precondition(lambda self: bool(self.world.runs))
    @rule(r=RUN)
    def board_everyone_seated(self, r: int) -> None:
        """The escort scans every seated traveller of a run at the car door."""
        self.board_everyone_seated_on(self._run_id(r, PLANNED, BOARDING))

    def board_everyone_seated_on(self, run_id: UUID) -> None:
        run = self.world.runs[run_id]
        for journey_id in sorted(set(run.seat_of) - run.boarded):
            self._scan_boarding(journey_id, run.id, self._fresh_scan_id())

    # -- rules: any command, any arguments --------------------------------------------------------

    @rule(j=JOURNEY, risk=st.sampled_from(list(RiskLevel)),
          temperature=st.sampled_from([None, 36.6, 38.4, 29.0, 46.0]))
    def screen(self, j: int, risk: RiskLevel, temperature: float | None) -> None:
        self._screen(self._jid(j, Stage.REGISTERED), risk, temperature)

    @rule(j=JOURNEY, code=SITE, room=ROOM)
    def assign_destination(self, j: int, code: str, room: str) -> None:
        journey_id = self._jid(j, Stage.SCREENED)
        if room == "taken":
            room = self._taken(code, self.world.journeys[journey_id].party_id) or "101"
        self._assign_destination(journey_id, code, room)

    def _taken(self, code: str, party_id: UUID) -> str:
        """A room (or home place) of the site that another party holds, or ""."""
        holder = self.world.sites[code].holder
        return next((room for room, p in sorted(holder.items()) if p != party_id), "")

    @rule(j=JOURNEY, r=RUN, code=SITE, k=st.integers(0, 3), handoff=st.booleans())
    def replay_a_scan(self, j: int, r: int, code: str, k: int, handoff: bool) -> None:
        """A device sends again a scan it already sent (retry, offline queue): at the car door
        or at the room door, it must be a duplicate with no effect at all."""
        journey_id = self._jid(j)
        seen = sorted(self.world.journeys[journey_id].seen_scans)
        if j >= N_JOURNEYS:
            scanned = [i for i in self.journey_ids if self.world.journeys[i].seen_scans]
            if scanned:
                journey_id = scanned[(j - N_JOURNEYS) % len(scanned)]
                seen = sorted(self.world.journeys[journey_id].seen_scans)
        if not seen:
            return
        if handoff:
            self._scan_boarding(journey_id, self._run_id(r), seen[k % len(seen)])
        else:
            self._scan_check_in(journey_id, code, seen[k % len(seen)])

    @rule(j=JOURNEY, reason=REASON)
    def withdraw_destination(self, j: int, reason: str) -> None:
        """Mirrors TrackingApp.withdraw_destination."""
        journey_id = self._jid(j, Stage.DESTINATION_ASSIGNED)

        def decide(w: World) -> None:
            party = party_of(w, w.journeys[journey_id])
            if party[0].site_id is None:
                raise RuleBroken("the journey has no destination to withdraw")
            site = w.site_by_id(party[0].site_id)
            for member in party:
                attempt(member, member.withdraw_destination, reason, ctx())
            attempt(site, site.release, party[0].party_id, reason)

        self._command(decide)

    @rule(plate=PLATE, entry=st.sampled_from([ENTRY, ENTRY, ENTRY, OTHER_ENTRY]),
          escort=st.sampled_from(["escort-1", " "]))
    def plan_run(self, plate: str, entry: str, escort: str) -> None:
        self._plan_run(plate, entry, escort)

    @precondition(lambda self: bool(self.world.runs))
    @rule(j=JOURNEY, r=RUN)
    def assign_seats(self, j: int, r: int) -> None:
        self._assign_seats(self._jid(j, Stage.DESTINATION_ASSIGNED),
                           self._run_id(r, PLANNED, BOARDING))

    @rule(j=JOURNEY, reason=REASON)
    def withdraw_seat(self, j: int, reason: str) -> None:
        """Mirrors TrackingApp.withdraw_seat."""
        journey_id = self._jid(j, Stage.SEAT_ASSIGNED)

        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            if journey.run_id is None:
                raise RuleBroken("the journey holds no seat")
            run = w.runs[journey.run_id]
            attempt(journey, journey.withdraw_seat, reason, ctx())
            attempt(run, run.release_seat, journey.id, reason)

        self._command(decide)

    @precondition(lambda self: bool(self.world.runs))
    @rule(j=JOURNEY, r=RUN, scan_id=SCAN_ID)
    def scan_boarding(self, j: int, r: int, scan_id: str) -> None:
        self._scan_boarding(self._jid(j, Stage.SEAT_ASSIGNED), self._run_id(r), scan_id)

    @precondition(lambda self: bool(self.world.runs))
    @rule(r=RUN)
    def depart_run(self, r: int) -> None:
        self._depart_run(self._run_id(r, BOARDING))

    @precondition(lambda self: bool(self.world.runs))
    @rule(r=RUN)
    def arrive_run(self, r: int) -> None:
        self._arrive_run(self._run_id(r, DEPARTED))

    @rule(j=JOURNEY, code=SITE, scan_id=SCAN_ID)
    def scan_check_in(self, j: int, code: str, scan_id: str) -> None:
        self._scan_check_in(self._jid(j, Stage.ARRIVED), code, scan_id)

    @rule(j=JOURNEY, kind=OFFERED_TO, at=HANDOFF_STAGE)
    def offer_custody(self, j: int, kind: str, at: frozenset[Stage]) -> None:
        """Mirrors TrackingApp.offer_custody."""
        journey_id = self._jid(j, *at)
        offered_to = self._custodian(kind, self.world.journeys[journey_id])

        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            attempt(journey, journey.offer_custody, offered_to, ctx("escort"))

        self._command(decide)

    @rule(j=JOURNEY, kind=ACCEPTED_BY, at=HANDOFF_STAGE)
    def accept_custody(self, j: int, kind: str, at: frozenset[Stage]) -> None:
        """Mirrors TrackingApp.accept_custody."""
        journey_id = self._jid(j, *at)
        custodian = self._custodian(kind, self.world.journeys[journey_id])

        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            taker = custody.ACCEPTED_BY.get(custody.kind_of(custodian), "receiver")
            attempt(journey, journey.accept_custody, custodian, ctx(taker))

        self._command(decide)

    @rule(j=JOURNEY, what=st.sampled_from(["amend", "amend-nothing", "survey"]))
    def paperwork(self, j: int, what: str) -> None:
        """Mirrors the amendment in TrackingApp.register_travellers and .record_survey."""
        journey_id = self._jid(j)

        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            if what == "survey":
                attempt(journey, journey.record_survey, RiskLevel.MEDIUM, "v1:answers",
                        ctx("surveyor"))
            else:
                fields = ["phone"] if what == "amend" else []
                attempt(journey, journey.amend, "v1:amended", fields, ctx("traveller"))

        self._command(decide)

    @rule(j=JOURNEY, days=st.sampled_from([14, 14, 0, -1]))
    def start_quarantine(self, j: int, days: int) -> None:
        self._start_quarantine(self._jid(j, Stage.CHECKED_IN), days)

    @rule(j=JOURNEY, days_in=st.sampled_from([0, 0, 3, 13, 14]))
    def release(self, j: int, days_in: int) -> None:
        self._release(self._jid(j, Stage.UNDER_QUARANTINE), days_in)

    @rule(j=JOURNEY, day=st.sampled_from([1, 1, 4, 7, 14, 0, 15]),
          outcome=st.sampled_from(["negative", "negative", "positive", "inconclusive"]),
          correction=st.sampled_from(["", "", "lab mix-up"]))
    def record_test(self, j: int, day: int, outcome: str, correction: str) -> None:
        self._record_test(self._jid(j, Stage.UNDER_QUARANTINE), day, outcome, correction)

    # -- rules: exits -----------------------------------------------------------------------------

    @rule(j=JOURNEY, how=st.sampled_from(["hospital", "cancel", "cancel", "no-show"]),
          reason=REASON, late=st.booleans())
    def leave_the_line(self, j: int, how: str, reason: str, late: bool) -> None:
        """Mirrors TrackingApp.refer_to_hospital, .mark_no_show and .cancel (one rule, so that
        exits do not close most journeys before they get far); `late`: after the car door."""
        journey_id = self._jid(j, *(AFTER_CAR_DOOR if late else OPEN))

        def decide(w: World) -> None:
            journey = w.journeys[journey_id]
            # TrackingApp.refer_to_hospital, and the hospital's vehicle picking them up at
            # once (tracking/transfers.py frees a room then): no transfers in this world.
            if how == "hospital":
                stage_before = journey.stage
                attempt(journey, journey.refer_to_hospital, reason, ctx("screener"), seal_reason)
                free_if_party_closed(w, journey, "referred to hospital")
                if journey.run_id is not None and stage_before in ON_THE_ROAD:
                    run = w.runs[journey.run_id]
                    if stage_before is Stage.SEAT_ASSIGNED:
                        attempt(run, run.release_seat, journey.id, "referred to hospital")
                    elif attempt(run, run.record_exit, journey.id, "referred to hospital"):
                        finish_vehicle_run(w, run)
                return
            # TrackingApp._close_before_car_door
            seat_run = journey.run_id if journey.stage is Stage.SEAT_ASSIGNED else None
            if how == "no-show":
                attempt(journey, journey.mark_no_show, ctx())
                why = "no-show"
            else:
                attempt(journey, journey.cancel, reason, ctx(), seal_reason)
                why = "cancelled"  # the typed reason stays sealed in the journey's event
            free_if_party_closed(w, journey, why)
            if seat_run is not None:
                run = w.runs[seat_run]
                attempt(run, run.release_seat, journey.id, why)

        self._command(decide)

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def a_place_is_held_by_one_party(self) -> None:
        w = self.world
        holders: dict[UUID, str] = {}
        for site in w.sites.values():
            assert set(site.holder) == {r for r, s in site.rooms.items() if s != FREE}
            assert {p: r for r, p in site.holder.items()} == site.room_of
            assert len(site.room_of) == len(site.holder)  # nobody holds two places here
            for party_id in site.room_of:
                assert party_id not in holders, f"party holds places at {holders[party_id]} too"
                holders[party_id] = site.code
                # no leaked place: an open member of the party is going there
                assert any(
                    j.party_id == party_id and not j.is_closed and j.site_id == site.id
                    for j in w.journeys.values()
                ), f"{site.code} keeps a place for a party with nobody going there"
        for journey in w.journeys.values():
            if journey.is_closed or journey.stage not in WITH_DESTINATION:
                continue
            assert journey.site_id is not None
            site = w.site_by_id(journey.site_id)
            assert journey.party_id in site.room_of, "destination without a held place"
            expected = site.room_of[journey.party_id] if site.kind is DestinationKind.HOTEL else ""
            assert journey.room == expected

    @invariant()
    def a_seat_is_held_by_one_journey(self) -> None:
        w = self.world
        for run in w.runs.values():
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
                journey = w.journeys[journey_id]
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
        for journey in w.journeys.values():
            if journey.is_closed:
                continue
            if journey.stage in WITH_SEAT:
                assert journey.run_id is not None
                assert w.runs[journey.run_id].seat_of.get(journey.id) == journey.seat
            else:
                assert (journey.run_id, journey.seat) == (None, None)
                assert all(journey.id not in run.seat_of for run in w.runs.values())

    @invariant()
    def a_vehicle_drives_one_run_at_a_time(self) -> None:
        for vehicle in self.world.vehicles.values():
            unfinished = [
                r.id for r in self.world.runs.values()
                if r.vehicle_id == vehicle.id and r.status != CLOSED
            ]
            assert unfinished == ([] if vehicle.active_run is None else [vehicle.active_run])

    @invariant()
    def exactly_one_custodian(self) -> None:
        for journey in self.world.journeys.values():
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

    @invariant()
    def replay_rebuilds_every_aggregate(self) -> None:
        for aggregate in self.world.aggregates():
            assert aggregate.pending_events == []
            assert public_state(self.replayed[aggregate.id]) == public_state(aggregate)

    def teardown(self) -> None:
        # (d) once more from scratch: every aggregate from all of its events, in order
        for aggregate in self.world.aggregates():
            events = self.history[aggregate.id]
            assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
            assert public_state(replay(events)) == public_state(aggregate)


def test_the_line_keeps_its_invariants_whatever_the_order_of_commands() -> None:
    # ~20 s on two cores when nothing breaks. A failure is shrunk for up to a minute or two;
    # one failure at a time (report_multiple_bugs=False) keeps that bounded.
    run_state_machine_as_test(
        DomainLineMachine,
        settings=settings(
            max_examples=300,
            stateful_step_count=40,
            deadline=None,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
