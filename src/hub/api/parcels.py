"""Parcels: the filtered list and one parcel's full timeline."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from contracts.reasons import Outcome, Reason
from hub.db.auth_models import Role
from hub.deps import SessionDep, SiteDayDep, Sites, require_roles
from hub.services import parcels as service
from hub.services.auth import Principal
from hub.services.parcel_schemas import ParcelPage, Timeline

router = APIRouter(prefix="/api/v1/parcels", tags=["parcels"])

#: Who may look at parcels: the line, the inspectors and supervisors (and admin).
ParcelViewer = Annotated[
    Principal, Depends(require_roles(Role.SUPERVISOR, Role.INSPECTOR, Role.OPERATOR))
]


@router.get("", response_model=ParcelPage, summary="List parcels")
def list_parcels(
    *,
    _viewer: ParcelViewer,
    sites: Sites,
    session: SessionDep,
    site_day: SiteDayDep,
    outcome: Outcome | None = None,
    reason: Reason | None = None,
    day: Annotated[
        date | None, Query(description="Site day (CLEARLINE_SITE_TIMEZONE) of the first sighting.")
    ] = None,
    to: Annotated[
        date | None, Query(description="Last site day, included, of a period from `day`.")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Only parcels first seen at or after this time.")
    ] = None,
    edge: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
) -> ParcelPage:
    """Parcel passes, newest first, filtered by outcome, reason, site day, time and edge."""
    return service.list_parcels(
        session,
        outcome=outcome.value if outcome else None,
        reason=reason.value if reason else None,
        day=day,
        since=since,
        day_to=to,
        zone=site_day.zone,
        edge=edge,
        limit=limit,
        offset=offset,
        scope=sites,
    )


@router.get("/{code_or_item}", response_model=Timeline, summary="One parcel's timeline")
def get_parcel(
    *,
    _viewer: ParcelViewer,
    sites: Sites,
    session: SessionDep,
    code_or_item: Annotated[str, Path(min_length=1, max_length=200)],
) -> Timeline:
    """Every event in time order, the decision and its reasons, chute, confirmation,
    verdicts, and the matched declaration with measured vs declared values (masked)."""
    return service.get_timeline(session, code_or_item, sites)
