"""`/ws/board` against a real server process: snapshot, deltas, resume, roles, time travel.

Each board is a real websocket client (tests/board_watch.py) that applies what it receives the
way the wall screen does; what it holds is compared with what the server answers afresh.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from domain.staff import Role
from tests.board_watch import BoardWatch
from tests.databases import POSTGRES_MARKED
from tests.e2e.client import Api, traveller
from tests.e2e.conftest import Live, live_server_on


def _token(api: Api) -> str:
    return str(api.http.headers["Authorization"]).split()[1]


def _same(board: dict[str, Any], other: dict[str, Any]) -> bool:
    return {k: v for k, v in board.items() if k != "rebuilding"} == {
        k: v for k, v in other.items() if k != "rebuilding"
    }


class Line:
    """Reference data of its own and the staff who move travellers along the line."""

    def __init__(self, live: Live) -> None:
        self.live = live
        admin = Api.signed_in(live.url, live.settings, Role.ADMIN)
        tag = uuid4().hex[:6].upper()
        self.entry, self.hotel, self.plate = f"EP-{tag}", f"H-{tag}", f"粤A·{tag}"
        admin.post("/api/entry-points", {"code": self.entry, "name": "白云机场 T2"}, expect=201)
        admin.post(
            "/api/sites",
            {"code": self.hotel, "name": "荔湾酒店", "kind": "hotel",
             "rooms": [str(r) for r in range(101, 121)]},
            expect=201,
        )
        admin.post("/api/vehicles", {"plate": self.plate, "seats": 12}, expect=201)
        self.public = Api(live.url)
        self.screener = Api.signed_in(live.url, live.settings, Role.SCREENER)
        self.commander = Api.signed_in(live.url, live.settings, Role.COMMANDER)

    def register(self) -> str:
        number = f"B{uuid4().int % 10**7:07d}"
        answer = self.public.post(
            "/api/registrations",
            {"entry_point": self.entry, "travellers": [traveller(number)]},
            expect=201,
        )
        return str(answer["journey_ids"][0])

    def screen(self, journey: str) -> None:
        self.screener.post(f"/api/journeys/{journey}/screening", {"risk": "low"})

    def settled_position(self) -> int:
        self.commander.wait_for_views()
        return int(self.commander.get("/api/board")["position"])


def test_snapshot_then_every_change_as_a_delta(live: Live) -> None:
    line = Line(live)
    watch = BoardWatch(live.url, _token(line.commander), keep_boards=True)
    try:
        watch.wait_until(lambda w: w.board is not None)
        start = watch.position or 0
        journeys = [line.register() for _ in range(3)]
        for journey in journeys:
            line.screen(journey)
        watch.wait_for_position(line.settled_position())
        mine = [d for d in watch.deltas() if d["position"] > start]
        assert len(mine) >= 6  # three registered, three screened (other tests may add more)
        assert watch.errors == []
        assert _same(watch.board or {}, line.commander.get("/api/board"))
        # Every board the screen held on the way is what time travel gives for its position.
        for position, held in list(watch.boards.items())[-6:]:
            assert _same(line.commander.get(f"/api/board?position={position}"), held)
    finally:
        watch.close()


def test_a_returning_client_gets_exactly_the_deltas_it_missed(live: Live) -> None:
    line = Line(live)
    token = _token(line.commander)
    steady = BoardWatch(live.url, token)  # stays connected throughout: the reference
    leaving = BoardWatch(live.url, token)
    try:
        for watch in (steady, leaving):
            watch.wait_until(lambda w: w.board is not None)
        steady.wait_for_position(line.settled_position())
        leaving.wait_for_position(line.settled_position())
        leaving.close()
        held = leaving.board
        assert held is not None
        last_seen = held["position"]

        journeys = [line.register() for _ in range(5)]
        for journey in journeys:
            line.screen(journey)  # 10 events, one delta each
        end = line.settled_position()
        steady.wait_for_position(end)

        back = BoardWatch(live.url, token, board=held)
        try:
            back.wait_for_position(end)
            resumed = back.frames
            assert [f["type"] for f in resumed] == ["delta"] * 10  # no snapshot: a resume
            missed = [d for d in steady.deltas() if d["position"] > last_seen]
            assert resumed == missed  # exactly those, in order: no gap, no duplicate
            positions = [d["position"] for d in resumed]
            assert positions == sorted(set(positions))
            assert [d["after"] for d in resumed[1:]] == positions[:-1]
            assert resumed[0]["after"] <= last_seen
            assert back.errors == [] and _same(back.board or {}, steady.board or {})
        finally:
            back.close()
    finally:
        steady.close()


def test_a_client_the_server_cannot_resume_gets_a_snapshot(live: Live) -> None:
    line = Line(live)
    ahead = BoardWatch(live.url, _token(line.commander),
                       board={"position": 10**9, "stages": {}})
    try:
        ahead.wait_until(lambda w: bool(w.frames))
        assert ahead.frames[0]["type"] == "snapshot"
        assert ahead.frames[0]["position"] == line.settled_position()
    finally:
        ahead.close()


@pytest.mark.parametrize(
    ("hello", "code"),
    [
        ("not json", 4400),
        ('{"after": null}', 4400),
        ('{"token": "forged", "after": null}', 4401),
    ],
)
def test_the_socket_wants_a_valid_token_in_its_first_frame(
    live: Live, hello: str, code: int
) -> None:
    with connect(live.url.replace("http", "ws", 1) + "/ws/board") as ws:
        ws.send(hello)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == code


def test_each_role_sees_only_its_part_of_the_board(live: Live) -> None:
    line = Line(live)
    escort = Api.signed_in(live.url, live.settings, Role.ESCORT)
    with connect(live.url.replace("http", "ws", 1) + "/ws/board") as ws:
        ws.send(f'{{"token": "{_token(escort)}", "after": null}}')
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4403
    escort.get("/api/board", expect=403)

    surveyor = BoardWatch(live.url, _token(Api.signed_in(live.url, live.settings, Role.SURVEYOR)))
    admin = BoardWatch(live.url, _token(Api.signed_in(live.url, live.settings, Role.ADMIN)))
    try:
        for watch in (surveyor, admin):
            watch.wait_until(lambda w: w.board is not None)
        journey = line.register()
        line.screen(journey)
        end = line.settled_position()
        for watch in (surveyor, admin):
            watch.wait_for_position(end)
        assert surveyor.board is not None and admin.board is not None
        assert {"runs", "on_road", "alerts"}.isdisjoint(surveyor.board)
        assert all({"runs", "on_road", "alerts"}.isdisjoint(d["changes"])
                   for d in surveyor.deltas())
        assert surveyor.board["stages"] == line.commander.get("/api/board")["stages"]
        assert all("risk" not in row for row in admin.board["on_road"].values())
    finally:
        surveyor.close()
        admin.close()


def test_time_travel_over_http(live: Live) -> None:
    line = Line(live)
    before = line.commander.get("/api/board")
    time.sleep(0.01)
    line.screen(line.register())
    line.settled_position()
    after = line.commander.get("/api/board")
    assert after["position"] > before["position"]
    assert _same(line.commander.get(f"/api/board?as_of={before['at']}".replace("+", "%2B")),
                 before)
    assert _same(line.commander.get(f"/api/board?position={before['position']}"), before)
    span = line.commander.get("/api/board/range")
    assert span["last"] == after["at"] and span["position"] >= after["position"]
    line.commander.get("/api/board?as_of=2026-11-26T12:00:00", expect=422)  # no time zone
    line.commander.get("/api/board?position=-1", expect=422)
    line.commander.get(f"/api/board?position=1&as_of={after['at']}".replace("+", "%2B"),
                       expect=422)


@pytest.mark.parametrize("backend", POSTGRES_MARKED)
def test_a_client_too_far_behind_is_told_and_dropped(
    backend: str, tmp_path: Path
) -> None:
    # A queue of 3 frames: a family of five registering at once outruns any client.
    with live_server_on(backend, tmp_path, {"TRACKING_ALERTS": "off",
                                            "TRACKING_BOARD_QUEUE_LIMIT": "3"}) as live:
        line = Line(live)
        watch = BoardWatch(live.url, _token(line.commander))
        watch.wait_until(lambda w: w.board is not None)
        line.public.post(
            "/api/registrations",
            {"entry_point": line.entry,
             "travellers": [traveller(f"D{uuid4().int % 10**7:07d}") for _ in range(5)]},
            expect=201,
        )
        assert watch.wait_closed() == 4008
        assert watch.frames[-1] == {"type": "dropped", "reason": "slow"}
        # It comes back with the position it held and is brought up to date.
        back = BoardWatch(live.url, _token(line.commander), board=watch.board)
        try:
            back.wait_for_position(line.settled_position())
            assert _same(back.board or {}, line.commander.get("/api/board"))
        finally:
            back.close()
