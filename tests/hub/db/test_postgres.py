"""The API's key paths, migrations and the audit guard on a real PostgreSQL."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session
from typer.testing import CliRunner

from contracts.clock import ManualClock
from hub.app import create_app
from hub.cli.commands import audit_app
from hub.db import migrate
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.services import audit
from hub.services.audit_key import bind_key, create_key
from tests.conftest import require_service
from tests.hub.conftest import inventory
from tests.hub.conftest_api import T0, Api, ceb_file, decl_json, hub_settings

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

pytestmark = pytest.mark.services


@pytest.fixture
def pg() -> Iterator[tuple[Engine, str]]:
    """An engine confined to a fresh schema (dropped afterwards) and that schema's name."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"t_api_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(PG_URL)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f'SET search_path TO "{schema}"')
        cur.close()
        dbapi_conn.commit()

    try:
        yield engine, schema
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_api(pg: tuple[Engine, str]) -> Iterator[Api]:
    """The hub app on the PostgreSQL schema."""
    engine, _schema = pg
    clock = ManualClock(T0)
    app = create_app(hub_settings(), engine=engine, clock=clock)
    with TestClient(app) as client:
        yield Api(app, client, engine, clock)


def test_upgrade_yields_the_model_tables(pg: tuple[Engine, str]) -> None:
    engine, schema = pg
    migrate.upgrade(engine)
    insp = inspect(engine)
    found = {
        t: {c["name"] for c in insp.get_columns(t, schema=schema)}
        for t in insp.get_table_names(schema=schema)
        if t != "alembic_version"
    }
    metadata = migrate.load_models()
    assert found == {n: {c.name for c in t.columns} for n, t in metadata.tables.items()}
    migrate.upgrade(engine)
    with engine.connect() as conn:
        triggers = set(
            conn.execute(
                text(
                    "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :s "
                    "AND NOT t.tgisinternal"
                ),
                {"s": schema},
            ).scalars()
        )
    assert {"audit_log_append_only", "sync_change_lock", "sync_change_update"} <= triggers
    assert "sync_change_insert" not in triggers  # the import numbers new declarations


def test_filing_listing_and_isolation(pg_api: Api) -> None:
    sup, e1 = pg_api.as_role(Role.SUPERVISOR), pg_api.as_role(Role.FILER, "E1")
    own = {"ebc": "E1", "ebp_code": "E1", "agent_code": "E1", "logistics_code": "E1"}
    r = pg_api.client.post("/api/v1/declarations", json=decl_json(1, **own), headers=e1)
    assert r.status_code == 201
    files = [("files", ("inv.xml", ceb_file("CEB621", [inventory(2), inventory(3)]), "text/xml"))]
    report = pg_api.client.post("/api/v1/declarations/upload", files=files, headers=sup).json()
    assert report[0]["new"] == 2
    listed = pg_api.client.get("/api/v1/declarations", headers=sup).json()
    assert listed["total"] == 3 and "110101199003071234" not in json.dumps(listed)
    assert pg_api.client.get("/api/v1/declarations", headers=e1).json()["total"] == 1
    decl_id = r.json()["id"]
    detail = pg_api.client.get(f"/api/v1/declarations/{decl_id}", headers=sup).json()
    assert detail["lines"][0]["hs_code"] == "6109100021"


def test_sync_pages_and_amendments(pg_api: Api) -> None:
    sup, edge = pg_api.as_role(Role.SUPERVISOR), pg_api.as_role(Role.EDGE)
    ids = [
        pg_api.client.post("/api/v1/declarations", json=decl_json(n), headers=sup).json()["id"]
        for n in range(1, 6)
    ]
    first = pg_api.client.get("/api/v1/sync/declarations", params={"limit": 3}, headers=edge).json()
    assert [d["id"] for d in first["declarations"]] == ids[:3] and first["more"] is True
    pg_api.client.post("/api/v1/declarations", json=decl_json(2, freight="1.00000"), headers=sup)
    rest = pg_api.client.get(
        "/api/v1/sync/declarations",
        params={"cursor": first["next_cursor"], "limit": 10},
        headers=edge,
    ).json()
    assert [d["id"] for d in rest["declarations"]] == [ids[3], ids[4], ids[1]]
    assert rest["more"] is False


def test_rules_change_is_audited_and_verifiable(pg_api: Api) -> None:
    sup = pg_api.as_role(Role.SUPERVISOR)
    current = pg_api.client.get("/api/v1/rules/current", headers=sup).json()
    text_v2 = current["text"].replace('"default-2026.1"', '"pg-2"', 1)
    r = pg_api.client.put("/api/v1/rules", json={"text": text_v2, "why": "pg"}, headers=sup)
    assert r.status_code == 200 and r.json()["rules"]["number"] == 2
    assert pg_api.client.get("/api/v1/audit/verify", headers=sup).json()["ok"] is True


def _append(engine: Engine, n: int) -> None:
    with Session(engine) as session:
        audit.append(
            session, at=T0, actor=f"a{n}", role="inspector", action="verdict", subject=f"p/{n}"
        )
        session.commit()


def test_audit_guard_and_tampering_as_superuser(
    pg: tuple[Engine, str], tmp_path: pytest.TempPathFactory
) -> None:
    engine, schema = pg
    migrate.upgrade(engine)
    key_file = tmp_path / "audit.key"  # type: ignore[operator]
    bind_key(engine, create_key(key_file))
    for n in range(4):
        _append(engine, n)
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 2"))
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    assert audit.verify(engine).ok
    with engine.begin() as conn:  # a superuser going around the trigger
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("UPDATE audit_log SET why = 'edited' WHERE seq = 3"))
    report = audit.verify(engine)
    assert not report.ok and report.first_bad_seq == 3
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    args = ["verify", "--db", url, "--key", str(key_file), "--json"]
    result = CliRunner().invoke(audit_app, args)
    assert result.exit_code == 1 and json.loads(result.stdout)["first_bad_seq"] == 3


def test_concurrent_appends_never_fork(pg: tuple[Engine, str]) -> None:
    engine, _schema = pg
    migrate.upgrade(engine)
    bind_key(engine, b"k" * 32)
    errors: list[BaseException] = []

    def worker(base: int) -> None:
        try:
            for i in range(6):
                _append(engine, base * 100 + i)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    report = audit.verify(engine)
    assert report.ok and report.rows == 24
