"""Work lists: the hold cage, the inspection area and the day's parcels, filterable."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from contracts.reasons import Outcome, Reason
from hub.db.auth_models import Role
from hub.deps import ClockDep, SessionDep, SiteDayDep, Sites, require_roles
from hub.services import parcels as parcel_service
from hub.services import siteday
from hub.services.auth import Principal
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.names import chute_name, outcome_badge
from hub.web.shell import page
from hub.web.wording import reason_words

router = APIRouter(tags=["pages"])

Worker = Annotated[
    Principal,
    Depends(require_roles(Role.OPERATOR, Role.INSPECTOR, Role.SUPERVISOR)),
]
#: Rows per page of a work list.
PAGE = 100
#: The ready-made lists: name, label, the outcome they show.
LISTS = (
    ("hold", N_("Hold cage"), "HOLD"),
    ("inspect", N_("Inspection area"), "INSPECT"),
    ("today", N_("Today's parcels"), ""),
)


@router.get("/work", response_class=HTMLResponse, summary="Work lists page")
def work_page(
    me: Worker,
    sites: Sites,
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    site_day: SiteDayDep,
    outcome: Annotated[str, Query(max_length=16)] = "",
    reason: Annotated[str, Query(max_length=32)] = "",
    enterprise: Annotated[str, Query(max_length=64)] = "",
    line: Annotated[str, Query(max_length=64)] = "",
    day: date | None = None,
    to: date | None = None,
    since: datetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Parcels of one site day (or of the days ``day`` to ``to``, or since an instant) by
    outcome, reason, enterprise and line; each row links to its trace and the desk."""
    zone = site_day.zone
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=zone)  # a time without zone is the site's own
    the_day = day or (siteday.day_of(since, zone) if since is not None else site_day.today)
    last = to if since is None and to is not None and to != the_day else None
    outcome = outcome.upper() if outcome.upper() in Outcome.__members__ else ""
    reason = reason.upper() if reason.upper() in Reason.__members__ else ""
    found = parcel_service.list_parcels(
        session,
        outcome=outcome or None,
        reason=reason or None,
        day=None if since is not None else the_day,
        day_to=last,
        since=since,
        zone=zone,
        edge=line or None,
        enterprise=enterprise or None,
        limit=PAGE,
        offset=offset,
        scope=sites,
    )
    with i18n.speaking(i18n.choose(request)):
        rows = [
            {
                "code": p.parcel_code or "",
                "seen": _hms(p.first_seen, zone),
                "line": p.edge_id or i18n.gettext("desk"),
                "item": p.item_id,
                "outcome": p.outcome or "",
                "badge": outcome_badge(p.outcome),
                "reasons": [reason_words(r, i18n.gettext) for r in p.reasons],
                "chute": chute_name(p.chute, p.outcome) if p.chute is not None else "",
                "weight": f"{p.weight_kg:.3f} kg" if p.weight_kg is not None else "",
            }
            for p in found.items
        ]
        reasons = sorted(
            ((r.value, reason_words(r.value, i18n.gettext)) for r in Reason), key=lambda x: x[1]
        )
        outcomes = [(o.value, outcome_badge(o.value)) for o in Outcome]
        lists = [(key, i18n.gettext(label), out) for key, label, out in LISTS]
        zone_words = _zone_words(zone, clock.now())
    current = next((k for k, _, out in lists if out == outcome and not reason), "")
    return page(
        request,
        "work.html",
        me,
        rows=rows,
        total=found.total,
        offset=offset,
        page_size=PAGE,
        day=the_day.isoformat(),
        to=last.isoformat() if last is not None else "",
        since=since.astimezone(zone).strftime("%H:%M") if since is not None else "",
        since_q=since.isoformat() if since is not None else "",
        zone=zone_words,
        outcome=outcome,
        reason=reason,
        enterprise=enterprise,
        line=line,
        reasons=reasons,
        outcomes=outcomes,
        lists=lists,
        current=current,
        desk=me.allowed(frozenset({Role.INSPECTOR, Role.SUPERVISOR})),
    )


def _hms(at: datetime | None, zone: tzinfo) -> str:
    """A time of day in the site's zone."""
    return at.astimezone(zone).strftime("%H:%M:%S") if at is not None else "—"


def _zone_words(zone: tzinfo, now: datetime) -> str:
    """The zone's name in the page's language and its offset now, e.g. ``China (Shanghai)
    Time, UTC+08:00``."""
    offset = now.astimezone(zone).strftime("%z")
    return f"{i18n.zone_name(zone)}, UTC{offset[:3]}:{offset[3:]}"
