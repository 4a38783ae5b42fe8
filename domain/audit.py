"""Reads of sensitive data leave a trace: every read of a traveller's survey answers or health
data is recorded (who, what, why) before the data is shown (DESIGN.md §6).

One aggregate per read: reads never contend with each other or with the journey's commands.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.context import Context
from domain.errors import InvalidInput

# What a read may reveal.
SURVEY, HEALTH, CONTACTS = "survey", "health", "contacts"
DATA_KINDS = (SURVEY, HEALTH, CONTACTS)
# Why staff read it: the purposes the district allows.
PURPOSES = (
    "survey",  # interviewing the traveller, recording or updating the survey
    "contact_tracing",  # following up the traveller's contacts
    "test_follow_up",  # tests of the quarantine order and their results
    "quarantine_decision",  # extending, shortening or ending the order
    "hospital_referral",  # deciding on or arranging hospital care
    "command_review",  # the command centre reviewing a case
)


class DataAccess(Aggregate):
    class Recorded(Aggregate.Created):
        journey_id: UUID
        what: list[str]
        purpose: str
        ctx: Context

    @event(Recorded)
    def __init__(self, journey_id: UUID, what: list[str], purpose: str, ctx: Context) -> None:
        self.journey_id = journey_id
        self.what = what
        self.purpose = purpose

    @classmethod
    def record(
        cls, journey_id: UUID, what: list[str], purpose: str, ctx: Context
    ) -> DataAccess:
        unknown = sorted(set(what) - set(DATA_KINDS))
        if not what or unknown:
            raise InvalidInput(f"a read reveals some of: {', '.join(DATA_KINDS)}")
        if purpose not in PURPOSES:
            raise InvalidInput(f"the purpose of the read is one of: {', '.join(PURPOSES)}")
        return cls(journey_id=journey_id, what=sorted(set(what)), purpose=purpose, ctx=ctx)
