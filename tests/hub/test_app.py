"""The app factory: safe settings, health, metrics, request logs, migrations, the CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from hub import app as app_module
from hub.app import create_app
from hub.cli.commands import hub_app
from hub.db import migrate
from hub.db.auth_models import Role
from hub.db.engine import create_tables, make_engine
from hub.importing.importer import import_records
from hub.settings import DEV_ADMIN_PASSWORD, HubSettings, HubSettingsError
from tests.hub import conftest_api as fx
from tests.hub.conftest import inventory, parsed
from tests.hub.conftest_api import Api, decl_json, hub_settings

# fixtures (imported explicitly: pytest_plugins is for the root conftest only)
api = fx.api
api_engine = fx.api_engine

runner = CliRunner()


@pytest.mark.parametrize("password", ["", "admin", "changeme", "short-pw"])
def test_default_or_weak_admin_secrets_are_refused(password: str, api_engine: Engine) -> None:
    with pytest.raises(HubSettingsError, match="CLEARLINE_ADMIN_PASSWORD"):
        create_app(hub_settings(admin_password=password), engine=api_engine)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEARLINE_SITE_ID", "pvg-1")
    monkeypatch.setenv("CLEARLINE_TOKEN_TTL_S", "600")
    settings = HubSettings()
    assert settings.site_id == "pvg-1" and settings.token_ttl_s == 600


def test_dev_mode_uses_the_dev_admin_password(api_engine: Engine) -> None:
    app = create_app(hub_settings(admin_password="", dev=True), engine=api_engine)
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/auth/token", data={"username": "admin", "password": DEV_ADMIN_PASSWORD}
        )
        assert r.status_code == 200


def test_healthz_reports_the_database(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1")
    api.app.state.engine = dead
    try:
        r = api.client.get("/healthz")
        assert r.status_code == 503 and r.json()["database"] == "unreachable"
    finally:
        api.app.state.engine = api.engine
        dead.dispose()


def test_metrics_count_by_route_template(api: Api) -> None:
    h = api.as_role(Role.SUPERVISOR)
    decl_id = api.client.post("/api/v1/declarations", json=decl_json(1), headers=h).json()["id"]
    api.client.get(f"/api/v1/declarations/{decl_id}", headers=h)
    api.client.get("/api/v1/declarations/not-a-uuid", headers=h)
    api.client.get("/no/such/page")
    body = api.client.get("/metrics").text
    line = (
        'clearline_http_requests_total{method="GET",'
        'route="/api/v1/declarations/{declaration_id}",status="200"} 1.0'
    )
    assert line in body
    assert 'route="/api/v1/declarations/{declaration_id}",status="422"} 1.0' in body
    assert 'route="(unmatched)",status="404"' in body
    assert "clearline_http_request_duration_seconds_bucket" in body
    assert decl_id not in body


def test_request_logs_hold_no_query_strings_or_ids(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    h = api.as_role(Role.SUPERVISOR)
    with caplog.at_level(logging.INFO, logger="hub.api.metrics"):
        api.client.get("/api/v1/declarations", params={"code": "110101199003071234"}, headers=h)
        api.client.get("/api/v1/declarations/3f0d0f4e-3c1e-4b7a-9a55-3f4d9c1e2b7a", headers=h)
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.api.metrics"]
    assert len(lines) == 2 and lines[0].startswith("GET /api/v1/declarations -> 200")
    assert lines[1].startswith("GET /api/v1/declarations/{declaration_id} -> 404")
    assert all("110101199003071234" not in x and "3f0d0f4e" not in x for x in lines)


def test_missing_optional_routers_are_skipped(
    api_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "OPTIONAL_ROUTERS", ("hub.api.not_written_yet",))
    app = create_app(hub_settings(), engine=api_engine)
    paths = {getattr(r, "path", "") for r in app.routes}
    assert "/openapi.json" in paths
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200


def _schema(engine: Engine) -> dict[str, set[str]]:
    insp = inspect(engine)
    return {
        t: {c["name"] for c in insp.get_columns(t)}
        for t in insp.get_table_names()
        if t != "alembic_version"
    }


def _model_schema() -> dict[str, set[str]]:
    metadata = migrate.load_models()
    return {name: {c.name for c in table.columns} for name, table in metadata.tables.items()}


def test_upgrade_on_empty_sqlite_matches_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        migrate.upgrade(engine)
        assert _schema(engine) == _model_schema()
        assert migrate.current_revision(engine) is not None
        migrate.upgrade(engine)  # a second run changes nothing
        assert _schema(engine) == _model_schema()
    finally:
        engine.dispose()


def test_upgrade_adopts_tables_made_without_migrations(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        create_tables(engine)
        import_records(engine, parsed([inventory(1), inventory(2)]))
        migrate.upgrade(engine)
        assert _schema(engine) == _model_schema()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sync_change")).scalar_one() == 2
        import_records(engine, parsed([inventory(3)]))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT max(seq) FROM sync_change")).scalar_one() == 3
    finally:
        engine.dispose()


def test_cli_adds_users_and_api_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    added = runner.invoke(
        hub_app,
        [
            "user",
            "add",
            "filer1",
            "--role",
            "filer",
            "--enterprise",
            "e9",
            "--password-stdin",
            "--db",
            url,
        ],
        input="filer-password-1\n",
    )
    assert added.exit_code == 0, added.output
    dup = runner.invoke(
        hub_app,
        [
            "user",
            "add",
            "filer1",
            "--role",
            "filer",
            "--enterprise",
            "E9",
            "--password-stdin",
            "--db",
            url,
        ],
        input="filer-password-1\n",
    )
    assert dup.exit_code == 2 and "exists already" in dup.output
    no_ent = runner.invoke(
        hub_app,
        ["user", "add", "f2", "--role", "filer", "--password-stdin", "--db", url],
        input="filer-password-2\n",
    )
    assert no_ent.exit_code == 2 and "enterprise" in no_ent.output
    key = runner.invoke(hub_app, ["apikey", "add", "edge-1", "--role", "edge", "--db", url])
    assert key.exit_code == 0, key.output
    secret = key.stdout.strip().splitlines()[-1]
    assert secret.startswith("clk_")
    engine = make_engine(url)
    try:
        app = create_app(hub_settings(), engine=engine)
        with TestClient(app) as client:
            me = client.get("/api/v1/auth/me", headers={"X-API-Key": secret}).json()
            assert me["role"] == "edge" and me["name"] == "edge-1"
            r = client.post(
                "/api/v1/auth/token", data={"username": "filer1", "password": "filer-password-1"}
            )
            token = r.json()["access_token"]
            me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.json()["enterprise"] == "E9"
        with Session(engine) as session:
            from hub.services.users import list_users

            assert {u.name for u in list_users(session)} == {"filer1"}  # no admin: users exist
    finally:
        engine.dispose()


def test_serve_refuses_a_default_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CLEARLINE_ADMIN_PASSWORD", raising=False)
    r = runner.invoke(hub_app, ["serve", "--db", f"sqlite:///{tmp_path / 's.db'}"])
    assert r.exit_code == 2 and "CLEARLINE_ADMIN_PASSWORD" in r.output


def test_the_main_command_has_hub_and_audit() -> None:
    from clearline.cli import app

    names = {g.name for g in app.registered_groups}
    assert {"hub", "audit"} <= names
