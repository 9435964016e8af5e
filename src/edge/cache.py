"""The edge's local copy of declarations, statuses and rules, so it decides without the hub.

The copy is the declaration index itself, kept in SQLite (``edge/store.py``): each sync
page goes into the index's tables in one transaction with the cursor, and the engine reads
them through an index of its own (:meth:`DeclarationCache.reader`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path

from edge.snapshot import BULK_SCHEMA, Loaded, SnapshotWriter
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
#: SQLite page cache while a snapshot is written (KiB): the key indexes stay in memory.
BULK_CACHE_KIB = 262_144
#: Suffix of the file a snapshot is written into before it takes the store's place.
BUILDING = ".snapshot"


def _remove(path: Path) -> None:
    """Delete an SQLite file and its rollback journal, if there."""
    for p in (path, path.with_name(path.name + "-journal")):
        p.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Make a file's (or a folder's) contents durable."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _bulk_file(path: Path, page_size: int) -> sqlite3.Connection:
    """A fresh SQLite file for a snapshot: no journal, no syncs, a large page cache. A build
    that fails is deleted, never read; one that succeeds is synced to disk before use."""
    _remove(path)
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute(f"PRAGMA page_size={int(page_size)}")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    db.executescript(BULK_SCHEMA + _SCHEMA)
    return db


class DeclarationCache:
    """SQLite copy of what the hub synced: the declaration index, rules and cursor."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._building = self.path.with_name(self.path.name + BUILDING)
        _remove(self._building)  # a snapshot cut off by a crash: never part of the store
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
        with self._lock:  # never opened while a snapshot's file takes the store's place
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
        """Replace the whole index by a hub snapshot's lines (``edge.snapshot``) with its
        cursor. The snapshot is written into a fresh file beside the store, which takes the
        store's place whole once complete and on disk; anything wrong deletes that file and
        the old store stays. Readers see the old store until then. The rules it carries are
        the caller's (the rules and other meta values already stored are kept)."""
        with self._lock:
            page_size = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        db = _bulk_file(self._building, page_size)
        try:
            db.execute("BEGIN")
            loaded = SnapshotWriter(db, threading.Lock(), self._index.alarms).load(lines)
            t0 = time.monotonic()
            with self._lock:
                kept = self._db.execute("SELECT name, value FROM meta WHERE name != 'cursor'")
                meta = [*kept.fetchall(), ("cursor", loaded.cursor)]
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta)
            db.execute("COMMIT")
            db.close()
            _fsync(self._building)
        except BaseException:
            db.close()
            _remove(self._building)
            raise
        moved = self._put_in_place(self._building)
        loaded.timings["commit_s"] = time.monotonic() - t0
        how = "file replaced" if moved else "copied in: the store was open elsewhere"
        log.info("edge cache %s: snapshot of %s declarations at cursor %s (%s)",
                 self.path, f"{loaded.count:,}", f"{int(loaded.cursor):,}", how)  # fmt: skip
        return loaded

    def _put_in_place(self, new: Path) -> bool:
        """Move the complete file ``new`` over the store, with every connection of this cache
        closed meanwhile (readers wait on their locks); return True. When a connection this
        cache does not hold keeps the store open (its WAL outlives ours), copy ``new`` into
        the store in one transaction instead, and return False."""
        with ExitStack() as held:
            held.enter_context(self._lock)  # the writer's lock; no reader opens meanwhile
            books = [self._books, *self._readers]
            for lock in dict.fromkeys(b.lock for b in self._readers):
                held.enter_context(lock)
            for b in books:
                b.connection.close()
            wal = self.path.with_name(self.path.name + "-wal")
            moved = not wal.exists()  # the last connection to close removes it
            if moved:
                os.replace(new, self.path)
                _fsync(self.path.parent)
            for b in books:
                b.reconnect(open_store(self.path))
            self._db = self._books.connection
            self._books.changed()  # the writer's (this thread's); readers hear of the sync
            if not moved:
                source = sqlite3.connect(str(new))
                try:
                    source.backup(self._db)
                finally:
                    source.close()
                    _remove(new)
        return moved

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
        log.info(
            "edge cache %s: %s declarations of an older copy indexed", self.path, f"{len(decls):,}"
        )
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
