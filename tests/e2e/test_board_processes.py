"""The production layout serves live boards: two API processes and one projector process on one
PostgreSQL database (README, "Running on PostgreSQL"; docs/board.md).

`tracking migrate` runs once; then one `tracking projections run` process and two uvicorn processes
with `TRACKING_PROJECTOR=off` (each with its own data directory, as on separate machines: only the
database, `TRACKING_SECRET` and `TRACKING_CIPHER_KEYS` are shared). A commander's board is open on
each API process while the door-to-door line is driven through both, alternately. Every command's
effect must reach both boards, which must receive the very same deltas, chained without gap or
duplicate, and end equal to `GET /api/board`. On the way, the projector is restarted (SIGTERM, then
started again) and one API process is killed (SIGKILL): the other keeps streaming, and the board
that lost its process resumes on a new one from its last position.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from domain.staff import Role
from domain.stages import Stage
from tests.board_watch import BoardWatch
from tests.databases import POSTGRES_MARKED, fresh_settings
from tests.e2e.client import PASSWORD, Api, traveller
from tests.e2e.processes import ApiProcess, ProjectorProcess, deployment_env, migrate
from tests.support import district_today
from tracking.services import open_services
from tracking.settings import Settings

ONLY_POSTGRES = [p for p in POSTGRES_MARKED if p.values == ("postgres",)]
# "Within a few seconds": generous, since CI machines are noisy; latency is benchmarked elsewhere.
ARRIVES_WITHIN_S = 10.0
ON_ROAD = ("seat_assigned", "boarded", "in_transit", "arrived")


def _shown(board: dict[str, Any] | None) -> dict[str, Any] | None:
    """A board as compared: everything but "rebuilding" (a snapshot's flag; deltas lack it)."""
    return None if board is None else {k: v for k, v in board.items() if k != "rebuilding"}


class Deployment:
    """The processes of one deployment, the staff's tokens, and the boards being watched."""

    def __init__(self, settings: Settings, root: Path) -> None:
        self.settings = settings
        self.root = root
        self.logs = root / "logs"
        self.env = deployment_env(settings)
        self.apis: list[ApiProcess] = []  # every API process started, dead ones too
        self.live: list[ApiProcess] = []  # the ones serving now
        self.projectors: list[ProjectorProcess] = []
        self.usernames: dict[Role, str] = {}
        self.tokens: dict[Role, str] = {}
        self.clients: dict[tuple[Role | None, ApiProcess], Api] = {}
        self.watches: dict[ApiProcess, BoardWatch] = {}  # the open board on each live process
        self.turn = 0
        self.lock = threading.Lock()
        self.asked = 0
        self.latencies: list[float] = []

    # -- processes ---------------------------------------------------------------------------
    def _dir(self, name: str) -> dict[str, str]:
        return {"TRACKING_DATA_DIR": str(self.root / name)}

    def migrate(self) -> None:
        migrate(self.env | self._dir("migrate"))

    def start_projector(self) -> ProjectorProcess:
        n = len(self.projectors)
        projector = ProjectorProcess(
            self.env | self._dir(f"projector-{n}"), self.logs / f"projector-{n}.log"
        )
        self.projectors.append(projector)
        return projector

    def spawn_api(self) -> ApiProcess:
        """A new API process (`TRACKING_PROJECTOR=off`); it serves once `join`ed."""
        api = ApiProcess(
            self.env | self._dir(f"api-{len(self.apis)}") | {"TRACKING_PROJECTOR": "off"},
            self.logs,
        )
        self.apis.append(api)
        return api

    def join(self, *apis: ApiProcess) -> None:
        for api in apis:
            api.wait_ready()
            self.live.append(api)

    def kill(self, api: ApiProcess) -> None:
        api.kill()
        self.live.remove(api)

    def stop(self) -> None:
        for watch in self.watches.values():
            watch.close()
        for client in self.clients.values():
            client.http.close()
        for process in [*self.apis, *self.projectors]:
            process.stop()

    def logs_text(self) -> str:
        return "\n".join(
            f"--- {p.log.name} (exit {p.process.poll()}) ---\n{p.output()[-4000:]}"
            for p in [*self.projectors, *self.apis]
        )

    # -- staff -------------------------------------------------------------------------------
    def add_staff(self, *roles: Role) -> None:
        """One account per role (in one session: each opening of the services costs)."""
        services = open_services(self.settings)
        try:
            for role in roles:
                username = f"{role.value}-{uuid4().hex[:6]}"
                services.accounts.add(username, role, f"Test {role.value}", PASSWORD)
                self.usernames[role] = username
        finally:
            services.close()

    def sign_in(self) -> None:
        """A token per role, issued by one process and used on every one (shared secret)."""
        for role, username in self.usernames.items():
            answer = httpx.post(f"{self.live[0].url}/api/auth/token",
                                json={"username": username, "password": PASSWORD})
            answer.raise_for_status()
            self.tokens[role] = answer.json()["access_token"]

    def as_(self, role: Role | None, api: ApiProcess) -> Api:
        """An HTTP client for `role` (None: the public) on `api`, kept for the test's length."""
        client = self.clients.get((role, api))
        if client is None:
            token = self.tokens[role] if role is not None else None
            client = self.clients[role, api] = Api(api.url, token)
        return client

    def next_api(self) -> ApiProcess:
        """The live API processes in turn: the commands go alternately through each."""
        with self.lock:
            api = self.live[self.turn % len(self.live)]
            self.turn += 1
        return api

    # -- boards ------------------------------------------------------------------------------
    def watch(self, api: ApiProcess, board: dict[str, Any] | None = None) -> BoardWatch:
        watch = BoardWatch(api.url, self.tokens[Role.COMMANDER], board=board)
        self.watches[api] = watch
        return watch

    def views_current(self, *, every_process: bool = True) -> dict[str, Any]:
        """Once the views hold everything stored: `GET /api/board` from each live process (all
        equal), or from one of them in turn."""
        if every_process:
            asked = self.live
        else:
            self.asked += 1
            asked = [self.live[self.asked % len(self.live)]]
        boards = []
        for api in asked:
            commander = self.as_(Role.COMMANDER, api)
            commander.wait_for_views()
            boards.append(_shown(commander.get("/api/board")))
        assert all(b == boards[0] for b in boards), "the API processes answer different boards"
        return boards[0]  # type: ignore[return-value]

    def settle(self, since: float | None) -> dict[str, Any]:
        """Every live board shows exactly what `GET /api/board` says, once the views are current;
        `since`: when the command waited for was answered (None: not a command's latency)."""
        expected = self.views_current(every_process=False)
        for api in self.live:
            watch = self.watches[api]
            watch.wait_until(lambda w: _shown(w.board) == expected, ARRIVES_WITHIN_S)
        if since is not None:
            self.latencies.append(time.monotonic() - since)
        return expected


@contextmanager
def deployment(backend: str, tmp_path: Path) -> Iterator[Deployment]:
    """A fresh PostgreSQL database; every process started on it is stopped at the end."""
    assert backend == "postgres"  # NOTIFY fan-out across processes: PostgreSQL only
    with fresh_settings(backend, tmp_path / "test") as settings:
        d = Deployment(settings, tmp_path)
        try:
            yield d
        except BaseException:
            print(d.logs_text())  # shown by pytest with the failure
            raise
        finally:
            d.stop()


class Line:
    """Drives the door-to-door line over HTTP, alternately through the live API processes, and
    keeps what the board must show (the stage of each traveller, the open runs, the reference
    data), so that each settled board is checked to show the command's effect."""

    def __init__(self, d: Deployment) -> None:
        self.d = d
        tag = uuid4().hex[:6].upper()
        self.entry, self.hotel, self.street = f"EP-{tag}", f"H-{tag}", f"ST-{tag}"
        self.plates = [f"粤A·{tag}1", f"粤A·{tag}2"]
        self.entry_points: set[str] = set()
        self.sites: set[str] = set()
        self.stage: dict[str, str] = {}  # journey id -> stage
        self.run_of: dict[str, str] = {}  # journey id -> run id
        self.run_status: dict[str, str] = {}  # open runs only
        self.commands = 0
        self.answered = 0.0
        self.lock = threading.Lock()
        # While the projector is down nothing reaches a board: effects are checked once it is
        # back.
        self.deferred = False

    def _post(self, role: Role | None, path: str, body: dict[str, Any], expect: int = 200) -> Any:
        answer = self.d.as_(role, self.d.next_api()).post(path, body, expect=expect)
        with self.lock:
            self.commands += 1
            self.answered = time.monotonic()
        return answer

    def _settled(self) -> None:
        if not self.deferred:
            self.check(self.d.settle(self.answered))

    def burst(self, *commands: Callable[[], None]) -> None:
        """Commands sent at once, a thread each (through the processes in turn): their events
        share projector pages. Their effects are checked together once all are answered."""
        self.deferred = True
        try:
            with ThreadPoolExecutor(len(commands)) as pool:
                for sent in [pool.submit(command) for command in commands]:
                    sent.result()
        finally:
            self.deferred = False
        self._settled()

    def check(self, board: dict[str, Any]) -> None:
        stages = {s.value: 0 for s in Stage}
        for stage in self.stage.values():
            stages[stage] += 1
        assert board["stages"] == stages
        assert set(board["entry_points"]) == self.entry_points
        assert {site["code"] for site in board["sites"].values()} == self.sites
        assert {r: row["status"] for r, row in board["runs"].items()} == self.run_status
        assert {j: row["stage"] for j, row in board["on_road"].items()} == {
            j: s for j, s in self.stage.items() if s in ON_ROAD
        }

    # -- the commands (payloads as in test_line_over_http.py) --------------------------------
    def reference(self) -> None:
        self._post(Role.ADMIN, "/api/entry-points", {"code": self.entry, "name": "白云机场 T2"},
                   expect=201)
        self.entry_points.add(self.entry)
        self._settled()
        self._post(Role.ADMIN, "/api/sites", {
            "code": self.hotel, "name": "荔湾酒店", "kind": "hotel", "rooms": ["101", "102", "103"],
        }, expect=201)
        self.sites.add(self.hotel)
        self._settled()
        self._post(Role.ADMIN, "/api/sites", {
            "code": self.street, "name": "沙面街道", "kind": "home", "capacity": 20,
        }, expect=201)
        self.sites.add(self.street)
        self._settled()
        for plate in self.plates:
            self._post(Role.ADMIN, "/api/vehicles", {"plate": plate, "seats": 12}, expect=201)
            self._settled()

    def register(self, *travellers: dict[str, Any]) -> list[str]:
        journeys: list[str] = self._post(
            None, "/api/registrations",
            {"entry_point": self.entry, "travellers": list(travellers)}, expect=201,
        )["journey_ids"]
        self.stage.update(dict.fromkeys(journeys, "registered"))
        self._settled()
        return journeys

    def screen(self, journey: str) -> None:
        self._post(Role.SCREENER, f"/api/journeys/{journey}/screening",
                   {"risk": "low", "temperature": 36.6, "where": "T2 desk 3"})
        self.stage[journey] = "screened"
        self._settled()

    def destination(self, journey: str, site: str) -> None:
        answer = self._post(Role.DISPATCHER, f"/api/journeys/{journey}/destination", {"site": site})
        assert journey in answer["journey_ids"]
        self.stage.update(dict.fromkeys(answer["journey_ids"], "destination_assigned"))
        self._settled()

    def plan(self, plate: str) -> str:
        run: str = self._post(Role.DISPATCHER, "/api/runs", {
            "plate": plate, "escort": "escort-1", "entry_point": self.entry,
        }, expect=201)["run_id"]
        self.run_status[run] = "planned"
        self._settled()
        return run

    def seats(self, journey: str, run: str) -> None:
        seated = self._post(Role.DISPATCHER, f"/api/journeys/{journey}/seats", {"run_id": run})
        assert journey in seated["seats"]
        for member in seated["seats"]:
            self.stage[member] = "seat_assigned"
            self.run_of[member] = run
        self._settled()

    def board(self, journey: str) -> None:
        run = self.run_of[journey]
        scan = {"run_id": run, "scan_id": f"car-{uuid4()}", "where": "car door",
                "occurred_at": "2026-03-28T09:15:00+08:00"}
        answer = self._post(Role.ESCORT, f"/api/journeys/{journey}/boarding", scan)
        assert answer["outcome"] == "accepted"
        self.stage[journey] = "boarded"
        self.run_status[run] = "boarding"
        self._settled()

    def _run_moves(self, run: str, action: str, status: str, stage: str) -> None:
        self._post(Role.ESCORT, f"/api/runs/{run}/{action}", {})
        self.run_status[run] = status
        self.stage.update({j: stage for j, r in self.run_of.items() if r == run})
        self._settled()

    def depart(self, run: str) -> None:
        self._run_moves(run, "departure", "departed", "in_transit")

    def arrive(self, run: str) -> None:
        self._run_moves(run, "arrival", "arrived", "arrived")

    def check_in(self, journey: str, site: str) -> None:
        answer = self._post(Role.RECEIVER, f"/api/journeys/{journey}/check-in",
                            {"site": site, "scan_id": f"door-{uuid4()}"})
        assert answer["outcome"] == "accepted"
        self.stage[journey] = "checked_in"
        run = self.run_of[journey]
        if all(self.stage[j] == "checked_in" for j, r in self.run_of.items() if r == run):
            self.run_status.pop(run, None)  # everyone is through a door: the run is closed
        self._settled()

    def quarantine(self, journey: str) -> None:
        self._post(Role.RECEIVER, f"/api/journeys/{journey}/quarantine",
                   {"planned_end": str(district_today() + timedelta(days=14))})
        self.stage[journey] = "under_quarantine"
        self._settled()


def _assert_one_chain(snapshot: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
    """Strictly increasing positions, each delta's `after` the previous one's position."""
    positions = [d["position"] for d in deltas]
    assert len(set(positions)) == len(positions), "a delta came twice"
    previous = snapshot["position"]
    for delta in deltas:
        assert delta["after"] == previous and delta["position"] > previous, (
            f"delta {delta['after']}->{delta['position']} after {previous}: a gap or a repeat"
        )
        previous = delta["position"]


@pytest.mark.parametrize("backend", ONLY_POSTGRES)
def test_two_api_processes_and_a_projector_process_serve_the_same_live_board(
    backend: str, tmp_path: Path
) -> None:
    began = time.monotonic()
    with deployment(backend, tmp_path) as d:
        d.migrate()  # once, before any worker starts
        d.start_projector()
        a, b = d.spawn_api(), d.spawn_api()
        d.add_staff(Role.ADMIN, Role.SCREENER, Role.DISPATCHER, Role.ESCORT, Role.RECEIVER,
                    Role.COMMANDER)  # while the processes start
        d.join(a, b)
        d.sign_in()
        d.views_current()
        on_a, on_b = d.watch(a), d.watch(b)
        for watch in (on_a, on_b):
            watch.wait_until(lambda w: w.board is not None)
        assert on_a.frames[0]["type"] == "snapshot" and on_a.frames == on_b.frames
        # A copy: BoardWatch goes on applying deltas to the board its snapshot frame holds.
        snapshot = copy.deepcopy(on_a.frames[0])

        # The process that will replace the one killed below, started now only to spare the
        # test its start-up time: it serves nothing (no command, no board) until then.
        c = d.spawn_api()

        line = Line(d)
        line.reference()
        family = line.register(traveller("P1000001", "王小明"), traveller("P1000002", "王𠮷"))
        (alone,) = line.register(traveller("P1000003", "محمد عبد الله"))
        (home,) = line.register(traveller("P1000004", "Zoë Ångström"))
        for journey in (*family, alone, home):
            line.screen(journey)

        # The projector is restarted: commands stored meanwhile reach both boards once it is
        # back, after the deltas they had, with nothing missed and nothing twice.
        held = on_a.position
        assert d.projectors[-1].terminate() == 0, d.projectors[-1].output()
        line.deferred = True
        line.destination(family[1], line.hotel)  # the whole family, one room
        line.destination(alone, line.hotel)
        line.destination(home, line.street)
        assert d.as_(Role.COMMANDER, a).get("/healthz")["projector"]["lag"] > 0
        time.sleep(0.3)
        assert on_a.position == on_b.position == held, "a board moved with no projector"
        d.start_projector()
        line.deferred = False
        line.check(d.settle(None))

        first, second = line.plan(line.plates[0]), line.plan(line.plates[1])
        line.seats(family[0], first)
        line.seats(alone, first)
        line.seats(home, second)
        line.board(family[0])
        line.board(family[1])

        # One API process dies: the other keeps streaming every command's effect.
        d.kill(b)
        assert on_b.wait_closed() is not None
        lost_at = on_b.board
        line.board(alone)
        line.depart(first)

        # The board that lost its process comes back on the new one, from the last position it
        # saw: what it missed and then everything else, as on the board that never went away.
        d.join(c)
        again_on_b = d.watch(c, board=lost_at)
        line.check(d.settle(None))
        line.arrive(first)
        line.burst(*(partial(line.check_in, journey, line.hotel) for journey in (*family, alone)))
        line.quarantine(family[0])
        line.board(home)
        line.depart(second)
        line.arrive(second)
        line.check_in(home, line.street)
        final = d.views_current()

        assert line.commands >= 30
        for watch in (on_a, on_b, again_on_b):
            assert watch.errors == []
            assert {f["type"] for f in watch.frames[1:]} <= {"delta"}
        deltas = on_a.deltas()
        assert again_on_b.frames and again_on_b.frames[0]["type"] == "delta"  # resumed
        # Both boards got the very same frames, in the same order.
        assert on_b.deltas() + again_on_b.deltas() == deltas
        _assert_one_chain(snapshot, deltas)
        assert _shown(on_a.board) == _shown(again_on_b.board) == final
        assert final["position"] == deltas[-1]["position"]
        for api in (a, c):
            assert _shown(d.as_(Role.COMMANDER, api).get("/api/board")) == final
        for process in [*d.apis, *d.projectors]:  # no feed or projector failure was logged
            assert "Traceback" not in process.output(), process.output()
        print(
            f"\n{line.commands} commands, {len(deltas)} deltas on each board; slowest command to "
            f"both boards {max(d.latencies):.2f} s; test {time.monotonic() - began:.1f} s"
        )
