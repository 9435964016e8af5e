"""The edge's local copy of declarations, statuses and rules, so it decides without the hub."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from edge.sqlite import open_store
from inspection.codec import declaration_from_dict, declaration_to_dict
from inspection.model import Declaration, DocKind

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decl (
    kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS status (
    kind TEXT NOT NULL, key TEXT NOT NULL, status INTEGER NOT NULL, PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
#: Fields the edge never needs to decide; left out of its copy (privacy and memory).
_DROP = ("buyer_name", "buyer_telephone", "consignee_telephone", "consignee_address",
         "payer_name", "sender", "addressee", "extra")  # fmt: skip


#: ``extra`` fields a decision reads: goods description, insured fee (dutiable value),
#: the list state the hub sends for an accepted cancellation or return.
_KEEP_EXTRA = ("goodsInfo", "insuredFee", "listState")


def slim(decl: Declaration) -> dict[str, object]:
    """Return the JSON dict of what the edge keeps of a declaration."""
    d = declaration_to_dict(decl)
    kept = {k: decl.extra[k] for k in _KEEP_EXTRA if decl.extra.get(k)}
    if decl.extra.get("appType", "").strip() == "3":  # a withdrawal must withdraw here too
        kept["appType"] = "3"
    for name in _DROP:
        d.pop(name, None)
    if kept:
        d["extra"] = kept
    return d


class DeclarationCache:
    """SQLite copy of what the hub synced: declarations, latest statuses, rules, cursor."""

    def __init__(self, path: str | Path) -> None:
        self._db = open_store(path)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def store(
        self,
        declarations: Iterable[Declaration],
        statuses: Iterable[tuple[DocKind, str, int]] = (),
        cursor: str | None = None,
        rules_text: str | None = None,
    ) -> None:
        """Store one sync page in one transaction (declarations replace older copies)."""
        rows = [
            (d.kind.value, d.business_key, json.dumps(slim(d), ensure_ascii=False))
            for d in declarations
        ]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO decl VALUES (?, ?, ?)", rows)
            self._db.executemany(
                "INSERT OR REPLACE INTO status VALUES (?, ?, ?)",
                [(k.value, key, s) for k, key, s in statuses],
            )
            if cursor is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('cursor', ?)", (cursor,))
            if rules_text is not None:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rules', ?)", (rules_text,))
            self._db.execute("COMMIT")

    def meta(self, name: str) -> str | None:
        """Return a stored meta value (``cursor``, ``rules``) or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def declarations(self, chunk: int = 5000) -> Iterator[Declaration]:
        """Yield every cached declaration (streamed in chunks)."""
        last: tuple[str, str] = ("", "")
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT kind, key, body FROM decl WHERE (kind, key) > (?, ?) "
                    "ORDER BY kind, key LIMIT ?",
                    (*last, chunk),
                ).fetchall()
            if not rows:
                return
            for _, _, body in rows:
                yield declaration_from_dict(json.loads(body))
            last = (rows[-1][0], rows[-1][1])

    def statuses(self) -> Iterator[tuple[DocKind, str, int]]:
        """Yield every cached latest status."""
        with self._lock:
            rows = self._db.execute("SELECT kind, key, status FROM status").fetchall()
        for kind, key, status in rows:
            yield DocKind(kind), key, int(status)

    def count(self) -> int:
        """Return how many declarations are cached."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM decl").fetchone()[0])
