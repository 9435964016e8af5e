"""An edge's first sync in one piece: the hub's snapshot written straight into the store.

The hub streams every declaration in its current state (``hub.services.snapshot``), oldest
change first. Applying those declarations one by one through the declaration index, as the
delta sync does, would give exactly what :class:`SnapshotWriter` writes here in bulk: each
(kind, business key) comes once, so no entry replaces another, no notice waits for its list,
and a withdrawn or cancelled list leaves only its customs status behind. The writer computes
the index's rows (entries with status and history, codes, documents, statuses, the buyer
ledger) from each line, whose own bytes are the record it files (``edge.record``: the stream's
row is a text record's layout), and inserts them by multi-row ``INSERT``s into a fresh file whose
tables have no keys yet (:data:`BULK_SCHEMA`): the unique keys of entries, documents and
statuses, then the code and ledger indexes, are built once at the end, from rows in place,
rather than searched for each row. Documents are keyed by their normalised numbers, which two
business keys may share: the last row of a key wins, as ``INSERT OR REPLACE`` has it, and a
withdrawn document is written as a tombstone row that drops what came before it. The caller
gives the fresh file's connection (``DeclarationCache.load_snapshot``, which replaces the store
by it once complete) with a transaction open, and commits it after :meth:`SnapshotWriter.load`:
a stream that breaks off or does not add up raises, and the old store stays.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple, cast

from edge.record import DROPPED, TEXT_HEAD, escape, json_text, kept_extra, unescape
from edge.store import SCHEMA
from inspection.books import sort_time
from inspection.checks import is_cbec_retail_import
from inspection.identity import normalise
from inspection.index import parcel_codes
from inspection.model import PARCEL_KINDS, Declaration, DocKind, GoodsLine
from inspection.timezone import china_year

log = logging.getLogger(__name__)

#: The stream layout this edge reads.
FORMAT = 1
#: Rows written per ``executemany``.
BATCH = 20_000
FIELDS = tuple(f.name for f in fields(Declaration) if f.name not in ("lines", "extra"))
LINE_FIELDS = tuple(f.name for f in fields(GoodsLine))
_N = len(FIELDS)
#: Where a declaration's fields start in a row (after change, customs status, listState).
_AT = 3
_KIND_AT, _KEY_AT = _AT + FIELDS.index("kind"), _AT + FIELDS.index("business_key")
_DROP_AT = tuple(_AT + FIELDS.index(n) for n in sorted(DROPPED))
_ORDER_AT = (_AT + FIELDS.index("ebp_code"), _AT + FIELDS.index("order_no"))
_WAYBILL_AT = (_AT + FIELDS.index("logistics_code"), _AT + FIELDS.index("logistics_no"))
_WIDTH = 5 + _N
_PARCELS = frozenset(k.value for k in PARCEL_KINDS)
_DOCS = frozenset(k.value for k in (DocKind.ORDER, DocKind.PAYMENT, DocKind.WAYBILL))
#: Indexes built after the rows are in (the same statements as the store's schema).
_LATE_INDEXES = tuple(
    s.strip() for s in SCHEMA.split(";") if "CREATE INDEX" in s and "ix_pending" not in s
)
#: The tables the store's schema keys inline (``PRIMARY KEY``), by their key's columns.
KEYED = {"ix_entry": "kind, key", "ix_doc": "kind, a, b", "ix_status": "kind, key"}
#: The store's schema without those inline keys: the tables a snapshot's fresh file starts
#: with; each gets the unique index :func:`key_index` once its rows are in.
BULK_SCHEMA = re.sub(r",\s*PRIMARY KEY \([^)]*\)", "", SCHEMA)
#: A withdrawn document's row: it drops the rows of its key before it, then goes itself.
_TOMBSTONE = b""
_INSERT = {
    "entry": ("INSERT OR REPLACE INTO ix_entry VALUES ", 7),
    "code": ("INSERT INTO ix_code VALUES ", 3),
    "doc": ("INSERT OR REPLACE INTO ix_doc VALUES ", 4),
    "status": ("INSERT OR REPLACE INTO ix_status VALUES ", 3),
    "ledger": ("INSERT INTO ix_ledger VALUES ", 4),
}
#: Rows per multi-row ``INSERT`` (one statement step for many rows, in their order).
ROWS_PER_INSERT = 100


def key_index(table: str) -> str:
    """The unique index that keys ``table`` (one of :data:`KEYED`) in a store a snapshot wrote."""
    return f"CREATE UNIQUE INDEX IF NOT EXISTS {table}_key ON {table} ({KEYED[table]})"


@lru_cache(maxsize=32)
def _insert_sql(name: str, rows: int) -> str:
    """The ``INSERT`` of ``rows`` rows into table ``name``."""
    head, width = _INSERT[name]
    one = "(" + ", ".join("?" * width) + ")"
    return head + ", ".join([one] * rows)


def _insert(db: sqlite3.Connection, name: str, values: list[Any]) -> None:
    """Insert the rows whose values ``values`` holds one after another into table ``name``,
    in their order, many to a statement."""
    width = _INSERT[name][1]
    step = ROWS_PER_INSERT * width
    whole = len(values) - len(values) % step
    many = _insert_sql(name, ROWS_PER_INSERT)
    for i in range(0, whole, step):
        db.execute(many, values[i : i + step])
    if whole < len(values):
        rest = values[whole:]
        db.executemany(_insert_sql(name, 1), zip(*[iter(rest)] * width, strict=True))


class SnapshotError(ValueError):
    """The snapshot stream is not one this edge can use (cut short, miscounted, unknown)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a snapshot brought: the cursor to continue from, its rows, the rules."""

    cursor: str
    count: int
    rules: dict[str, Any] | None
    header: dict[str, Any]  # with inspector verdicts when asked (``verdicts``, ``next_verdicts``)
    timings: dict[str, float]  # seconds: rows read and written, indexes built (and committed)


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the newline-terminated lines of a byte stream (a last unterminated part too)."""
    rest = b""
    for chunk in chunks:
        parts = (rest + chunk).split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def _json_value(text: str) -> Any:
    """One JSON value that fills ``text`` (the ``extra`` field)."""
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, ValueError) as err:
        raise SnapshotError(f"snapshot field is not JSON: {text[:60]!r}") from err
    if end != len(text):
        raise SnapshotError(f"snapshot field has more than one JSON value: {text[:60]!r}")
    return value


