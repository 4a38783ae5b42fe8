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

from eventsourcing.application import AggregateNotFoundError

from domain.alerts import (
    Alert,
    AlertFacts,
    Condition,
    Thresholds,
    closing_reason,
    conditions,
    plan,
    still_holds,
)
from domain.errors import DomainError, NotFound
from tracking.application import TrackingApp
from tracking.settings import Settings
from tracking.unit_of_work import Answer, Decision, execute

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
                answer = raise_alert(self.app, condition, self.thresholds, now)
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
                answer = clear_alert(self.app, UUID(alert.alert_id), reason, now)
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


def raise_alert(
    app: TrackingApp, condition: Condition, thresholds: Thresholds, detected_at: datetime
) -> Answer:
    """Raise the alert of an open loop that is overdue under `thresholds` at `detected_at`.

    Raised once per occurrence whoever asks: the id is the occurrence's, so a monitor that
    comes second finds it (or loses the save and, deciding again, finds it) and is done.
    A loop the write model already sees closed (the views lag) raises nothing."""
    alert_id = condition.alert_id
    answer: Answer = {"alert_id": str(alert_id), "kind": condition.kind, "raised": False}

    def decide() -> Decision:
        if alert_id in app.repository:
            return Decision([], answer | {"why": "already raised"})
        journey = None if condition.journey_id is None else app.journey(UUID(condition.journey_id))
        run = None
        if condition.journey_id is None and condition.run_id is not None:
            run = app.run(UUID(condition.run_id))
        if not still_holds(condition, journey, run):
            return Decision([], answer | {"why": "the loop is already closed"})
        return Decision([Alert.raise_for(condition, thresholds, detected_at)],
                        answer | {"raised": True})

    return execute(app, decide, None, app.saver)


def clear_alert(app: TrackingApp, alert_id: UUID, reason: str, cleared_at: datetime) -> Answer:
    """Clear an alert whose loop closed; clearing a cleared alert changes nothing."""

    def decide() -> Decision:
        try:
            alert: object = app.repository.get(alert_id)
        except AggregateNotFoundError:
            alert = None
        if not isinstance(alert, Alert):
            raise NotFound("no such alert")
        cleared = alert.clear(reason, cleared_at)
        return Decision([alert], {"alert_id": str(alert_id), "cleared": cleared})

    return execute(app, decide, None, app.saver)
