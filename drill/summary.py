"""What the drill counted from the server's acknowledgements, beside what the board shows.

Every journey's stage is the one its last acknowledged command put it in; the board's counts
are read once the projector has caught up (/healthz lag 0), as the change from the board read
before the day began, so a server that already holds other days compares as well. Exit code 0
needs every compared count equal and no second registration that opened a second journey.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

STAGES = (
    "registered", "screened", "destination_assigned", "seat_assigned", "boarded",
    "in_transit", "arrived", "checked_in", "under_quarantine", "released",
    "referred_to_hospital", "no_show", "cancelled",
)
CLOSED = frozenset({"released", "referred_to_hospital", "no_show", "cancelled"})
EXITS = ("referred_to_hospital", "no_show", "cancelled")
COUNTERS = ("survey_due",)


@dataclass
class Ledger:
    """The drill's own account of the day, kept as acknowledgements come in."""

    stage: dict[str, str] = field(default_factory=dict)  # journey id -> stage
    surveyed: set[str] = field(default_factory=set)
    registrations: int = 0  # first registrations acknowledged (a family's counts once)
    pre_registrations: int = 0
    hall_registrations: int = 0
    double_registrations: int = 0  # second registrations that reached the same journey
    duplicate_journeys: int = 0  # second registrations that opened another journey (a bug)
    families: int = 0
    family_members: int = 0
    screenings: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    gave_up: int = 0

    def move(self, journeys: list[str], stage: str) -> None:
        for journey in journeys:
            self.stage[journey] = stage

    def stages(self) -> dict[str, int]:
        counts = dict.fromkeys(STAGES, 0)
        for stage in self.stage.values():
            counts[stage] = counts.get(stage, 0) + 1
        return counts

    def counters(self) -> dict[str, int]:
        due = sum(1 for j, s in self.stage.items() if s not in CLOSED and j not in self.surveyed)
        return {"survey_due": due}

    def refuse(self, what: dict[str, Any]) -> None:
        if len(self.refused) < 50:
            self.refused.append(what)
        else:
            self.refused[-1]["more"] = self.refused[-1].get("more", 0) + 1


@dataclass
class DaySummary:
    """The day's counts, the board's, and what the commands met (Python API of the drill)."""

    arrivals: int  # planned
    seed: int
    speed: float
    tag: str  # the run's prefix of document numbers
    elapsed_s: float
    stages: dict[str, int]  # ours, per stage
    counters: dict[str, int]  # ours: survey_due
    board_stages: dict[str, int]  # the board's change over the day, per stage
    board_counters: dict[str, int]
    board_position: int
    journeys: int
    registrations: int
    pre_registrations: int
    hall_registrations: int
    double_registrations: int
    duplicate_journeys: int
    families: int
    family_members: int
    screenings: int
    surveys: int
    runs: int
    created: list[str]  # DRILL- sites and vehicles registered for the day
    commands: dict[str, int]  # acknowledged, per kind
    latencies_ms: dict[str, list[float]]  # per command kind, issued to acknowledged (open loop)
    retries: int
    throttled: int
    unavailable: int
    busy: int
    transport_errors: int
    refused: list[dict[str, Any]]
    gave_up: int

    def compared(self) -> list[tuple[str, int, int]]:
        """(name, ours, board's) for every compared count."""
        rows = [(f"stage {s}", self.stages.get(s, 0), self.board_stages.get(s, 0))
                for s in sorted(set(self.stages) | set(self.board_stages), key=_stage_order)]
        rows.append(("journeys", self.journeys, sum(self.board_stages.values())))
        rows += [(c, self.counters.get(c, 0), self.board_counters.get(c, 0)) for c in COUNTERS]
        return rows

    def differences(self) -> list[tuple[str, int, int]]:
        return [row for row in self.compared() if row[1] != row[2]]

    @property
    def ok(self) -> bool:
        return not self.differences() and self.duplicate_journeys == 0

    def percentiles(self) -> dict[str, dict[str, float]]:
        return {kind: _figures(samples) for kind, samples in sorted(self.latencies_ms.items())}

    def to_json(self) -> dict[str, Any]:
        """Everything but the raw latency samples (their percentiles instead)."""
        return {
            "ok": self.ok,
            "arrivals": self.arrivals, "seed": self.seed, "speed": self.speed, "tag": self.tag,
            "elapsed_s": round(self.elapsed_s, 2),
            "counts": {"stages": self.stages, "counters": self.counters,
                       "journeys": self.journeys},
            "board": {"stages": self.board_stages, "counters": self.board_counters,
                      "position": self.board_position},
            "differences": [{"name": n, "ours": a, "board": b} for n, a, b in self.differences()],
            "registrations": self.registrations,
            "pre_registrations": self.pre_registrations,
            "hall_registrations": self.hall_registrations,
            "double_registrations": self.double_registrations,
            "duplicate_journeys": self.duplicate_journeys,
            "families": self.families, "family_members": self.family_members,
            "screenings": self.screenings, "surveys": self.surveys, "runs": self.runs,
            "exits": {e: self.stages.get(e, 0) for e in EXITS},
            "created": self.created, "commands": self.commands,
            "latency_ms": self.percentiles(),
            "retries": self.retries, "throttled": self.throttled,
            "unavailable": self.unavailable, "busy": self.busy,
            "transport_errors": self.transport_errors,
            "refused": self.refused, "gave_up": self.gave_up,
        }


def board_change(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, int], ...]:
    """(stages, counters) of `after` minus `before`."""
    stages = {s: int(n) - int(before["stages"].get(s, 0)) for s, n in after["stages"].items()}
    counters = {c: int(after["counters"].get(c, 0)) - int(before["counters"].get(c, 0))
                for c in COUNTERS}
    return stages, counters


def _stage_order(stage: str) -> int:
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


def _figures(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return round(ordered[max(math.ceil(p * len(ordered)) - 1, 0)], 2)

    return {"n": len(ordered), "p50": rank(0.5), "p95": rank(0.95), "p99": rank(0.99),
            "max": round(ordered[-1], 2)}