#: The JSON decoder's own scanner: one value from an index, without ``json.loads``' layers.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_LINES_AT, _EXTRA_AT = _AT + _N, _AT + _N + 1


@lru_cache(maxsize=256)
def _history(returned: bool, status: int | None) -> str:
    """An entry's history as ``DeclarationIndex`` writes it for a list the snapshot files
    (made once for each pair: customs statuses are a few dozen codes)."""
    history = ["CEB626 800"] if returned else []
    if status is not None:
        history.append(f"customs status {status}")
    return json.dumps(history)


def _record(raw: bytes, r: list[bytes], whole: bool) -> bytes:
    """The text record (``edge.record``) of a row ``raw`` split at its tabs into ``r``: the
    row's own bytes from the declaration's first field, the fields left out blanked. With
    ``whole`` False (``extra`` rewritten in ``r``) it is joined again from ``r``."""
    d1, d2, d3 = _DROP_AT
    if whole and not (r[d1] or r[d2] or r[d3]):  # nothing to leave out: the row's own tail
        return TEXT_HEAD + raw[len(r[0]) + len(r[1]) + len(r[2]) + 2 :]
    r[d1] = r[d2] = r[d3] = b""
    r[_AT - 1] = TEXT_HEAD
    return b"\t".join(r[_AT - 1 :])


def _text(field: bytes) -> str:
    """One field of a row with escapes in it, as text."""
    return unescape(field.decode())


class _Parcel(NamedTuple):
    """The fields of a parcel declaration its codes and buyer ledger are filed by (what
    ``parcel_codes`` and ``is_cbec_retail_import`` read)."""

    kind: DocKind
    business_key: str
    logistics_no: str
    invt_no: str
    order_no: str
    cop_no: str
    trade_mode: str
    ie_flag: str


