"""Many sites on one hub: every route filters by site; a user limited to site A never sees B.

Two sites' parcels, images, verdicts and desk results share one database. A supervisor and an
inspector limited to site A read every list, count, export, page and item; nothing of site B
shows, B's items are "not found", and asking for B by name is refused. The route table drives
the check: a new route that neither filters by site nor is listed as exempt fails here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlmodel import Session
from typer.testing import CliRunner

import hub.cli.user_admin
from hub.cli.commands import hub_app
from hub.db.auth_models import Role, UserCreate
from hub.db.event_models import VerdictRow
from hub.db.xray_models import InspectionResultRow
from hub.deps import every_site, site_scope
from hub.ingest.xray_store import ReviewSettings, XrayStore, store_image
from hub.services import sites as site_service
from hub.services import users
from tests.hub.api.test_auth import _walk
from tests.hub.helpers_events import Hub, hub, parcel_story
from tests.hub.helpers_review import at, feed, sample_png

__all__ = ["hub"]

A, B = "s1", "siteb"
A_CODE, B_CODE = "AA111111111CN", "BB222222222CN"
PASSWORD = "a-long-test-password-for-sites"

#: Routes that hold no site's data, each with the reason (everything else must filter).
EXEMPT: dict[str, str] = {
    "/api/v1/auth/token": "login",
    "/api/v1/auth/me": "the caller itself",
    "/api/v1/auth/logout": "the caller itself",
    "/api/v1/auth/password": "the caller itself",
    "/api/v1/declarations": "declarations belong to enterprises, not sites (filer rules)",
    "/api/v1/declarations/upload": "declarations belong to enterprises, not sites",
    "/api/v1/declarations/{declaration_id}": "declarations belong to enterprises",
    "/api/v1/receipts": "customs receipts belong to declarations, not sites",
    "/api/v1/rules/current": "one rule set for the hub",
    "/api/v1/rules/versions": "one rule set for the hub",
    "/api/v1/rules/versions/{number}": "one rule set for the hub",
    "/api/v1/rules": "one rule set for the hub",
    "/api/v1/sync/declarations": "edge machines, bound to their own edge id",
    "/api/v1/sync/snapshot": "edge machines, bound to their own edge id",
    "/api/v1/events": "edge machines, bound to their own edge id",
    "/healthz": "no data",
    "/metrics": "counters of this process, no personal or site rows",
    "/login": "login page",
    "/logout": "logout",
    "/": "a redirect to the role's home",
    "/lang/{code}": "language cookie",
    "/site": "the site picker itself (checks the caller's sites)",
    "/search": "a redirect to the trace page, which filters",
    "/filing": "declarations belong to enterprises",
    "/check": "a code checked against declarations and the hub's one rule set",
    "/rules": "one rule set for the hub",
    "/rules/text": "one rule set for the hub",
    "/me": "the caller itself",
    "/me/language": "the caller itself",
    "/docs": "API documentation",
    "/redoc": "API documentation",
    "/static/api-docs/{name}": "API documentation assets",
}


def _routes(hub: Hub) -> list[tuple[str, frozenset[str], list[Any]]]:
    found = []
    for ctx in iter_route_contexts(hub.app.routes):
        if isinstance(ctx.original_route, APIRoute):
            calls = _walk(ctx.dependant)
            found.append((str(ctx.path), frozenset(ctx.methods or ()), calls))
    return found


def _scoped_gets(hub: Hub) -> set[str]:
    return {
        path
        for path, methods, calls in _routes(hub)
        if "GET" in methods and site_scope in calls and every_site not in calls
    }


def test_every_route_filters_by_site_or_says_why_not(hub: Hub) -> None:
    """A route reading or writing site data depends on the site scope (or every-site)."""
    missing = [
        f"{sorted(methods)} {path}"
        for path, methods, calls in _routes(hub)
        if site_scope not in calls and every_site not in calls and path not in EXEMPT
    ]
    assert not missing, f"routes with no site filter and no reason to have none: {missing}"
    stale = set(EXEMPT) - {path for path, _, _ in _routes(hub)}
    assert not stale, f"exempt routes that no longer exist: {stale}"


# --- two sites in one database --------------------------------------------------------------


@dataclass
class Sites:
    """The hub with two sites' data, and headers of limited and unlimited people."""

    hub: Hub
    images: dict[str, uuid.UUID]
    sup_a: dict[str, str]
    insp_a: dict[str, str]
    sup_all: dict[str, str]
    insp_all: dict[str, str]


