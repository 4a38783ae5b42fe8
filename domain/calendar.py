"""The district's calendar: days of quarantine orders, of tests and of the daily report are
local days of the district, whatever zone a device or the store speaks."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("a moment without a time zone has no local day")
    return moment.astimezone(ZONE).date()
