"""The site's own calendar day: work lists, statistics and inspector figures count by it.

A Chinese site's day runs from 00:00 to 24:00 China time, which is 16:00 to 16:00 UTC; the
CEB messages write their times the same way (DESIGN §3). Timestamps stay UTC in the database;
only the cutting into days uses the site's time zone (``CLEARLINE_SITE_TIMEZONE``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlalchemy.sql.elements import ColumnElement

#: The time zone of a site in China (no daylight saving since 1991).
DEFAULT_SITE_TIMEZONE = "Asia/Shanghai"
#: The zone used when a caller gives none.
DEFAULT_ZONE: tzinfo = ZoneInfo(DEFAULT_SITE_TIMEZONE)
#: Most site days one period may span (a statistics report, the work list it links to).
MAX_PERIOD_DAYS = 400


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``; ``ValueError`` naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(
            f"site time zone {name!r} is not an IANA time zone name (e.g. {DEFAULT_SITE_TIMEZONE})"
        ) from err


def day_of(at: datetime, tz: tzinfo = DEFAULT_ZONE) -> date:
    """The site's calendar day an (aware) instant falls on: today's, given the time now."""
    return at.astimezone(tz).date()


def bounds(
    first: date, last: date | None = None, tz: tzinfo = DEFAULT_ZONE
) -> tuple[datetime, datetime]:
    """Start and end (exclusive), in UTC, of the site days ``first`` to ``last`` (included)."""
    end_day = (last or first) + timedelta(days=1)
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(end_day, time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def day_sql(column: Any, dialect: str, tz: tzinfo, at: datetime) -> ColumnElement[Any]:
    """The site day of a UTC timestamp column, as ``YYYY-MM-DD`` text, in SQL.

    PostgreSQL converts with the zone's own rules. SQLite has no time zones: it shifts by the
    zone's offset at ``at`` (the period's start), exact for zones without daylight saving,
    such as China's.
    """
    if dialect == "postgresql" and isinstance(tz, ZoneInfo):
        return func.to_char(func.timezone(tz.key, column), "YYYY-MM-DD")
    offset = at.astimezone(tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if dialect == "postgresql":
        shifted = func.timezone("UTC", column) + timedelta(minutes=minutes)
        return func.to_char(shifted, "YYYY-MM-DD")
    return func.substr(func.datetime(column, f"{minutes:+d} minutes"), 1, 10)