def _login(hub: Hub, name: str) -> dict[str, str]:
    r = hub.client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def two(hub: Hub, tmp_path: Path) -> Iterator[Sites]:
    """Parcels, images, verdicts and desk results on sites A and B; people limited to A."""
    store = XrayStore(ReviewSettings(data_dir=tmp_path / "data", review_budget_s=20.0))
    hub.app.state.xray_store = store
    eng = hub.engine
    feed(eng, parcel_story(1, A_CODE, site=A, edge_id="a-line1", start_s=3590.0))
    feed(eng, parcel_story(1, B_CODE, site=B, edge_id="b-line1", start_s=3590.0))
    images = {}
    for site, n in ((A, 1), (B, 2)):
        stored = store_image(
            eng,
            store,
            site=site,
            device_id="xr1",
            item_id=1,
            png=sample_png("blade", n),
            received_at=at(-9),
        )
        images[site] = stored.image_id
    now = hub.clock.now()
    with Session(eng) as session:
        for site, code in ((A, A_CODE), (B, B_CODE)):
            session.add(
                VerdictRow(
                    site=site, parcel_code=code, item_id=1, verdict="hold",
                    inspector=f"ins-{site}", why="test", at=now,
                )
            )  # fmt: skip
            session.add(
                InspectionResultRow(
                    site=site, parcel_code=code, parcel_key=f"{site}/x", result="consistent",
                    outcome="RELEASE", inspector=f"ins-{site}", at=now,
                )
            )  # fmt: skip
        session.commit()
        for name, role in (
            ("sup_a", Role.SUPERVISOR),
            ("insp_a", Role.INSPECTOR),
            ("sup_all", Role.SUPERVISOR),
            ("insp_all", Role.INSPECTOR),
        ):
            users.create_user(session, UserCreate(name=name, role=role, password=PASSWORD), now)
        site_service.set_user_sites(session, "sup_a", [A], now)
        site_service.set_user_sites(session, "insp_a", [A], now)
    yield Sites(
        hub,
        images,
        _login(hub, "sup_a"),
        _login(hub, "insp_a"),
        _login(hub, "sup_all"),
        _login(hub, "insp_all"),
    )


def _inspector_route(path: str) -> bool:
    return path.startswith("/api/v1/review") or path == "/review"


#: Every site-filtered GET route, with the query that lists rows and whether site A's own
#: marker must show (lists of codes) — B's never may.
LISTS: dict[str, tuple[str, bool]] = {
    "/api/v1/parcels": ("/api/v1/parcels", True),
    "/api/v1/parcels/{code_or_item}": (f"/api/v1/parcels/{A_CODE}", True),
    "/api/v1/verdicts": ("/api/v1/verdicts", True),
    "/api/v1/stats": ("/api/v1/stats?group_by=site&date_from=2026-11-01", True),
    "/api/v1/review/queue": ("/api/v1/review/queue?view=history", True),
    "/api/v1/review/inspectors": ("/api/v1/review/inspectors?date_from=2026-11-01", False),
    "/api/v1/review/{image_id}": ("/api/v1/review/{A_IMAGE}", True),
    "/api/v1/review/{image_id}/image": ("/api/v1/review/{A_IMAGE}/image?view=grey", False),
    "/api/v1/desk/{code}": (f"/api/v1/desk/{A_CODE}", True),
    "/api/v1/inspectors/stats": ("/api/v1/inspectors/stats?since=2026-11-01T00:00:00Z", True),
    "/api/v1/lines/summary": ("/api/v1/lines/summary", True),
    "/trace/{code}": (f"/trace/{A_CODE}", True),
    "/review": ("/review", False),
    "/review/inspectors": ("/review/inspectors?date_from=2026-11-01", False),
    "/desk": ("/desk", False),
    "/work": ("/work", True),
    "/statistics": ("/statistics?date_from=2026-11-01", False),
    "/lines": ("/lines", True),
}


