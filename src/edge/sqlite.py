"""The one way the edge opens its SQLite files: WAL, autocommit, shared across threads."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_store(path: str | Path, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """Open (creating its folder) the SQLite file at ``path`` in WAL mode.

    The connection is in autocommit mode (transactions are explicit ``BEGIN``s) and may be
    used from several threads under the caller's lock. ``synchronous`` is ``NORMAL`` (a
    committed transaction survives a killed process; WAL) or ``FULL`` (survives power loss).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(p), check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    return db
