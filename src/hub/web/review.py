"""The review station and manual-inspection desk pages, and the login of browser pages."""

from __future__ import annotations

from datetime import date, timedelta
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
    SiteDayDep,
    Sites,
    StoreDep,
    client_address,
    require_roles,
)
from hub.ingest.xray_store import VIEW_NAMES
from hub.services import tip_stats, users
from hub.services.auth import Principal
from hub.services.errors import Unauthenticated
from hub.services.login_limits import limited_login
from hub.services.review_schemas import CATEGORIES, FLAG_WORDS, RESULT_WORDS
from hub.web import i18n
from hub.web.flag_words import FLAG_NAMES, flag_name, script_details
from hub.web.i18n import N_
from hub.web.names import TRADE_MODES, trade_mode_name
from hub.web.shell import page
from hub.web.templates import render
from hub.web.wording import REASON_WORDS

router = APIRouter(tags=["review"])

Inspector = Annotated[Principal, Depends(require_roles(Role.INSPECTOR))]
Viewer = Annotated[Principal, Depends(require_roles(Role.INSPECTOR, Role.SUPERVISOR))]
AnyUser = Annotated[Principal, Depends(require_roles(*Role))]


def _safe_next(target: str) -> str:
    """A local path to go to after login (anything else becomes ``/``, the role's home)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(
    next_path: str, error: str = "", status: int = 200, lang: str = i18n.DEFAULT
) -> HTMLResponse:
    with i18n.speaking(lang):
        shown = i18n.gettext(error) if error else ""
    html = render("login.html", lang, next=next_path, error=shown, here="/login")
    return HTMLResponse(html, status_code=status)


# --- login for pages ------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse, dependencies=[PUBLIC], summary="Login page")
def login_page(request: Request, next: Annotated[str, Query(max_length=200)] = "/") -> HTMLResponse:
    """A user name and password form; the session cookie it sets opens the hub pages."""
    return _login_page(_safe_next(next), lang=i18n.choose(request))


@router.post("/login", dependencies=[PUBLIC], summary="Log a browser in", response_model=None)
async def login_form(
    request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep
) -> Response:
    """Check the password; set the session cookie and go on to ``next`` (303)."""
    form = await request.form()
    name, password, target = (str(form.get(k) or "") for k in ("username", "password", "next"))
    target = _safe_next(target)
    if not name or not password or len(name) > 64 or len(password) > 256:
        return _login_page(
            target, N_("Give your user name and password."), 422, i18n.choose(request)
        )
    try:
        limiter, address = request.app.state.login_limiter, client_address(request)
        token, _expires = limited_login(
            limiter, session, name, password, address, clock.now(), settings.token_ttl_s
        )
    except Unauthenticated:
        return _login_page(target, N_("Wrong user name or password."), 401, i18n.choose(request))
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


#: The image views, in words.
VIEW_WORDS: dict[str, str] = {
    "colour": N_("colour"),
    "grey": N_("grey"),
    "organic": N_("organic"),
    "inorganic": N_("inorganic"),
    "density": N_("density"),
    "contrast": N_("contrast"),
    "invert": N_("invert"),
    "low": N_("low energy"),
    "high": N_("high energy"),
    "edges": N_("edges"),
}
#: Threat classes of projected test images, in words.
THREAT_WORDS: dict[str, str] = {
    "knife": N_("knife"),
    "ceramic_knife": N_("ceramic knife"),
    "gun": N_("gun"),
    "ammunition": N_("ammunition"),
    "lead": N_("lead shielding"),
    "tungsten": N_("tungsten block"),
}


def _words(table: dict[str, str]) -> dict[str, str]:
    """A table of words translated into the page's language."""
    return {k: i18n.gettext(v) for k, v in table.items()}


def review_config() -> dict[str, object]:
    """What the review station's script needs, with words in the page's language."""
    from hub.web.names import (
        CUSTOMS_COUNTRY,
        CUSTOMS_CURRENCY,
        TRADE_MODES,
        country_name,
        currency_name,
        trade_mode_name,
    )

    return {
        "views": list(VIEW_NAMES),
        "categories": list(CATEGORIES),
        "categoryWords": _words(CATEGORIES),
        "flags": {kind: flag_name(kind) for kind in FLAG_NAMES},
        "flagWords": _words(FLAG_WORDS),
        "details": script_details(),
        "reasons": _words(REASON_WORDS),
        "currencies": {c: currency_name(c) for c in CUSTOMS_CURRENCY},
        "countries": {c: country_name(c) for c in CUSTOMS_COUNTRY},
        "tradeModes": {m: trade_mode_name(m) for m in TRADE_MODES},
    }


@router.get("/review", response_class=HTMLResponse, summary="Review station page")
def review_page(
    inspector: Inspector, _sites: Sites, request: Request, store: StoreDep
) -> HTMLResponse:
    """The review station: queue by time left, image with one-key views, declaration."""
    with i18n.speaking(i18n.choose(request)):
        cfg = review_config()
        cfg["pixelMm"] = store.settings.xray_pixel_mm
        cfg["threats"] = _words(THREAT_WORDS)
        views = _words(VIEW_WORDS)
    return page(
        request,
        "review.html",
        inspector,
        user=inspector.name,
        views=list(VIEW_NAMES),
        view_words=views,
        categories=list(CATEGORIES.items()),
        cfg=cfg,
    )


@router.get("/review/inspectors", response_class=HTMLResponse, summary="Inspector statistics page")
def inspectors_page(
    viewer: Viewer,
    sites: Sites,
    request: Request,
    session: SessionDep,
    site_day: SiteDayDep,
    store: StoreDep,
    date_from: date | None = None,
    date_to: date | None = None,
) -> HTMLResponse:
    """Per inspector and day: test threats found and missed, false alarms, time per image."""
    end = date_to or site_day.today
    start = date_from or end - timedelta(days=6)
    report = tip_stats.inspector_days(session, start, end, sites, zone=site_day.zone)
    settings = store.settings
    return page(
        request,
        "inspectors.html",
        viewer,
        date_from=start,
        date_to=end,
        rows=report.rows,
        rate_pct=f"{settings.tip_rate * 100:g}",
        library=settings.tip_library is not None,
    )


@router.get("/desk", response_class=HTMLResponse, summary="Manual-inspection desk page")
def desk_page(viewer: Viewer, _sites: Sites, request: Request) -> HTMLResponse:
    """The desk: scan or type a parcel code, see why it is here, record the result."""
    with i18n.speaking(i18n.choose(request)):
        reasons = _words(REASON_WORDS)
        cfg = review_config()
        cfg["modes"] = {code: trade_mode_name(code) for code in TRADE_MODES}
    return page(
        request,
        "desk.html",
        viewer,
        user=viewer.name,
        can_record=viewer.allowed(frozenset({Role.INSPECTOR})),
        choices=[(r.value, w) for r, w in RESULT_WORDS.items()],
        reasons=reasons,
        cfg=cfg,
        extra_words=(*RESULT_WORDS.values(), *CATEGORIES.values()),
    )
