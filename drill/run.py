"""Play a planned day against a running server, over its public HTTP API only.

Each party is a task that follows its plan: registration (from the phone before landing, or
from the hall's addresses after it), perhaps a second registration, screening at the desk, the
dispatcher's destination, a seat on the run loading at the kerb (drill/fleet.py), the car door,
the room or home door, and the survey; or one of the exits. Staff act with the accounts given.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from uuid import uuid4

import orjson

from drill.client import Commands, GaveUp, Http, Refused, Session
from drill.fleet import Clock, Fleet, Run
from drill.plan import MINUTE, DayPlan, Party, Traveller
from drill.setup import (
    HOTEL_ROOMS,
    PREFIX,
    Accounts,
    Places,
    SetupError,
    add_street,
    board_viewer,
    prepare,
    read_accounts,
    read_board,
    register_reference,
    sign_in,
    wait_for_server,
)
from drill.summary import DaySummary, Ledger, board_change


@dataclass
class Progress:
    """How far the day is, for a progress bar (sent about twice a second)."""

    travellers: int  # planned
    registered: int
    through: int  # at a door or out by an exit
    surveys_planned: int
    surveyed: int
    runs: int
    retries: int
    simulated: float | None  # simulated seconds since the start (None at --speed 0)
    span: float


async def run_day(
    url: str,
    plan: DayPlan,
    accounts: Accounts | Path,
    speed: float,
    concurrency: int = 32,
    journal: Path | None = None,
    *,
    tag: str | None = None,
    watch: Callable[[Progress], None] | None = None,
    wait_for: float = 0.0,
) -> DaySummary:
    """Play `plan` against the server at `url` at `speed` simulated seconds per real second
    (0: as fast as the server answers), with at most `concurrency` requests in flight.
    `accounts` maps a role to (username, password), or is a file of
    `username<TAB>role<TAB>password` lines; `journal` gets one JSON line per acknowledged
    command. `tag` prefixes the document numbers (default: a fresh one, so days never meet);
    `wait_for` seconds are allowed for the server to start answering."""
    out: IO[bytes] | None = journal.open("wb") if journal is not None else None

    def write(line: dict[str, Any]) -> None:
        assert out is not None
        out.write(orjson.dumps(line) + b"\n")

    http = Http(url)
    commands = Commands(http, concurrency, journal=write if out is not None else None)
    try:
        await wait_for_server(commands, wait_for)  # 0: one try, and fail at once
        # Read once the server answers: `tracking serve` writes the demo accounts first.
        logins = read_accounts(accounts) if isinstance(accounts, Path) else accounts
        day = await Day.open(commands, plan, logins, speed, tag or uuid4().hex[:6].upper())
        return await day.play(watch)
    finally:
        await http.close()
        if out is not None:
            out.close()


class Day:
    def __init__(
        self, commands: Commands, plan: DayPlan, sessions: dict[str, Session], places: Places,
        speed: float, tag: str, before: dict[str, Any],
    ) -> None:
        self.commands = commands
        self.plan = plan
        self.sessions = sessions
        self.places = places
        self.speed = speed
        self.tag = tag
        self.before = before
        self.ledger = Ledger()
        self.clock = Clock(speed)
        self.rng = random.Random(plan.seed + 1)  # noqa: S311 - the day's own dice
        self.fleet = Fleet(
            commands, self.clock, places, sessions, self.rng, self.ledger.move, self._failed
        )
        self.rooms_lock = asyncio.Lock()

    @classmethod
    async def open(
        cls, commands: Commands, plan: DayPlan, logins: Accounts, speed: float, tag: str
    ) -> Day:
        sessions = await sign_in(commands, logins)
        places = await prepare(commands, plan, sessions)
        before = await read_board(commands, board_viewer(sessions))
        return cls(commands, plan, sessions, places, speed, tag, before)

    async def play(self, watch: Callable[[Progress], None] | None) -> DaySummary:
        started = time.monotonic()
        self.clock = self.fleet.clock = Clock(self.speed)
        ticker = asyncio.ensure_future(self._tick(watch)) if watch else None
        try:
            await asyncio.gather(*(self._party(p) for p in self.plan.parties))
        finally:
            for task in list(self.fleet.drivers):
                task.cancel()
            if ticker is not None:
                ticker.cancel()
        if watch:
            watch(self._progress())
        after = await read_board(self.commands, board_viewer(self.sessions))
        return self._summary(time.monotonic() - started, after)

    # -- one party's day ---------------------------------------------------------------------

    async def _party(self, party: Party) -> None:
        try:
            await self._line(party)
        except (Refused, GaveUp, SetupError) as e:
            self._failed(e, party)

    def _failed(self, e: BaseException, party: Party | None = None) -> None:
        if isinstance(e, GaveUp):
            self.ledger.gave_up += 1
        what: dict[str, Any] = {"error": type(e).__name__, "detail": str(e)}
        if isinstance(e, Refused):
            what |= {"kind": e.kind, "status": e.status, "detail": e.detail}
        if party is not None:
            what["party"] = party.index
        self.ledger.refuse(what)

    async def _line(self, party: Party) -> None:
        ledger = self.ledger
        entry = self.places.entry_points[party.flight.entry]
        street = self._street(party)
        await self.clock.at(party.register_at)
        first = await self._register(party, entry, street, party.address, None)
        ids: list[str] = first["journey_ids"]
        lead = ids[0]
        ledger.registrations += 1
        if party.pre_registered:
            ledger.pre_registrations += 1
        else:
            ledger.hall_registrations += 1
        if party.is_family:
            ledger.families += 1
            ledger.family_members += len(ids)
        ledger.move(ids, "registered")
        if party.again_at is not None:
            await self.clock.at(party.again_at)
            again = await self._register(party, entry, street, party.again_address,
                                         party.again_phone)
            if again["journey_ids"] == ids:
                ledger.double_registrations += 1
            else:
                ledger.duplicate_journeys += 1
                ledger.move([j for j in again["journey_ids"] if j not in ids], "registered")
        if party.exit in ("no_show", "cancelled"):
            assert party.exit_at is not None
            await self.clock.at(party.exit_at)
            if party.exit == "no_show":
                await self._staff("no_show", "screener", f"{lead}/no-show", {"where": "desk"},
                                  lead)
                ledger.move(ids, "no_show")
            else:
                reason = {"reason": "航班改签，旅客来电取消 flight changed, cancelled by phone"}
                await self._staff("cancellation", "screener", f"{lead}/cancellation", reason,
                                  lead)
                ledger.move(ids, "cancelled")
            return
        await self.clock.at(party.screen_at)
        await asyncio.gather(*(self._screen(m, j) for m, j in zip(party.members, ids,
                                                                    strict=True)))
        if party.exit == "hospital":
            assert party.exit_at is not None
            await self.clock.at(party.exit_at)
            body = {"reason": "入境点发热 38.7°C，转定点医院 fever at the desk",
                    "urgency": "urgent", "where": "desk"}
            await self._staff("hospital_referral", "screener", f"{lead}/hospital-referral",
                              body, lead)
            ledger.move(ids, "referred_to_hospital")
            return
        await self.clock.sleep(party.dispatch_after)
        site = await self._destination(party, lead, street)
        ledger.move(ids, "destination_assigned")
        run = await self.fleet.seat(entry, lead, len(ids), party.high_risk)
        ledger.move(ids, "seat_assigned")
        await self.clock.sleep(party.walk)
        boarding = await asyncio.gather(*(self._board(run, j) for j in ids),
                                        return_exceptions=True)
        failed = [e for e in boarding if isinstance(e, BaseException)]
        if failed:
            boarded = [j for j, e in zip(ids, boarding, strict=True) if e is None]
            if await self.fleet.abandon(run, lead, len(ids), any_boarded=bool(boarded)):
                ledger.move(ids, "destination_assigned")
            raise failed[0]
        self.fleet.boarded(run, ids)
        await run.arrived.wait()
        if run.broken is not None:
            return  # the run's failure is on the record already
        await self.clock.sleep(party.door)
        hotel = site in self.places.hotels  # a hotel's door starts the quarantine order
        done = await asyncio.gather(*(self._door(run, j, site, hotel) for j in ids),
                                    return_exceptions=True)
        refused = [e for e in done if isinstance(e, BaseException)]
        self.fleet.checked_in(run, len(ids) - len(refused), len(refused))
        for error in refused:
            if not isinstance(error, Refused | GaveUp):
                raise error
            self._failed(error, party)
        at_door = [j for j, e in zip(ids, done, strict=True) if not isinstance(e, BaseException)]
        await asyncio.gather(*(
            self._survey(party, m, j) for m, j in zip(party.members, ids, strict=True)
            if j in at_door and m.survey_after is not None
        ))

    async def _register(
        self, party: Party, entry: str, street: str, address: str, phone: str | None
    ) -> dict[str, Any]:
        people = [self._details(party, m, street) for m in party.members]
        if phone is not None:
            people[0]["phone"] = phone
        answer: dict[str, Any] = await self.commands.send(
            "registration", "POST", "/api/registrations",
            {"entry_point": entry, "travellers": people}, address=address, ok=(201,),
        )
        return answer

    def _details(self, party: Party, m: Traveller, street: str) -> dict[str, Any]:
        flight = party.flight
        details: dict[str, Any] = {
            "doc_type": "passport",
            "doc_country": m.doc_country,
            "doc_number": f"D{self.tag}{m.number}",
            "name_native": m.name_native,
            "name_latin": m.name_latin,
            "birth_date": m.birth_date.isoformat(),
            "nationality": m.doc_country,
            "phone": m.phone,
            "flight": flight.number,
            "came_from": flight.came_from,
            "travel_history": [{"place": flight.came_from}],
        }
        if m.symptomatic:
            details["symptoms"] = ["fever", "cough"]
        if party.members[0].local and street:
            details |= {"destination_street": street,
                        "destination_address": f"演练路 {party.index % 300 + 1} 号"}
        else:
            details["no_local_address"] = True
        return details

    async def _staff(
        self, kind: str, role: str, path: str, body: dict[str, Any], journey: str
    ) -> Any:
        return await self.commands.send(
            kind, "POST", f"/api/journeys/{path}", body, who=self.sessions[role],
            journey_id=journey,
        )

    async def _screen(self, m: Traveller, journey: str) -> None:
        await self._staff("screening", "screener", f"{journey}/screening", {
            "risk": m.risk, "temperature": m.temperature, "symptomatic": m.symptomatic,
            "sample_taken": m.risk != "low", "where": "desk",
        }, journey)
        self.ledger.screenings += 1
        self.ledger.move([journey], "screened")

    async def _destination(self, party: Party, lead: str, street: str) -> str:
        """The dispatcher's decision: home via the street, or the hotel with most free rooms;
        a site found full meanwhile (409) is marked so and the next one is tried."""
        home = party.destination == "home" and bool(street)
        for attempt in range(3):
            site = await (self._home_place(street) if home else self._hotel())
            try:
                await self._staff("destination", "dispatcher", f"{lead}/destination",
                                  {"site": site}, lead)
                return site
            except Refused as e:
                if e.status != 409 or attempt == 2:
                    raise
                (self.places.street_free if home else self.places.hotels)[site] = 0
        raise AssertionError("unreachable")

    async def _hotel(self) -> str:
        async with self.rooms_lock:
            hotels = self.places.hotels
            site = max(hotels, key=lambda code: hotels[code]) if hotels else ""
            if not site or hotels[site] <= 0:
                site = await self._add_hotel()
            hotels[site] -= 1
            return site

    async def _add_hotel(self) -> str:
        code = self.places.next_code("H")
        await register_reference(
            self.commands, self.sessions.get("admin"), self.places, "site", "/api/sites",
            {"code": code, "name": f"DRILL 演练酒店 {code[len(PREFIX):]}", "kind": "hotel",
             "rooms": HOTEL_ROOMS},
        )
        self.places.hotels[code] = len(HOTEL_ROOMS)
        return code

    def _street(self, party: Party) -> str:
        streets = self.places.streets
        return streets[party.street % len(streets)] if streets else ""

    async def _home_place(self, street: str) -> str:
        """The traveller's own street, or a DRILL- street when theirs is full."""
        async with self.rooms_lock:
            free = self.places.street_free
            if free.get(street, 0) <= 0:
                spare = [s for s in self.places.overflow if free[s] > 0]
                street = spare[0] if spare else await add_street(
                    self.commands, self.sessions.get("admin"), self.places
                )
            free[street] -= 1
            return street

    async def _board(self, run: Run, journey: str) -> None:
        async with run.scanner:  # the escort's one phone scans one traveller at a time
            answer = await self.commands.send(
                "boarding", "POST", f"/api/journeys/{journey}/boarding",
                {"run_id": run.run_id, "scan_id": f"car-{journey}", "where": run.plate},
                who=self.sessions["escort"], journey_id=journey,
            )
        if answer.get("outcome") not in ("accepted", "duplicate"):
            raise Refused("boarding", 200, answer)
        self.ledger.move([journey], "boarded")

    async def _door(self, run: Run, journey: str, site: str, hotel: bool) -> None:
        answer = await self._staff("check_in", "receiver", f"{journey}/check-in", {
            "site": site, "scan_id": f"door-{journey}", "start_quarantine": hotel,
        }, journey)
        if answer.get("outcome") not in ("accepted", "duplicate"):
            raise Refused("check_in", 200, answer)
        self.ledger.move([journey], "under_quarantine" if hotel else "checked_in")

    async def _survey(self, party: Party, m: Traveller, journey: str) -> None:
        assert m.survey_after is not None
        await self.clock.sleep(m.survey_after)
        await self._staff("survey", "surveyor", f"{journey}/survey", {
            "risk": m.risk,
            "answers": {
                "travel_history": [{"place": party.flight.came_from}],
                "risk_reason": "演练：按入境地与症状评估 drill: origin and symptoms",
            },
        }, journey)
        self.ledger.surveyed.add(journey)

    # -- progress and the summary ------------------------------------------------------------

    async def _tick(self, watch: Callable[[Progress], None]) -> None:
        while True:
            watch(self._progress())
            await asyncio.sleep(0.5)

    def _progress(self) -> Progress:
        stages = self.ledger.stage.values()
        through = sum(1 for s in stages if s in (
            "checked_in", "under_quarantine", "referred_to_hospital", "no_show", "cancelled"))
        planned_surveys = sum(1 for p in self.plan.parties if p.exit is None
                              for m in p.members if m.survey_after is not None)
        return Progress(
            travellers=self.plan.arrivals, registered=len(self.ledger.stage), through=through,
            surveys_planned=planned_surveys, surveyed=len(self.ledger.surveyed),
            runs=len(self.fleet.runs), retries=self.commands.tally.retries,
            simulated=self.clock.now(), span=self.plan.span,
        )

    def _summary(self, elapsed: float, after: dict[str, Any]) -> DaySummary:
        ledger, tally = self.ledger, self.commands.tally
        board_stages, board_counters = board_change(self.before, after)
        return DaySummary(
            arrivals=self.plan.arrivals, seed=self.plan.seed, speed=self.speed, tag=self.tag,
            elapsed_s=elapsed, stages=ledger.stages(), counters=ledger.counters(),
            board_stages=board_stages, board_counters=board_counters,
            board_position=int(after["position"]), journeys=len(ledger.stage),
            registrations=ledger.registrations, pre_registrations=ledger.pre_registrations,
            hall_registrations=ledger.hall_registrations,
            double_registrations=ledger.double_registrations,
            duplicate_journeys=ledger.duplicate_journeys, families=ledger.families,
            family_members=ledger.family_members, screenings=ledger.screenings,
            surveys=len(ledger.surveyed), runs=len(self.fleet.runs),
            created=list(self.places.created), commands=dict(tally.acknowledged),
            latencies_ms=tally.latencies, retries=tally.retries, throttled=tally.throttled,
            unavailable=tally.unavailable, busy=tally.busy,
            transport_errors=tally.transport_errors,
            refused=ledger.refused, gave_up=ledger.gave_up,
        )


def minutes(simulated: float) -> str:
    """`HH:MM` of a simulated moment, the day starting at 05:00."""
    total = int(simulated // MINUTE) + 5 * 60
    return f"{total // 60:02d}:{total % 60:02d}"


__all__ = ["DaySummary", "Progress", "run_day"]
