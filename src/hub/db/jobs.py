"""Background jobs taken by one hub process at a time (PostgreSQL advisory locks)."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

T = TypeVar("T")


def job_key(name: str) -> int:
    """Return the advisory lock key of the job called ``name`` (stable across processes)."""
    return zlib.crc32(f"clearline-job:{name}".encode())


def run_exclusive(engine: Engine, name: str, job: Callable[[], T]) -> tuple[bool, T | None]:
    """Run ``job`` unless another hub process is running the job ``name``; say whether it ran.

    On PostgreSQL the job holds ``pg_try_advisory_lock`` on its own connection while it runs
    (the lock dies with that connection, so a process killed mid-job frees it); a process that
    finds it taken skips the job and returns ``(False, None)``. On SQLite the hub is one
    process, so the job simply runs.
    """
    if engine.dialect.name != "postgresql":
        return True, job()
    key = job_key(name)
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        if not got:
            logger.debug("job %s is running in another hub process; skipped", name)
            return False, None
        try:
            return True, job()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
