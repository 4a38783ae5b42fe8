"""The vehicles of the day: runs loading at each entry point's kerb, driving, coming back.

A party with a destination is seated on the run loading at its entry point (high-risk parties
on runs of their own: they never share a vehicle with others). A run leaves once everyone
seated has boarded and it is full, or it has waited long enough since its first boarding;
once every passenger has been checked in at a door the server closes the run, and the vehicle
is back at the kerb after its return trip. When no vehicle is free a DRILL- vehicle is
registered (with an admin account), else the kerb waits for one to come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from drill.client import Commands, GaveUp, Refused, Session
from drill.plan import RETURN_TRIP, TRANSIT, VEHICLE_WAIT
from drill.setup import Places, SetupError

DRILL_SEATS = 30


class Clock:
    """Simulated time: `speed` simulated seconds per real second; 0 runs as fast as possible."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self.start = time.monotonic()

    def now(self) -> float | None:
        """Simulated seconds since the start (None when not keeping time)."""
        return (time.monotonic() - self.start) * self.speed if self.speed > 0 else None

    def real(self, simulated: float, *, floor: float = 0.0) -> float:
        return simulated / self.speed if self.speed > 0 else floor

    async def at(self, moment: float) -> None:
        if self.speed <= 0:
            await asyncio.sleep(0)
            return
        delay = self.start + moment / self.speed - time.monotonic()
        await asyncio.sleep(max(delay, 0.0))

    async def sleep(self, simulated: float) -> None:
        await asyncio.sleep(self.real(simulated))


@dataclass
class Run:
    run_id: str
    plate: str
    seats: int
    desk: Desk
    high: bool
    reserved: int = 0  # seats promised to parties (seated or being seated)
    boarded: int = 0
    checked_in: int = 0
    lost: int = 0  # passengers whose door scan was refused: the run cannot close
    loading: bool = True
    first_boarding: float | None = None  # monotonic
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    scanner: asyncio.Lock = field(default_factory=asyncio.Lock)  # the escort's phone
    seating: asyncio.Lock = field(default_factory=asyncio.Lock)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # or broken
    broken: str | None = None  # why the run stopped before its arrival
    departed: bool = False
    journeys: list[str] = field(default_factory=list)

    @property
    def free(self) -> int:
        return self.seats - self.reserved

    def poke(self) -> None:
        self.changed.set()


@dataclass
class Desk:
    """One entry point's kerb: the run loading for ordinary parties and for high-risk ones."""

    code: str
    loading: dict[bool, Run | None] = field(default_factory=lambda: {False: None, True: None})
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


OnMove = Callable[[list[str], str], None]  # (journey ids, stage) when a run moves them


