"""The review station and manual-inspection desk pages, and the login of browser pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.db.auth_models import Role
from hub.deps import (
    PUBLIC,
    SESSION_COOKIE,
    ClockDep,
    SessionDep,
    SettingsDep,
    client_address,
    require_roles,
)
from hub.ingest.xray_store import VIEW_NAMES
from hub.services import users
from hub.services.auth import Principal
from hub.services.errors import Unauthenticated
from hub.services.login_limits import limited_login
from hub.services.review_schemas import CATEGORIES, RESULT_WORDS
from hub.web.templates import render

router = APIRouter(tags=["review"])

Inspector = Annotated[Principal, Depends(require_roles(Role.INSPECTOR))]
Viewer = Annotated[Principal, Depends(require_roles(Role.INSPECTOR, Role.SUPERVISOR))]
AnyUser = Annotated[Principal, Depends(require_roles(*Role))]


def _safe_next(target: str) -> str:
    """A local path to go to after login (anything else becomes ``/review``)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/review"


def _login_page(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    html = render("login.html", next=next_path, error=error)
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
        limiter, address = request.app.state.login_limiter, client_address(request)
        token, _expires = limited_login(
            limiter, session, name, password, address, clock.now(), settings.token_ttl_s
        )
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
    html = render(
        "review.html",
        user=inspector.name,
        views=list(VIEW_NAMES),
        categories=list(CATEGORIES.items()),
        cfg={"views": list(VIEW_NAMES), "categories": list(CATEGORIES)},
    )
    return HTMLResponse(html)


@router.get("/desk", response_class=HTMLResponse, summary="Manual-inspection desk page")
def desk_page(viewer: Viewer) -> HTMLResponse:
    """The desk: scan or type a parcel code, see why it is here, record the result."""
    html = render(
        "desk.html",
        user=viewer.name,
        can_record=viewer.allowed(frozenset({Role.INSPECTOR})),
        choices=[(r.value, w) for r, w in RESULT_WORDS.items()],
    )
    return HTMLResponse(html)
