"""The edge's declaration index kept in its SQLite cache: little memory, ready at once.

:class:`SqliteBooks` are the books (``inspection.books``) of a declaration index in the
cache file's ``ix_*`` tables. The sync thread writes them, one page per transaction with the
cursor; the line's engine (or the desk) reads them through its own connection, sees each
committed page whole, and keeps a small hot set of decoded records. A restart opens the file
and answers: nothing is loaded into memory first.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any

from edge.record import DROPPED, KEEP_EXTRA, decode, encode
from inspection.books import Entry, Key, Pair, sort_time
from inspection.index import order_pair, parcel_codes, waybill_pair
from inspection.model import Declaration, DocKind, Notice

SCHEMA = """
CREATE TABLE IF NOT EXISTS ix_entry (
    kind TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL, status INTEGER,
    cancelled INTEGER NOT NULL, returned INTEGER NOT NULL, history TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS ix_code (code TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_code_code ON ix_code (code);
CREATE TABLE IF NOT EXISTS ix_doc (
    kind TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (kind, a, b)
);
CREATE TABLE IF NOT EXISTS ix_status (
    kind TEXT NOT NULL, key TEXT NOT NULL, status INTEGER NOT NULL, PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS ix_pending (key TEXT NOT NULL, notice BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS ix_pending_key ON ix_pending (key);
CREATE TABLE IF NOT EXISTS ix_ledger (
    buyer TEXT NOT NULL, year INTEGER NOT NULL, t REAL NOT NULL, key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_ledger_buyer ON ix_ledger (buyer, year, t, key);
"""

_KINDS = {k.value: k for k in DocKind}
_NOTICE_FIELDS = tuple(f.name for f in fields(Notice))
__all__ = ["DROPPED", "KEEP_EXTRA", "SCHEMA", "SqliteBooks", "decode", "encode"]


def _encode_notice(notice: Notice) -> bytes:
    values = [getattr(notice, f) for f in _NOTICE_FIELDS]
    values = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return json.dumps(values, ensure_ascii=False).encode()


def _decode_notice(body: bytes) -> Notice:
    values = dict(zip(_NOTICE_FIELDS, json.loads(body), strict=True))
    if values["time"]:
        values["time"] = datetime.fromisoformat(values["time"])
    return Notice(**values)


class _Hot(OrderedDict[Any, Any]):
    """A least-recently-used map of decoded records, at most ``size`` of them."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: Any, value: Any) -> Any:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


_MISS = object()


class SqliteBooks:
    """Books of a declaration index in SQLite, with a hot set of the last records read.

    ``writable`` False: the books of a reader (the engine), whose index only forgets its
    hot set when the writer (the sync thread) says it changed the books.
    """

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        writable: bool = True,
        hot_size: int = 20_000,
        lock: threading.Lock | None = None,
    ) -> None:
        self._db = db
        self._db.executescript(SCHEMA)
        self.writable = writable
        self._lock = lock or threading.Lock()
        self._entries, self._docs = _Hot(hot_size), _Hot(hot_size * 3)
        self._codes = _Hot(hot_size * 4)
        self._count: int | None = None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @property
    def lock(self) -> threading.Lock:
        """The lock every use of the connection holds."""
        return self._lock

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection (used under :attr:`lock`)."""
        return self._db

    def reconnect(self, db: sqlite3.Connection) -> None:
        """Read and write through ``db`` from now on (the caller holds :attr:`lock`). The hot
        set stays: its owner forgets it when told of the change, as after any page."""
        self._db = db

    # --- transactions and the hot set ---------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for many writes (none if the caller already opened one)."""
        if not self.writable or self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self.changed()
            raise
        self._db.execute("COMMIT")

    def changed(self) -> None:
        """Forget every hot record."""
        self._entries.clear()
        self._docs.clear()
        self._codes.clear()
        self._count = None

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)

    # --- parcel entries -----------------------------------------------------------------

    def entry(self, key: Key) -> Entry | None:
        """Return the entry under ``key`` (hot, else read and decoded)."""
        got = self._entries.get(key, _MISS)
        if got is not _MISS:
            self._entries.move_to_end(key)
            return got  # type: ignore[no-any-return]
        row = self._one(
            "SELECT body, status, cancelled, returned, history FROM ix_entry "
            "WHERE kind = ? AND key = ?",
            (key[0].value, key[1]),
        )
        entry = None
        if row is not None:
            entry = Entry(decode(row[0]), row[1], bool(row[2]), bool(row[3]), json.loads(row[4]))
            if not self.writable:
                self._prefetch(entry.declaration)
        return self._entries.keep(key, entry)  # type: ignore[no-any-return]

    def _prefetch(self, decl: Declaration) -> None:
        """Read what a dossier of ``decl`` will ask for in two queries: its codes' entries
        and its order, payment and waybill."""
        codes = [c for c in parcel_codes(decl) if c not in self._codes]
        if codes:
            marks = ", ".join("?" * len(codes))
            found: dict[str, list[Key]] = {c: [] for c in codes}
            for code, kind, key in self._all(
                f"SELECT code, kind, key FROM ix_code WHERE code IN ({marks}) ORDER BY rowid",
                tuple(codes),
            ):
                found[code].append((_KINDS[kind], key))
            for code, keys in found.items():
                self._codes.keep(code, keys)
        order, waybill = order_pair(decl), waybill_pair(decl)
        wanted = [(DocKind.ORDER, *order), (DocKind.PAYMENT, *order), (DocKind.WAYBILL, *waybill)]
        wanted = [w for w in wanted if w[2] and w not in self._docs]
        if not wanted:
            return
        rows = self._all(
            "SELECT kind, a, b, body FROM ix_doc WHERE (kind IN ('order', 'payment') AND a = ? "
            "AND b = ?) OR (kind = 'waybill' AND a = ? AND b = ?)",
            (*order, *waybill),
        )
        got = {(_KINDS[k], a, b): body for k, a, b, body in rows}
        for w in wanted:
            body = got.get(w)
            self._docs.keep(w, None if body is None else decode(body))

    def put_entry(self, key: Key, entry: Entry) -> None:
        """Store an entry with its state."""
        self._write(
            "INSERT OR REPLACE INTO ix_entry VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key[0].value, key[1], encode(entry.declaration), entry.status,
             int(entry.cancelled), int(entry.returned), json.dumps(entry.history)),
        )  # fmt: skip
        self._entries.pop(key, None)  # read back as stored, less the fields left out

    def save_state(self, key: Key, entry: Entry) -> None:
        """Store an entry's status, flags and history."""
        self._write(
            "UPDATE ix_entry SET status = ?, cancelled = ?, returned = ?, history = ? "
            "WHERE kind = ? AND key = ?",
            (entry.status, int(entry.cancelled), int(entry.returned),
             json.dumps(entry.history), key[0].value, key[1]),
        )  # fmt: skip
        if self._entries.get(key) is not entry:
            self._entries.pop(key, None)

    def drop_entry(self, key: Key) -> None:
        """Forget an entry."""
        self._write("DELETE FROM ix_entry WHERE kind = ? AND key = ?", (key[0].value, key[1]))
        self._entries.pop(key, None)

    def entry_count(self) -> int:
        """Return how many entries there are (a reader counts again only after a change)."""
        if self._count is None or self.writable:
            self._count = int(self._one("SELECT COUNT(*) FROM ix_entry", ())[0])
        return self._count

    # --- codes ----------------------------------------------------------------------------

    def code_keys(self, code: str) -> list[Key]:
        """Return the keys filed under a code, oldest first."""
        got = self._codes.get(code)
        if got is not None:
            return got  # type: ignore[no-any-return]
        rows = self._all("SELECT kind, key FROM ix_code WHERE code = ? ORDER BY rowid", (code,))
        return self._codes.keep(code, [(_KINDS[k], key) for k, key in rows])  # type: ignore[no-any-return]

    def link_code(self, code: str, key: Key) -> None:
        """File a key under a code."""
        self._write("INSERT INTO ix_code VALUES (?, ?, ?)", (code, key[0].value, key[1]))
        self._codes.pop(code, None)

    def unlink_code(self, code: str, key: Key) -> None:
        """Remove a key from under a code."""
        self._write(
            "DELETE FROM ix_code WHERE code = ? AND kind = ? AND key = ?",
            (code, key[0].value, key[1]),
        )
        self._codes.pop(code, None)

    # --- orders, payments, waybills ---------------------------------------------------------

    def doc(self, kind: DocKind, pair: Pair) -> Declaration | None:
        """Return a linked document (hot, else read and decoded)."""
        hot = (kind, *pair)
        got = self._docs.get(hot, _MISS)
        if got is not _MISS:
            return got  # type: ignore[no-any-return]
        row = self._one(
            "SELECT body FROM ix_doc WHERE kind = ? AND a = ? AND b = ?", (kind.value, *pair)
        )
        return self._docs.keep(hot, None if row is None else decode(row[0]))  # type: ignore[no-any-return]

    def put_doc(self, kind: DocKind, pair: Pair, decl: Declaration) -> None:
        """Store a linked document."""
        self._write(
            "INSERT OR REPLACE INTO ix_doc VALUES (?, ?, ?, ?)",
            (kind.value, *pair, encode(decl)),
        )
        self._docs.pop((kind, *pair), None)

    def drop_doc(self, kind: DocKind, pair: Pair) -> None:
        """Forget a linked document."""
        self._write("DELETE FROM ix_doc WHERE kind = ? AND a = ? AND b = ?", (kind.value, *pair))
        self._docs.pop((kind, *pair), None)

    # --- statuses, pending notices, the ledger -------------------------------------------

    def status(self, key: Key) -> int | None:
        """Return a recorded status."""
        row = self._one(
            "SELECT status FROM ix_status WHERE kind = ? AND key = ?", (key[0].value, key[1])
        )
        return None if row is None else int(row[0])

    def put_status(self, key: Key, status: int) -> None:
        """Record a status."""
        self._write("INSERT OR REPLACE INTO ix_status VALUES (?, ?, ?)", (*_k(key), status))

    def add_pending(self, business_key: str, notice: Notice) -> None:
        """Keep a notice for a list that has not arrived."""
        self._write("INSERT INTO ix_pending VALUES (?, ?)", (business_key, _encode_notice(notice)))

    def take_pending(self, business_key: str) -> list[Notice]:
        """Return and forget the notices kept for a list."""
        rows = self._all(
            "SELECT notice FROM ix_pending WHERE key = ? ORDER BY rowid", (business_key,)
        )
        if not rows:
            return []
        self._write("DELETE FROM ix_pending WHERE key = ?", (business_key,))
        return [_decode_notice(r[0]) for r in rows]

    def ledger_keys(self, buyer: str, year: int) -> list[str]:
        """Return a buyer's lists of a year, in declaration-time order."""
        rows = self._all(
            "SELECT key FROM ix_ledger WHERE buyer = ? AND year = ? ORDER BY t, key",
            (buyer, year),
        )
        return [r[0] for r in rows]

    def ledger_add(self, buyer: str, year: int, at: datetime | None, business_key: str) -> None:
        """File a list in its buyer's year (an unknown time sorts first)."""
        t = max(sort_time(at), -1e300)
        self._write("INSERT INTO ix_ledger VALUES (?, ?, ?, ?)", (buyer, year, t, business_key))

    def ledger_drop(self, buyer: str, year: int, business_key: str) -> None:
        """Remove a list from its buyer's year."""
        self._write(
            "DELETE FROM ix_ledger WHERE buyer = ? AND year = ? AND key = ?",
            (buyer, year, business_key),
        )


def _k(key: Key) -> tuple[str, str]:
    return key[0].value, key[1]
