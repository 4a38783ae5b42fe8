"""Before the day: staff signed in, the server's reference data read, capacity made to fit.

When the reference data cannot hold the planned day (rooms for the hotel parties, home places
in the streets, entry points), drill sites are registered through the admin API, every one
named with the prefix DRILL- so that nobody mistakes them for real ones. Vehicles are added the
same way while the day runs, when none is free (drill/fleet.py).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drill.client import Commands, Refused, Session, TransportError
from drill.plan import ENTRY_POINTS, STREETS, DayPlan

PREFIX = "DRILL-"
NEEDED_ROLES = ("screener", "dispatcher", "escort", "receiver", "surveyor")
BOARD_ROLES = ("commander", "dispatcher", "admin")  # who may read the whole board's counts
DEMO_ENTRY_POINTS = ("CAN-T2", "LW-RC")
DRILL_ENTRY_POINTS = (
    (f"{PREFIX}T2", "DRILL 演练 白云机场 T2 国际到达"),
    (f"{PREFIX}RC", "DRILL 演练 荔湾区集中接待点"),
)
LIWAN_STREETS = (
    "沙面", "岭南", "华林", "多宝", "昌华", "逢源", "龙津", "金花", "彩虹", "南源", "西村",
    "站前", "桥中", "白鹤洞", "冲口", "花地", "石围塘", "茶滘", "东漖", "海龙", "东沙", "中南",
)
# Sites the size of real ones (Guangzhou: 15,710 people in 147 hotels): the server replays a
# site's events on every assignment, so one huge site would be a bottleneck no district has.
HOTEL_ROOMS = [f"{floor}{n:02d}" for floor in range(1, 11) for n in range(1, 11)]  # 100
STREET_PLACES = 200  # households a street's community receives (as the demo's streets)
Accounts = Mapping[str, tuple[str, str]]  # role -> (username, password)


class SetupError(Exception):
    """The day cannot start: a missing account, a server that does not answer."""


def read_accounts(path: Path) -> dict[str, tuple[str, str]]:
    """`username<TAB>role<TAB>password` per line (what `tracking seed-demo` writes); the
    first account of each role is the one the drill signs in with."""
    if not path.exists():
        raise SetupError(f"no staff accounts file at {path} (start the server with demo data "
                         "once, or write one: username<TAB>role<TAB>password per line)")
    accounts: dict[str, tuple[str, str]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise SetupError(f"{path}:{n}: expected username<TAB>role<TAB>password")
        username, role, password = parts
        accounts.setdefault(role.strip(), (username.strip(), password))
    return accounts


async def sign_in(commands: Commands, accounts: Accounts) -> dict[str, Session]:
    missing = [r for r in NEEDED_ROLES if r not in accounts]
    if missing or not any(r in accounts for r in BOARD_ROLES):
        need = ", ".join(missing) or " or ".join(BOARD_ROLES)
        raise SetupError(f"the accounts lack a staff member for: {need}")
    sessions: dict[str, Session] = {}
    for role, (username, password) in accounts.items():
        try:
            answer = await commands.send(
                "sign_in", "POST", "/api/auth/token",
                {"username": username, "password": password}, mutating=False,
            )
        except Refused as e:
            raise SetupError(f"{username} ({role}) cannot sign in: {e.detail}") from None
        sessions[role] = Session(role, username, answer["access_token"])
    return sessions


def board_viewer(sessions: Mapping[str, Session]) -> Session:
    return next(sessions[r] for r in BOARD_ROLES if r in sessions)


async def wait_for_server(commands: Commands, seconds: float) -> None:
    """Until /healthz answers 200 (one try when `seconds` is 0)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = await commands.http.request("GET", "/healthz")
            if answer.status == 200:
                return
            problem = f"/healthz answers {answer.status}"
        except TransportError as e:
            problem = f"the server does not answer /healthz ({e})"
        if time.monotonic() > deadline:
            raise SetupError(problem)
        await asyncio.sleep(0.5)


async def settle(commands: Commands, within: float = 120.0) -> int:
    """Wait until /healthz reports projector lag 0 and the board shows that position;
    returns the position."""
    deadline = time.monotonic() + within
    while True:
        health = await commands.send("healthz", "GET", "/healthz", mutating=False)
        projector = health["projector"]
        if projector["lag"] == 0:
            return int(projector["position"])
        if time.monotonic() > deadline:
            raise SetupError(f"the views still lag after {within:.0f} s: {projector}")
        await asyncio.sleep(0.1)


async def read_board(
    commands: Commands, who: Session, within: float = 120.0
) -> dict[str, Any]:
    """The board's counts once the projector has caught up with everything recorded (the
    board answers from the views' current position; its own `position` is that of the last
    event it shows, which may lie before events no board shows, such as sign-ins)."""
    await settle(commands, within)
    board: dict[str, Any] = await commands.send(
        "board", "GET", "/api/board", who=who, mutating=False
    )
    return board


