"""`make bench`: each figure beside a baseline measured in the same run, and the ratio.

Runs on PostgreSQL (a fresh database on the server of TRACKING_BENCH_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test). The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import time

from benchmarks.database import fresh_postgres
from benchmarks.dispatch import bench_dispatch_snapshot
from benchmarks.projector import bench_projector_catchup
from benchmarks.registration import bench_command_register

BASELINES = {
    "projector_catchup": "raw read+decode of the same log (library recorder + mapper)",
    "command_register": "library bare aggregate create+save, 4 threads",
    "dispatch_snapshot": "bare read of the same views (no names opened)",
    "dispatch_snapshot_cold": "bare read of the same views (no names opened)",
}


def main() -> None:
    n_events = int(os.environ.get("BENCH_EVENTS", "200000"))
    n_registrations = int(os.environ.get("BENCH_REGISTRATIONS", "4000"))
    results: dict[str, dict[str, float | str]] = {}
    started = time.perf_counter()
    with fresh_postgres() as settings:
        results["projector_catchup"] = bench_projector_catchup(settings, n_events)
    with fresh_postgres() as settings:
        results["command_register"] = bench_command_register(settings, n_registrations)
    with fresh_postgres() as settings:
        results |= bench_dispatch_snapshot(settings, int(os.environ.get("BENCH_WAITING", "600")))
    print(
        f"{'figure':<24} {'ours':>12} {'baseline':>12} {'ratio':>7}  unit / baseline",
    )
    for name, r in results.items():
        print(
            f"{name:<24} {r['value']:>12} {r['baseline']:>12} {r['ratio']:>7}  "
            f"{r['unit']} / {BASELINES[name]}"
        )
    print(f"(measured in {time.perf_counter() - started:.0f} s)")
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
