"""Inspector statistics with threat image projection: per inspector and per site day.

- *TIP hit rate*: projected threats marked suspect or held, per projected image answered.
- *false-alarm rate*: alarms (suspect or hold) on real images whose parcel the manual desk
  then found consistent with its declaration or released after inspection, per real image
  reviewed; an alarm the desk has not settled yet is not counted as false.
- *time per image*: mean seconds from showing an image to the verdict, projected and real
  images together (a real image's clock restarts when its projected twin is answered).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, tzinfo
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, true
from sqlmodel import Session

from hub.db.tip_models import TIP_PROJECTION
from hub.db.xray_models import INSPECTION_RESULT, XRAY_IMAGE
from hub.services import siteday
from hub.services.errors import Invalid
from hub.services.sites import ALL, SiteScope

#: Longest period one call covers, days.
MAX_DAYS = 62
#: Desk results that show the parcel was what its declaration said.
CLEAN_RESULTS = frozenset({"consistent", "release_after_inspection"})


class InspectorDay(BaseModel):
    """One inspector's day: projected threats, real images, rates (0..1) and seconds."""

    inspector: str
    day: date
    tip_shown: int = Field(description="Projected images answered.")
    tip_hits: int
    tip_misses: int
    tip_hit_rate: float | None
    images: int = Field(description="Real images given a verdict.")
    alarms: int = Field(description="Real images marked suspect or held.")
    false_alarms: int = Field(description="Alarms the desk found consistent.")
    false_alarm_rate: float | None
    seconds_per_image: float | None = Field(description="Mean, projected and real images.")


class InspectorDays(BaseModel):
    """Per-inspector, per-day figures over ``[date_from, date_to]``."""

    date_from: date
    date_to: date
    rows: list[InspectorDay]


def _rate(n: int, of: int) -> float | None:
    return round(n / of, 3) if of else None


def inspector_days(
    session: Session,
    date_from: date,
    date_to: date,
    scope: SiteScope = ALL,
    zone: tzinfo = siteday.DEFAULT_ZONE,
) -> InspectorDays:
    """Figures per inspector and site day (of ``zone``) over the given days (both included), on
    the scope's sites (a projection counts on the site of the image it was shown on)."""
    if date_to < date_from:
        raise Invalid("date_from must not be after date_to", field="date_from")
    if (date_to - date_from).days >= MAX_DAYS:
        raise Invalid(f"the period may span at most {MAX_DAYS} days", field="date_from")
    start, end = siteday.bounds(date_from, date_to, tz=zone)
    conn = session.connection()
    tips = conn.execute(
        select(
            TIP_PROJECTION.c.inspector,
            TIP_PROJECTION.c.shown_at,
            TIP_PROJECTION.c.answered_at,
            TIP_PROJECTION.c.hit,
        ).where(
            TIP_PROJECTION.c.answered_at >= start,
            TIP_PROJECTION.c.answered_at < end,
            true()
            if scope.sites is None
            else TIP_PROJECTION.c.image_id.in_(
                select(XRAY_IMAGE.c.image_id).where(scope.clause(XRAY_IMAGE.c.site))
            ),
        )
    ).all()
    real = conn.execute(
        select(
            XRAY_IMAGE.c.reviewed_by,
            XRAY_IMAGE.c.reviewed_at,
            XRAY_IMAGE.c.opened_by,
            XRAY_IMAGE.c.opened_at,
            XRAY_IMAGE.c.verdict,
            XRAY_IMAGE.c.parcel_code,
        ).where(
            XRAY_IMAGE.c.reviewed_at >= start,
            XRAY_IMAGE.c.reviewed_at < end,
            XRAY_IMAGE.c.verdict.is_not(None),
            scope.clause(XRAY_IMAGE.c.site),
        )
    ).all()
    codes = {r.parcel_code for r in real if r.parcel_code}
    clean: set[str] = set()
    if codes:
        clean = {
            c
            for (c,) in conn.execute(
                select(INSPECTION_RESULT.c.parcel_code).where(
                    INSPECTION_RESULT.c.parcel_code.in_(sorted(codes)),
                    INSPECTION_RESULT.c.result.in_(sorted(CLEAN_RESULTS)),
                )
            ).all()
        }
    days: dict[tuple[str, date], dict[str, Any]] = defaultdict(
        lambda: {"shown": 0, "hits": 0, "images": 0, "alarms": 0, "false": 0, "secs": []}
    )
    for t in tips:
        d = days[(t.inspector, siteday.day_of(t.answered_at, zone))]
        d["shown"] += 1
        d["hits"] += 1 if t.hit else 0
        d["secs"].append((t.answered_at - t.shown_at).total_seconds())
    for r in real:
        d = days[(r.reviewed_by, siteday.day_of(r.reviewed_at, zone))]
        d["images"] += 1
        if r.verdict in ("suspect", "hold"):
            d["alarms"] += 1
            d["false"] += 1 if r.parcel_code in clean else 0
        if r.opened_at is not None and r.opened_by == r.reviewed_by:
            d["secs"].append(max(0.0, (r.reviewed_at - r.opened_at).total_seconds()))
    rows = [
        InspectorDay(
            inspector=name,
            day=day,
            tip_shown=d["shown"],
            tip_hits=d["hits"],
            tip_misses=d["shown"] - d["hits"],
            tip_hit_rate=_rate(d["hits"], d["shown"]),
            images=d["images"],
            alarms=d["alarms"],
            false_alarms=d["false"],
            false_alarm_rate=_rate(d["false"], d["images"]),
            seconds_per_image=round(sum(d["secs"]) / len(d["secs"]), 2) if d["secs"] else None,
        )
        for (name, day), d in sorted(days.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]
    return InspectorDays(date_from=date_from, date_to=date_to, rows=rows)
