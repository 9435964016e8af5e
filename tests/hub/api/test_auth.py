"""Authentication and the role rule of every route, driven from the app's route table."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from hub.db.auth_models import Role
from hub.deps import RoleCheck, public_route
from hub.services.auth import hash_password, verify_password
from tests.hub import conftest_api as fx
from tests.hub.conftest_api import Api

# fixtures (imported explicitly: pytest_plugins is for the root conftest only)
api = fx.api
api_engine = fx.api_engine

#: Framework routes that serve the API description itself.
DOC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _walk(dep: Dependant) -> list[Any]:
    calls = [dep.call]
    for sub in dep.dependencies:
        calls.extend(_walk(sub))
    return calls


@dataclass(frozen=True)
class RouteInfo:
    """One served route: effective path, methods and its dependency tree."""

    path: str
    methods: frozenset[str]
    dependant: Dependant


def _rule(route: RouteInfo) -> RoleCheck | str | None:
    calls = _walk(route.dependant)
    checks = [c for c in calls if isinstance(c, RoleCheck)]
    if checks:
        return checks[0]
    if public_route in calls:
        return "public"
    return None


def _path(route: RouteInfo) -> str:
    def fill(match: re.Match[str]) -> str:
        name, _, conv = match.group(1).partition(":")
        return "1" if conv == "int" or name in ("number", "item_id", "seq") else str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", fill, route.path)


def _api_routes(api: Api) -> list[RouteInfo]:
    routes = []
    for ctx in iter_route_contexts(api.app.routes):
        original = ctx.original_route
        if isinstance(original, APIRoute):
            routes.append(RouteInfo(str(ctx.path), frozenset(ctx.methods or ()), ctx.dependant))
        elif isinstance(original, Route) and original.path in DOC_PATHS:
            continue
        elif isinstance(original, Mount):
            continue  # static files
        else:
            pytest.fail(f"route {original!r} is neither an API route nor documented as exempt")
    return routes


def test_every_route_declares_a_rule(api: Api) -> None:
    routes = _api_routes(api)
    assert len(routes) >= 20
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if _rule(r) is None]
    assert not missing, f"routes without require_roles(...) or PUBLIC: {missing}"


def test_public_routes_are_only_the_known_ones(api: Api) -> None:
    public = {r.path for r in _api_routes(api) if _rule(r) == "public"}
    assert {"/healthz", "/metrics", "/api/v1/auth/token"} <= public
    core_public = {p for p in public if p.startswith("/api/")}
    assert core_public == {"/api/v1/auth/token"}


def test_every_guarded_route_is_401_without_credentials(api: Api) -> None:
    checked = 0
    for route in _api_routes(api):
        if not isinstance(_rule(route), RoleCheck):
            continue
        for method in route.methods:
            r = api.client.request(method, _path(route))
            assert r.status_code == 401, f"{method} {route.path}: {r.status_code} {r.text}"
            assert r.headers.get("www-authenticate") == "Bearer"
            checked += 1
    assert checked >= 12


def test_every_guarded_route_is_403_for_a_wrong_role(api: Api) -> None:
    checked = 0
    for route in _api_routes(api):
        rule = _rule(route)
        if not isinstance(rule, RoleCheck):
            continue
        wrong = [r for r in Role if r is not Role.ADMIN and r not in rule.roles]
        if not wrong:
            continue  # open to every signed-in role
        for method in route.methods:
            for role in wrong:
                r = api.client.request(method, _path(route), headers=api.as_role(role))
                assert r.status_code == 403, f"{role} {method} {route.path}: {r.status_code}"
                checked += 1
    assert checked >= 20


def test_a_right_role_passes_the_check(api: Api) -> None:
    h = api.as_role(Role.EDGE)
    assert api.client.get("/api/v1/sync/declarations", headers=h).status_code == 200
    assert api.client.get("/api/v1/rules/current", headers=h).status_code == 200
    assert api.client.get("/api/v1/declarations", headers=h).status_code == 403


def test_password_login_me_and_logout(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, "inspector-password")
    headers = api.login("ins1", "inspector-password")
    me = api.client.get("/api/v1/auth/me", headers=headers).json()
    assert me["name"] == "ins1" and me["role"] == "inspector" and me["kind"] == "user"
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_login_accepts_json_and_refuses_wrong_passwords(api: Api) -> None:
    api.add_user("sup1", Role.SUPERVISOR, "supervisor-password")
    ok = api.client.post(
        "/api/v1/auth/token", json={"username": "sup1", "password": "supervisor-password"}
    )
    assert ok.status_code == 200 and ok.json()["access_token"].startswith("clt_")
    for name, password in (("sup1", "wrong-password"), ("nobody", "supervisor-password")):
        r = api.client.post("/api/v1/auth/token", data={"username": name, "password": password})
        assert r.status_code == 401
        assert r.json()["detail"] == "wrong user name or password"
    assert api.client.post("/api/v1/auth/token", json={"username": "sup1"}).status_code == 422


def test_token_expires_with_the_clock(api: Api) -> None:
    api.add_user("op1", Role.OPERATOR, "operator-password")
    headers = api.login("op1", "operator-password")
    api.clock.advance(api.app.state.settings.token_ttl_s - 1)
    assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 200
    api.clock.advance(2)
    r = api.client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_bootstrap_admin_logs_in_and_passes_every_role(api: Api) -> None:
    from tests.hub.conftest_api import ADMIN_PASSWORD

    headers = api.login("admin", ADMIN_PASSWORD)
    assert api.client.get("/api/v1/sync/declarations", headers=headers).status_code == 200
    assert api.client.get("/api/v1/audit", headers=headers).status_code == 200


def test_bad_and_unknown_credentials_are_401(api: Api) -> None:
    for headers in (
        {"Authorization": "Bearer clt_not-a-token"},
        {"Authorization": "Bearer something-else"},
        {"X-API-Key": "clk_unknown"},
        {"Cookie": "clearline_session=clt_nope"},
    ):
        assert api.client.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_session_cookie_carries_a_token(api: Api) -> None:
    api.add_user("ins2", Role.INSPECTOR, "inspector-password")
    token = api.login("ins2", "inspector-password")["Authorization"].split()[1]
    api.client.cookies.set("clearline_session", token)
    try:
        assert api.client.get("/api/v1/auth/me").json()["name"] == "ins2"
    finally:
        api.client.cookies.clear()


def test_password_hashes_are_salted_scrypt() -> None:
    first, second = hash_password("same password"), hash_password("same password")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("same password", first) and verify_password("same password", second)
    assert not verify_password("other password", first)
    assert not verify_password("same password", "garbage")


def test_filer_needs_an_enterprise(api: Api) -> None:
    from sqlmodel import Session

    from hub.services import users
    from hub.services.errors import Invalid

    with Session(api.engine) as session, pytest.raises(Invalid, match="enterprise"):
        users.create_api_key(session, "f-none", Role.FILER, api.clock.now(), "")
