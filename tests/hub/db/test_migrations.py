"""The migrations: they state their own schema, and head is exactly the models' schema."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine

from hub.db import migrate
from hub.db.engine import make_engine
from tests.conftest import require_service

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
VERSIONS = migrate.MIGRATIONS_DIR / "versions"


def _differences(engine: Engine) -> list[Any]:
    """What autogenerate would write to bring the migrated database to the models."""
    metadata = migrate.load_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": True}
        )
        return list(compare_metadata(context, metadata))


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a fresh, uniquely named PostgreSQL database (dropped afterwards)."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"t_migrate_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_every_revision_imports_nothing_of_ours() -> None:
    scripts = sorted(VERSIONS.glob("0*.py"))
    assert len(scripts) >= 4
    for script in scripts:
        tree = ast.parse(script.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            allowed = ("__future__", "collections", "typing", "sqlalchemy", "alembic")
            for name in names:
                assert name.split(".")[0] in allowed, f"{script.name} imports {name}"


def test_sqlite_head_has_the_schema_of_the_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        migrate.upgrade(engine)
        assert _differences(engine) == []
    finally:
        engine.dispose()


@pytest.mark.services
def test_postgres_head_has_the_schema_of_the_models(pg_database: str) -> None:
    engine = make_engine(pg_database)
    try:
        migrate.upgrade(engine)
        assert _differences(engine) == []
    finally:
        engine.dispose()
