"""Inspector statistics: images per hour, decision time and agreement with the pre-screen.

- *images per hour*: images reviewed over the inspector's active span in the window (from
  the first image opened to the last verdict; at least one minute).
- *decision time*: from the moment the inspector opened the image to the verdict (images
  opened by someone else are left out), median in seconds.
- *agreement*: the pre-screen agrees when it raised an alarm (SUSPECT) and the verdict was
  suspect or hold, or raised none (PENDING) and the verdict was clear.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from contracts.clock import Clock
from contracts.statuses import XrayState
from hub.db.xray_models import INSPECTION_RESULT, XRAY_IMAGE
from hub.services.errors import Invalid
from hub.services.review_schemas import InspectorStats, InspectorStatsPage
from hub.services.sites import ALL, SiteScope

#: Longest window one statistics call covers, in days.
MAX_WINDOW_DAYS = 31
#: Shortest active span counted, in seconds (one quick verdict is not a rate).
MIN_SPAN_S = 60.0


def agrees(prescreen_state: str, verdict: str) -> bool | None:
    """Whether a verdict agrees with the pre-screen; None when the state says nothing."""
    if prescreen_state == XrayState.SUSPECT.value:
        return verdict in ("suspect", "hold")
    if prescreen_state == XrayState.PENDING.value:
        return verdict == "clear"
    return None


def _one(name: str, rows: list[Any], desk: int) -> InspectorStats:
    """Figures of one inspector from their reviewed image rows."""
    times = [
        (r.reviewed_at - r.opened_at).total_seconds()
        for r in rows
        if r.opened_at is not None and r.opened_by == name and r.reviewed_at >= r.opened_at
    ]
    starts = [r.opened_at for r in rows if r.opened_at is not None and r.opened_by == name]
    starts += [r.reviewed_at for r in rows]
    span_s = max((max(r.reviewed_at for r in rows) - min(starts)).total_seconds(), MIN_SPAN_S)
    checks = [a for a in (agrees(r.state, r.verdict) for r in rows) if a is not None]
    by: defaultdict[str, int] = defaultdict(int)
    for r in rows:
        by[r.verdict] += 1
    return InspectorStats(
        inspector=name,
        images_reviewed=len(rows),
        cleared=by["clear"],
        suspect=by["suspect"],
        held=by["hold"],
        images_per_hour=round(len(rows) * 3600.0 / span_s, 1),
        median_decision_s=round(statistics.median(times), 3) if times else None,
        agreement=round(sum(checks) / len(checks), 3) if checks else None,
        compared=len(checks),
        desk_results=desk,
    )


def inspector_stats(
    session: Session,
    clock: Clock,
    since: datetime | None = None,
    until: datetime | None = None,
    scope: SiteScope = ALL,
) -> InspectorStatsPage:
    """Per-inspector figures over ``[since, until)`` (default: the last 24 hours up to now)."""
    end = until or clock.now() + timedelta(milliseconds=1)
    start = since or end - timedelta(days=1)
    if start >= end:
        raise Invalid("since must be before until", field="since")
    if end - start > timedelta(days=MAX_WINDOW_DAYS):
        raise Invalid(f"the window may span at most {MAX_WINDOW_DAYS} days", field="since")
    conn = session.connection()
    rows = conn.execute(
        select(
            XRAY_IMAGE.c.reviewed_by,
            XRAY_IMAGE.c.reviewed_at,
            XRAY_IMAGE.c.opened_by,
            XRAY_IMAGE.c.opened_at,
            XRAY_IMAGE.c.state,
            XRAY_IMAGE.c.verdict,
        ).where(
            XRAY_IMAGE.c.reviewed_at >= start,
            XRAY_IMAGE.c.reviewed_at < end,
            XRAY_IMAGE.c.verdict.is_not(None),
            scope.clause(XRAY_IMAGE.c.site),
        )
    ).all()
    desk: dict[str, int] = dict(
        conn.execute(
            select(INSPECTION_RESULT.c.inspector, func.count())
            .where(
                INSPECTION_RESULT.c.at >= start,
                INSPECTION_RESULT.c.at < end,
                scope.clause(INSPECTION_RESULT.c.site),
            )
            .group_by(INSPECTION_RESULT.c.inspector)
        ).all()
    )
    grouped: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        grouped[r.reviewed_by].append(r)
    names = sorted(set(grouped) | set(desk))
    out = [
        _one(n, grouped[n], int(desk.get(n, 0)))
        if grouped[n]
        else InspectorStats(
            inspector=n,
            images_reviewed=0,
            cleared=0,
            suspect=0,
            held=0,
            images_per_hour=None,
            median_decision_s=None,
            agreement=None,
            compared=0,
            desk_results=int(desk.get(n, 0)),
        )
        for n in names
    ]
    return InspectorStatsPage(since=start, until=end, inspectors=out)
