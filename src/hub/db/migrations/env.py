"""Alembic environment: runs on the connection given by hub.db.migrate, or on a URL."""

from __future__ import annotations

import os

from alembic import context

from hub.db.engine import make_engine
from hub.db.migrate import load_models

config = context.config
metadata = load_models()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if given is not None:
    _run(given)
else:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "CLEARLINE_DATABASE_URL", "sqlite:///var/clearline.db"
    )
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()
