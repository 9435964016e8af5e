"""Database migrations: Alembic with a programmatic configuration, run at hub start."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from hub.db.engine import StoreError, make_engine

log = logging.getLogger(__name__)

#: The folder holding env.py and versions/.
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def load_models() -> MetaData:
    """Import ``hub.db.models`` and every ``hub.db.*_models`` module; return the metadata."""
    import hub.db

    importlib.import_module("hub.db.models")
    for info in pkgutil.iter_modules(hub.db.__path__):
        if info.name.endswith("_models"):
            importlib.import_module(f"hub.db.{info.name}")
    return SQLModel.metadata


def alembic_config(url: str | None = None) -> Config:
    """Return an Alembic configuration for the hub migrations (``url`` optional)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(target: Engine | str, revision: str = "head") -> None:
    """Bring the database at ``target`` (an engine or a URL) up to ``revision``.

    Raises :class:`hub.db.engine.StoreError` when the database cannot be migrated.
    """
    engine = make_engine(target) if isinstance(target, str) else target
    config = alembic_config()
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except SQLAlchemyError as err:
        raise StoreError(f"cannot migrate the hub database: {err}") from err
    finally:
        if isinstance(target, str):
            engine.dispose()
    log.info("hub database at revision %s", current_revision(engine))


def current_revision(engine: Engine) -> str | None:
    """Return the migration revision the database is at (None for a fresh database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
