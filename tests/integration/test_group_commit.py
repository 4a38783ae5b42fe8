"""Group commit on a real store: a batch lands in one transaction; a conflict fails alone."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.reference import EntryPoint, entry_point_id
from tests.integration.test_application import in_parallel
from tracking.group_commit import GroupCommitter, _Save
from tracking.services import Services


def _new_entry_point(code: str) -> list[Any]:
    return list(EntryPoint.register(code, "Entry").collect_events())


def test_a_duplicate_in_a_batch_fails_alone_and_the_rest_land(services: Services) -> None:
    app = services.app
    committer = GroupCommitter(app)
    try:
        app.save(*_new_entry_point("TAKEN"))
        batch = [
            _Save(_new_entry_point("A1"), {}),
            _Save(_new_entry_point("TAKEN"), {}),  # conflicts with what is stored
            _Save(_new_entry_point("A2"), {}),
        ]
        committer._commit(batch)
        assert batch[0].done.result() is None
        assert batch[2].done.result() is None
        with pytest.raises(IntegrityError):
            batch[1].done.result()
        stored = [n.originator_id for n in app.recorder.select_notifications(1, 100)]
        expected = [entry_point_id(code) for code in ("TAKEN", "A1", "A2")]
        assert sorted(stored) == sorted(expected)
    finally:
        committer.close()


def test_concurrent_commands_through_the_committer_all_land_once(services: Services) -> None:
    app = services.app
    assert isinstance(app.saver, GroupCommitter)
    codes = [f"EP-{uuid4().hex[:8]}" for _ in range(24)]
    answers = in_parallel(24, lambda i: app.register_entry_point(codes[i], "Entry"))
    assert all(isinstance(a, dict) for a in answers), answers
    again = in_parallel(8, lambda i: app.register_entry_point(codes[0], "Entry"))
    assert all(type(a).__name__ == "RuleBroken" for a in again), again
    assert len(app.recorder.select_notifications(start=1, limit=100)) == 24
