"""The inspector's review station, the manual-inspection desk, their JSON API and page login."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from hub.auth import Principal
from hub.auth_models import Role
from hub.deps import PUBLIC, SESSION_COOKIE, ClockDep, SessionDep, SettingsDep, require_roles
from hub.services import desk as desk_service
from hub.services import inspector_stats as stats_service
from hub.services import review as review_service
from hub.services import users
from hub.services.errors import Invalid, NotFound, Unauthenticated
from hub.services.review_schemas import (
    CATEGORIES,
    RESULT_WORDS,
    DeskResultIn,
    DeskResultView,
    DeskView,
    InspectorStatsPage,
    ReviewDetail,
    ReviewQueue,
    ReviewVerdictIn,
    ReviewVerdictOut,
)
from hub.services.verdicts import VerdictPublisher
from hub.xray_store import VIEW_NAMES, XrayStore, XrayStoreError

router = APIRouter(tags=["review"])

TEMPLATES = Path(__file__).with_name("templates")

Inspector = Annotated[Principal, Depends(require_roles(Role.INSPECTOR))]
Viewer = Annotated[Principal, Depends(require_roles(Role.INSPECTOR, Role.SUPERVISOR))]
AnyUser = Annotated[Principal, Depends(require_roles(*Role))]
ImageId = Annotated[uuid.UUID, PathParam(description="Image id from the review queue.")]
Code = Annotated[str, PathParam(min_length=1, max_length=200, description="Parcel code.")]
ViewName = Literal["colour", "grey", "organic", "inorganic", "density", "contrast", "invert"]


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the hub templates (HTML autoescaped)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def get_store(request: Request) -> XrayStore:
    """The hub's image store (``app.state.xray_store``; made from the environment if unset)."""
    store: XrayStore | None = getattr(request.app.state, "xray_store", None)
    if store is None:
        store = XrayStore()
        request.app.state.xray_store = store
    return store


def get_publisher(request: Request) -> VerdictPublisher | None:
    """The hub's MQTT side (``app.state.hub_mqtt``) when it runs, else None."""
    publisher: VerdictPublisher | None = getattr(request.app.state, "hub_mqtt", None)
    return publisher


StoreDep = Annotated[XrayStore, Depends(get_store)]
PublisherDep = Annotated[VerdictPublisher | None, Depends(get_publisher)]


def _safe_next(target: str) -> str:
    """A local path to go to after login (anything else becomes ``/review``)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/review"


def _login_page(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    html = environment().get_template("login.html").render(next=next_path, error=error)
    return HTMLResponse(html, status_code=status)


# --- login for pages ------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse, dependencies=[PUBLIC], summary="Login page")
def login_page(next: Annotated[str, Query(max_length=200)] = "/review") -> HTMLResponse:
    """A user name and password form; the session cookie it sets opens the hub pages."""
    return _login_page(_safe_next(next))


@router.post("/login", dependencies=[PUBLIC], summary="Log a browser in", response_model=None)
async def login_form(
    request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """Check the password; set the session cookie and go on to ``next`` (303)."""
    form = await request.form()
    name, password, target = (str(form.get(k) or "") for k in ("username", "password", "next"))
    target = _safe_next(target)
    if not name or not password or len(name) > 64 or len(password) > 256:
        return _login_page(target, "Give your user name and password.", 422)
    try:
        token, _expires = users.login(session, name, password, clock.now(), settings.token_ttl_s)
    except Unauthenticated:
        return _login_page(target, "Wrong user name or password.", 401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.token_ttl_s,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", summary="Log a browser out", response_model=None)
def logout_form(_user: AnyUser, request: Request, session: SessionDep) -> Response:
    """Revoke the session cookie's token and go back to the login page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        users.revoke_token(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- pages ----------------------------------------------------------------------------------


@router.get("/review", response_class=HTMLResponse, summary="Review station page")
def review_page(inspector: Inspector) -> HTMLResponse:
    """The review station: queue by time left, image with one-key views, declaration."""
    html = (
        environment()
        .get_template("review.html")
        .render(
            user=inspector.name,
            views=list(VIEW_NAMES),
            categories=list(CATEGORIES.items()),
            cfg={"views": list(VIEW_NAMES), "categories": list(CATEGORIES)},
        )
    )
    return HTMLResponse(html)


