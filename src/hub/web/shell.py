"""What every page shares: the menu of the person's role, their home, the language switch,
the code search box, and pages (not JSON) for the errors a browser meets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from hub.db.auth_models import Role
from hub.deps import PUBLIC, SITE_COOKIE, SessionDep, require_roles
from hub.services.auth import Principal
from hub.services.errors import Forbidden, ServiceError, Unauthenticated
from hub.services.sites import known_sites
from hub.web import i18n
from hub.web.i18n import N_
from hub.web.templates import render

router = APIRouter(tags=["pages"])

AnyUser = Annotated[Principal, Depends(require_roles(*Role))]

#: Every page of the menu: path, label, and the roles that may open it (admin opens all).
PAGES: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("/lines", N_("Lines"), frozenset({Role.OPERATOR, Role.SUPERVISOR})),
    ("/review", N_("Review station"), frozenset({Role.INSPECTOR})),
    ("/desk", N_("Inspection desk"), frozenset({Role.INSPECTOR, Role.SUPERVISOR})),
    ("/work", N_("Work lists"), frozenset({Role.OPERATOR, Role.INSPECTOR, Role.SUPERVISOR})),
    ("/statistics", N_("Statistics"), frozenset({Role.SUPERVISOR})),
    ("/review/inspectors", N_("Inspectors"), frozenset({Role.SUPERVISOR})),
    ("/filing", N_("Filing"), frozenset({Role.FILER, Role.SUPERVISOR, Role.CUSTOMS})),
    (
        "/check",
        N_("Check"),
        frozenset({Role.FILER, Role.SUPERVISOR, Role.INSPECTOR, Role.OPERATOR}),
    ),
    ("/rules", N_("Rules"), frozenset({Role.SUPERVISOR})),
    ("/audit", N_("Audit log"), frozenset({Role.SUPERVISOR})),
    ("/admin/users", N_("Users"), frozenset({Role.ADMIN})),
    ("/docs", N_("API"), frozenset(Role)),
)
#: Pages that hold every site's rows: not in the menu of a person limited to some sites.
EVERY_SITE_PAGES = frozenset({"/audit", "/admin/users"})
#: Where each role lands after logging in.
HOMES: dict[str, str] = {
    "operator": "/lines",
    "inspector": "/review",
    "supervisor": "/statistics",
    "filer": "/filing",
    "customs": "/filing",
    "admin": "/statistics",
}


def home_of(principal: Principal) -> str:
    """The home page of the principal's role."""
    return HOMES.get(principal.role.value, "/work")


def menu_for(principal: Principal | None) -> list[tuple[str, str]]:
    """The menu entries (path, translated label) the principal may open."""
    if principal is None:
        return []
    return [
        (path, i18n.gettext(label))
        for path, label, roles in PAGES
        if (principal.role is Role.ADMIN or principal.role in roles or roles == frozenset(Role))
        and not (principal.sites is not None and path in EVERY_SITE_PAGES)
    ]


def page(
    request: Request,
    name: str,
    principal: Principal | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    extra_words: tuple[str, ...] = (),
    **context: object,
) -> HTMLResponse:
    """Render page ``name`` in the request's language, inside the shell (menu, search, logout)."""
    lang = i18n.choose(request)
    with i18n.speaking(lang):
        menu = menu_for(principal)
    html = render(
        name,
        lang,
        extra_words,
        me=principal,
        menu=menu,
        here=request.url.path,
        site_choices=site_choices(request, principal),
        site_chosen=request.cookies.get(SITE_COOKIE, ""),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def site_choices(request: Request, principal: Principal | None) -> list[str]:
    """The sites the page's site picker offers (none when there is only one to see)."""
    if principal is None or principal.role in (Role.FILER, Role.EDGE):
        return []
    from sqlmodel import Session

    with Session(request.app.state.engine) as session:
        sites = known_sites(session, principal)
    return sites if len(sites) > 1 else []


@router.get("/site", summary="Choose the site the pages show", response_model=None)
def choose_site(
    me: AnyUser,
    session: SessionDep,
    site: Annotated[str, Query(max_length=64)] = "",
    next: Annotated[str, Query(max_length=300)] = "/",
) -> RedirectResponse:
    """Keep the chosen site for this browser session (empty: every site you may see)."""
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if not site:
        response.delete_cookie(SITE_COOKIE, path="/")
        return response
    if me.sites is not None and site not in me.sites:
        raise Forbidden(f"you may not see site {site!r}")
    if site not in known_sites(session, fresh=True):
        raise Forbidden(f"site {site!r} is not known to this hub")
    response.set_cookie(SITE_COOKIE, site, samesite="lax", httponly=True, path="/")
    return response


@router.get("/", summary="Home: each role's own page", response_model=None)
def home(me: AnyUser) -> Response:
    """Send the person to the home page of their role."""
    return RedirectResponse(home_of(me), status_code=303)


@router.get("/lang/{code}", dependencies=[PUBLIC], summary="Choose the page language")
def choose_language(
    code: str, next: Annotated[str, Query(max_length=300)] = "/"
) -> RedirectResponse:
    """Keep the choice in a cookie (a year) and go back to the page."""
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(
            i18n.COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True, path="/"
        )
    return response


@router.get("/search", summary="Find a parcel by code (the search box)", response_model=None)
def search(_me: AnyUser, code: Annotated[str, Query(max_length=200)] = "") -> RedirectResponse:
    """Go to the trace page of the code typed in the search box."""
    code = code.strip()
    if not code:
        return RedirectResponse("/", status_code=303)
    from urllib.parse import quote

    return RedirectResponse(f"/trace/{quote(code, safe='')}", status_code=303)


def wants_page(request: Request) -> bool:
    """True for a browser asking for a page (not the API, not a script)."""
    if request.url.path.startswith("/api/") or request.method != "GET":
        return False
    return "text/html" in request.headers.get("accept", "")


def error_page(request: Request, exc: ServiceError) -> Response:
    """A browser's view of an error: the login for 401, a page in words for the rest."""
    if isinstance(exc, Unauthenticated):
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    title = N_("Not for your role") if isinstance(exc, Forbidden) else N_("Something went wrong")
    with i18n.speaking(i18n.choose(request)):
        heading = i18n.gettext(title)
    return page(
        request, "error.html", None, status=exc.status, heading=heading, message=exc.message
    )
