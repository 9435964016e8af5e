"""An edge's first sync in one piece: the hub's snapshot written straight into the store.

The hub streams every declaration in its current state (``hub.services.snapshot``), oldest
change first. Applying those declarations one by one through the declaration index, as the
delta sync does, would give exactly what :class:`SnapshotWriter` writes here in bulk: each
(kind, business key) comes once, so no entry replaces another, no notice waits for its list,
and a withdrawn or cancelled list leaves only its customs status behind. The writer computes
the index's rows (entries with status and history, codes, documents, statuses, the buyer
ledger) from each line and inserts them by multi-row ``INSERT``s into a fresh file whose
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
import marshal
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any, NamedTuple, cast

from edge.store import DROPPED, KEEP_EXTRA, SCHEMA
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
_KIND, _KEY = FIELDS.index("kind"), FIELDS.index("business_key")
_DROP_AT = tuple(FIELDS.index(n) for n in sorted(DROPPED))
_ORDER_AT = (FIELDS.index("ebp_code"), FIELDS.index("order_no"))
_WAYBILL_AT = (FIELDS.index("logistics_code"), FIELDS.index("logistics_no"))
_WIDTH = 5 + _N
#: Amounts and times: an empty field there is null.
_NULLABLE = tuple(
    i
    for i, f in enumerate(fields(Declaration))
    if "Decimal" in str(f.type) or "datetime" in str(f.type)
)
_ESCAPED = re.compile(r"\\(.)")
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}
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


def _insert(db: sqlite3.Connection, name: str, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` into table ``name`` in their order, many to a statement."""
    per = ROWS_PER_INSERT
    whole = len(rows) - len(rows) % per
    many = _insert_sql(name, per)
    for i in range(0, whole, per):
        db.execute(many, tuple(chain.from_iterable(rows[i : i + per])))
    if whole < len(rows):
        db.executemany(_insert_sql(name, 1), rows[whole:])


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


def _unescape(field: str) -> str:
    """Undo COPY's text-format escapes in one field."""
    return _ESCAPED.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(1)), field)


def _fields(raw: bytes) -> list[str]:
    """Split one row into its fields, unescaped."""
    text = raw.decode()
    fields_ = text.split("\t")
    if "\\" in text:
        return [_unescape(f) if "\\" in f else f for f in fields_]
    return fields_


def _json_value(text: str) -> Any:
    """One JSON value that fills ``text`` (the ``lines`` and ``extra`` fields)."""
    try:
        value, end = _SCAN(text, 0)
    except StopIteration as err:
        raise SnapshotError(f"snapshot field is not JSON: {text[:60]!r}") from err
    if end != len(text):
        raise SnapshotError(f"snapshot field has more than one JSON value: {text[:60]!r}")
    return value


#: The JSON decoder's own scanner: one value from an index, without ``json.loads``' layers.
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
#: ``extra`` when the row has none (never changed).
_NO_EXTRA: dict[str, Any] = {}
_LINES_AT, _EXTRA_AT = 3 + _N, 4 + _N


@lru_cache(maxsize=256)
def _history(returned: bool, status: int | None) -> str:
    """An entry's history as ``DeclarationIndex`` writes it for a list the snapshot files
    (made once for each pair: customs statuses are a few dozen codes)."""
    history = ["CEB626 800"] if returned else []
    if status is not None:
        history.append(f"customs status {status}")
    return json.dumps(history)


def _body(vals: list[Any], lines: list[Any], extra: dict[str, Any]) -> bytes:
    """The compact record ``edge.store.encode`` makes of the same declaration (``vals`` is
    the row's own list: the fields left out are blanked in it)."""
    for i in _DROP_AT:
        vals[i] = ""
    vals.append(lines)
    vals.append({k: extra[k] for k in KEEP_EXTRA if extra.get(k)} if extra else {})
    body = marshal.dumps(vals)
    del vals[_N:]
    return body


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


_PARCEL_AT = itemgetter(*(FIELDS.index(n) for n in _Parcel._fields))
_BUYER_AT, _TIME_AT = FIELDS.index("buyer_id_number"), FIELDS.index("decl_time")
_KINDS = {k.value: k for k in DocKind}


class SnapshotWriter:
    """Writes a snapshot's rows into the index tables of a connection in a transaction."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock, alarms: list[str]) -> None:
        self._db, self._lock, self._alarms = db, lock, alarms
        self._rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _INSERT}
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
                row(_fields(raw))
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

    def _row(self, r: list[str]) -> None:
        """File one declaration as ``DeclarationIndex.add`` then ``set_status`` would."""
        if len(r) != _WIDTH:
            raise SnapshotError(f"snapshot row of {len(r)} fields, not {_WIDTH}")
        status = int(r[1]) if r[1] else None
        state, vals = r[2], r[3:_LINES_AT]
        for i in _NULLABLE:
            if not vals[i]:
                vals[i] = None  # type: ignore[call-overload]
        raw_lines, raw_extra = r[_LINES_AT], r[_EXTRA_AT]
        lines = _json_value(raw_lines) if raw_lines != "[]" else []
        extra = _json_value(raw_extra) if raw_extra not in ("{}", "") else _NO_EXTRA
        kind, key = vals[_KIND], vals[_KEY]
        if status is not None:
            if status < 0:
                self._alarms.append(f"customs error {status} about {key}")
                status = None
            else:
                self._status.append((kind, key, status))
        withdrawn = extra is not _NO_EXTRA and extra.get("appType", "").strip() == "3"
        if kind in _DOCS:
            at = _WAYBILL_AT if kind == "waybill" else _ORDER_AT
            number = vals[at[1]]
            if number:
                doc = (kind, vals[at[0]].strip().upper(), normalise(number))
                if withdrawn:  # drops what came before it, not after
                    self._doc.append((*doc, _TOMBSTONE))
                    self._withdrawn.append(doc)
                else:
                    self._doc.append((*doc, _body(vals, lines, extra)))
        elif kind in _PARCELS and not withdrawn and state != "cancelled":
            self._parcel(kind, key, status, state == "returned", vals, lines, extra)
        self._pending += 1
        if self._pending >= BATCH:
            self._flush()

    def _parcel(self, kind: str, key: str, status: int | None, returned: bool,
                vals: list[Any], lines: list[Any], extra: dict[str, Any]) -> None:  # fmt: skip
        view = _Parcel(_KINDS[kind], *_PARCEL_AT(vals)[1:])
        decl = cast(Declaration, view)
        buyer, at_text = vals[_BUYER_AT], vals[_TIME_AT]
        body = _body(vals, lines, extra)
        self._entry.append((kind, key, body, status, 0, int(returned), _history(returned, status)))
        self._code.extend((code, kind, key) for code in parcel_codes(decl))
        if buyer and is_cbec_retail_import(decl):
            at = datetime.fromisoformat(at_text) if at_text else None
            self._ledger.append((normalise(buyer), china_year(at), max(sort_time(at), -1e300), key))

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
