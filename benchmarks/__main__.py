"""`make bench`: each figure beside a baseline measured in the same run, and the ratio.

Runs on PostgreSQL (a fresh database on the server of TRACKING_BENCH_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test). The last line printed is one JSON object.

BENCH_ONLY=name,name runs only those figures; BENCH_SIZE=small makes every figure small (a quick
check, not a measurement). The board's figures: benchmarks/board.py, benchmarks/board_socket.py;
the HTTP commands, the API's memory and the peak day: benchmarks/http_commands.py,
benchmarks/api_memory.py, benchmarks/peak_day.py (each module's docstring says what it
measures and how). What the machine was doing meanwhile is printed before the JSON line.
"""

from __future__ import annotations

import json
import os
import time
import traceback

from benchmarks.api_memory import bench_api_memory
from benchmarks.board import bench_board_as_of, bench_board_snapshot, fill_store
from benchmarks.board_socket import bench_event_to_ws
from benchmarks.care_figures import bench_care
from benchmarks.database import fresh_postgres
from benchmarks.dispatch import bench_dispatch_snapshot
from benchmarks.http_commands import bench_http_commands
from benchmarks.machine import LOG, watched
from benchmarks.peak_day import BAIYUN_RECORD, bench_peak_day
from benchmarks.projector import bench_projector_catchup
from benchmarks.registration import bench_command_register

BASELINES = {
    "projector_catchup": "raw read+decrypt+decode of the same encrypted log (library recorder + "
                         "mapper with the store cipher)",
    "command_register": "library bare aggregate create+save, 4 threads",
    "dispatch_snapshot": "bare read of the same views (no names opened)",
    "dispatch_snapshot_cold": "bare read of the same views (no names opened)",
    "event_to_ws": "tight-poll reader of the same store (views' position, 1 ms polls)",
    "board_snapshot": "raw PostgreSQL: read_board_state's own SQL, bare psycopg",
    "board_as_of": "replay of the board's deltas from position 0 (no checkpoints)",
    "survey_worklist": "bare SQL read of the same worklist rows (no names opened)",
    "health_record_read": "the same health-record read without its access event",
    "daily_report": "read_board on the same store (the board in one snapshot)",
    "http_commands": "library bare aggregate create+save/s, 4 threads, same server, same run",
    "api_memory": "the same API process after the same work on an empty store (same run)",
    "peak_day": "the same figure on an idle day: 1/20 of the arrivals, same hours and speed",
    "peak_day_projection_lag": "the same figure on the idle day (same run)",
    "peak_day_board": "the same figure on the idle day (same run)",
}
PEAK_DAY = ("peak_day", "peak_day_projection_lag", "peak_day_board")
SMALL = os.environ.get("BENCH_SIZE") == "small"
ONLY = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}


def _env(name: str, full: float, small: float) -> int:
    return int(os.environ.get(name, small if SMALL else full))


def _wanted(*names: str) -> bool:
    return not ONLY or bool(ONLY.intersection(names))


