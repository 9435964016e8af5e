"""FastAPI dependencies: the database session, the caller, and per-route role rules.

Every route declares who may call it: ``Depends(require_roles(...))`` (or the
:data:`Supervisor`-style aliases built from it) or, for the few open routes,
``dependencies=[PUBLIC]``. The route-table test fails any route with neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import Clock
from hub.db.auth_models import Role
from hub.ingest.xray_store import XrayStore
from hub.services import siteday, users
from hub.services.auth import Principal, check_role
from hub.services.errors import Forbidden, Unauthenticated
from hub.services.login_limits import LoginLimiter
from hub.services.sites import SiteScope, scope_for
from hub.services.verdicts import VerdictPublisher
from hub.settings import HubSettings
from hub.web import i18n

#: Cookie that keeps the site chosen in the pages' site picker.
SITE_COOKIE = "clearline_site"
#: Cookie that carries a bearer token for browser pages.
SESSION_COOKIE = "clearline_session"
#: Header that carries a machine API key.
API_KEY_HEADER = "X-API-Key"

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
_api_key = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)


def get_engine(request: Request) -> Engine:
    """Return the app's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> HubSettings:
    """Return the app's settings."""
    settings: HubSettings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    """Return the app's clock (the system clock unless a test injected another)."""
    clock: Clock = request.app.state.clock
    return clock


@dataclass(frozen=True)
class SiteDay:
    """The site's time zone and the site day it is now."""

    zone: tzinfo
    today: date


def get_site_day(request: Request) -> SiteDay:
    """Return the site's zone and today's site day (by the app's clock)."""
    zone = get_settings(request).zone()
    return SiteDay(zone, siteday.day_of(get_clock(request).now(), zone))


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """Yield one session per request; it is closed (rolled back if open) afterwards."""
    with Session(engine) as session:
        yield session


def get_store(request: Request) -> XrayStore:
    """The hub's image store (``app.state.xray_store``; made from the environment if unset)."""
    store: XrayStore | None = getattr(request.app.state, "xray_store", None)
    if store is None:
        store = XrayStore(engine=request.app.state.engine)
        request.app.state.xray_store = store
    return store


def get_limiter(request: Request) -> LoginLimiter:
    """The app's login rate limiter."""
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


def client_address(request: Request) -> str:
    """The address a request came from (the peer; a proxy's when behind one)."""
    return request.client.host if request.client is not None else "unknown"


def get_publisher(request: Request) -> VerdictPublisher | None:
    """The hub's MQTT side (``app.state.hub_mqtt``) when it runs, else None."""
    publisher: VerdictPublisher | None = getattr(request.app.state, "hub_mqtt", None)
    return publisher


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[HubSettings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SiteDayDep = Annotated[SiteDay, Depends(get_site_day)]
SessionDep = Annotated[Session, Depends(get_session)]
StoreDep = Annotated[XrayStore, Depends(get_store)]
PublisherDep = Annotated[VerdictPublisher | None, Depends(get_publisher)]
LimiterDep = Annotated[LoginLimiter, Depends(get_limiter)]


def current_principal(
    session: SessionDep,
    clock: ClockDep,
    bearer: Annotated[str | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """Return who is calling, from a bearer token, an API key or the session cookie.

    Raises :class:`Unauthenticated` (401) when none is given or it is not valid.
    """
    secret = bearer or api_key or cookie
    if not secret:
        raise Unauthenticated("credentials are required: a bearer token or an X-API-Key")
    return users.principal_for(session, secret, clock.now())


def signed_in(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> Principal:
    """Return the caller, leaving their page language on the request for the pages."""
    setattr(request.state, i18n.STATE, principal.language)
    return principal


CurrentUser = Annotated[Principal, Depends(signed_in)]


def site_scope(
    request: Request,
    principal: CurrentUser,
    site: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="Only this site (default: every site the caller may see).",
        ),
    ] = None,
) -> SiteScope:
    """The sites this request covers: ``site`` (or the page's site picker), within the
    caller's allowed sites; a site the caller may not see is refused (403)."""
    chosen = site or request.cookies.get(SITE_COOKIE) or None
    if site is None and chosen is not None and not scope_for_ok(principal, chosen):
        chosen = None  # a picker choice from another login: forget it, show the allowed sites
    return scope_for(principal, chosen)


def scope_for_ok(principal: Principal, site: str) -> bool:
    """Whether ``principal`` may see ``site``."""
    return principal.sites is None or site in principal.sites


#: The site scope of a request; every route reading or writing site data depends on it.
Sites = Annotated[SiteScope, Depends(site_scope)]


def every_site(principal: CurrentUser) -> SiteScope:
    """For what spans every site (the audit log): refuse a caller limited to some sites."""
    if principal.sites is not None:
        raise Forbidden(
            "this covers every site; a user limited to some sites may not see it "
            f"(your sites: {', '.join(sorted(principal.sites))})"
        )
    return SiteScope()


#: Routes over every site at once depend on this instead of :data:`Sites`.
EverySite = Annotated[SiteScope, Depends(every_site)]


class RoleCheck:
    """A dependency that lets through only principals holding one of ``roles``."""

    def __init__(self, roles: frozenset[Role]) -> None:
        """Keep the roles this check allows (admin is always allowed too)."""
        self.roles = roles

    def __call__(self, principal: CurrentUser) -> Principal:
        """Return the caller if allowed; raise Forbidden (403) otherwise."""
        return check_role(principal, self.roles)

    def __repr__(self) -> str:
        """Name the roles, for test messages."""
        return f"RoleCheck({sorted(r.value for r in self.roles)})"


def require_roles(*roles: Role) -> RoleCheck:
    """Return a dependency allowing only callers with one of ``roles`` (or admin)."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    return RoleCheck(frozenset(roles))


def public_route() -> None:
    """Mark a route as open to anyone (health, metrics, login); it checks nothing."""


#: Put in a route's ``dependencies`` to declare it deliberately public.
PUBLIC = Depends(public_route)

#: Callers allowed to read declarations (filers see only their own enterprise's).
Reader = Annotated[
    Principal,
    Depends(require_roles(Role.SUPERVISOR, Role.FILER, Role.INSPECTOR, Role.OPERATOR)),
]
#: Callers allowed to file declarations and receipts.
Filer = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR, Role.FILER))]
#: Callers allowed to file receipts: only the ``customs`` role's set a customs status.
ReceiptFiler = Annotated[
    Principal, Depends(require_roles(Role.SUPERVISOR, Role.FILER, Role.CUSTOMS))
]
#: Supervisors (and admin).
Supervisor = Annotated[Principal, Depends(require_roles(Role.SUPERVISOR))]
#: Edge machines (and admin).
EdgeMachine = Annotated[Principal, Depends(require_roles(Role.EDGE))]