def test_every_site_filtered_read_has_a_case(hub: Hub) -> None:
    """A new site-filtered GET route needs its case in LISTS (so the checks below cover it)."""
    assert _scoped_gets(hub) == set(LISTS)


@pytest.mark.parametrize("route", sorted(LISTS))
def test_a_limited_user_sees_only_its_site(two: Sites, route: str) -> None:
    """Limited to A: A's rows and counts only; the unlimited see B's too; B by name: 403."""
    url, shows_a = LISTS[route]
    url = url.replace("{A_IMAGE}", str(two.images[A]))
    limited = two.insp_a if _inspector_route(route) else two.sup_a
    everyone = two.insp_all if _inspector_route(route) else two.sup_all
    mine = two.hub.client.get(url, headers=limited)
    assert mine.status_code == 200, mine.text
    assert B_CODE not in mine.text and B not in mine.text and str(two.images[B]) not in mine.text
    if shows_a:
        assert A_CODE in mine.text or f'"{A}"' in mine.text or A in mine.text
    if route == "/api/v1/stats":
        assert mine.json()["total_parcels"] == 1
        assert [r["keys"]["site"] for r in mine.json()["rows"]] == [A]
        assert two.hub.client.get(url, headers=everyone).json()["total_parcels"] == 2
    if route in ("/api/v1/parcels", "/api/v1/verdicts", "/api/v1/parcels/{code_or_item}"):
        assert B_CODE not in mine.text
    sep = "&" if "?" in url else "?"
    refused = two.hub.client.get(f"{url}{sep}site={B}", headers=limited)
    assert refused.status_code == 403 and B in refused.text
    narrowed = two.hub.client.get(f"{url}{sep}site={A}", headers=everyone)
    assert narrowed.status_code == 200 and B_CODE not in narrowed.text


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/parcels",
        "/api/v1/verdicts",
        "/api/v1/stats?group_by=site&date_from=2026-11-01",
        "/api/v1/review/queue?view=history",
        "/work",
    ],
)
def test_unlimited_users_see_both_sites(two: Sites, url: str) -> None:
    """The data of B is there: people who see every site see it."""
    headers = two.insp_all if "review" in url else two.sup_all
    seen = two.hub.client.get(url, headers=headers)
    assert seen.status_code == 200
    assert B_CODE in seen.text or B in seen.text


def test_site_b_items_are_not_found_and_writes_refused(two: Sites) -> None:
    """B's parcel, image, desk and verdicts are 404 or 403 for a user limited to A."""
    c, img_b = two.hub.client, two.images[B]
    for url in (
        f"/api/v1/parcels/{B_CODE}",
        f"/api/v1/review/{img_b}",
        f"/api/v1/review/{img_b}/image",
        f"/api/v1/desk/{B_CODE}",
    ):
        headers = two.insp_a if "review" in url else two.sup_a
        r = c.get(url, headers=headers)
        assert r.status_code == 404, (url, r.text)
        assert B not in r.text and "b-line1" not in r.text  # only the code asked for
    assert c.get(f"/trace/{B_CODE}", headers=two.sup_a).status_code == 404
    verdict = c.post(
        f"/api/v1/review/{img_b}/verdict", json={"verdict": "clear"}, headers=two.insp_a
    )
    assert verdict.status_code == 404
    desk = c.post(
        f"/api/v1/desk/{B_CODE}/result",
        json={"result": "consistent", "why": "looked"},
        headers=two.insp_a,
    )
    assert desk.status_code == 404
    body = {"parcel_code": B_CODE, "verdict": "hold", "why": "test"}
    other = c.post(f"/api/v1/verdicts?site={B}", json=body, headers=two.insp_a)
    assert other.status_code == 403 and B in other.json()["detail"]
    for url in ("/api/v1/audit", "/api/v1/audit/verify"):
        r = c.get(url, headers=two.sup_a)
        assert r.status_code == 403 and "every site" in r.json()["detail"]
    assert c.get("/api/v1/audit", headers=two.sup_all).status_code == 200
    assert c.get("/audit", headers=two.sup_a).status_code == 403  # the page as the API
    assert c.get("/audit", headers=two.sup_all).status_code == 200
    menu_a = c.get("/statistics", headers=two.sup_a).text
    assert 'href="/audit"' not in menu_a and 'href="/statistics"' in menu_a
    assert 'href="/audit"' in c.get("/statistics", headers=two.sup_all).text


