"""The edge's local copy of declarations, statuses and rules, so it decides without the hub.

The copy is the declaration index itself, kept in SQLite (``edge/store.py``): each sync
page goes into the index's tables in one transaction with the cursor, and the engine reads
them through an index of its own (:meth:`DeclarationCache.reader`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from edge.snapshot import Loaded, SnapshotWriter
from edge.sqlite import open_store
from edge.store import SqliteBooks, decode
from inspection.codec import declaration_from_dict
from inspection.index import DeclarationIndex
from inspection.model import Declaration, DocKind, Notice

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: Declarations an older edge kept whole; read once into the index, then emptied.
_OLD_COPY = ("decl", "status")
#: Decoded records the engine's reader keeps hot (about 2 KB each).
READER_HOT = 20_000
#: SQLite page cache while a snapshot is written (KiB), for building its indexes.
BULK_CACHE_KIB = 262_144


class DeclarationCache:
    """SQLite copy of what the hub synced: the declaration index, rules and cursor."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = open_store(path)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._books = SqliteBooks(self._db, writable=True, hot_size=2000, lock=self._lock)
        self._index = DeclarationIndex(self._books)
        self._readers: list[SqliteBooks] = []

    def close(self) -> None:
        """Close the database."""
        for books in self._readers:
            books.close()
        with self._lock:
            self._db.close()

    def reader(self, hot_size: int = READER_HOT) -> DeclarationIndex:
        """Return an index over this copy for one reading thread (its own connection)."""
        books = SqliteBooks(open_store(self.path), writable=False, hot_size=hot_size)
        self._readers.append(books)
        return DeclarationIndex(books)

    @property
    def alarms(self) -> list[str]:
        """Alarms raised while storing (negative customs receipts)."""
        return self._index.alarms

    def store(
        self,
        declarations: Iterable[Declaration],
        statuses: Iterable[tuple[DocKind, str, int]] = (),
        cursor: str | None = None,
        rules_text: str | None = None,
        notices: Iterable[Notice] = (),
    ) -> None:
        """Apply one sync page to the index in one transaction (declarations replace older
        copies; statuses, then notices, after them); the cursor and rules commit with it.

        This is the one writer of the edge's index: an engine's reader only forgets its hot
        set when it hears of a page, so whatever changes a decision goes through here."""
        with self._books.batch():
            self._index.add_all(declarations)
            for kind, key, status in statuses:
                self._index.set_status(kind, key, status)
            for notice in notices:
                self._index.apply_notice(notice)
            if cursor is not None:
                self._put_meta("cursor", cursor)
            if rules_text is not None:
                self._put_meta("rules", rules_text)

    def load_snapshot(self, lines: Iterable[bytes]) -> Loaded:
        """Replace the whole index by a hub snapshot's lines (``edge.snapshot``) in one
        transaction with its cursor; anything wrong rolls it all back, and readers see the
        old store until the new one is complete. The rules it carries are the caller's."""
        writer = SnapshotWriter(self._db, self._lock, self._index.alarms)
        with self._lock:
            self._db.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
        try:
            with self._books.batch():
                loaded = writer.load(lines)
                self._put_meta("cursor", loaded.cursor)
                t0 = time.monotonic()
            loaded.timings["commit_s"] = time.monotonic() - t0
        finally:
            with self._lock:
                self._db.execute("PRAGMA cache_size=-2000")
            self._books.changed()
        log.info("edge cache %s: snapshot of %d declarations at cursor %s",
                 self.path, loaded.count, loaded.cursor)  # fmt: skip
        return loaded

    def _put_meta(self, name: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def meta(self, name: str) -> str | None:
        """Return a stored meta value (``cursor``, ``rules``) or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def upgrade(self) -> int:
        """Index the whole declarations an older edge's cache kept; return how many."""
        with self._lock:
            tables = {
                r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        if not set(_OLD_COPY) <= tables:
            return 0
        with self._lock:
            bodies = [r[0] for r in self._db.execute("SELECT body FROM decl ORDER BY rowid")]
            statuses = self._db.execute("SELECT kind, key, status FROM status").fetchall()
        decls = [declaration_from_dict(json.loads(b)) for b in bodies]
        self.store(decls, [(DocKind(k), key, int(s)) for k, key, s in statuses])
        with self._lock:
            self._db.execute("DROP TABLE decl")
            self._db.execute("DROP TABLE status")
        log.info("edge cache %s: %d declarations of an older copy indexed", self.path, len(decls))
        return len(decls)

    def declarations(self, chunk: int = 5000) -> Iterator[Declaration]:
        """Yield every cached declaration: parcel declarations, then linked documents."""
        for table in ("ix_entry", "ix_doc"):
            last = 0
            while True:
                with self._lock:
                    rows = self._db.execute(
                        f"SELECT rowid, body FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                        (last, chunk),
                    ).fetchall()
                if not rows:
                    break
                for _, body in rows:
                    yield decode(body)
                last = rows[-1][0]

    def count(self) -> int:
        """Return how many declarations are cached (parcel declarations and documents)."""
        with self._lock:
            row = self._db.execute(
                "SELECT (SELECT COUNT(*) FROM ix_entry) + (SELECT COUNT(*) FROM ix_doc)"
            ).fetchone()
        return int(row[0])
