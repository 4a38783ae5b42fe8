"""The views of a district after a long regime, written straight into the view tables.

Driving a million journeys through the application would take hours, so `fill_views` writes
what the projector would have left behind: 1M journeys of which 950k are closed (released,
referred, no-show, cancelled) and 50k open, spread over the line with some thousands on the
road in 200 open vehicle runs (50k closed ones behind them); 148 hotels and the 22 home streets;
the counts the board keeps (per stage, per site and stage, survey backlog, open alerts) made
from those rows; door-to-door times for every day of the regime; a history of board deltas.
The views' position row says the views are current (this schema version, no rebuild under
way), so a server started on the database serves them as they are.

Small tables are built here and COPYed; the big ones are generated inside PostgreSQL
(generate_series, with a fixed random seed) from the small ones.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import psycopg

from domain import alerts
from domain.stages import Stage
from projections.board_fold import ON_ROAD
from projections.schema import BOARD_STAGE_COUNTS, PROJECTION, SCHEMA_VERSION, VIEW_TABLES
from projections.synthetic import STREETS

# The moment the board is read at (the last delta's store time): 10:00 in Guangzhou.
NOW = datetime(2020, 4, 30, 2, 0, tzinfo=UTC)
DAYS = 200  # of history: 1M journeys is ~5,000 arrivals a day
ENTRY_POINTS = {
    "CAN-T1": "白云机场 T1", "CAN-T2": "白云机场 T2", "CAN-T3": "白云机场 T3",
    "NSP": "南沙港", "LHQ": "流花湖接待点", "GZS": "广州南站", "SZB": "深圳湾口岸",
    "HZM": "港珠澳大桥口岸",
}
HOTELS = 148
SITES = HOTELS + len(STREETS)
VEHICLES = 200
CLOSED_RUNS = 50_000
# Open runs by status (one per vehicle).
OPEN_RUNS = {"planned": 40, "boarding": 60, "departed": 70, "arrived": 30}
HELD = ("destination_assigned", "seat_assigned", "boarded", "in_transit", "arrived")
OCCUPIED = ("checked_in", "under_quarantine")


def _open_mix(n_open: int) -> dict[str, int]:
    """Open journeys per stage: most are in quarantine; ~8 % on the road."""
    shares = {
        "registered": 0.03, "screened": 0.03, "destination_assigned": 0.04,
        "seat_assigned": 0.024, "boarded": 0.018, "in_transit": 0.028, "arrived": 0.01,
        "checked_in": 0.06,
    }
    mix = {stage: round(n_open * share) for stage, share in shares.items()}
    mix["under_quarantine"] = n_open - sum(mix.values())
    return mix


def _closed_mix(n_closed: int) -> dict[str, int]:
    mix = {"referred_to_hospital": n_closed * 15 // 950, "no_show": n_closed * 10 // 950,
           "cancelled": n_closed * 25 // 950}
    mix["released"] = n_closed - sum(mix.values())
    return mix


# (stage) -> (age of `entered_at` in hours: (min, max), journey has a site, run source,
#             the leg times it has reached, version, custodian)
_STAGES: dict[str, tuple[tuple[float, float], bool, str | None, int, int, str | None]] = {
    "registered": ((0, 3), False, None, 0, 1, None),
    "screened": ((0, 4), False, None, 1, 2, "desk"),
    "destination_assigned": ((0, 5), True, None, 1, 3, "desk"),
    "seat_assigned": ((0, 2), True, "planned|boarding", 2, 4, "desk"),
    "boarded": ((0, 1), True, "boarding", 3, 5, "escort"),
    "in_transit": ((0, 2), True, "departed", 3, 6, "escort"),
    "arrived": ((0, 1), True, "arrived", 4, 7, "escort"),
    "checked_in": ((0, 12), True, "closed", 4, 8, "receiver"),
    "under_quarantine": ((12, 14 * 24), True, "closed", 4, 9, "receiver"),
    "released": ((14 * 24, DAYS * 24), True, "closed", 4, 12, None),
    "referred_to_hospital": ((1, DAYS * 24), True, "closed", 3, 7, "hospital"),
    "no_show": ((3, DAYS * 24), False, None, 1, 3, None),
    "cancelled": ((1, DAYS * 24), False, None, 0, 2, None),
}
_LEGS = ("to_seat", "to_board", "transit", "handover", "door_to_door", "overall",
         "vehicle_wait")
_VEHICLE_LEGS = ("to_board", "transit", "vehicle_wait")


class Filled:
    """What was written: what a test of the fill (or a reader of the figures) needs."""

    def __init__(self, position: int, journeys: int, open_journeys: int, on_road: int) -> None:
        self.position = position
        self.journeys = journeys
        self.open_journeys = open_journeys
        self.on_road = on_road


def _uuid(rng: random.Random) -> UUID:
    return UUID(int=rng.getrandbits(128), version=4)


def fill_views(conninfo: str, *, journeys: int = 1_000_000, open_journeys: int = 50_000,
               deltas: int = 1_000_000, seed: int = 2020) -> Filled:
    rng = random.Random(seed)
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("SELECT setseed(%s)", (seed / 10_000,))
        for table in VIEW_TABLES:
            cur.execute(f"TRUNCATE {table.name}")
        cur.execute("SET LOCAL synchronous_commit = off")
        _reference(cur, rng)
        mix = _open_mix(open_journeys) | _closed_mix(journeys - open_journeys)
        for stage, count in mix.items():
            _journeys(cur, stage, count)
        _counts(cur)
        _alerts(cur)
        position = _deltas(cur, deltas, journeys)
        _leg_times(cur)
        cur.execute(
            "INSERT INTO projection_position (name, position, schema_version, rebuild_target) "
            "VALUES (%s, %s, %s, NULL) ON CONFLICT (name) DO UPDATE SET "
            "position = excluded.position, schema_version = excluded.schema_version, "
            "rebuild_target = NULL",
            (PROJECTION, position, SCHEMA_VERSION),
        )
        conn.commit()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in VIEW_TABLES:
            conn.execute(f"VACUUM ANALYZE {table.name}")
    on_road = sum(mix[s] for s in ON_ROAD)
    return Filled(position, journeys, open_journeys, on_road)


def _copy(cur: psycopg.Cursor[Any], table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _reference(cur: psycopg.Cursor[Any], rng: random.Random) -> None:
    """Entry points, sites, vehicles and runs (open and closed), with numbered twins in
    temporary tables that the generated rows draw from."""
    _copy(cur, "entry_points", "code, name", sorted(ENTRY_POINTS.items()))
    codes = sorted(ENTRY_POINTS)
    sites = [(_uuid(rng), f"H{n:03d}", f"隔离酒店 {n:03d}", "hotel", rng.randint(150, 450))
             for n in range(1, HOTELS + 1)]
    sites += [(_uuid(rng), f"ST-{n:02d}", street, "home", rng.randint(300, 900))
              for n, street in enumerate(STREETS, 1)]
    _copy(cur, "site_occupancy", "site_id, code, name, kind, capacity, held, occupied",
          [(*site, 0, 0) for site in sites])
    vehicles = [(_uuid(rng), f"粤A{n:05d}", rng.choice((12, 20, 33, 45)))
                for n in range(1, VEHICLES + 1)]
    statuses = [status for status, n in OPEN_RUNS.items() for _ in range(n)]
    runs = []
    for (vid, plate, seats), status in zip(vehicles, statuses, strict=True):
        minutes = rng.randint(5, 90)
        runs.append((
            _uuid(rng), vid, plate, status, seats, 0, 0, 0, f"escort-{rng.randint(1, 60):02d}",
            rng.choice(codes), NOW - timedelta(minutes=minutes), 0,
            None if status == "planned" else NOW - timedelta(minutes=minutes + 10),
        ))
    run_columns = ("run_id, vehicle_id, plate, status, seats, seated, boarded, handed_over, "
                   "escort, entry_point, status_at, exited, first_boarded_at")
    _copy(cur, "runs", run_columns, runs)
    _copy(cur, "vehicles", "vehicle_id, plate, seats, active_run",
          [(*v, r[0]) for v, r in zip(vehicles, runs, strict=True)])
    cur.execute(
        "CREATE TEMP TABLE fill_sites AS SELECT row_number() OVER (ORDER BY code) AS rn, "
        "site_id, kind FROM site_occupancy"
    )
    cur.execute(
        "CREATE TEMP TABLE fill_entry_points AS SELECT row_number() OVER (ORDER BY code) AS rn, "
        "code FROM entry_points"
    )
    cur.execute(
        "CREATE TEMP TABLE fill_vehicles AS SELECT row_number() OVER (ORDER BY plate) AS rn, "
        "vehicle_id, plate, seats FROM vehicles"
    )
    # Closed runs: a vehicle's past trips, every few hours over the whole regime.
    cur.execute(
        f"INSERT INTO runs ({run_columns}) "
        "SELECT gen_random_uuid(), v.vehicle_id, v.plate, 'closed', v.seats, n, n, n, "
        "'escort-' || lpad((1 + g %% 60)::text, 2, '0'), e.code, t, 0, t - interval '3 hours' "
        "FROM (SELECT g, %s - random() * %s * interval '1 day' AS t, "
        "  1 + (g %% %s) AS vrn, 1 + (g %% %s) AS ern, 10 + floor(random() * 21)::int AS n "
        "  FROM generate_series(1, %s) g) s "
        "JOIN fill_vehicles v ON v.rn = s.vrn JOIN fill_entry_points e ON e.rn = s.ern",
        (NOW, DAYS, VEHICLES, len(ENTRY_POINTS), CLOSED_RUNS),
    )
    cur.execute(
        "CREATE TEMP TABLE fill_runs AS SELECT status, row_number() OVER "
        "(PARTITION BY status ORDER BY run_id) AS rn, run_id FROM runs"
    )
    cur.execute("CREATE INDEX ON fill_runs (status, rn)")


def _journeys(cur: psycopg.Cursor[Any], stage: str, count: int) -> None:
    (young, old), has_site, run_source, legs, version, custodian = _STAGES[stage]
    if run_source is None:
        run_join, run_col = "", "NULL::uuid"
    else:
        statuses = run_source.split("|")
        cur.execute("SELECT count(*) FROM fill_runs WHERE status = ANY(%s)", (statuses,))
        row = cur.fetchone()
        n_runs = int(row[0]) if row else 0
        run_join = (
            "JOIN (SELECT row_number() OVER (ORDER BY status, rn) AS rn, run_id FROM fill_runs "
            f"WHERE status IN ({', '.join(repr(s) for s in statuses)})) r "
            f"ON r.rn = 1 + g.pick %% {n_runs}"
        )
        run_col = "r.run_id"
    site_join = f"JOIN fill_sites s ON s.rn = 1 + g.pick %% {SITES}" if has_site else ""
    site_col = "s.site_id" if has_site else "NULL::uuid"

    def leg(n: int, hours: float) -> str:
        # The moment the journey reached leg n, `hours` before it entered its present stage.
        return f"g.entered - interval '{hours} hours'" if legs >= n else "NULL"

    surveyed = (
        "g.entered - interval '30 minutes'" if stage in ("released", "referred_to_hospital")
        or stage == "under_quarantine" else
        "CASE WHEN g.r < 0.4 THEN g.entered - interval '10 minutes' END"
    )
    cur.execute(
        "INSERT INTO journey_stage (journey_id, stage, entered_at, entry_point, site_id, run_id, "
        "party_id, custodian, version, risk, boarded_at, offered_to, offered_at, off_route, "
        "off_route_at, screened_at, seated_at, arrived_at, surveyed_at) "
        f"SELECT gen_random_uuid(), %s, g.entered, e.code, {site_col}, {run_col}, "
        f"gen_random_uuid(), %s, %s, CASE WHEN {legs} = 0 THEN NULL WHEN g.r < 0.85 THEN 'low' "
        "WHEN g.r < 0.97 THEN 'medium' ELSE 'high' END, "
        f"{leg(3, 0.8)}, NULL, NULL, NULL, NULL, {leg(1, 3)}, {leg(2, 1.5)}, {leg(4, 0.2)}, "
        f"{surveyed} "
        "FROM (SELECT %s - (%s + random() * %s) * interval '1 hour' AS entered, random() AS r, "
        "  floor(random() * 1e9)::bigint AS pick, 1 + floor(random() * %s)::int AS ern "
        "  FROM generate_series(1, %s)) g "
        f"JOIN fill_entry_points e ON e.rn = g.ern {site_join} {run_join}",
        (stage, custodian, version, NOW, young, old - young, len(ENTRY_POINTS), count),
    )


def _counts(cur: psycopg.Cursor[Any]) -> None:
    """Every count the board keeps, made from the rows (as the projector keeps them)."""
    stages = [s.value for s in Stage]
    cur.execute(f"DELETE FROM {BOARD_STAGE_COUNTS.name}")
    cur.execute(
        "INSERT INTO board_stage_counts (stage, n) SELECT s, "
        "(SELECT count(*) FROM journey_stage j WHERE j.stage = s) FROM unnest(%s::text[]) s",
        (stages,),
    )
    cur.execute(
        "INSERT INTO board_site_counts (site_id, stage, n) SELECT site_id, stage, count(*) "
        "FROM journey_stage WHERE site_id IS NOT NULL GROUP BY site_id, stage"
    )
    cur.execute(
        "INSERT INTO board_counters (name, n) SELECT 'survey_due', count(*) FROM journey_stage "
        "WHERE surveyed_at IS NULL AND stage <> ALL(%s)",
        (["released", "referred_to_hospital", "no_show", "cancelled"],),
    )
    cur.execute(
        "UPDATE site_occupancy o SET held = c.held, occupied = c.occupied, "
        "capacity = greatest(o.capacity, c.held + c.occupied + 10) FROM ("
        "  SELECT site_id, count(*) FILTER (WHERE stage = ANY(%s)) AS held, "
        "  count(*) FILTER (WHERE stage = ANY(%s)) AS occupied "
        "  FROM journey_stage WHERE site_id IS NOT NULL GROUP BY site_id) c "
        "WHERE c.site_id = o.site_id",
        (list(HELD), list(OCCUPIED)),
    )
    cur.execute(
        "UPDATE runs r SET seated = c.seated, boarded = c.boarded, "
        "seats = greatest(r.seats, c.seated) FROM ("
        "  SELECT run_id, count(*) AS seated, count(*) FILTER (WHERE stage <> 'seat_assigned') "
        "  AS boarded FROM journey_stage WHERE stage = ANY(%s) GROUP BY run_id) c "
        "WHERE c.run_id = r.run_id",
        (sorted(ON_ROAD),),
    )


def _alerts(cur: psycopg.Cursor[Any]) -> None:
    """~150 open alerts on the journeys and runs still on the road; 50k cleared ones before."""
    columns = ("alert_id, kind, subject, journey_id, run_id, entry_point, detail, since, "
               "threshold_minutes, raised_at, cleared_at, status, reason")
    for kind, stage, minutes, detail, n in (
        (alerts.NOT_BOARDED, "seat_assigned", 60, "''", 60),
        (alerts.NOT_CHECKED_IN, "in_transit", 120, "''", 40),
        (alerts.CUSTODY_NOT_ACCEPTED, "arrived", 15, "'receiver-07'", 20),
        (alerts.OFF_ROUTE, "boarded", 0, "'boarding'", 10),
    ):
        cur.execute(
            f"INSERT INTO alerts ({columns}) SELECT gen_random_uuid(), %s, journey_id::text, "
            f"journey_id, run_id, entry_point, {detail}, entered_at, %s, "
            "entered_at + %s * interval '1 minute', NULL, 'open', NULL "
            "FROM journey_stage j WHERE stage = %s ORDER BY j.journey_id LIMIT %s",
            (kind, minutes, minutes, stage, n),
        )
    cur.execute(
        f"INSERT INTO alerts ({columns}) SELECT gen_random_uuid(), %s, run_id::text, NULL, run_id, "
        "entry_point, plate, status_at, 20, status_at + interval '20 minutes', NULL, 'open', NULL "
        "FROM runs r WHERE status = 'arrived' ORDER BY r.run_id LIMIT 20",
        (alerts.NOT_HANDED_OVER,),
    )
    cur.execute(
        f"INSERT INTO alerts ({columns}) SELECT gen_random_uuid(), (%s::text[])[1 + g %% 5], "
        "gen_random_uuid()::text, gen_random_uuid(), NULL, 'CAN-T2', '', t, 60, "
        "t + interval '1 hour', t + interval '95 minutes', 'cleared', 'loop closed' "
        "FROM (SELECT g, %s - random() * %s * interval '1 day' AS t "
        "FROM generate_series(1, 50000) g) s",
        (list(alerts.KINDS), NOW, DAYS),
    )
    cur.execute(
        "INSERT INTO alert_counts (kind, n) SELECT k, (SELECT count(*) FROM alerts "
        "WHERE status = 'open' AND kind = k) FROM unnest(%s::text[]) k "
        "ON CONFLICT (kind) DO UPDATE SET n = excluded.n",
        (list(alerts.KINDS),),
    )


def _deltas(cur: psycopg.Cursor[Any], n: int, journeys: int) -> int:
    """The last `n` deltas of the log (positions with gaps: events no board shows), ending at
    NOW; the position of the last is returned."""
    # ~12 events per journey in the whole log; the deltas kept are its tail.
    head = journeys * 12
    cur.execute(
        "INSERT INTO board_deltas (position, previous, recorded_at, changes) "
        "SELECT %s - (%s - g) * 2, %s - (%s - g + 1) * 2, "
        "%s - (%s - g) * interval '150 milliseconds', "
        "'{\"stages\":{\"under_quarantine\":' || (40000 + g %% 977) || "
        "',\"released\":' || (900000 + g / 7) || '},\"sites\":{}}' "
        "FROM generate_series(1, %s) g",
        (head, n, head, n, NOW, n, n),
    )
    cur.execute("SELECT max(position) FROM board_deltas")
    row = cur.fetchone()
    return int(row[0]) if row else head


def _leg_times(cur: psycopg.Cursor[Any]) -> None:
    """One row per local day and cell: every leg for all, per entry point, per site, per
    vehicle (the vehicle's legs), as the projector keeps them."""
    cells = [f"{leg}|all|" for leg in _LEGS]
    cells += [f"{leg}|entry_point|{code}" for leg in _LEGS for code in sorted(ENTRY_POINTS)]
    cur.execute("SELECT site_id::text FROM site_occupancy")
    sites = [sid for (sid,) in cur.fetchall()]
    cells += [f"{leg}|hotel|{sid}" for leg in _LEGS[:6] for sid in sites]
    cur.execute("SELECT plate FROM vehicles")
    plates = [plate for (plate,) in cur.fetchall()]
    cells += [f"{leg}|vehicle|{plate}" for leg in _VEHICLE_LEGS for plate in plates]
    histogram = orjson.dumps({"12": 3, "18": 9, "25": 14, "31": 7, "44": 2, "70": 1}).decode()
    cur.execute("CREATE TEMP TABLE fill_cells (cell text)")
    _copy(cur, "fill_cells", "cell", [(c,) for c in cells])
    local_today = (NOW + timedelta(hours=8)).date()
    cur.execute(
        "INSERT INTO leg_times (day, cell, histogram, n, p50, p95) "
        "SELECT to_char(%s::date - d, 'YYYY-MM-DD'), cell, %s, 36, 25, 44 "
        "FROM generate_series(0, %s) d, fill_cells",
        (local_today, histogram, DAYS - 1),
    )
