"""Who may call what, on whose records, and which fields they get: the one access table.

Every route of the app (API, pages, the websocket, the static files) has one row, keyed by
"METHOD /path/template" (the websocket's method is WS). A row's grid gives each caller's access:

    A  allow      every record
    O  own        only records the caller is bound to (OWN_RULES below)
    -  deny       401 without credentials, 403 with a role the row does not admit

The callers are, in column order: anonymous (no credentials), traveller (no staff token: what
a traveller's phone sends, with their personal code in the path where the route takes one),
then the staff roles. Staff rows are enforced by `api.deps.allow`, which looks the route up
here at request time, so this table is the check itself and no router names a role; open rows
need no check; `WS /ws/board` is checked by its handler against this row once the first frame
has brought the token (never in the URL). tests/unit/test_route_roles.py checks that the table
and the routes match both ways, tests/e2e/test_access_matrix.py calls every row as every caller.

`records` says where a row's record is found for the callers it admits as O. A path or query
record is checked by `allow` before the handler runs; a record in the body is checked by the
handler through `api.deps.require_own` once the body has been validated.

`fields` names the field classes a row's answer mixes, each with the callers that get it; the
others admitted to the row get the answer without them (the filtering happens where the answer
is built: projections/board.py `visible`, tracking/records.py `quarantine_order`; FIELD_KEYS
are the keys that carry each class, which the access-matrix test looks for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from domain.staff import Role

CALLERS: tuple[str, ...] = ("anonymous", "traveller", *(r.value for r in Role))
ANONYMOUS, TRAVELLER = CALLERS[:2]


class Access(Enum):
    DENY = "-"
    ALLOW = "A"
    OWN = "O"


class Record(Enum):
    """Where the record an O caller must be bound to is found in the request."""

    OWN_CODE = "path code: the caller's own personal code"
    JOURNEY = "path journey_id"
    PERSONAL_CODE = "path code: the journey a scanned personal code names"
    SITE = "path code: a site"
    RUN = "path run_id"
    QUERY_RUN = "query run_id (when given)"
    BODY_RUN = "body run_id"
    BODY_SITE = "body site"


IN_BODY = frozenset({Record.BODY_RUN, Record.BODY_SITE})
JOURNEY_RECORDS = frozenset({Record.JOURNEY, Record.PERSONAL_CODE})
SITE_RECORDS = frozenset({Record.SITE, Record.BODY_SITE})
RUN_RECORDS = frozenset({Record.RUN, Record.QUERY_RUN, Record.BODY_RUN})

# What "own" means for each caller that has an O anywhere, and the records it applies to.
# Whoever holds a personal code is in the traveller's place: it opens that record, no more.
CODE_RULE = "a personal code opens its own traveller's record only (unknown, expired and " \
    "revoked codes get the same 404)"
OWN_RULES: Mapping[str, tuple[str, frozenset[Record]]] = {
    **{caller: (CODE_RULE, frozenset({Record.OWN_CODE})) for caller in CALLERS},
    Role.RECEIVER.value: (
        "a receiver bound to sites acts only on travellers dispatched to those sites, and at "
        "those sites (a receiver bound to no site: every site); " + CODE_RULE,
        JOURNEY_RECORDS | SITE_RECORDS | {Record.OWN_CODE},
    ),
    Role.ESCORT.value: (
        "an escort acts only on runs whose escort they are (a run whose escort names no staff "
        "account: any escort); " + CODE_RULE,
        RUN_RECORDS | {Record.OWN_CODE},
    ),
}


class FieldClass(Enum):
    RISK = "risk"  # health-derived risk level shown beside a party or a vehicle
    JOURNEY_ROWS = "journey rows"  # the board's per-run, per-journey and per-alert sections
    ORDER_REASONS = "order reasons"  # why a quarantine order changed: may be medical
    HEALTH = "health"  # survey answers, screening findings, test results, contacts


FIELD_KEYS: Mapping[FieldClass, frozenset[str]] = {
    FieldClass.RISK: frozenset({"risk"}),
    FieldClass.JOURNEY_ROWS: frozenset({"runs", "on_road", "alerts"}),
    FieldClass.ORDER_REASONS: frozenset({"reason"}),
    FieldClass.HEALTH: frozenset(
        {"declaration", "screening", "surveys", "answers", "test_results"}
    ),
}


@dataclass(frozen=True)
class Rule:
    access: Mapping[str, Access]
    records: tuple[Record, ...] = ()
    fields: Mapping[FieldClass, frozenset[str]] = field(default_factory=dict)

    def of(self, caller: str) -> Access:
        return self.access[caller]

    @property
    def open(self) -> bool:
        """No credentials needed: whoever calls gets the same (A or, with a code, O)."""
        return self.access[ANONYMOUS] is not Access.DENY

    @property
    def staff_roles(self) -> tuple[str, ...]:
        return tuple(r.value for r in Role if self.access[r.value] is not Access.DENY)


def row(
    grid: str, *records: Record, fields: Mapping[FieldClass, str] | None = None
) -> Rule:
    marks = grid.split()
    if len(marks) != len(CALLERS):
        raise ValueError(f"a row has {len(CALLERS)} marks ({' '.join(CALLERS)}): {grid!r}")
    return Rule(
        access=dict(zip(CALLERS, (Access(m) for m in marks), strict=True)),
        records=records,
        fields={k: frozenset(v.split()) for k, v in (fields or {}).items()},
    )


J, CODE, SITE, RUN = Record.JOURNEY, Record.OWN_CODE, Record.SITE, Record.RUN
OPEN = "A  A  A  A  A  A  A  A  A"
BY_CODE = "O  O  O  O  O  O  O  O  O"
BOARD_FIELDS = {FieldClass.RISK: "dispatcher commander",
                FieldClass.JOURNEY_ROWS: "admin dispatcher commander"}

# fmt: off
# callers: an=anonymous tr=traveller, then the roles     an tr ad sc di es re su co
POLICY: Mapping[str, Rule] = {
    # -- open: the traveller's side, sign-in, page shells (their data is checked), health ----
    "GET /healthz":                                 row(OPEN),
    "GET /openapi.json":                            row(OPEN),
    "GET /docs":                                    row(OPEN),
    "GET /static/{path}":                           row(OPEN),
    "POST /api/auth/token":                         row(OPEN),
    "POST /api/auth/sign-out":                      row("-  -  A  A  A  A  A  A  A"),
    "POST /api/registrations":                      row(OPEN),
    "POST /api/registrations/lookup":               row(OPEN),
    "GET /r/{entry_point}":                         row(OPEN),
    "POST /r/{entry_point}":                        row(OPEN),
    "GET /admin/posters":                           row(OPEN),
    "GET /scan":                                    row(OPEN),
    "GET /dispatch":                                row(OPEN),
    "GET /survey":                                  row(OPEN),
    "GET /board":                                   row(OPEN),
    # -- a personal code is the traveller's key to their own record, whoever holds it ---------
    "GET /api/travellers/{code}":                   row(BY_CODE, CODE),
    "GET /t/{code}":                                row(BY_CODE, CODE),
    "GET /t/{code}/qr.svg":                         row(BY_CODE, CODE),
    "GET /t/{code}/qr.png":                         row(BY_CODE, CODE),
    # -- accounts and reference data -------------------------------------------------------
    "POST /api/staff":                              row("-  -  A  -  -  -  -  -  -"),
    "GET /api/staff":                               row("-  -  A  -  -  -  -  -  -"),
    "PATCH /api/staff/{username}":                  row("-  -  A  -  -  -  -  -  -"),
    "POST /api/entry-points":                       row("-  -  A  -  -  -  -  -  -"),
    "POST /api/sites":                              row("-  -  A  -  -  -  -  -  -"),
    "POST /api/vehicles":                           row("-  -  A  -  -  -  -  -  -"),
    "GET /api/reference":                           row("-  -  A  A  A  A  A  A  A"),
    # -- the desk: lists, posters ----------------------------------------------------------
    "GET /api/entry-points/{code}/arrivals.csv":    row("-  -  A  A  A  -  -  -  A"),
    "GET /api/posters":                             row("-  -  A  A  A  -  -  -  A"),
    "GET /api/entry-points/{code}/poster.svg":      row("-  -  A  A  A  -  -  -  A"),
    "GET /api/entry-points/{code}/poster.pdf":      row("-  -  A  A  A  -  -  -  A"),
    # -- one journey, screening to the room door -----------------------------------------------
    "GET /api/journeys/{journey_id}":               row("-  -  -  A  A  A  O  A  A", J),
    "GET /api/journeys/{journey_id}/timeline":      row("-  -  -  A  A  A  O  A  A", J),
    "POST /api/journeys/{journey_id}/screening":    row("-  -  -  A  -  -  -  -  -"),
    "POST /api/journeys/{journey_id}/destination":  row("-  -  -  -  A  -  -  -  -"),
    "POST /api/journeys/{journey_id}/destination/withdrawal":
                                                    row("-  -  -  -  A  -  -  -  -"),
    "POST /api/journeys/{journey_id}/seats":        row("-  -  -  -  A  -  -  -  -"),
    "POST /api/journeys/{journey_id}/dispatch":     row("-  -  -  -  A  -  -  -  -"),
    "POST /api/journeys/{journey_id}/seats/reassignment":
                                                    row("-  -  -  -  A  -  -  -  -"),
    "POST /api/journeys/{journey_id}/seats/withdrawal":
                                                    row("-  -  -  -  A  -  -  -  -"),
    "GET /api/journeys/{journey_id}/suggestion":    row("-  -  -  -  A  -  -  -  -"),
    "POST /api/journeys/{journey_id}/boarding":     row("-  -  -  -  -  O  -  -  -",
                                                        Record.BODY_RUN),
    "POST /api/journeys/{journey_id}/check-in":     row("-  -  -  -  -  -  O  -  -",
                                                        J, Record.BODY_SITE),
    "POST /api/journeys/{journey_id}/custody/offer":
                                                    row("-  -  -  A  A  A  O  -  A", J),
    "POST /api/journeys/{journey_id}/custody/acceptance":
                                                    row("-  -  -  A  -  A  O  -  -", J),
    "POST /api/journeys/{journey_id}/no-show":      row("-  -  -  A  A  -  O  A  A", J),
    "POST /api/journeys/{journey_id}/cancellation": row("-  -  -  A  A  -  O  A  A", J),
    "GET /api/scans/{code}":                        row("-  -  -  A  A  O  O  -  A",
                                                        Record.PERSONAL_CODE, Record.QUERY_RUN),
    # -- vehicle runs and their paper ------------------------------------------------------------
    "POST /api/runs":                               row("-  -  -  -  A  -  -  -  -"),
    "GET /api/runs":                                row("-  -  A  -  A  A  -  -  A"),
    "GET /api/runs/{run_id}":                       row("-  -  A  -  A  O  -  -  A", RUN),
    "POST /api/runs/{run_id}/departure":            row("-  -  -  -  A  O  -  -  -", RUN),
    "POST /api/runs/{run_id}/arrival":              row("-  -  -  -  A  O  -  -  -", RUN),
    "GET /api/runs/{run_id}/manifest.pdf":          row("-  -  A  -  A  O  -  -  A", RUN),
    "GET /api/sites/{code}/door-labels.pdf":        row("-  -  A  -  A  -  O  -  A", SITE),
    # -- dispatch, board, alerts, report ---------------------------------------------------------
    "GET /api/dispatch":                            row("-  -  A  -  A  -  -  -  A",
                                                        fields={FieldClass.RISK:
                                                        "admin dispatcher commander"}),
    "GET /api/dispatch/changes":                    row("-  -  A  -  A  -  -  -  A"),
    "GET /api/board":                               row("-  -  A  -  A  -  -  A  A",
                                                        fields=BOARD_FIELDS),
    "WS /ws/board":                                 row("-  -  A  -  A  -  -  A  A",
                                                        fields=BOARD_FIELDS),
    "GET /api/board/range":                         row("-  -  A  -  A  -  -  A  A"),
    "GET /api/alerts":                              row("-  -  A  -  A  -  -  -  A"),
    "GET /api/reports/daily":                       row("-  -  -  -  -  -  -  -  A"),
    # -- the survey and health data: survey staff and commanders, every read logged ----------
    "GET /api/survey/worklist":                     row("-  -  -  -  -  -  -  A  A"),
    "POST /api/journeys/{journey_id}/survey":       row("-  -  -  -  -  -  -  A  A"),
    "GET /api/journeys/{journey_id}/health-record": row("-  -  -  -  -  -  -  A  A",
                                                        fields={FieldClass.HEALTH:
                                                        "surveyor commander",
                                                        FieldClass.ORDER_REASONS:
                                                        "surveyor commander"}),
    "GET /api/journeys/{journey_id}/contacts":      row("-  -  -  -  -  -  -  A  A"),
    "GET /api/journeys/{journey_id}/access-log":    row("-  -  A  -  -  -  -  -  A"),
    # -- the quarantine order and its tests ------------------------------------------------------
    "GET /api/journeys/{journey_id}/quarantine":    row("-  -  -  -  -  -  O  A  A", J,
                                                        fields={FieldClass.ORDER_REASONS: ""}),
    "POST /api/journeys/{journey_id}/quarantine":   row("-  -  -  -  -  -  O  A  A", J),
    "POST /api/journeys/{journey_id}/quarantine/extension":
                                                    row("-  -  -  -  -  -  -  A  A"),
    "POST /api/journeys/{journey_id}/quarantine/shortening":
                                                    row("-  -  -  -  -  -  -  A  A"),
    "POST /api/journeys/{journey_id}/release":      row("-  -  -  -  -  -  O  A  A", J),
    "POST /api/journeys/{journey_id}/test-results": row("-  -  -  -  -  -  O  A  A", J),
    "GET /api/quarantine/tests-due":                row("-  -  -  -  -  -  A  A  A"),
    "POST /api/journeys/{journey_id}/hospital-referral":
                                                    row("-  -  -  A  A  -  O  A  A", J),
    # -- hospital transfers -------------------------------------------------------------------
    "GET /api/transfers":                           row("-  -  A  -  A  A  -  -  A"),
    "POST /api/transfers/{transfer_id}/vehicle":    row("-  -  -  -  A  -  -  -  -"),
    "POST /api/transfers/{transfer_id}/pickup":     row("-  -  -  -  A  A  -  -  -"),
    "POST /api/transfers/{transfer_id}/delivery":   row("-  -  -  -  A  A  -  -  -"),
    "POST /api/transfers/{transfer_id}/cancellation":
                                                    row("-  -  -  -  A  -  -  -  -"),
}
# fmt: on


def route_key(method: str, path: str) -> str:
    return f"{'GET' if method == 'HEAD' else method} {path}"


def rule_for(key: str) -> Rule | None:
    return POLICY.get(key)


def admits(key: str, role: Role) -> bool:
    """Whether a row lets a role in at all (for the websocket, which checks itself)."""
    found = POLICY.get(key)
    return found is not None and found.of(role.value) is not Access.DENY


def needs_roles(key: str) -> str:
    """The 403 wording: which roles a row admits."""
    found = POLICY.get(key)
    return ", ".join(found.staff_roles) if found else "none (the endpoint has no policy row)"


def _check_table() -> None:
    """The table's own consistency, at import: a mistake here must not reach a request."""
    for key, rule in POLICY.items():
        for caller, access in rule.access.items():
            if access is not Access.OWN:
                continue
            meaning = OWN_RULES.get(caller)
            if meaning is None or not meaning[1] & set(rule.records):
                raise ValueError(f"{key}: {caller} is O but the row has no record of theirs")
        for field_class, callers in rule.fields.items():
            unknown = callers - set(CALLERS)
            if unknown:
                raise ValueError(f"{key}: {field_class.value} names unknown callers {unknown}")


_check_table()