@dataclass
class Places:
    """Where the day's travellers can go: entry point codes by slot, hotels with their free
    rooms, streets by slot (and an overflow street), what the drill registered."""

    entry_points: list[str]
    hotels: dict[str, int]  # code -> free rooms (kept by the drill as it assigns)
    streets: list[str]  # street code by plan slot
    street_free: dict[str, int]
    overflow: list[str] = field(default_factory=list)  # DRILL- streets for the full ones
    created: list[str] = field(default_factory=list)
    free_vehicles: list[tuple[str, int]] = field(default_factory=list)  # (plate, seats)
    plates: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)

    def next_code(self, stem: str) -> str:
        """`DRILL-<stem><n>` not yet taken on the server."""
        taken = [int(m.group(1)) for c in self.codes | self.plates
                 if (m := re.fullmatch(re.escape(PREFIX + stem) + r"(\d+)", c))]
        return f"{PREFIX}{stem}{max(taken, default=0) + 1:03d}"


async def prepare(commands: Commands, plan: DayPlan, sessions: Mapping[str, Session]) -> Places:
    """Read the reference data and register what the plan needs beyond it."""
    await settle(commands)
    ref = await commands.send(
        "reference", "GET", "/api/reference", who=sessions["dispatcher"], mutating=False
    )
    admin = sessions.get("admin")
    codes = {e["code"] for e in ref["entry_points"]} | {s["code"] for s in ref["sites"]}
    places = Places(
        entry_points=[], hotels={}, streets=[], street_free={}, codes=codes,
        plates={v["plate"] for v in ref["vehicles"]},
        free_vehicles=[(v["plate"], v["seats"]) for v in ref["vehicles"]
                       if v["active_run"] is None],
    )
    if all(c in codes for c in DEMO_ENTRY_POINTS):
        places.entry_points = list(DEMO_ENTRY_POINTS)
    else:
        for code, name in DRILL_ENTRY_POINTS[:ENTRY_POINTS]:
            if code not in codes:
                await register_reference(
                    commands, admin, places, "entry_point", "/api/entry-points",
                    {"code": code, "name": name},
                )
            places.entry_points.append(code)
    hotels = [s for s in ref["sites"] if s["kind"] == "hotel"]
    places.hotels = {s["code"]: int(s["free"]) for s in hotels}
    short = plan.hotel_parties() - sum(places.hotels.values())
    for _ in range(math.ceil(max(short, 0) * 1.05 / len(HOTEL_ROOMS))):
        code = places.next_code("H")
        await register_reference(commands, admin, places, "site", "/api/sites", {
            "code": code, "name": f"DRILL 演练酒店 {code[len(PREFIX):]}", "kind": "hotel",
            "rooms": HOTEL_ROOMS,
        })
        places.hotels[code] = len(HOTEL_ROOMS)
    await _streets(commands, admin, plan, places, ref["sites"])
    return places


async def _streets(
    commands: Commands, admin: Session | None, plan: DayPlan, places: Places,
    sites: list[dict[str, Any]],
) -> None:
    streets = [s for s in sites if s["kind"] == "home"]
    needs = plan.home_parties()
    if not streets and needs:
        for name in LIWAN_STREETS[:STREETS]:
            code = places.next_code("ST")
            await register_reference(commands, admin, places, "site", "/api/sites", {
                "code": code, "name": f"DRILL 演练 {name}街道", "kind": "home",
                "capacity": STREET_PLACES,
            })
            streets.append({"code": code, "free": STREET_PLACES})
    places.streets = [streets[i % len(streets)]["code"] for i in range(STREETS)] if streets else []
    places.street_free = {s["code"]: int(s["free"]) for s in streets}
    wanted: dict[str, int] = {}
    for slot, n in needs.items():
        wanted[places.streets[slot]] = wanted.get(places.streets[slot], 0) + n
    short = sum(max(n - places.street_free.get(code, 0), 0) for code, n in wanted.items())
    for _ in range(math.ceil(short * 1.05 / STREET_PLACES)):
        await add_street(commands, admin, places)


async def add_street(commands: Commands, admin: Session | None, places: Places) -> str:
    """A DRILL- street for travellers whose own street is full."""
    code = places.next_code("ST")
    await register_reference(commands, admin, places, "site", "/api/sites", {
        "code": code, "name": f"DRILL 演练 接收街道 {code[len(PREFIX):]}", "kind": "home",
        "capacity": STREET_PLACES,
    })
    places.overflow.append(code)
    places.street_free[code] = STREET_PLACES
    return code


async def register_reference(
    commands: Commands, admin: Session | None, places: Places, kind: str, path: str,
    body: dict[str, Any],
) -> None:
    if admin is None:
        raise SetupError(
            f"the reference data lacks capacity for the day and no admin account is given "
            f"to register {body.get('code') or body.get('plate')}"
        )
    await commands.send(f"register_{kind}", "POST", path, body, who=admin)
    name = str(body.get("code") or body.get("plate"))
    places.created.append(name)
    (places.plates if kind == "vehicle" else places.codes).add(name)
