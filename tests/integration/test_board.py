"""The command board's deltas, checkpoints and time travel, on SQLite and PostgreSQL.

A synthetic log long enough to cross two checkpoints is projected a few pages at a time; after
each step the board read afresh is what a wall screen showed live at that position. Time travel
to that position (or to that moment) must give it back exactly, and so must the deltas alone.
"""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from domain.journey import Journey
from domain.stages import CLOSED_STAGES
from projections.board import apply_delta, empty_board, read_deltas
from projections.board_fold import ON_ROAD
from projections.projector import Projector
from projections.queries import read_board, read_board_as_of, read_board_deltas
from projections.synthetic import seed
from tests.integration.test_projector import library_events
from tracking.settings import Settings
from tracking.sidestore import SideStore

Board = dict[str, Any]


def _live(board: Board) -> Board:
    return {k: v for k, v in board.items() if k != "rebuilding"}


def _all_deltas(store: SideStore) -> list[Board]:
    with store.transaction(write=False) as cur:
        return read_deltas(cur, 0)


def _checkpoints(store: SideStore) -> list[int]:
    with store.transaction(write=False) as cur:
        cur.execute("SELECT position FROM board_checkpoints ORDER BY position")
        return [int(p) for (p,) in cur.fetchall()]


def test_time_travel_gives_back_the_board_that_was_live(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Checkpoints every 4,000 positions rather than 20,000: the same code, on a shorter log.
    monkeypatch.setattr("projections.backend.CHECKPOINT_EVERY", 4_000)
    seed(store_settings, 12_000, batch=500)
    store = SideStore(store_settings)
    projector = Projector(store_settings, page_size=499)
    try:
        live: dict[int, Board] = {}
        head = projector.backend.head()
        for until in [*range(701, head, 701), head]:
            projector.run_once(until=until)
            board = read_board(store)
            live[board["position"]] = board
        assert len(_checkpoints(store)) == head // 4_000  # at each page crossing a multiple
        deltas = _all_deltas(store)
        assert len(live) > 10

        times = Counter(d["at"] for d in deltas)
        for position, board in live.items():
            assert _live(read_board_as_of(store, position=position)) == _live(board), position
            if times[board["at"]] == 1:  # a moment no other event shares
                moment = datetime.fromisoformat(board["at"])
                assert _live(read_board_as_of(store, moment=moment)) == _live(board), position

        # The deltas alone, from an empty board, arrive at every one of those boards too.
        kept = empty_board()
        for delta in deltas:
            apply_delta(kept, delta)
            if delta["position"] in live:
                assert _live(kept) == _live(live[delta["position"]]), delta["position"]
        assert _live(kept) == _live(read_board(store))
        # Before the first event the board is empty; past the end it is the current one.
        assert _live(read_board_as_of(store, position=0)) == _live(empty_board())
        assert read_board_as_of(store, position=10**9)["position"] == kept["position"]
    finally:
        projector.close()
        store.close()


def test_deltas_chain_and_say_what_the_board_needs(store_settings: Settings) -> None:
    world = seed(store_settings, 6_000, batch=100)
    store = SideStore(store_settings)
    projector = Projector(store_settings, page_size=700)
    try:
        projector.run_once()
        deltas = _all_deltas(store)
        board = read_board(store)
        events = library_events(store_settings)
        # One delta per event a board shows, in log order, each naming the one before.
        shown = [nid for nid, e in events if type(e).__qualname__.split(".")[0] in {
            "Journey", "Site", "TransportRun", "Vehicle", "EntryPoint", "Alert"}]
        assert [d["position"] for d in deltas] == shown
        assert [d["after"] for d in deltas] == [0, *shown[:-1]]

        open_journeys = [j for j in world.journeys if j.stage not in CLOSED_STAGES]
        surveyed = {e.originator_id for _, e in events if isinstance(e, Journey.SurveyRecorded)}
        assert board["counters"]["survey_due"] == sum(
            1 for j in open_journeys if j.id not in surveyed
        )
        assert set(board["on_road"]) == {
            str(j.id) for j in world.journeys if j.stage.value in ON_ROAD
        }
        # Each leg was timed once per journey that completed it (all of today's: the log was
        # written just now), and a cell per entry point sums to the all-journeys cell.
        arrived = sum(1 for _, e in events if isinstance(e, Journey.Arrived))
        cells = board["timings"][board["day"]]
        assert cells["transit|all|"]["n"] == arrived > 0
        per_entry = [c["n"] for name, c in cells.items() if name.startswith("transit|entry_point|")]
        assert sum(per_entry) == arrived
        checked_in = sum(1 for _, e in events if isinstance(e, Journey.CheckedIn))
        assert cells["door_to_door|all|"]["n"] == checked_in > 0
        assert cells["vehicle_wait|all|"]["n"] > 0

        # A client resuming from the middle gets exactly the rest, in order.
        middle = deltas[len(deltas) // 2]["position"]
        assert read_board_deltas(store, middle) == [d for d in deltas if d["position"] > middle]
        assert read_board_deltas(store, board["position"]) == []
        # A client ahead of the views (another database, say) must start again.
        assert read_board_deltas(store, board["position"] + 10**6) is None
    finally:
        projector.close()
        store.close()


def test_a_rebuild_writes_the_same_deltas_again(store_settings: Settings) -> None:
    seed(store_settings, 3_000, batch=200)
    store = SideStore(store_settings)
    projector = Projector(store_settings, page_size=400)
    try:
        projector.run_once()
        before = copy.deepcopy(_all_deltas(store))
        projector.rebuild(fresh=True)
        assert _all_deltas(store) == before
    finally:
        projector.close()
        store.close()
