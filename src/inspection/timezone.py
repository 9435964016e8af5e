"""China time, in which customs files dates and counts the buyer's calendar year."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

#: China Standard Time (UTC+8, no daylight saving).
CHINA_TZ = timezone(timedelta(hours=8), "UTC+08:00")


def china_year(at: datetime | None) -> int:
    """The calendar year of ``at`` in China time (a naive time is China time); 0 for None."""
    if at is None:
        return 0
    return at.astimezone(CHINA_TZ).year if at.tzinfo is not None else at.year
