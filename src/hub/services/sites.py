"""Many sites on one hub: the sites a user may see, and the site filter of every request.

A user with no ``user_site`` row sees every site (admin always does); a user with rows sees
only those sites. Each request has a :class:`SiteScope`: the sites its lists and counts
cover (the user's allowed sites, narrowed to one by a ``site`` parameter or the page's site
picker). A single row of another site is "not found", never shown.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, true, union
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from hub.db.auth_models import Role, User
from hub.db.event_models import PARCEL
from hub.db.site_models import USER_SITE
from hub.db.trust_models import EDGE_REGISTRY
from hub.db.xray_models import XRAY_IMAGE
from hub.services.auth import Principal
from hub.services.errors import Forbidden, Invalid, NotFound
from hub.services.user_admin import find_user, record

log = logging.getLogger(__name__)

#: What a site id may look like (as in the MQTT topics).
SITE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class SiteScope:
    """The sites one request covers; ``sites`` None means every site."""

    sites: frozenset[str] | None = None
    chosen: str | None = None

    def clause(self, column: ColumnElement[Any]) -> ColumnElement[bool]:
        """A WHERE clause keeping rows of these sites (always true for every site)."""
        if self.sites is None:
            return true()
        return column.in_(sorted(self.sites))

    def allows(self, site: str | None) -> bool:
        """Whether a row of ``site`` is inside the scope."""
        return self.sites is None or (site is not None and site in self.sites)

    def check(self, site: str | None, what: str) -> None:
        """Raise NotFound for a row (``what``) of a site outside the scope."""
        if not self.allows(site):
            raise NotFound(f"{what} is not found on your sites")


#: The scope of every site (the CLI, jobs, and unrestricted callers).
ALL = SiteScope()


def parse_sites(text: str | Iterable[str]) -> list[str]:
    """Site ids from ``a, b`` text (or a list); raise Invalid for a malformed id."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    sites = sorted({s.strip() for s in items if s.strip()})
    for site in sites:
        if not SITE_ID.match(site):
            raise Invalid(
                f"site {site!r} is not a site id (letters, digits, - and _)", field="sites"
            )
    return sites


def scope_for(principal: Principal, requested: str | None) -> SiteScope:
    """The scope of a request by ``principal`` asking for ``requested`` (None: all allowed).

    Raises Forbidden when the principal is limited to other sites than ``requested``.
    """
    allowed = principal.sites
    if requested:
        if allowed is not None and requested not in allowed:
            mine = ", ".join(sorted(allowed)) or "none"
            raise Forbidden(f"you may not see site {requested!r} (your sites: {mine})")
        return SiteScope(frozenset({requested}), requested)
    return SiteScope(allowed)


def sites_of_user(session: Session, user_id: object) -> frozenset[str] | None:
    """The sites a user is limited to; None when the user sees every site."""
    rows = session.connection().execute(
        select(USER_SITE.c.site).where(USER_SITE.c.user_id == user_id)
    )
    sites = frozenset(str(s) for s in rows.scalars())
    return sites or None


def sites_by_user(session: Session) -> dict[str, list[str]]:
    """Each limited user's name and sites (users seeing every site are not listed)."""
    users = User.__table__  # type: ignore[attr-defined]
    rows = session.connection().execute(
        select(users.c.name, USER_SITE.c.site)
        .join(USER_SITE, USER_SITE.c.user_id == users.c.id)
        .order_by(users.c.name, USER_SITE.c.site)
    )
    found: dict[str, list[str]] = {}
    for name, site in rows:
        found.setdefault(str(name), []).append(str(site))
    return found


def set_user_sites(
    session: Session, name: str, sites: Iterable[str], at: datetime, by: Principal | None = None
) -> list[str]:
    """Limit user ``name`` to ``sites`` (empty: every site); audited. Return the sites."""
    user = find_user(session, name)
    chosen = parse_sites(list(sites))
    if chosen and Role(user.role) is Role.ADMIN:
        raise Invalid("an admin sees every site; give a supervisor account instead", field="sites")
    conn = session.connection()
    conn.execute(delete(USER_SITE).where(USER_SITE.c.user_id == user.id))
    if chosen:
        conn.execute(insert(USER_SITE), [{"user_id": user.id, "site": s} for s in chosen])
    why = "sites: " + (", ".join(chosen) if chosen else "every site")
    record(session, by, at, "user_sites", name, why=why, data={"sites": chosen})
    session.commit()
    log.info("user %s limited to %s", name, ", ".join(chosen) or "every site")
    return chosen


#: Seconds this process keeps the list of known sites (a cache that is safe to lose).
KNOWN_SITES_TTL_S = 60.0
_known: weakref.WeakKeyDictionary[Engine, tuple[float, frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)


def known_sites(
    session: Session, principal: Principal | None = None, *, fresh: bool = False
) -> list[str]:
    """Every site the hub has seen (parcels, images, enrolled edges), as ``principal`` may.

    The list is kept for :data:`KNOWN_SITES_TTL_S` seconds per database, so drawing the site
    picker on every page does not scan the parcel table each time (``fresh``: ask anyway).
    """
    if principal is not None and principal.sites is not None:
        return sorted(principal.sites)
    key = session.get_bind().engine
    cached = _known.get(key)
    if not fresh and cached is not None and time.monotonic() - cached[0] < KNOWN_SITES_TTL_S:
        return sorted(cached[1])
    query = union(
        select(PARCEL.c.site).distinct(),
        select(XRAY_IMAGE.c.site).distinct(),
        select(EDGE_REGISTRY.c.site).distinct(),
    )
    found = frozenset(str(s) for s in session.connection().execute(query).scalars())
    _known[key] = (time.monotonic(), found)
    return sorted(found)
