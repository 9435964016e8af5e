"""Accounts and sessions: login limits, the password policy, origin checks, logout,
security headers, what /metrics shows, and the API docs and metrics behind auth."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from hub.app import create_app
from hub.cli.commands import hub_app
from hub.db.auth_models import Role, UserCreate
from hub.services import users
from hub.services.errors import Invalid
from hub.services.passwords import password_problem
from hub.settings import DEV_ADMIN_PASSWORD
from tests.hub import conftest_api as fx
from tests.hub.conftest_api import ADMIN_PASSWORD, Api, hub_settings

api = fx.api
api_engine = fx.api_engine

TOKEN = "/api/v1/auth/token"
PASSWORD = "inspector-password"
OWN = {"Origin": "http://testserver"}


def _login(client: TestClient, name: str, password: str) -> int:
    return client.post(TOKEN, data={"username": name, "password": password}).status_code


def test_five_failures_lock_the_account_with_retry_after(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, PASSWORD)
    assert [_login(api.client, "ins1", "wrong-guess") for _ in range(5)] == [401] * 5
    locked = api.client.post(TOKEN, data={"username": "ins1", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, while locked
    assert 1 <= int(locked.headers["retry-after"]) <= 300
    # from another address, the account stays locked
    other = TestClient(api.app, client=("192.0.2.7", 40000))
    assert _login(other, "ins1", PASSWORD) == 429
    api.clock.advance(301)
    assert _login(api.client, "ins1", PASSWORD) == 200


def test_five_failures_from_one_address_lock_that_address(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, PASSWORD)
    attacker = TestClient(api.app, client=("198.51.100.9", 40000))
    assert [_login(attacker, f"user{n}", "guess-guess") for n in range(5)] == [401] * 5
    assert _login(attacker, "ins1", PASSWORD) == 429
    assert _login(api.client, "ins1", PASSWORD) == 200  # other addresses are not locked


def test_the_login_page_is_limited_too(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, PASSWORD)
    form = {"username": "ins1", "password": "bad-guess", "next": "/review"}
    codes = [api.client.post("/login", data=form).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


@pytest.mark.parametrize(
    "password",
    [
        DEV_ADMIN_PASSWORD,
        DEV_ADMIN_PASSWORD.upper(),
        "Password123!",
        "qwertyuiop123",
        "administrator",
        "123456789012",
        "aaaaaaaaaaaaaaaa",
        "short-pw",
        "ins7-is-my-password",
    ],
)
def test_weak_passwords_are_refused_on_creation(api: Api, password: str) -> None:
    with Session(api.engine) as session, pytest.raises(Invalid) as caught:
        users.create_user(
            session,
            UserCreate(name="ins7", role=Role.INSPECTOR, password=password),
            api.clock.now(),
        )
    assert caught.value.field == "password"


def test_the_policy_passes_a_good_password() -> None:
    assert password_problem("mauve-tractor-sings-at-dawn", "ins1") is None


def test_password_change_checks_the_policy_and_ends_sessions(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, PASSWORD)
    h = api.login("ins1", PASSWORD)
    url = "/api/v1/auth/password"
    weak = {"current_password": PASSWORD, "new_password": DEV_ADMIN_PASSWORD}
    r = api.client.post(url, json=weak, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "password"
    wrong = {"current_password": "not-it-at-all", "new_password": "mauve-tractor-sings"}
    assert api.client.post(url, json=wrong, headers=h).status_code == 401
    good = {"current_password": PASSWORD, "new_password": "mauve-tractor-sings"}
    assert api.client.post(url, json=good, headers=h).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401
    assert _login(api.client, "ins1", "mauve-tractor-sings") == 200


def test_production_refuses_to_start_with_the_dev_password(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    key = str(tmp_path / "audit.key")
    dev = create_app(
        hub_settings(database_url=url, dev=True, admin_password="", audit_key_path=key)
    )
    dev.state.engine.dispose()
    with pytest.raises(ValueError, match=r"admin.*dev/demo password"):
        create_app(hub_settings(database_url=url, audit_key_path=key))
    changed = CliRunner().invoke(
        hub_app,
        ["user", "passwd", "admin", "--password-stdin", "--db", url],
        input="mauve-tractor-sings-loud\n",
    )
    assert changed.exit_code == 0, changed.output
    app = create_app(hub_settings(database_url=url, audit_key_path=key))
    app.state.engine.dispose()


def test_production_needs_an_audit_key_that_only_its_owner_reads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    with pytest.raises(ValueError, match="CLEARLINE_AUDIT_KEY_PATH is required"):
        create_app(hub_settings(database_url=url, audit_key_path=None))
    key = tmp_path / "audit.key"
    key.write_text("00" * 32)
    key.chmod(0o644)
    with pytest.raises(ValueError, match="chmod 600"):
        create_app(hub_settings(database_url=url, audit_key_path=str(key)))


def _cookie_client(api: Api) -> TestClient:
    api.add_user("sup1", Role.SUPERVISOR, "supervisor-password")
    r = api.client.post(
        "/login",
        data={"username": "sup1", "password": "supervisor-password", "next": "/desk"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return api.client


RULES_WHY = {"text": "not: [valid", "why": "origin test"}


def test_cookie_writes_must_come_from_the_hubs_own_origin(api: Api) -> None:
    c = _cookie_client(api)
    for headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}):
        r = c.put("/api/v1/rules", json=RULES_WHY, headers=headers)
        assert r.status_code == 403 and r.json()["field"] == "origin", headers
    # from our own origin (or its Referer) the write reaches the route (422: bad YAML)
    assert c.put("/api/v1/rules", json=RULES_WHY, headers=OWN).status_code == 422
    referer = {"Referer": "http://testserver/rules"}
    assert c.put("/api/v1/rules", json=RULES_WHY, headers=referer).status_code == 422
    # reads need no origin; bearer and API-key writes are not cookie-borne
    assert c.get("/api/v1/rules/current").status_code == 200
    key = api.as_role(Role.SUPERVISOR)
    assert api.client.put("/api/v1/rules", json=RULES_WHY, headers=key).status_code == 422


def test_a_login_form_from_another_origin_is_refused(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, PASSWORD)
    form = {"username": "ins1", "password": PASSWORD, "next": "/review"}
    r = api.client.post("/login", data=form, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_a_set_public_origin_is_the_only_one_accepted(api_engine: Engine) -> None:
    settings = hub_settings(public_origin="https://hub.site.example")
    with TestClient(create_app(settings, engine=api_engine)) as c:
        login = {"username": "admin", "password": ADMIN_PASSWORD, "next": "/desk"}
        assert c.post("/login", data=login, follow_redirects=False).status_code == 303
        assert c.put("/api/v1/rules", json=RULES_WHY, headers=OWN).status_code == 403
        ok = {"Origin": "https://hub.site.example"}
        assert c.put("/api/v1/rules", json=RULES_WHY, headers=ok).status_code == 422


def test_api_logout_revokes_the_bearer_token(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, PASSWORD)
    h = api.login("ins1", PASSWORD)
    assert api.client.post("/api/v1/auth/logout", headers=h).status_code == 204
    assert api.client.get("/api/v1/auth/me", headers=h).status_code == 401


def test_api_logout_revokes_the_session_cookie(api: Api) -> None:
    c = _cookie_client(api)
    token = c.cookies.get("clearline_session")
    assert token and c.get("/api/v1/auth/me").status_code == 200
    assert c.post("/api/v1/auth/logout", headers=OWN).status_code == 204
    c.cookies.clear()
    replay = TestClient(api.app, cookies={"clearline_session": token})
    assert replay.get("/api/v1/auth/me").status_code == 401
    assert replay.get("/desk").status_code == 401


def test_page_logout_revokes_the_session_cookie(api: Api) -> None:
    c = _cookie_client(api)
    token = c.cookies.get("clearline_session")
    assert c.post("/logout", headers=OWN, follow_redirects=False).status_code == 303
    replay = TestClient(api.app, cookies={"clearline_session": token or ""})
    assert replay.get("/api/v1/auth/me").status_code == 401


def _check_headers(headers: dict[str, str] | object) -> str:
    h = headers  # httpx headers: case-insensitive
    csp = h["content-security-policy"]  # type: ignore[index]
    assert "frame-ancestors 'none'" in csp and "http" not in csp
    assert h["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert h["referrer-policy"] == "same-origin"  # type: ignore[index]
    assert h["x-frame-options"] == "DENY"  # type: ignore[index]
    return str(csp)


def test_security_headers_on_every_kind_of_response(api: Api) -> None:
    api.add_user("ins1", Role.INSPECTOR, PASSWORD)
    for r in (
        api.client.get("/healthz"),
        api.client.get("/api/v1/declarations"),  # 401
        api.client.get("/no/such/page"),  # 404
        api.client.get("/openapi.json"),
        api.client.get("/metrics"),
    ):
        csp = _check_headers(r.headers)
        assert "default-src 'none'" in csp, r.url
    page = api.client.get("/login")
    csp = _check_headers(page.headers)
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    h = api.login("ins1", PASSWORD)
    review = api.client.get("/review", headers=h)
    assert review.status_code == 200 and "<script>" in review.text
    hashes = re.findall(r"'sha256-[^']+'", _check_headers(review.headers))
    assert hashes, "the page's inline script is allowed by its hash"
    assert int(review.headers["content-length"]) == len(review.content)


def test_metrics_count_refusals_without_routes_or_raw_methods(api: Api) -> None:
    for _ in range(3):
        api.client.get("/api/v1/declarations")  # 401
    api.client.request("PROPFIND-110101199003071234", "/healthz")
    body = api.client.get("/metrics").text
    assert 'clearline_http_refused_total{status="401"} 3.0' in body
    assert 'route="/api/v1/declarations",status="401"' not in body
    assert "110101199003071234" not in body and 'method="OTHER"' in body


def test_metrics_and_docs_can_be_put_behind_auth(api_engine: Engine) -> None:
    settings = hub_settings(protect_metrics=True, protect_docs=True)
    with TestClient(create_app(settings, engine=api_engine)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/openapi.json").status_code == 401
        assert c.get("/docs").status_code == 401
        token = c.post(TOKEN, data={"username": "admin", "password": ADMIN_PASSWORD}).json()
        h = {"Authorization": f"Bearer {token['access_token']}"}
        assert c.get("/metrics", headers=h).status_code == 200
        assert c.get("/openapi.json", headers=h).status_code == 200
        assert c.get("/healthz").status_code == 200


def test_the_cli_refuses_the_demo_password_for_a_new_user(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    runner = CliRunner()
    args = ["user", "add", "ana", "--role", "supervisor", "--password-stdin", "--db", url]
    refused = runner.invoke(hub_app, args, input=f"{DEV_ADMIN_PASSWORD}\n")
    assert refused.exit_code == 2 and "common or default password" in refused.output
    added = runner.invoke(hub_app, args, input="mauve-tractor-sings-loud\n")
    assert added.exit_code == 0, added.output
    weak = runner.invoke(
        hub_app, ["user", "passwd", "ana", "--password-stdin", "--db", url], input="password1\n"
    )
    assert weak.exit_code == 2 and "password" in weak.output
