"""The review station's and the manual-inspection desk's JSON API, and inspector statistics."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from hub.db.auth_models import Role
from hub.deps import (
    ClockDep,
    PublisherDep,
    SessionDep,
    SettingsDep,
    SiteDayDep,
    Sites,
    StoreDep,
    require_roles,
)
from hub.ingest.xray_store import XrayStoreError
from hub.services import desk as desk_service
from hub.services import inspector_stats as stats_service
from hub.services import review as review_service
from hub.services import tip as tip_service
from hub.services import tip_stats
from hub.services.auth import Principal
from hub.services.errors import Invalid, NotFound
from hub.services.review_schemas import (
    DeskResultIn,
    DeskResultView,
    DeskView,
    InspectorStatsPage,
    ReviewDetail,
    ReviewQueue,
    ReviewVerdictIn,
    ReviewVerdictOut,
)

router = APIRouter(tags=["review"])

Inspector = Annotated[Principal, Depends(require_roles(Role.INSPECTOR))]
Viewer = Annotated[Principal, Depends(require_roles(Role.INSPECTOR, Role.SUPERVISOR))]
ImageId = Annotated[uuid.UUID, PathParam(description="Image id from the review queue.")]
Code = Annotated[str, PathParam(min_length=1, max_length=200, description="Parcel code.")]
ViewName = Literal[
    "colour",
    "grey",
    "organic",
    "inorganic",
    "density",
    "contrast",
    "invert",
    "low",
    "high",
    "edges",
]


# --- review JSON ----------------------------------------------------------------------------


@router.get("/api/v1/review/queue", response_model=ReviewQueue, summary="Review queue")
def get_queue(
    _inspector: Inspector,
    sites: Sites,
    session: SessionDep,
    clock: ClockDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=review_service.MAX_QUEUE)] = 100,
    view: Literal["waiting", "history"] = "waiting",
) -> ReviewQueue:
    """``waiting``: images whose parcel still waits for a verdict, least time left first;
    ``history``: reviewed images and those the edge decided without a verdict, newest first."""
    return review_service.review_queue(session, store.settings, clock, limit, view, sites)


@router.get(
    "/api/v1/review/inspectors",
    response_model=tip_stats.InspectorDays,
    summary="Inspector statistics per day, with threat image projection",
)
def get_inspector_days(
    _viewer: Viewer,
    sites: Sites,
    session: SessionDep,
    site_day: SiteDayDep,
    date_from: date | None = None,
    date_to: date | None = None,
) -> tip_stats.InspectorDays:
    """Per inspector and site day: TIP hit rate, false-alarm rate, seconds per image
    (default: the last seven days)."""
    end = date_to or site_day.today
    start = date_from or end - timedelta(days=6)
    return tip_stats.inspector_days(session, start, end, sites, zone=site_day.zone)


@router.get(
    "/api/v1/review/{image_id}/image",
    summary="One view of an image (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_image(
    _viewer: Viewer,
    sites: Sites,
    session: SessionDep,
    store: StoreDep,
    image_id: ImageId,
    view: ViewName = "colour",
) -> Response:
    """The image rendered server-side: colour, grey, organic, inorganic, density, contrast,
    invert; 8-bit RGB PNG, one pixel per image pixel."""
    row = review_service.image_row(session.connection(), image_id, sites)
    projected = tip_service.open_projection(session.connection(), image_id, _viewer.name)
    try:
        png = store.render(projected["path"] if projected else row["path"], view)
    except XrayStoreError as err:
        raise NotFound(err.args[0] if err.args else "image not available") from err
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


@router.get("/api/v1/review/{image_id}", response_model=ReviewDetail, summary="Image for review")
def get_detail(
    viewer: Viewer,
    sites: Sites,
    session: SessionDep,
    clock: ClockDep,
    store: StoreDep,
    image_id: ImageId,
) -> ReviewDetail:
    """Flags with regions, the declaration beside it (masked) and the enterprise credit grade."""
    detail = review_service.review_detail(session, image_id, viewer, store.settings, clock, sites)
    if viewer.role is Role.INSPECTOR:
        tip_service.maybe_project(session, store, image_id, viewer, clock)
    return detail


@router.post(
    "/api/v1/review/{image_id}/verdict",
    response_model=ReviewVerdictOut | tip_service.TipAnswer,
    status_code=201,
    summary="Give a verdict on an image",
)
def post_verdict(
    *,
    inspector: Inspector,
    sites: Sites,
    session: SessionDep,
    clock: ClockDep,
    publisher: PublisherDep,
    image_id: ImageId,
    body: ReviewVerdictIn,
) -> ReviewVerdictOut | tip_service.TipAnswer:
    """Clear, suspect (with a category) or hold: audited, then sent to the edges (QoS 1).

    On an image shown with a projected threat the verdict is only scored (``tip: true``) and
    nothing is sent: the real image is shown next for its own verdict."""
    review_service.image_row(session.connection(), image_id, sites)  # 404 off the caller's sites
    projected = tip_service.open_projection(session.connection(), image_id, inspector.name)
    if projected is not None:
        return tip_service.answer(session, projected, body.verdict.value, clock)
    return review_service.give_verdict(
        session,
        image_id,
        body,
        principal=inspector,
        clock=clock,
        publisher=publisher,
        scope=sites,
    )


# --- desk and statistics --------------------------------------------------------------------


@router.get("/api/v1/desk/{code}", response_model=DeskView, summary="A parcel at the desk")
def get_desk(_viewer: Viewer, sites: Sites, session: SessionDep, code: Code) -> DeskView:
    """Why the parcel is at the desk: decision, verdicts, images, declaration, results."""
    return desk_service.desk_view(session, code, sites)


@router.post(
    "/api/v1/desk/{code}/result",
    response_model=DeskResultView,
    status_code=201,
    summary="Record a manual-inspection result",
)
def post_result(
    *,
    inspector: Inspector,
    sites: Sites,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    code: Code,
    body: DeskResultIn,
) -> DeskResultView:
    """Consistent, inconsistent, seized, return or release after inspection: audited, and the
    parcel's outcome updated. Only for a parcel of the caller's sites."""
    site = sites.chosen or settings.site_id
    if not sites.allows(site):
        site = sorted(sites.sites or {site})[0]
    return desk_service.record_result(
        session, code, body, site=site, principal=inspector, clock=clock, scope=sites
    )


@router.get(
    "/api/v1/inspectors/stats", response_model=InspectorStatsPage, summary="Inspector statistics"
)
def get_stats(
    _viewer: Viewer,
    sites: Sites,
    session: SessionDep,
    clock: ClockDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> InspectorStatsPage:
    """Images per hour, median decision time (s) and agreement with the pre-screen (0..1)."""
    if (since and since.tzinfo is None) or (until and until.tzinfo is None):
        raise Invalid("give since and until with a time zone (e.g. ...Z)", field="since")
    return stats_service.inspector_stats(session, clock, since, until, sites)
