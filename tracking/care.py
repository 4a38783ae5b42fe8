"""The care side of the record as commands: the survey, the quarantine order with its tests
and decisions, and the ways a journey ends (release, hospital, no-show, cancellation).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import quarantine
from domain.calendar import local_date
from domain.context import Context
from domain.errors import InvalidInput
from domain.journey import Journey
from domain.quarantine import OrderDecision
from domain.stages import RiskLevel
from domain.transfer import HospitalTransfer, pickup_for
from tracking.app_base import AppBase
from tracking.unit_of_work import Answer, Idempotency


class CareCommands(AppBase):
    def record_survey(
        self,
        journey_id: UUID,
        risk: RiskLevel,
        answers: dict[str, Any],
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(
            journey_id,
            lambda j: j.record_survey(risk, self.vault.seal(j.id, answers), ctx),
            idempotency,
        )

    def start_quarantine(
        self,
        journey_id: UUID,
        planned_end: date | None,
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        legal_basis: str = "",
    ) -> Answer:
        """The order starts at the room door (the device's day, else today) and lasts the
        district's standard length unless `planned_end` says otherwise; its tests follow the
        district's schedule."""
        return self._on_journey(
            journey_id, lambda j: self._start_order(j, planned_end, ctx, legal_basis),
            idempotency,
        )

    def _start_order(
        self, journey: Journey, planned_end: date | None, ctx: Context, legal_basis: str
    ) -> None:
        plan = self.quarantine_plan
        starts_on = local_date(ctx.occurred_at) if ctx.occurred_at else self.today()
        journey.start_quarantine(
            planned_end or starts_on + timedelta(days=plan.length_days), ctx,
            starts_on=starts_on, legal_basis=legal_basis or plan.legal_basis,
            test_days=plan.test_days,
        )

    def extend_quarantine(
        self,
        journey_id: UUID,
        planned_end: date,
        decision: OrderDecision,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(
            journey_id,
            lambda j: j.extend_quarantine(planned_end, decision, ctx, self._sealer(j)),
            idempotency,
        )

    def shorten_quarantine(
        self,
        journey_id: UUID,
        planned_end: date,
        decision: OrderDecision,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._on_journey(
            journey_id,
            lambda j: j.shorten_quarantine(
                planned_end, decision, self.today(), ctx, self._sealer(j)
            ),
            idempotency,
        )

    def record_test_result(
        self,
        journey_id: UUID,
        test_day: int,
        result: dict[str, Any],
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        correction_reason: str = "",
    ) -> Answer:
        """`result` (outcome, kind, when the sample was taken, a note) is health data: the
        event holds it sealed with the traveller's key, with the reason of a correction."""
        if result.get("outcome") not in quarantine.OUTCOMES:
            raise InvalidInput(f"a test outcome is one of: {', '.join(quarantine.OUTCOMES)}")
        correction_reason = correction_reason.strip()
        sealed = result | ({"correction_reason": correction_reason} if correction_reason else {})
        return self._on_journey(
            journey_id,
            lambda j: j.record_test_result(
                test_day, self.vault.seal(j.id, sealed), ctx, correction_reason
            ),
            idempotency,
        )

    def release(
        self,
        journey_id: UUID,
        decision: OrderDecision,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        return self._leave(
            journey_id,
            lambda j: j.release(
                decision, self.today(), ctx, lambda s: self.vault.open(j.id, s),
                self._sealer(j),
            ),
            "released",
            idempotency,
        )

    def refer_to_hospital(
        self,
        journey_id: UUID,
        reason: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
        *,
        urgency: str = "urgent",
    ) -> Answer:
        """The journey ends in hospital care, and dispatch is asked for the transport there:
        a hospital transfer that collects the traveller where the line last had them."""

        def refer(journey: Journey) -> list[Aggregate]:
            pickup = pickup_for(journey.stage, journey.entry_point, journey.site_id,
                                journey.run_id)
            transfer = HospitalTransfer.request(
                journey.id, journey.entry_point, pickup,
                journey.room if pickup.startswith("site:") else "", urgency, ctx,
            )
            journey.refer_to_hospital(reason, ctx, self._sealer(journey))
            return [transfer]

        return self._leave(journey_id, refer, "referred to hospital", idempotency)

    def mark_no_show(
        self, journey_id: UUID, ctx: Context, idempotency: Idempotency | None = None
    ) -> Answer:
        return self._leave(journey_id, lambda j: j.mark_no_show(ctx), "no-show", idempotency)

    def cancel(
        self,
        journey_id: UUID,
        reason: str,
        ctx: Context,
        idempotency: Idempotency | None = None,
    ) -> Answer:
        # The room and seat are given back as "cancelled": the typed reason is the person's
        # and stays sealed in the journey's own event.
        return self._leave(
            journey_id, lambda j: j.cancel(reason, ctx, self._sealer(j)), "cancelled", idempotency
        )

