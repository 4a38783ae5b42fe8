"""A realistic event log, made fast: for the projector's benchmark, its tests and load tests.

The real aggregates are driven through the line the way the application's commands drive
them (same aggregates changed together, families seated together, rooms released when the
last member leaves), by many vehicle runs advancing in random interleaving, so that one
journey's events spread across many pages as they do in a real log. Generation stops at the
requested size, leaving journeys at every stage. Events are written with the library's own
mapper and recorder, many commands per transaction, so 200,000 events take seconds.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import JSONTranscoder

from domain.audit import DataAccess
from domain.context import Context
from domain.errors import CapacityExhausted
from domain.identity import IdentityRecord
from domain.journey import Journey
from domain.party import TravelParty
from domain.quarantine import OrderDecision
from domain.reference import EntryPoint
from domain.site import Site
from domain.stages import DestinationKind, RiskLevel
from domain.transfer import HospitalTransfer
from domain.transport import TransportRun, Vehicle
from tracking.persistence import APP_NAME, store_env
from tracking.receipts import CommandReceipt
from tracking.settings import Settings
from tracking.transcodings import ContextAsDict, DateAsISO

DomainEvent = CanMutateAggregate[UUID]
CHANGE = OrderDecision("drill", "drill notice", "drill command")
STREETS = (
    "沙面", "岭南", "华林", "多宝", "昌华", "逢源", "龙津", "金花", "彩虹", "南源", "西村",
    "站前", "桥中", "白鹤洞", "冲口", "花地", "石围塘", "茶滘", "东漖", "海龙", "东沙", "中南",
)


class LogWriter(Application[UUID]):
    """Writes events exactly as the tracking application does (same name, same transcodings)."""

    name = APP_NAME

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ContextAsDict())
        transcoder.register(DateAsISO())


def open_writer(settings: Settings) -> LogWriter:
    return LogWriter(env=store_env(settings, create_tables=True))


def write(app: LogWriter, commands: Iterator[list[DomainEvent]], batch: int = 5000) -> int:
    """Store the commands' events in order, about `batch` events per transaction."""
    pending: list[Any] = []
    written = 0
    for events in commands:
        pending += [app.mapper.to_stored_event(e) for e in events]
        if len(pending) >= batch:
            app.recorder.insert_events(pending)
            written, pending = written + len(pending), []
    if pending:
        app.recorder.insert_events(pending)
        written += len(pending)
    return written


@dataclass
class World:
    """Every projected aggregate as it ends up: what tests recount the views against."""

    entry_points: list[EntryPoint] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    runs: list[TransportRun] = field(default_factory=list)
    journeys: list[Journey] = field(default_factory=list)
    transfers: list[HospitalTransfer] = field(default_factory=list)
    accesses: list[DataAccess] = field(default_factory=list)
    unprojected_events: int = 0  # identity records, parties, command receipts



def _sealed_reason(data: dict[str, Any]) -> str:
    # A fixed stand-in for a sealed reason: drawing it from the rng would shift every later
    # synthetic choice.
    return "v1:" + base64.b64encode(bytes(48)).decode()