def test_the_site_picker_is_remembered_and_checked(two: Sites) -> None:
    """The picker keeps a site for the session; the API calls of its pages follow it."""
    c = two.hub.client
    page = c.get("/work", headers=two.sup_all)
    assert 'action="/site"' in page.text and B in page.text
    picked = c.get(f"/site?site={B}&next=/work", headers=two.sup_all, follow_redirects=False)
    assert picked.status_code == 303 and picked.cookies.get("clearline_site") == B
    c.cookies.set("clearline_site", B)
    try:
        listed = c.get("/api/v1/parcels", headers=two.sup_all).json()
        assert [p["site"] for p in listed["items"]] == [B]
        assert c.get(f"/site?site={B}", headers=two.sup_a).status_code == 403
        # a limited user's browser with a stale choice sees its own sites, not an error
        assert A_CODE in c.get("/api/v1/parcels", headers=two.sup_a).text
    finally:
        c.cookies.clear()
    assert c.get("/site?site=nowhere", headers=two.sup_all).status_code == 403


def test_users_page_and_cli_set_sites(two: Sites, tmp_path: Path) -> None:
    """The users page and ``clearline hub user sites`` store a user's sites; admins see all."""
    c = two.hub.client
    admin = {"X-API-Key": _admin_key(two)}
    listed = c.get("/admin/users", headers=admin)
    assert listed.status_code == 200 and "sup_a" in listed.text
    set_b = c.post("/admin/users/sup_all", data={"action": "sites", "sites": f"{B}"}, headers=admin)
    assert set_b.status_code == 200
    assert c.get("/api/v1/parcels", headers=two.sup_all).json()["total"] == 1
    back = c.post("/admin/users/sup_all", data={"action": "sites", "sites": ""}, headers=admin)
    assert back.status_code == 200
    assert c.get("/api/v1/parcels", headers=two.sup_all).json()["total"] == 2
    bad = c.post("/admin/users/sup_all", data={"action": "sites", "sites": "a/b"}, headers=admin)
    assert bad.status_code == 422
    url = str(two.hub.engine.url)
    runner = CliRunner()
    done = runner.invoke(hub_app, ["user", "sites", "insp_all", A, B, "--db", url])
    assert done.exit_code == 0, done.output
    shown = runner.invoke(hub_app, ["user", "list", "--db", url, "--json"])
    assert '"siteb"' in shown.output
    reset = runner.invoke(hub_app, ["user", "sites", "insp_all", "--all", "--db", url])
    assert reset.exit_code == 0 and "every site" in reset.output
    with Session(two.hub.engine) as session:
        assert site_service.sites_by_user(session) == {"insp_a": [A], "sup_a": [A]}


def _admin_key(two: Sites) -> str:
    with Session(two.hub.engine) as session:
        _, secret = users.create_api_key(session, "admin-key", Role.ADMIN, two.hub.clock.now())
    return secret


def test_csv_exports_hold_only_the_users_sites(two: Sites) -> None:
    """The statistics CSV of a user limited to A counts A's parcels only."""
    url = "/api/v1/stats?group_by=site&date_from=2026-11-01&format=csv"
    mine = two.hub.client.get(url, headers=two.sup_a)
    assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/csv")
    assert A in mine.text and B not in mine.text
    everyone = two.hub.client.get(url, headers=two.sup_all)
    assert A in everyone.text and B in everyone.text
