"""The alert monitor: compares the loops open in the views with the open alerts, raises the
overdue ones and clears those whose loop closed.

Every API process may run one (TRACKING_ALERTS=embedded): an occurrence's alert id is
deterministic and raising goes through the unit of work, so racing monitors raise it once.
The monitor reads the views through `facts` (projections.queries.read_alert_facts, handed in
by the wiring: tracking does not import the read side) and passes `now` to everything: the
domain reads no clock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from domain.alerts import AlertFacts, Thresholds, closing_reason, conditions, plan
from domain.errors import DomainError
from tracking.application import TrackingApp
from tracking.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    raised: list[str] = field(default_factory=list)  # alert ids this sweep raised
    cleared: list[str] = field(default_factory=list)  # alert ids this sweep cleared


class AlertMonitor:
    def __init__(
        self,
        app: TrackingApp,
        facts: Callable[[], AlertFacts],
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self.facts = facts
        self.thresholds: Thresholds = settings.alert_thresholds
        self.interval = settings.alert_sweep_seconds
        self.clock = clock

    def sweep(self, now: datetime) -> SweepResult:
        """One comparison of the views with the open alerts, as of `now` (an aware time)."""
        facts = self.facts()
        todo = plan(conditions(facts.journeys, facts.runs), facts.open_alerts, now,
                    self.thresholds)
        result = SweepResult()
        for condition in todo.raise_:
            try:
                answer = self.app.raise_alert(condition, self.thresholds, now)
            except DomainError:
                log.exception("could not raise a %s alert", condition.kind)
                continue
            if answer["raised"]:
                result.raised.append(answer["alert_id"])
        journeys = {j.journey_id: j for j in facts.journeys}
        runs = {r.run_id: r for r in facts.runs}
        for alert in todo.clear:
            reason = closing_reason(
                alert,
                journeys.get(alert.journey_id) if alert.journey_id else None,
                runs.get(alert.run_id) if alert.run_id else None,
            )
            try:
                answer = self.app.clear_alert(UUID(alert.alert_id), reason, now)
            except DomainError:
                # Not in the store (views of another store?) or refused: the next sweep tries
                # again; one alert must not stop the others.
                log.exception("could not clear alert %s", alert.alert_id)
                continue
            if answer["cleared"]:
                result.cleared.append(alert.alert_id)
        return result

    def run_forever(self, stop: threading.Event) -> None:
        """Sweep every `alert_sweep_seconds` until `stop` is set; survives failures."""
        backoff = self.interval
        while not stop.is_set():
            try:
                result = self.sweep(self.clock())
                if result.raised or result.cleared:
                    log.info("alerts: %d raised, %d cleared", len(result.raised),
                             len(result.cleared))
                backoff = self.interval
            except Exception:
                log.exception("alert sweep failed; retrying in %.1f s", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 300.0)
                continue
            stop.wait(self.interval)