class Simulation:
    def __init__(
        self, seed: int = 1, *, runs_in_flight: int = 40, scale: int = 10_000, tag: str = ""
    ) -> None:
        """`scale`: roughly how many journeys the sites should have room for; `tag` prefixes
        every code and plate, so that several simulations can share one store."""
        self.tag = tag
        self.rng = random.Random(seed)  # noqa: S311  (reproducible test data, not secrets)
        self.world = World()
        self.in_flight = runs_in_flight
        self.free_vehicles: list[Vehicle] = []
        self.sites: dict[UUID, Site] = {}
        self.parties: dict[UUID, list[Journey]] = {}
        self.clock = datetime(2020, 3, 28, 6, 0, tzinfo=UTC)
        self.scale = scale

    def _id(self) -> UUID:
        return UUID(int=self.rng.getrandbits(128), version=4)

    def _ctx(self, role: str, where: str) -> Context:
        self.clock += timedelta(seconds=self.rng.randint(1, 20))
        return Context(
            command_id=self._id(), actor=f"{role}-{self.rng.randint(1, 60):02d}", role=role,
            where=where, occurred_at=self.clock - timedelta(seconds=self.rng.randint(0, 600)),
        )

    def _seal(self, data: dict[str, Any]) -> str:
        return self._sealed()

    def _sealed(self) -> str:
        # Looks like the vault's ciphertext; tests check that it never reaches a view.
        return "v1:" + base64.b64encode(self.rng.randbytes(48)).decode()

    def commands(self, n_events: int) -> Iterator[list[DomainEvent]]:
        """Each item is one command's events, in the order the store would get them."""
        emitted = 0
        for aggregates in self._reference():
            events = _collect(aggregates, self.world)
            emitted += len(events)
            yield events
        active = [self._cohort() for _ in range(self.in_flight)]
        while emitted < n_events:
            i = self.rng.randrange(len(active))
            try:
                aggregates = next(active[i])
            except StopIteration:
                active[i] = self._cohort()
                continue
            events = _collect(aggregates, self.world)
            if self.rng.random() < 0.1:  # an Idempotency-Key receipt, stored with the command
                receipt = CommandReceipt(key=str(self._id()), fingerprint="f", answer={"ok": True})
                events += _collect([receipt], self.world)
            emitted += len(events)
            yield events

    def _reference(self) -> Iterator[list[Aggregate]]:
        w = self.world
        for code, name in (("CAN", "白云机场"), ("LW-1", "荔湾区接待点"), ("PZ-2", "琶洲接待点")):
            w.entry_points.append(EntryPoint.register(self.tag + code, name))
            yield [w.entry_points[-1]]
        for i in range(max(3, self.scale // 300)):
            rooms = [f"{floor}{n:02d}" for floor in range(2, 8) for n in range(1, 21)]
            name = f"隔离酒店 {i}"
            yield [self._add_site(f"{self.tag}H{i:03d}", name, DestinationKind.HOTEL, rooms)]
        for i, street in enumerate(STREETS):
            capacity = max(20, self.scale // 40)
            code = f"{self.tag}S{i:02d}"
            yield [self._add_site(code, street, DestinationKind.HOME, [], capacity)]
        for i in range(self.in_flight + 10):
            vehicle = Vehicle.register(f"{self.tag}粤A{i:05d}", self.rng.choice((7, 12, 20, 33)))
            w.vehicles.append(vehicle)
            self.free_vehicles.append(vehicle)
            yield [vehicle]

    def _add_site(
        self, code: str, name: str, kind: DestinationKind, rooms: list[str], capacity: int = 0
    ) -> Site:
        site = Site.register(code, name, kind, rooms, capacity)
        self.world.sites.append(site)
        self.sites[site.id] = site
        return site

    def _cohort(self) -> Iterator[list[Aggregate]]:
        """One vehicle run from planning to the last room door, with its passengers."""
        rng, w = self.rng, self.world
        ep = rng.choice(w.entry_points).code
        vehicle = self.free_vehicles.pop(rng.randrange(len(self.free_vehicles)))
        run = TransportRun.plan(vehicle, f"escort-{rng.randint(1, 40)}", ep)
        vehicle.assign_run(run.id)
        w.runs.append(run)
        yield [vehicle, run]
        parties: list[list[Journey]] = []
        seats, wanted = vehicle.seats, rng.randint(2, 6)
        while seats > 0 and len(parties) < wanted:
            size = min(seats, 1 if rng.random() < 0.7 else rng.randint(2, 4))
            party, aggregates = self._register(ep, size)
            parties.append(party)
            seats -= size
            yield aggregates
        for party in parties:
            yield from self._screen(party, ep)
        for party in [p for p in parties if p]:
            yield from self._dispatch(party, ep)
        parties = [p for p in parties if p]
        for party in parties:
            yield from self._seat(party, run, ep)
        passengers = [j for p in parties for j in p]
        for j in passengers:
            if rng.random() < 0.02:  # scanned at the wrong car first: recorded, no effect
                j.board(self._id(), f"scan-{self._id().hex[:12]}", self._ctx("escort", ep))
                yield [j]
            j.board(run.id, f"scan-{self._id().hex[:12]}", self._ctx("escort", ep))
            run.record_boarding(j.id)
            yield [j, run]
        if not passengers:
            vehicle.finish_run(run.id)  # nobody left to carry: the run is abandoned
            self.free_vehicles.append(vehicle)
            yield [vehicle]
            return
        yield from self._drive(run, vehicle, passengers)

    def _screen(self, party: list[Journey], ep: str) -> Iterator[list[Aggregate]]:
        """Screening at the desk; the feverish go to hospital and leave the party."""
        rng = self.rng
        for j in list(party):
            if rng.random() < 0.05:
                j.amend(self._sealed(), ["phone"], self._ctx("traveller", ep))
                yield [j]
            risk = rng.choice((RiskLevel.LOW, RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH))
            j.screen(risk, round(rng.uniform(36.0, 37.6), 1), False, True,
                     self._ctx("screener", ep), lambda _: self._sealed())
            yield [j]
            if rng.random() < 0.03:
                ctx = self._ctx("screener", ep)
                transfer = HospitalTransfer.request(j.id, ep, f"desk:{ep}", "", "urgent", ctx)
                j.refer_to_hospital("fever at the desk", ctx, _sealed_reason)
                party.remove(j)
                self.world.transfers.append(transfer)
                yield [j, transfer]
                if rng.random() < 0.5:  # the 120 ambulance took them; dispatch cancels
                    transfer.cancel("taken by 120", self._ctx("dispatcher", ep))
                    yield [transfer]

    def _dispatch(self, party: list[Journey], ep: str) -> Iterator[list[Aggregate]]:
        """A room or home place for the party; some change, some never show up or cancel."""
        rng = self.rng
        site = yield from self._assign(party, ep)
        if rng.random() < 0.04:  # the dispatcher changes their mind once
            for j in party:
                j.withdraw_destination("room swap", self._ctx("dispatcher", ep))
            site.release(party[0].party_id, "room swap")
            yield [site, *party]
            site = yield from self._assign(party, ep)
        if rng.random() < 0.05:
            no_show = rng.random() < 0.5
            for j in party:
                if no_show:
                    j.mark_no_show(self._ctx("dispatcher", ep))
                else:
                    j.cancel("flight diverted", self._ctx("dispatcher", ep), _sealed_reason)
            site.release(party[0].party_id, "no-show" if no_show else "cancelled")
            yield [site, *party]
            if not no_show:  # retention as if its period had passed: the log has erasures too
                for j in party:
                    j.record_erasure(30, self._ctx("retention", ep))
                yield list(party)
            party.clear()

    def _seat(
        self, party: list[Journey], run: TransportRun, ep: str
    ) -> Iterator[list[Aggregate]]:
        """Seats for the whole party (custody offered to the escort); a few are re-seated."""
        for attempt in (1, 2):
            seated = run.assign_seats([j.id for j in party])
            for j in party:
                j.assign_seat(run.id, seated[j.id], self._ctx("dispatcher", ep))
            yield [run, *party]
            if attempt == 2 or self.rng.random() >= 0.03:
                return
            for j in party:
                j.withdraw_seat("seat swap", self._ctx("dispatcher", ep))
                run.release_seat(j.id, "seat swap")
            yield [run, *party]

    def _register(self, ep: str, size: int) -> tuple[list[Journey], list[Aggregate]]:
        ids = [self._id() for _ in range(size)]
        aggregates: list[Aggregate] = []
        party_id = ids[0]
        if size > 1:
            party = TravelParty.form(ids)
            party_id = party.id
            aggregates.append(party)
        ctx = self._ctx("traveller", ep)
        journeys = []
        for jid in ids:
            key = self.rng.randbytes(32).hex()
            journey = Journey.register(jid, key, party_id, ep, self._sealed(), ctx)
            journeys.append(journey)
            aggregates += [journey, IdentityRecord(identity_key=key, journey_id=jid)]
        self.world.journeys += journeys
        self.parties[party_id] = list(journeys)
        return journeys, aggregates

    def _assign(
        self, party: list[Journey], ep: str
    ) -> Generator[list[Aggregate], None, Site]:
        sites = list(self.world.sites)
        self.rng.shuffle(sites)
        for site in sites:
            try:
                room = site.hold(party[0].party_id)
            except CapacityExhausted:
                continue
            hotel = site.kind is DestinationKind.HOTEL
            for j in party:
                j.assign_destination(site.kind, site.id, room if hotel else "",
                                     self._ctx("dispatcher", ep))
            yield [site, *party]
            return site
        raise CapacityExhausted("the synthetic district ran out of rooms: raise `scale`")

    def _site(self, journey: Journey) -> Site:
        assert journey.site_id is not None
        return self.sites[journey.site_id]

    def _drive(
        self, run: TransportRun, vehicle: Vehicle, passengers: list[Journey]
    ) -> Iterator[list[Aggregate]]:
        rng, ep = self.rng, run.entry_point
        run.depart()
        for j in passengers:
            j.depart(run.id, self._ctx("escort", ep))
        yield [run, *passengers]
        run.arrive()
        for j in passengers:
            j.arrive(run.id, self._ctx("escort", ep))
        yield [run, *passengers]
        for j in passengers:
            site = self._site(j)
            j.check_in(site.id, f"scan-{self._id().hex[:12]}", self._ctx("receiver", site.code))
            site.occupy(j.party_id)
            changed: list[Aggregate] = [j, site, run]
            if run.record_handover(j.id):
                vehicle.finish_run(run.id)
                self.free_vehicles.append(vehicle)
                changed.append(vehicle)
            yield changed
        for j in passengers:
            where = self._site(j).code
            ctx = self._ctx("receiver", where)
            starts_on = self.clock.date()
            j.start_quarantine(starts_on + timedelta(days=14), ctx, starts_on=starts_on,
                               legal_basis="drill", test_days=(1, 4, 7, 14))
            yield [j]
            if rng.random() < 0.6:
                surveyor = self._ctx("surveyor", where)
                read = DataAccess.record(j.id, ["health", "survey"], "survey", surveyor)
                self.world.accesses.append(read)
                yield [read]
                j.record_survey(rng.choice(list(RiskLevel)), self._sealed(), surveyor)
                yield [j]
            change = rng.random()
            if change < 0.1:  # a contact of a case elsewhere: the order is extended
                j.extend_quarantine(starts_on + timedelta(days=21), CHANGE, ctx, self._seal)
                yield [j]
            elif change < 0.15:  # new guidance: shorter orders
                j.shorten_quarantine(starts_on + timedelta(days=10), CHANGE, starts_on, ctx,
                                     self._seal)
                yield [j]
        for j in passengers:
            if rng.random() < 0.5:
                # A drill's early release: the day-1 test first, then the order ends.
                j.record_test_result(1, self._sealed(), self._ctx("receiver", self._site(j).code))
                assert j.quarantine_starts_on is not None
                j.release(CHANGE, j.quarantine_starts_on,
                          self._ctx("receiver", self._site(j).code),
                          lambda _: {"outcome": "negative"}, self._seal)
                yield [j, *self._free_if_party_closed(j)]

    def _free_if_party_closed(self, j: Journey) -> list[Aggregate]:
        """The room goes back to the pool when the last member of its party leaves it."""
        if any(not p.is_closed for p in self.parties[j.party_id]):
            return []
        site = self._site(j)
        site.release(j.party_id, "released")
        return [site]


def _collect(aggregates: list[Aggregate], world: World) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    for aggregate in aggregates:
        collected = aggregate.collect_events()
        if isinstance(aggregate, IdentityRecord | TravelParty | CommandReceipt):
            world.unprojected_events += len(collected)
        events += collected
    return events


def seed(
    settings: Settings, n_events: int, *, seed: int = 1, batch: int = 5000, tag: str = ""
) -> World:
    """Write a synthetic log of `n_events` (or a few more) events; return its world.

    `batch`: events per transaction (1 stores each command alone, as the application does).
    """
    simulation = Simulation(seed, scale=max(300, n_events // 15), tag=tag)
    app = open_writer(settings)
    try:
        write(app, simulation.commands(n_events), batch=batch)
    finally:
        app.close()
    return simulation.world
