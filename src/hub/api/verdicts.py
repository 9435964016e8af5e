"""Inspector verdicts: record (audited, then sent to the edges) and list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from hub.db.auth_models import Role
from hub.deps import ClockDep, PublisherDep, SessionDep, SettingsDep, Sites, require_roles
from hub.services import verdicts as service
from hub.services.auth import Principal
from hub.services.errors import Forbidden
from hub.services.parcel_schemas import VerdictView

router = APIRouter(prefix="/api/v1/verdicts", tags=["verdicts"])

Inspector = Annotated[Principal, Depends(require_roles(Role.INSPECTOR))]
VerdictReader = Annotated[Principal, Depends(require_roles(Role.INSPECTOR, Role.SUPERVISOR))]


@router.post(
    "", response_model=service.VerdictRecorded, status_code=201, summary="Record a verdict"
)
def post_verdict(
    *,
    inspector: Inspector,
    sites: Sites,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    publisher: PublisherDep,
    body: service.VerdictCreate,
) -> service.VerdictRecorded:
    """Record who decided what, when and why (audit log), then publish it QoS 1 to
    ``clearline/{site}/hub/verdict``; ``published`` is false when the broker was away
    (it is sent when the hub reconnects). ``site`` names the parcel's site (default: this
    hub's); a site outside the caller's is refused."""
    site = sites.chosen or settings.site_id
    if not sites.allows(site):
        raise Forbidden(f"you may not give verdicts on site {site!r}")
    return service.record_verdict(
        session,
        body,
        site=site,
        principal=inspector,
        clock=clock,
        publisher=publisher,
    )


@router.get("", response_model=list[VerdictView], summary="List verdicts")
def list_verdicts(
    *,
    _reader: VerdictReader,
    sites: Sites,
    session: SessionDep,
    parcel_code: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIST)] = 100,
) -> list[VerdictView]:
    """Verdicts newest first, optionally for one parcel code."""
    return service.list_verdicts(
        session, parcel_code=parcel_code, limit=limit, offset=offset, scope=sites
    )