def main() -> None:
    n_events = _env("BENCH_EVENTS", 200_000, 20_000)
    n_registrations = _env("BENCH_REGISTRATIONS", 4000, 400)
    results: dict[str, dict[str, float | str]] = {}
    started = time.perf_counter()
    if _wanted("projector_catchup"):
        with watched("projector_catchup"), fresh_postgres() as settings:
            results["projector_catchup"] = bench_projector_catchup(settings, n_events)
    if _wanted("command_register"):
        with watched("command_register"), fresh_postgres() as settings:
            results["command_register"] = bench_command_register(settings, n_registrations)
    if _wanted("http_commands"):
        with watched("http_commands"), fresh_postgres() as settings:
            results["http_commands"] = bench_http_commands(
                settings, commands=_env("BENCH_HTTP_COMMANDS", 9000, 900),
                clients=_env("BENCH_HTTP_CLIENTS", 32, 16),
                bare_saves=_env("BENCH_HTTP_BARE_SAVES", 2000, 400),
            )
    if _wanted("dispatch_snapshot", "dispatch_snapshot_cold"):
        with watched("dispatch_snapshot*"), fresh_postgres() as settings:
            results |= bench_dispatch_snapshot(settings, _env("BENCH_WAITING", 600, 60))
    if _wanted("event_to_ws"):
        with watched("event_to_ws"), fresh_postgres() as settings:
            results["event_to_ws"] = bench_event_to_ws(
                settings, clients=_env("BENCH_WS_CLIENTS", 200, 20),
                rate=_env("BENCH_WS_RATE", 200, 50), warmup=_env("BENCH_WS_WARMUP", 5, 2),
                seconds=_env("BENCH_WS_SECONDS", 20, 5),
                command=os.environ.get("BENCH_WS_COMMAND", "registration"),
                family=_env("BENCH_WS_FAMILY", 4, 4),
            )
    if _wanted("board_snapshot", "api_memory"):
        # One fill (1M journeys) serves both figures.
        with watched("board_snapshot+api_memory"), fresh_postgres() as settings:
            journeys = _env("BENCH_BOARD_JOURNEYS", 1_000_000, 100_000)
            filled = fill_store(settings, journeys=journeys, open_journeys=journeys // 20)
            if _wanted("board_snapshot"):
                results["board_snapshot"] = bench_board_snapshot(
                    settings, filled, requests=_env("BENCH_BOARD_REQUESTS", 300, 60),
                )
            if _wanted("api_memory"):
                with fresh_postgres() as empty:
                    results["api_memory"] = bench_api_memory(
                        settings, filled, empty,
                        ws_clients=_env("BENCH_MEMORY_WS_CLIENTS", 200, 20),
                        ws_seconds=_env("BENCH_MEMORY_WS_SECONDS", 20, 5),
                    )
    if _wanted("board_as_of"):
        with watched("board_as_of"), fresh_postgres() as settings:
            results["board_as_of"] = bench_board_as_of(
                settings, n_events=_env("BENCH_TIME_TRAVEL_EVENTS", 1_000_000, 100_000),
                moments=_env("BENCH_AS_OF_MOMENTS", 20, 5),
            )
    if _wanted("survey_worklist", "health_record_read", "daily_report"):
        with watched("care figures"), fresh_postgres() as settings:
            care = bench_care(settings, arrivals=_env("BENCH_CARE_ARRIVALS", 5049, 500))
            results |= {k: v for k, v in care.items() if _wanted(k)}
    if _wanted(*PEAK_DAY):
        # Last, being the longest; a failure of the drill is printed as the figure's, so that
        # the figures measured before it are still reported.
        with watched("peak_day (idle day, then peak day)"), fresh_postgres() as idle, \
                fresh_postgres() as peak:
            try:
                day = bench_peak_day(
                    peak, idle, arrivals=_env("BENCH_PEAK_ARRIVALS", BAIYUN_RECORD * 10, 1000),
                    seconds=_env("BENCH_PEAK_SECONDS", 600, 60),
                    idle_share=_env("BENCH_PEAK_IDLE_SHARE", 20, 20),
                )
            except Exception as e:  # reported as the figure, with its traceback above
                traceback.print_exc()
                day = {"peak_day": {"value": "FAILED", "baseline": "-", "ratio": "-",
                                    "unit": f"{type(e).__name__}: {e}"[:300]}}
            results |= {k: v for k, v in day.items() if _wanted(k) or _wanted("peak_day")}
    print(
        f"{'figure':<24} {'ours':>12} {'baseline':>12} {'ratio':>7}  unit / baseline",
    )
    for name, r in results.items():
        print(
            f"{name:<24} {r['value']:>12} {r['baseline']:>12} {r['ratio']:>7}  "
            f"{r['unit']} / {BASELINES[name]}"
        )
    for name, r in results.items():
        details = {k: v for k, v in r.items() if k not in ("value", "baseline", "ratio", "unit")}
        if details:
            print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in details.items()))
    print(f"(measured in {time.perf_counter() - started:.0f} s) while the machine was:")
    print("\n".join(LOG))
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