class Fleet:
    def __init__(
        self, commands: Commands, clock: Clock, places: Places, sessions: dict[str, Session],
        rng: random.Random, on_move: OnMove, on_error: Callable[[BaseException], None],
    ) -> None:
        self.commands = commands
        self.clock = clock
        self.places = places
        self.sessions = sessions
        self.rng = rng
        self.on_move = on_move
        self.on_error = on_error
        self.free: list[tuple[str, int]] = list(places.free_vehicles)
        self.back = asyncio.Condition()
        self.create_lock = asyncio.Lock()
        self.desks = {code: Desk(code) for code in places.entry_points}
        self.runs: list[Run] = []
        self.drivers: set[asyncio.Task[None]] = set()

    async def seat(self, entry_point: str, lead: str, size: int, high: bool) -> Run:
        """Seat a party on the run loading at its kerb (planning a run when none fits)."""
        desk = self.desks[entry_point]
        async with desk.lock:
            run = desk.loading[high]
            if run is None or not run.loading or run.free < size:
                if run is not None:
                    run.loading = False
                    run.poke()
                run = await self._plan_run(desk, high, size)
                desk.loading[high] = run
            run.reserved += size
        try:
            async with run.seating:  # one run's seats one party at a time: no conflicts
                await self.commands.send(
                    "seats", "POST", f"/api/journeys/{lead}/seats", {"run_id": run.run_id},
                    who=self.sessions["dispatcher"], journey_id=lead,
                )
        except BaseException:
            run.reserved -= size
            run.poke()
            raise
        return run

    def boarded(self, run: Run, journeys: list[str]) -> None:
        if run.first_boarding is None:
            run.first_boarding = time.monotonic()
        run.boarded += len(journeys)
        run.journeys += journeys
        run.poke()

    async def abandon(self, run: Run, lead: str, size: int, *, any_boarded: bool) -> bool:
        """A party that could not board gives its seats back (True) so that the run can
        leave without it; if that fails too the run is broken and its passengers wait no more."""
        if not any_boarded:
            try:
                await self.commands.send(
                    "seats_withdrawal", "POST", f"/api/journeys/{lead}/seats/withdrawal",
                    {"reason": "演练：未能登车 drill: could not board"},
                    who=self.sessions["dispatcher"], journey_id=lead,
                )
            except (Refused, GaveUp):
                pass
            else:
                run.reserved -= size
                run.poke()
                return True
        run.broken = "a party could neither board nor give its seats back"
        run.arrived.set()
        run.poke()
        return False

    def checked_in(self, run: Run, n: int, refused: int = 0) -> None:
        run.checked_in += n
        run.lost += refused
        if run.checked_in == run.boarded and run.lost == 0 and run.broken is None:
            self._spawn(self._return(run))

    async def _plan_run(self, desk: Desk, high: bool, size: int) -> Run:
        plate, seats = await self._vehicle(size)
        escort = self.sessions["escort"]
        answer = await self.commands.send(
            "plan_run", "POST", "/api/runs",
            {"plate": plate, "escort": escort.username, "entry_point": desk.code},
            who=self.sessions["dispatcher"],
        )
        run = Run(answer["run_id"], plate, seats, desk, high)
        self.runs.append(run)
        self._spawn(self._drive(run))
        return run

    async def _vehicle(self, size: int) -> tuple[str, int]:
        """A free vehicle with room for the party: one back at the kerb, else a new DRILL-
        vehicle, else wait for one to come back."""
        async with self.back:
            while True:
                fits = [v for v in self.free if v[1] >= size]
                if fits:
                    choice = max(fits, key=lambda v: v[1])
                    self.free.remove(choice)
                    return choice
                if "admin" in self.sessions:
                    break
                if not any(not r.arrived.is_set() or r.checked_in < r.boarded
                           for r in self.runs):
                    raise SetupError("no vehicle is free and none will come back")
                await self.back.wait()
        async with self.create_lock:
            plate = self.places.next_code("V")
            await self.commands.send(
                "register_vehicle", "POST", "/api/vehicles",
                {"plate": plate, "seats": DRILL_SEATS}, who=self.sessions["admin"],
            )
            self.places.plates.add(plate)
            self.places.created.append(plate)
        return plate, DRILL_SEATS

    async def _drive(self, run: Run) -> None:
        try:
            await self._load_and_drive(run)
        except Exception as e:
            run.broken = f"{type(e).__name__}: {e}"
            self.on_error(e)
        finally:
            run.arrived.set()

    async def _load_and_drive(self, run: Run) -> None:
        patience = self.clock.real(VEHICLE_WAIT, floor=0.25)
        while True:
            run.changed.clear()  # before the state is read: a change from now on wakes us
            if run.broken is not None:
                return
            everyone = run.boarded == run.reserved and run.boarded > 0
            waited = (
                run.first_boarding is not None
                and time.monotonic() - run.first_boarding >= patience
            )
            if everyone and (not run.loading or run.free == 0 or waited or run.high):
                if not run.loading:
                    break  # nobody can be seated any more: everyone on the list is aboard
                await self._stop_loading(run)  # a party may take a seat meanwhile: look again
                continue
            if run.loading and (waited or (run.first_boarding is not None and run.free == 0)):
                await self._stop_loading(run)
                continue
            timeout = None
            if run.first_boarding is not None and run.loading:
                timeout = max(run.first_boarding + patience - time.monotonic(), 0.01)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.changed.wait(), timeout)
        escort = self.sessions["escort"]
        await self.commands.send(
            "departure", "POST", f"/api/runs/{run.run_id}/departure", {}, who=escort
        )
        run.departed = True
        self.on_move(run.journeys, "in_transit")
        await self.clock.sleep(self.rng.uniform(*TRANSIT))
        await self.commands.send(
            "arrival", "POST", f"/api/runs/{run.run_id}/arrival", {}, who=escort
        )
        self.on_move(run.journeys, "arrived")

    async def _stop_loading(self, run: Run) -> None:
        async with run.desk.lock:
            run.loading = False
            if run.desk.loading[run.high] is run:
                run.desk.loading[run.high] = None

    async def _return(self, run: Run) -> None:
        await self.clock.sleep(RETURN_TRIP)
        async with self.back:
            self.free.append((run.plate, run.seats))
            self.back.notify_all()

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.drivers.add(task)
        task.add_done_callback(self.drivers.discard)