_PARCEL_AT = itemgetter(*(_AT + FIELDS.index(n) for n in _Parcel._fields[1:]))
_BUYER_AT, _TIME_AT = _AT + FIELDS.index("buyer_id_number"), _AT + FIELDS.index("decl_time")
_KINDS = {k.value: k for k in DocKind}
_KIND_OF = {k.value.encode(): k.value for k in DocKind}
_BACKSLASH, _OPEN, _CLOSE = ord("\\"), ord("["), ord("]")


class SnapshotWriter:
    """Writes a snapshot's rows into the index tables of a connection in a transaction."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, alarms: list[str]) -> None:
        self._db, self._lock, self._alarms = db, lock, alarms
        #: each table's rows to insert, their values one after another
        self._rows: dict[str, list[Any]] = {name: [] for name in _INSERT}
        self._entry, self._code, self._doc = (
            self._rows["entry"],
            self._rows["code"],
            self._rows["doc"],
        )
        self._status, self._ledger = self._rows["status"], self._rows["ledger"]
        self._pending = 0
        self._withdrawn: list[tuple[str, str, str]] = []

    def load(self, lines: Iterable[bytes]) -> Loaded:
        """Replace the index's rows by the stream's; raise :class:`SnapshotError` when the
        stream is cut short or does not add up (the caller then rolls back)."""
        t0 = time.monotonic()
        it = iter(lines)
        header = json.loads(next(it, b"{}") or b"{}")
        self._check_header(header)
        self._clear()
        n = 0
        trailer: dict[str, Any] | None = None
        row = self._row
        for raw in it:
            if raw.startswith(b"{"):
                trailer = json.loads(raw)
                break
            if raw:
                row(raw)
                n += 1
        self._flush()
        if trailer is None or not trailer.get("end"):
            raise SnapshotError(f"snapshot cut short after {n} of {header['count']} rows")
        if not n == trailer.get("count") == header["count"]:
            raise SnapshotError(
                f"snapshot miscounted: {n} rows, header {header['count']}, "
                f"trailer {trailer.get('count')}"
            )
        t1 = time.monotonic()
        with self._lock:
            self._key()
            t2 = time.monotonic()
            for sql in _LATE_INDEXES:
                self._db.execute(sql)
        t3 = time.monotonic()
        timings = {"rows_s": t1 - t0, "keys_s": t2 - t1, "indexes_s": t3 - t2}
        return Loaded(str(header["cursor"]), n, header.get("rules"), header, timings)

    @staticmethod
    def _check_header(header: dict[str, Any]) -> None:
        if header.get("snapshot") != FORMAT:
            raise SnapshotError(f"snapshot format {header.get('snapshot')!r} is not {FORMAT}")
        if tuple(header.get("fields", ())) != FIELDS:
            raise SnapshotError("snapshot fields differ from this edge's declaration")
        if tuple(header.get("line_fields", ())) != LINE_FIELDS:
            raise SnapshotError("snapshot goods-line fields differ from this edge's")
        if not str(header.get("cursor", "")).isdigit():
            raise SnapshotError("snapshot carries no cursor")

    def _clear(self) -> None:
        with self._lock:
            for name in ("ix_code_code", "ix_ledger_buyer", *(f"{t}_key" for t in KEYED)):
                self._db.execute(f"DROP INDEX IF EXISTS {name}")
            for table in ("entry", "code", "doc", "status", "pending", "ledger"):
                self._db.execute(f"DELETE FROM ix_{table}")

    def _row(self, raw: bytes) -> None:
        """File one declaration as ``DeclarationIndex.add`` then ``set_status`` would."""
        r = raw.split(b"\t")
        if len(r) != _WIDTH:
            raise SnapshotError(f"snapshot row of {len(r)} fields, not {_WIDTH}")
        text: Callable[[bytes], str] = _text if _BACKSLASH in raw else bytes.decode
        kind = _KIND_OF.get(r[_KIND_AT]) or text(r[_KIND_AT])
        key = text(r[_KEY_AT])
        status = int(r[1]) if r[1] else None
        if status is not None:
            if status < 0:
                self._alarms.append(f"customs error {status} about {key}")
                status = None
            else:
                self._status += (kind, key, status)
        lines, extra = r[_LINES_AT], r[_EXTRA_AT]
        if not lines or lines[0] != _OPEN or lines[-1] != _CLOSE:
            raise SnapshotError(f"snapshot goods lines are not a JSON array: {lines[:60]!r}")
        withdrawn = False
        whole = extra == b"{}"
        if not whole:
            withdrawn = self._extra(r, text)
        if kind in _DOCS:
            at = _WAYBILL_AT if kind == "waybill" else _ORDER_AT
            number = r[at[1]]
            if number:
                doc = (kind, text(r[at[0]]).strip().upper(), normalise(text(number)))
                if withdrawn:  # drops what came before it, not after
                    self._doc += (*doc, _TOMBSTONE)
                    self._withdrawn.append(doc)
                else:
                    self._doc += (*doc, _record(raw, r, whole))
        elif kind in _PARCELS and not withdrawn and r[2] != b"cancelled":
            self._parcel(raw, r, kind, key, status, text, whole)
        self._pending += 1
        if self._pending >= BATCH:
            self._flush()

    @staticmethod
    def _extra(r: list[bytes], text: Callable[[bytes], str]) -> bool:
        """Keep only the ``extra`` fields the edge keeps, in the row; return True when the
        declaration is withdrawn (``appType`` 3)."""
        raw = r[_EXTRA_AT]
        extra = _json_value(text(raw)) if raw else {}
        if not isinstance(extra, dict):
            raise SnapshotError(f"snapshot extra is not a JSON object: {raw[:60]!r}")
        kept = kept_extra(extra)
        r[_EXTRA_AT] = escape(json_text(kept)).encode() if kept else b"{}"
        return bool(extra.get("appType", "").strip() == "3")

    def _parcel(self, raw: bytes, r: list[bytes], kind: str, key: str, status: int | None,
                text: Callable[[bytes], str], whole: bool) -> None:  # fmt: skip
        decl = cast(Declaration, _Parcel(_KINDS[kind], *map(text, _PARCEL_AT(r))))
        buyer, at_text, returned = r[_BUYER_AT], r[_TIME_AT], r[2] == b"returned"
        body = _record(raw, r, whole)
        self._entry += (kind, key, body, status, 0, int(returned), _history(returned, status))
        for code in parcel_codes(decl):
            self._code += (code, kind, key)
        if buyer and is_cbec_retail_import(decl):
            at = datetime.fromisoformat(text(at_text)) if at_text else None
            t = max(sort_time(at), -1e300)
            self._ledger += (normalise(text(buyer)), china_year(at), t, key)

    def _journal(self, mode: str) -> None:
        """Commit what is written and go on in a new transaction with journal ``mode``."""
        self._db.execute("COMMIT")
        self._db.execute(f"PRAGMA journal_mode={mode}")
        self._db.execute("BEGIN")

    def _key(self) -> None:
        """Key entries, documents and statuses by their unique indexes, built over the rows in
        place; where a key came more than once, its last row stays. The withdrawn documents'
        tombstones then go."""
        db = self._db
        self._journal("MEMORY")  # an index that finds a key twice is undone, not left half
        for table, columns in KEYED.items():
            db.execute("SAVEPOINT keyed")
            try:
                db.execute(key_index(table))
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK TO keyed")
                db.execute("RELEASE keyed")
                self._journal("OFF")
                gone = db.execute(
                    f"DELETE FROM {table} WHERE rowid NOT IN "
                    f"(SELECT max(rowid) FROM {table} GROUP BY {columns})"
                ).rowcount
                log.info("snapshot: %d rows of %s replaced by a later one of their key",
                         gone, table)  # fmt: skip
                self._journal("MEMORY")
                db.execute(key_index(table))
            else:
                db.execute("RELEASE keyed")
        db.executemany(
            "DELETE FROM ix_doc WHERE kind = ? AND a = ? AND b = ? AND body = ?",
            [(*doc, _TOMBSTONE) for doc in self._withdrawn],
        )

    def _flush(self) -> None:
        with self._lock:
            for name, rows in self._rows.items():
                if rows:
                    _insert(self._db, name, rows)
                    rows.clear()
        self._pending = 0
