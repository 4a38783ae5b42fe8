"""The board's pure parts: leg-time figures, applying a delta, who sees what, slow clients."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from api.board_feed import Client
from domain.staff import Role
from projections.board import apply_delta, empty_board, visible
from projections.board_fold import figures, local_day, minutes_between

QUEUE_LIMIT = 1000


def nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


@given(st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=300))
def test_figures_are_the_nearest_rank_percentiles_of_the_minutes(minutes: list[int]) -> None:
    found = figures(Counter(minutes))
    assert found == {
        "n": len(minutes), "p50": nearest_rank(minutes, 0.5), "p95": nearest_rank(minutes, 0.95)
    }


def test_figures_of_nothing_are_zero() -> None:
    assert figures({}) == {"n": 0, "p50": 0, "p95": 0}


def test_legs_are_whole_minutes_and_days_are_the_districts() -> None:
    assert minutes_between("2026-11-26T01:00:00+00:00", "2026-11-26T01:02:59.9+00:00") == 2
    assert minutes_between("2026-11-26T01:00:00+00:00", "2026-11-26T00:59:00+00:00") == 0
    # 16:30 UTC is half past midnight the next day in Guangzhou.
    assert local_day("2026-11-26T16:30:00+00:00") == "2026-11-27"


def test_a_delta_replaces_rows_merges_counts_and_keeps_only_its_days_timings() -> None:
    board = empty_board()
    board["runs"] = {"r1": {"run_id": "r1", "status": "planned"}, "r2": {"run_id": "r2"}}
    board["timings"] = {"2026-11-26": {"transit|all|": {"n": 1, "p50": 3, "p95": 3}}}
    apply_delta(board, {
        "type": "delta", "position": 7, "after": 3, "at": "2026-11-26T17:00:00+00:00",
        "changes": {
            "stages": {"boarded": 2}, "runs": {"r1": {"run_id": "r1", "status": "boarding"},
                                               "r2": None},
            "timings": {"2026-11-27": {"handover|all|": {"n": 1, "p50": 4, "p95": 4}}},
        },
    })
    assert board["stages"]["boarded"] == 2 and board["stages"]["registered"] == 0
    assert board["runs"] == {"r1": {"run_id": "r1", "status": "boarding"}}
    assert (board["position"], board["day"]) == (7, "2026-11-27")
    assert board["timings"] == {"2026-11-27": {"handover|all|": {"n": 1, "p50": 4, "p95": 4}}}


def test_each_role_sees_its_part() -> None:
    board = empty_board()
    board["on_road"] = {"j1": {"journey_id": "j1", "risk": "high"}, "j2": None}
    assert visible(board, Role.COMMANDER) is board
    assert visible(board, Role.DISPATCHER) is board
    assert visible(board, Role.ADMIN)["on_road"] == {"j1": {"journey_id": "j1"}, "j2": None}
    assert board["on_road"]["j1"]["risk"] == "high"  # the original is untouched
    counts_only = visible(board, Role.SURVEYOR)
    assert {"runs", "on_road", "alerts"}.isdisjoint(counts_only)
    assert counts_only["stages"] == board["stages"]


def test_a_client_that_falls_too_far_behind_is_dropped_not_waited_for() -> None:
    client = Client(Role.COMMANDER, QUEUE_LIMIT)
    for position in range(1, QUEUE_LIMIT + 1):
        client.offer(position, f"frame {position}")
    assert not client.dropped and len(client.frames) == QUEUE_LIMIT
    client.offer(QUEUE_LIMIT, "a repeat")  # already queued: ignored
    assert not client.dropped
    client.offer(QUEUE_LIMIT + 1, "one too many")
    assert client.dropped and not client.frames
    client.offer(QUEUE_LIMIT + 2, "after the drop")
    assert not client.frames  # nothing more is queued for it
