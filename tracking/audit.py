"""Sensitive reads are recorded before they are answered (DESIGN.md §6): the access event is
committed first, and a read whose access event cannot be committed shows nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError

from domain.audit import DataAccess
from domain.context import Context
from tracking.application import TrackingApp
from tracking.errors import AccessNotRecorded

log = logging.getLogger(__name__)
NOT_RECORDED = (
    "this read could not be written to the access log, so nothing is shown; please retry "
    "shortly"
)


def record_access(
    app: TrackingApp, journey_id: UUID, what: Sequence[str], purpose: str, ctx: Context
) -> UUID:
    """Commit one access event for a read of `what` about the journey, for `purpose`.

    Saved on its own (not in a group commit): the caller must know that this very event is
    stored before it answers. Raises AccessNotRecorded if it is not."""
    app.journey(journey_id)  # an unknown journey is a 404, and no read to record
    access = DataAccess.record(journey_id, list(what), purpose, ctx)
    try:
        app.save(access)
    except (PersistenceError, psycopg.Error) as e:
        log.warning("access log write failed: %s", type(e).__name__)
        raise AccessNotRecorded(NOT_RECORDED) from e
    return access.id
