"""After a fault: every acknowledgement the clients received, held to the event log and the views.

The log is read as the application reads it (the library's recorder and mapper, with the store
cipher, through `open_services` on the deployment's settings); the views through the side store
and `GET /api/board`. For each acknowledged command:

- a registration is *found* when its traveller's document has a journey in the log (the one the
  answer named), the command's receipt is in the log, and the journey has its row in the views;
  it is *duplicated* when the document has two journeys, or the key two receipts;
- a screening is *found* when the journey has its Screened event and its view row says so; it is
  *duplicated* when the journey was screened twice, or the key has two receipts.

`lost` = acknowledged - found. The board's counts by stage must also equal the log's journeys by
stage (each event applied once, none missed), whatever was or was not acknowledged.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from domain.identity import identity_key
from domain.journey import Journey
from domain.stages import Stage
from tests.chaos.load import Load
from tracking.receipts import CommandReceipt
from tracking.services import open_services
from tracking.settings import Settings

PAGE = 5000


def report_path() -> Path | None:
    """Where the report lines go as well (`make chaos` sets CHAOS_REPORT and shows the file)."""
    path = os.environ.get("CHAOS_REPORT")
    return Path(path) if path else None


@dataclass
class Verdict:
    fault: str
    acknowledged: int
    found: int
    duplicated: int
    unacknowledged: int
    problems: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.acknowledged - self.found

    def line(self) -> str:
        more = "".join(f" {k}={v}" for k, v in self.extra.items())
        return (
            f"fault={self.fault} acknowledged={self.acknowledged} found={self.found} "
            f"lost={self.lost} duplicated={self.duplicated} "
            f"unacknowledged={self.unacknowledged}{more}"
        )

    def publish(self) -> None:
        """Print the line (seen with -s) and append it to the report file, if any."""
        print(f"\n{self.line()}")
        if (path := report_path()) is not None:
            with path.open("a") as out:
                out.write(self.line() + "\n")


@dataclass
class Log:
    journeys_of_identity: dict[str, list[str]]
    screenings: Counter[str]
    receipts: Counter[str]  # by the caller's Idempotency-Key

    @property
    def journeys(self) -> set[str]:
        return {j for js in self.journeys_of_identity.values() for j in js}

    def stages(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Stage}
        journeys = self.journeys
        counts[Stage.SCREENED.value] = sum(1 for j in journeys if self.screenings[j])
        counts[Stage.REGISTERED.value] = len(journeys) - counts[Stage.SCREENED.value]
        return counts


def wait_current(url: str, timeout: float = 120.0) -> int:
    """The views' position once the projector has applied everything stored."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{url}/healthz", timeout=5).json()
            if last["projector"]["lag"] == 0:
                return int(last["projector"]["position"])
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"the views still lag after {timeout} s: {last}")


def read_log(settings: Settings) -> Log:
    services = open_services(settings)
    try:
        app = services.app
        journeys: dict[str, list[str]] = {}
        screenings: Counter[str] = Counter()
        receipts: Counter[str] = Counter()
        start = 1
        while notifications := app.recorder.select_notifications(start, PAGE):
            for n in notifications:
                e = app.mapper.to_domain_event(n)
                if isinstance(e, Journey.Registered):
                    journeys.setdefault(e.identity_key, []).append(str(e.originator_id))
                elif isinstance(e, Journey.Screened):
                    screenings[str(e.originator_id)] += 1
                elif isinstance(e, CommandReceipt.Issued):
                    receipts[e.key.rsplit(":", 1)[-1]] += 1
            start = notifications[-1].id + 1
        return Log(journeys, screenings, receipts)
    finally:
        services.close()


def read_view_stages(settings: Settings) -> dict[str, str]:
    services = open_services(settings)
    try:
        with services.store.transaction(write=False) as cur:
            cur.execute("SELECT journey_id, stage FROM journey_stage")
            return {str(j): str(s) for j, s in cur.fetchall()}
    finally:
        services.close()


def check(
    fault: str, settings: Settings, load: Load, url: str, commander_token: str,
    *, publish: bool = True, **extra: Any,
) -> Verdict:
    """Compare `load`'s journal with the log and the views (reached through `url`, an API
    process serving now), once the views are current. `extra`: figures for the report line;
    `publish`: print the line and add it to the report now (else the caller does)."""
    wait_current(url)
    log = read_log(settings)
    views = read_view_stages(settings)
    board = httpx.get(f"{url}/api/board", timeout=15,
                      headers={"Authorization": f"Bearer {commander_token}"})
    board.raise_for_status()

    found = duplicated = 0
    problems: list[str] = []
    for ack in load.journal:
        if ack.kind == "register":
            identity = identity_key(settings.secret, "passport", "GBR", ack.document)
            journeys = log.journeys_of_identity.get(identity, [])
            present = (
                ack.journey_id in journeys and log.receipts[ack.key] >= 1
                and ack.journey_id in views
            )
            twice = len(journeys) > 1 or log.receipts[ack.key] > 1
        else:
            present = (
                log.screenings[ack.journey_id] >= 1 and log.receipts[ack.key] >= 1
                and views.get(ack.journey_id) == Stage.SCREENED.value
            )
            twice = log.screenings[ack.journey_id] > 1 or log.receipts[ack.key] > 1
        found += present
        duplicated += twice
        if not present or twice:
            problems.append(f"{'lost' if not present else 'duplicated'}: {ack}")
    # Nothing, acknowledged or not, may be applied twice or missed by the views.
    if twice_registered := [i for i, js in log.journeys_of_identity.items() if len(js) > 1]:
        problems.append(f"{len(twice_registered)} documents with two journeys")
    if twice_screened := [j for j, n in log.screenings.items() if n > 1]:
        problems.append(f"{len(twice_screened)} journeys screened twice")
    if set(views) != log.journeys:
        problems.append(
            f"views and log differ: {len(set(views) - log.journeys)} journeys only in the views, "
            f"{len(log.journeys - set(views))} only in the log"
        )
    if board.json()["stages"] != log.stages():
        problems.append(f"board stages {board.json()['stages']} != log {log.stages()}")
    problems += load.refused[:20]
    problems += [f"server error {a}" for a in load.server_errors()[:20]]
    verdict = Verdict(
        fault, len(load.journal), found, duplicated, len(load.unacknowledged), problems,
        extra,
    )
    if publish:
        verdict.publish()
    return verdict
