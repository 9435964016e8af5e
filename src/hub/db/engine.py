"""Database engines and sessions from a URL: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

from inspection.masking import scrub

log = logging.getLogger(__name__)

#: SQLite page cache per connection, in KiB (negative PRAGMA value); bounds import memory.
SQLITE_CACHE_KIB = 32 * 1024

_PASSWORD = re.compile(r"(://[^:/@]*):[^@]*@")


class StoreError(RuntimeError):
    """The hub database could not be opened, created or written."""


def safe_url(url: str) -> str:
    """Return ``url`` with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD.sub(r"\1:***@", url)


def db_reason(err: BaseException) -> str:
    """Return the first line of a database error: no SQL, no values, long numbers masked."""
    cause = err.orig if isinstance(err, DBAPIError) and err.orig is not None else err
    text = str(cause).strip()
    first = text.splitlines()[0] if text else type(cause).__name__
    return scrub(first[:300])


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Set the per-connection SQLite pragmas: WAL, foreign keys, NORMAL sync, bigger cache."""
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.execute("PRAGMA busy_timeout=10000")
    finally:
        cur.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` (``sqlite:///PATH`` or ``postgresql+psycopg://...``).

    For a SQLite file the parent directory is created and every connection gets
    ``journal_mode=WAL``, ``foreign_keys=ON`` and ``synchronous=NORMAL``. Nothing connects
    until the engine is first used. Raises :class:`StoreError` for a URL it cannot use.
    """
    from sqlmodel import create_engine

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as err:
        shown = safe_url(url)
        raise StoreError(f"database URL {shown!r} is not a valid SQLAlchemy URL") from err
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if in_memory:
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            parent = Path(database).expanduser().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                msg = f"cannot create the directory {parent} for the database: {err.strerror}"
                raise StoreError(msg) from err
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
    else:
        raise StoreError(
            f"database URL {safe_url(url)!r}: backend {backend!r} is not supported "
            "(use sqlite:///PATH or postgresql+psycopg://...)"
        )
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as err:
        raise StoreError(f"cannot create an engine for {safe_url(url)!r}: {err}") from err
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    log.debug("engine for %s created", safe_url(url))
    return engine


def create_tables(engine: Engine) -> None:
    """Create every hub table and index that does not exist yet (never drops anything)."""
    # importing the table modules registers their tables on the metadata
    import hub.db.models
    import hub.db.notice_models  # noqa: F401

    try:
        SQLModel.metadata.create_all(engine)
    except SQLAlchemyError as err:
        raise StoreError(f"cannot create the hub tables: {db_reason(err)}") from err


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on any error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