@router.get("/desk", response_class=HTMLResponse, summary="Manual-inspection desk page")
def desk_page(viewer: Viewer) -> HTMLResponse:
    """The desk: scan or type a parcel code, see why it is here, record the result."""
    html = (
        environment()
        .get_template("desk.html")
        .render(
            user=viewer.name,
            can_record=viewer.allowed(frozenset({Role.INSPECTOR})),
            choices=[(r.value, w) for r, w in RESULT_WORDS.items()],
        )
    )
    return HTMLResponse(html)


# --- review JSON ----------------------------------------------------------------------------


@router.get("/api/v1/review/queue", response_model=ReviewQueue, summary="Review queue")
def get_queue(
    _inspector: Inspector,
    session: SessionDep,
    clock: ClockDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=review_service.MAX_QUEUE)] = 100,
) -> ReviewQueue:
    """Unreviewed images: pending ones by time left before the decision deadline, then held."""
    return review_service.review_queue(session, store.settings, clock, limit)


@router.get(
    "/api/v1/review/{image_id}/image",
    summary="One view of an image (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def get_image(
    _viewer: Viewer,
    session: SessionDep,
    store: StoreDep,
    image_id: ImageId,
    view: ViewName = "colour",
) -> Response:
    """The image rendered server-side: colour, grey, organic, inorganic, density, contrast,
    invert; 8-bit RGB PNG, one pixel per image pixel."""
    row = review_service.image_row(session.connection(), image_id)
    try:
        png = store.render(row["path"], view)
    except XrayStoreError as err:
        raise NotFound(err.args[0] if err.args else "image not available") from err
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})


@router.get("/api/v1/review/{image_id}", response_model=ReviewDetail, summary="Image for review")
def get_detail(
    viewer: Viewer, session: SessionDep, clock: ClockDep, store: StoreDep, image_id: ImageId
) -> ReviewDetail:
    """Flags with regions, the declaration beside it (masked) and the enterprise credit grade."""
    return review_service.review_detail(session, image_id, viewer, store.settings, clock)


@router.post(
    "/api/v1/review/{image_id}/verdict",
    response_model=ReviewVerdictOut,
    status_code=201,
    summary="Give a verdict on an image",
)
def post_verdict(
    *,
    inspector: Inspector,
    session: SessionDep,
    clock: ClockDep,
    publisher: PublisherDep,
    image_id: ImageId,
    body: ReviewVerdictIn,
) -> ReviewVerdictOut:
    """Clear, suspect (with a category) or hold: audited, then sent to the edges (QoS 1)."""
    return review_service.give_verdict(
        session, image_id, body, principal=inspector, clock=clock, publisher=publisher
    )


# --- desk and statistics --------------------------------------------------------------------


@router.get("/api/v1/desk/{code}", response_model=DeskView, summary="A parcel at the desk")
def get_desk(_viewer: Viewer, session: SessionDep, code: Code) -> DeskView:
    """Why the parcel is at the desk: decision, verdicts, images, declaration, results."""
    return desk_service.desk_view(session, code)


@router.post(
    "/api/v1/desk/{code}/result",
    response_model=DeskResultView,
    status_code=201,
    summary="Record a manual-inspection result",
)
def post_result(
    *,
    inspector: Inspector,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    code: Code,
    body: DeskResultIn,
) -> DeskResultView:
    """Consistent, inconsistent, seized, return or release after inspection: audited, and the
    parcel's outcome updated."""
    return desk_service.record_result(
        session, code, body, site=settings.site_id, principal=inspector, clock=clock
    )


@router.get(
    "/api/v1/inspectors/stats", response_model=InspectorStatsPage, summary="Inspector statistics"
)
def get_stats(
    _viewer: Viewer,
    session: SessionDep,
    clock: ClockDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> InspectorStatsPage:
    """Images per hour, median decision time (s) and agreement with the pre-screen (0..1)."""
    if (since and since.tzinfo is None) or (until and until.tzinfo is None):
        raise Invalid("give since and until with a time zone (e.g. ...Z)", field="since")
    return stats_service.inspector_stats(session, clock, since, until)
