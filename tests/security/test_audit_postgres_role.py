"""The hub on PostgreSQL as a role that does not own the audit table: it appends and
reads the log, and the database itself refuses it UPDATE, DELETE, TRUNCATE and DDL there.

The statements are those of docs/security.md ("The hub as a role that does not own the
audit table"), run in a fresh schema with two fresh roles.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from contracts.clock import ManualClock
from hub.app import create_app
from hub.db import migrate
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.services import audit
from tests.conftest import require_service
from tests.hub.conftest_api import T0, Api, hub_settings

pytestmark = pytest.mark.services

SUPER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: What the owner grants the hub's role once the migrations have run (docs/security.md).
GRANTS = (
    "GRANT USAGE ON SCHEMA {schema} TO {app}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {app}",
    "REVOKE DELETE, TRUNCATE ON audit_head FROM {app}",
)


@dataclass
class Roles:
    """An owner engine that ran the migrations and an engine of the hub's own role."""

    owner: Engine
    app: Engine
    app_role: str


def _engine(user: str, schema: str) -> Engine:
    engine = make_engine(SUPER_URL.replace("postgres@", f"{user}@"))

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f'SET search_path TO "{schema}"')
        cur.close()
        dbapi_conn.commit()

    return engine


@pytest.fixture
def roles() -> Iterator[Roles]:
    """A schema owned by a fresh owner role, migrated by it, and a fresh hub role."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    tag = uuid.uuid4().hex[:10]
    schema, owner, app = f"t_roles_{tag}", f"cl_owner_{tag}", f"cl_hub_{tag}"
    admin = make_engine(SUPER_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {owner} LOGIN"))
        conn.execute(text(f"CREATE ROLE {app} LOGIN"))
        conn.execute(text(f'CREATE SCHEMA "{schema}" AUTHORIZATION {owner}'))
    owner_engine, app_engine = _engine(owner, schema), _engine(app, schema)
    try:
        migrate.upgrade(owner_engine)
        with owner_engine.begin() as conn:
            for statement in GRANTS:
                conn.execute(text(statement.format(schema=f'"{schema}"', app=app)))
        yield Roles(owner_engine, app_engine, app)
    finally:
        owner_engine.dispose()
        app_engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            conn.execute(text(f"DROP ROLE {app}"))
            conn.execute(text(f"DROP ROLE {owner}"))
        admin.dispose()


def test_the_hub_role_appends_but_cannot_rewrite_the_log(roles: Roles) -> None:
    clock = ManualClock(T0)
    app = create_app(hub_settings(migrate_on_start=False), engine=roles.app, clock=clock)
    with TestClient(app) as client:
        api = Api(app, client, roles.app, clock)
        sup = api.as_role(Role.SUPERVISOR)
        current = client.get("/api/v1/rules/current", headers=sup).json()
        text_v2 = current["text"].replace('"default-2026.1"', '"roles-2"', 1)
        r = client.put("/api/v1/rules", json={"text": text_v2, "why": "roles"}, headers=sup)
        assert r.status_code == 200, r.text
        assert client.get("/api/v1/audit/verify", headers=sup).json()["ok"] is True
    assert audit.verify(roles.app).rows == 2
    for statement in (
        "UPDATE audit_log SET why = 'edited' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
        "TRUNCATE audit_log",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    ):
        refused = pytest.raises(DatabaseError, match=r"permission denied|must be owner")
        with refused, roles.app.begin() as conn:
            conn.execute(text(statement))
    assert audit.verify(roles.app).ok
