"""The commander's daily report: what happened on one local day of the district, and where the
line stands now, read in ONE snapshot of the views so that every figure reflects the same
position (the board's, which the report states).

Counts only, never a person: the day's figures come from `daily_counts` and `leg_times`
(projections/care_fold.py, projections/board_fold.py), the standing figures from the board
itself (projections/board.py), so the report's totals are the board's numbers at its position.
The files (CSV, XLSX) are written by projections/report_files.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson

from domain import alerts
from domain.calendar import local_date
from domain.errors import InvalidInput
from domain.stages import DestinationKind
from projections.board import Board, empty_board, read_board_state, read_position
from projections.board_fold import figures
from projections.care_fold import DAILY_JOURNEY_METRICS, SURVEYED, TESTS_RECORDED, alert_metric
from projections.queries import NoViews, snapshot
from tracking.sidestore import Cursor, SideStore

Report = dict[str, Any]
Count = dict[str, Any]  # {"total": n, "by_entry_point": {code: n}[, "by_site": {code: n}]}
Timing = dict[str, Any]  # {"all": cell, "by_entry_point": {code: cell}, "by_hotel": {code: cell}}
EARLIEST_DAY = date(2000, 1, 1)

ARRIVALS = ("registered", "screened")
EXITS = ("released", "referred_to_hospital", "no_show", "cancelled")
QUARANTINE = ("quarantine_started", "quarantine_extended", "quarantine_shortened",
              "tests_recorded")
HOSPITAL_TRANSFERS = ("transfers_requested", "transfers_delivered", "transfers_cancelled")
TRANSFER_TIMES = ("door_to_door", "overall")
SURVEY_OVERDUE_RAISED = alert_metric(alerts.SURVEY_OVERDUE)
# Metrics shown per site as well as per entry point: a journey's, once it has a destination
# (a hospital transfer and an alert have no site; registration and screening come before one).
_PER_SITE = (frozenset(DAILY_JOURNEY_METRICS.values()) | {SURVEYED, TESTS_RECORDED}) - {
    *ARRIVALS
}


def report_day(day: date | None, now: datetime) -> date:
    """The day asked for, or today in the district; a day to come or before 2000 is refused."""
    today = local_date(now)
    if day is None:
        return today
    if day > today:
        raise InvalidInput(
            f"{day.isoformat()} has not happened yet: the district's today is {today.isoformat()}"
        )
    if day < EARLIEST_DAY:
        raise InvalidInput(f"the daily report covers days from {EARLIEST_DAY.isoformat()} on")
    return day


def read_daily_report(store: SideStore, day: date, sla_hours: int, now: datetime) -> Report:
    """The report of `day` (a local day of the district), with the board as it stands now."""
    try:
        with snapshot(store) as cur:
            board = read_board_state(cur)
            views_position = read_position(cur)[0]
            counts, cells = _day_rows(cur, day.isoformat())
    except NoViews:
        board, views_position, counts, cells = empty_board(), 0, {}, {}
    return build_report(board, views_position, day, counts, cells, sla_hours, now)


def _day_rows(
    cur: Cursor, day: str
) -> tuple[dict[tuple[str, str, str], int], dict[str, dict[int, int]]]:
    cur.execute("SELECT metric, dimension, key, n FROM daily_counts WHERE day = ?", (day,))
    counts = {(metric, dim, key): int(n) for metric, dim, key, n in cur.fetchall()}
    cur.execute("SELECT cell, histogram FROM leg_times WHERE day = ?", (day,))
    cells = {
        cell: {int(m): int(c) for m, c in orjson.loads(histogram).items()}
        for cell, histogram in cur.fetchall()
    }
    return counts, cells


def build_report(
    board: Board, views_position: int, day: date, counts: dict[tuple[str, str, str], int],
    cells: dict[str, dict[int, int]], sla_hours: int, now: datetime,
) -> Report:
    entry_points: dict[str, str] = dict(sorted(board["entry_points"].items()))
    # Hotels first, then the home-quarantine streets.
    sites = sorted(board["sites"].values(),
                   key=lambda s: (s["kind"] != DestinationKind.HOTEL.value, s["kind"], s["code"]))
    code_of = {s["site_id"]: s["code"] for s in sites}
    keyed = _Keyed(counts, cells, list(entry_points), [s["code"] for s in sites], code_of)
    sla_minutes = sla_hours * 60
    occupancy = _occupancy(sites)
    return {
        "day": day.isoformat(),
        # The board's position: GET /api/board?position=N shows the same totals. Every row
        # read reflects `views_position` (events after `position` show on no board, e.g. the
        # hospital transfers', and may be counted here).
        "position": board["position"],
        "at": board["at"],
        "views_position": views_position,
        "rebuilding": board["rebuilding"],  # the views are being rebuilt: figures incomplete
        "generated_at": now.astimezone(UTC).isoformat(),
        "entry_points": entry_points,
        "arrivals": {m: keyed.count(m) for m in ARRIVALS},
        "transfers": {
            "checked_in": keyed.count("checked_in"),
            "times": {leg: keyed.timing(leg) for leg in TRANSFER_TIMES},
        },
        "survey": {
            "surveyed": keyed.count("surveyed"),
            "backlog": board["counters"]["survey_due"],
            "sla_hours": sla_hours,
            # Done at least the SLA after the room door: the survey_overdue alert's own rule.
            "late": keyed.late("to_survey", sla_minutes),
            "overdue_alerts_raised": keyed.count(SURVEY_OVERDUE_RAISED),
            "overdue_alerts_open": board["alert_counts"].get(alerts.SURVEY_OVERDUE, 0),
            "times": {"to_survey": keyed.timing("to_survey")},
        },
        "occupancy": occupancy,
        "exits": {m: keyed.count(m) for m in EXITS},
        "quarantine": {m: keyed.count(m) for m in QUARANTINE},
        "hospital_transfers": {m: keyed.count(m) for m in HOSPITAL_TRANSFERS},
        "board": {
            "position": board["position"],
            "at": board["at"],
            "stages": dict(board["stages"]),
            "survey_due": board["counters"]["survey_due"],
            "alert_counts": {k: board["alert_counts"].get(k, 0) for k in alerts.KINDS},
            "occupancy": {"total": occupancy["total"], "by_kind": occupancy["by_kind"]},
        },
    }


class _Keyed:
    """The day's rows, looked up by the report's keys (entry point and site codes)."""

    def __init__(
        self, counts: dict[tuple[str, str, str], int], cells: dict[str, dict[int, int]],
        entry_points: list[str], sites: list[str], code_of: dict[str, str],
    ) -> None:
        self.counts, self.cells, self.code_of = counts, cells, code_of
        split = [cell.split("|", 2) for cell in cells]
        seen_eps = {k for (_, dim, k) in counts if dim == "entry_point"}
        seen_eps |= {key for _, dim, key in split if dim == "entry_point"}
        self.entry_points = entry_points + sorted(seen_eps - set(entry_points))
        self.site_ids = {code: sid for sid, code in code_of.items()}
        seen_sites = {k for (_, dim, k) in counts if dim == "site"}
        seen_sites |= {key for _, dim, key in split if dim == "hotel"}
        # A site the board does not know (it never should) keeps its id as its key.
        self.sites = sites + sorted(seen_sites - set(code_of))

    def _site_key(self, code: str) -> str:
        return self.site_ids.get(code, code)

    def count(self, metric: str) -> Count:
        found: Count = {
            "total": self.counts.get((metric, "all", ""), 0),
            "by_entry_point": {
                ep: self.counts.get((metric, "entry_point", ep), 0) for ep in self.entry_points
            },
        }
        if metric in _PER_SITE:
            found["by_site"] = {
                code: self.counts.get((metric, "site", self._site_key(code)), 0)
                for code in self.sites
            }
        return found

    def _cell(self, name: str) -> dict[str, int | None]:
        f = figures(self.cells.get(name, {}))
        if f["n"] == 0:
            return {"n": 0, "p50": None, "p95": None}  # no journey timed: no minutes to show
        return {"n": f["n"], "p50": f["p50"], "p95": f["p95"]}

    def timing(self, leg: str) -> Timing:
        return {
            "all": self._cell(f"{leg}|all|"),
            "by_entry_point": {
                ep: self._cell(f"{leg}|entry_point|{ep}") for ep in self.entry_points
            },
            "by_hotel": {
                code: self._cell(f"{leg}|hotel|{self._site_key(code)}") for code in self.sites
            },
        }

    def late(self, leg: str, minutes: int) -> Count:
        def over(cell: str) -> int:
            return sum(c for m, c in self.cells.get(cell, {}).items() if m >= minutes)

        return {
            "total": over(f"{leg}|all|"),
            "by_entry_point": {ep: over(f"{leg}|entry_point|{ep}") for ep in self.entry_points},
        }


_CAPACITY = ("capacity", "held", "occupied", "free")


def _occupancy(sites: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [
        {k: s[k] for k in ("site_id", "code", "name", "kind", *_CAPACITY)} for s in sites
    ]
    def zeros() -> dict[str, int]:
        return dict.fromkeys(("sites", *_CAPACITY), 0)

    by_kind = {kind.value: zeros() for kind in DestinationKind}  # zeros included
    total = zeros()
    for row in rows:
        for into in (by_kind.setdefault(row["kind"], zeros()), total):
            into["sites"] += 1
            for k in _CAPACITY:
                into[k] += int(row[k])
    return {"sites": rows, "by_kind": by_kind, "total": total}
