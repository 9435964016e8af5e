"""Bulk SQL for the import: executemany inserts of plain tuples and the per-batch look-ups."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Dialect, Table, bindparam, exists, insert, select, update
from sqlalchemy.engine import Connection

from hub.db.models import DECLARATION, RECEIPT, STATUS_HISTORY

_T = TypeVar("_T")

#: Most values sent in one ``IN (...)`` list (SQLite allows 32,766 bound values).
IN_CHUNK = 5_000


class BulkInsert:
    """One table's ``INSERT`` compiled once, run as an executemany of plain row tuples.

    Rows are tuples in table column order (or in the order of ``columns`` when given; the
    other columns take their defaults). Only the columns whose type needs a Python-side
    conversion on this dialect (UUIDs, amounts, times on SQLite, say) are converted, with
    the type's own bind processor, so the stored values are what the ORM would store. A
    ``str`` value is taken as already converted (see :meth:`wire`) and passed as is.
    """

    def __init__(
        self, table: Table, dialect: Dialect, columns: Sequence[str] | None = None
    ) -> None:
        """Compile the insert for ``dialect`` and collect the columns' bind processors."""
        self.table = table
        cols = list(table.columns) if columns is None else [table.c[n] for n in columns]
        self.keys = tuple(c.name for c in cols)
        stmt = insert(table)
        if columns is not None:
            stmt = stmt.values({n: bindparam(n) for n in self.keys})
        compiled = stmt.compile(dialect=dialect, for_executemany=True)  # no RETURNING
        self.sql = str(compiled)
        order = tuple(compiled.positiontup or ())
        self.positional = bool(dialect.positional) and order == self.keys
        if dialect.positional and not self.positional:
            raise RuntimeError(f"unexpected bind order compiling the insert into {table.name}")
        procs: list[tuple[int, Callable[[Any], Any]]] = []
        self._by_name: dict[str, Callable[[Any], Any]] = {}
        for pos, col in enumerate(cols):
            proc = col.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                procs.append((pos, proc))
                self._by_name[col.name] = proc
        self.processors = tuple(procs)

    def wire(self, column: str, value: Any) -> Any:
        """Return ``value`` converted for ``column`` once, to reuse in many rows."""
        proc = self._by_name.get(column)
        return value if proc is None or value is None else proc(value)

    def convert(self, row: Sequence[Any]) -> tuple[Any, ...] | dict[str, Any]:
        """Return ``row`` as the DB-API expects it on this dialect."""
        values = list(row)
        for pos, proc in self.processors:
            value = values[pos]
            if value is not None and value.__class__ is not str:
                values[pos] = proc(value)
        if self.positional:
            return tuple(values)
        return dict(zip(self.keys, values, strict=True))

    def run(
        self, conn: Connection, rows: Sequence[Sequence[Any]], *, converted: bool = False
    ) -> None:
        """Insert ``rows`` (tuples in column order) with one executemany.

        ``converted``: the rows hold the driver's form already (no per-value conversion).
        """
        if not rows:
            return
        params: Sequence[Any]
        if not converted:
            params = [self.convert(r) for r in rows]
        elif self.positional:
            params = rows
        else:
            keys = self.keys
            params = [dict(zip(keys, r, strict=True)) for r in rows]
        conn.exec_driver_sql(self.sql, params)


class BulkUpdate:
    """An ``UPDATE table SET names… WHERE key = ?`` compiled once, run as an executemany.

    Rows are tuples of the values of ``names`` then the key, all in the driver's form.
    """

    def __init__(self, table: Table, names: Sequence[str], key: str, dialect: Dialect) -> None:
        """Compile the update of ``names`` by ``key`` for ``dialect``."""
        stmt = (
            update(table)
            .where(table.c[key] == bindparam("k_" + key))
            .values({n: bindparam("v_" + n) for n in names})
        )
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.keys = (*(f"v_{n}" for n in names), f"k_{key}")
        order = tuple(compiled.positiontup or ())
        self.positional = bool(dialect.positional)
        self._order: tuple[int, ...] | None = None
        if self.positional:
            where = {k: i for i, k in enumerate(self.keys)}
            self._order = tuple(where[k] for k in order)

    def run(self, conn: Connection, rows: Sequence[Sequence[Any]], *, converted: bool) -> None:
        """Run the update for each row (values already in the driver's form)."""
        if not rows:
            return
        if not converted:
            raise ValueError("BulkUpdate takes rows in the driver's form only")
        params: list[Any]
        if self._order is not None:
            order = self._order
            params = [tuple(r[i] for i in order) for r in rows]
        else:
            params = [dict(zip(self.keys, r, strict=True)) for r in rows]
        conn.exec_driver_sql(self.sql, params)


def chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterable[Sequence[_T]]:
    """Yield ``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def by_kind(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Group (kind, business_key) pairs by kind."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for kind, key in keys:
        grouped[kind].append(key)
    return grouped


def existing_hashes(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[uuid.UUID, str]]:
    """Return id and content hash of the stored declarations among ``keys``."""
    d = DECLARATION.c
    found: dict[tuple[str, str], tuple[uuid.UUID, str]] = {}
    sqlite = conn.dialect.name == "sqlite"
    for kind, names in by_kind(keys).items():
        if sqlite:  # one bound JSON list instead of compiling thousands of parameters
            rows = conn.exec_driver_sql(_EXISTING_SQLITE, (kind, json.dumps(names)))
            for key, hex_id, content_hash in rows:
                found[(kind, key)] = (uuid.UUID(hex_id), content_hash)
            continue
        for part in chunks(names):
            stmt = select(d.business_key, d.id, d.content_hash).where(
                d.kind == kind, d.business_key.in_(part)
            )
            for key, row_id, content_hash in conn.execute(stmt):
                found[(kind, key)] = (row_id, content_hash)
    return found


#: :func:`existing_hashes` on SQLite (ids are stored as 32 hex digits there).
_EXISTING_SQLITE = (
    "SELECT business_key, id, content_hash FROM declaration "
    "WHERE kind = ? AND business_key IN (SELECT value FROM json_each(?))"
)


def declaration_status(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[uuid.UUID, int | None, datetime | None]]:
    """Return id, customs status and status time of the stored declarations among ``keys``."""
    d = DECLARATION.c
    found: dict[tuple[str, str], tuple[uuid.UUID, int | None, datetime | None]] = {}
    for kind, names in by_kind(keys).items():
        for part in chunks(names):
            stmt = select(d.business_key, d.id, d.customs_status, d.status_time).where(
                d.kind == kind, d.business_key.in_(part)
            )
            for key, row_id, status, at in conn.execute(stmt):
                found[(kind, key)] = (row_id, status, at)
    return found


def known_receipts(conn: Connection, hashes: Sequence[str]) -> set[str]:
    """Return which of the receipt content hashes are stored already."""
    r = RECEIPT.c
    found: set[str] = set()
    for part in chunks(hashes):
        found.update(conn.scalars(select(r.content_hash).where(r.content_hash.in_(part))))
    return found


#: A stored receipt waiting for its declaration: id, kind, business_key, return_status,
#: return_time, received_at, content_hash, from_customs.
PendingReceipt = tuple[uuid.UUID, str, str, int, datetime | None, datetime, str, bool]


def pending_receipts(conn: Connection, keys: Iterable[tuple[str, str]]) -> list[PendingReceipt]:
    """Return stored receipts not yet linked to a declaration, for the given keys."""
    r = RECEIPT.c
    out: list[PendingReceipt] = []
    for kind, names in by_kind(keys).items():
        for part in chunks(names):
            stmt = (
                select(
                    r.id,
                    r.kind,
                    r.business_key,
                    r.return_status,
                    r.return_time,
                    r.received_at,
                    r.content_hash,
                    r.from_customs,
                )
                .where(r.declaration_id.is_(None), r.kind == kind, r.business_key.in_(part))
                .order_by(r.id)
            )
            out.extend((*row[:7], bool(row[7])) for row in conn.execute(stmt))
    return out


def any_pending_receipt(conn: Connection) -> bool:
    """Return whether any stored receipt still waits for its declaration."""
    r = RECEIPT.c
    stmt = select(r.id).where(r.declaration_id.is_(None)).limit(1)
    return conn.execute(stmt).first() is not None


def set_status(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Set customs status and status time; rows hold ``b_id``, ``s``, ``t``, ``u``."""
    if not rows:
        return
    d = DECLARATION.c
    stmt = (
        update(DECLARATION)
        .where(d.id == bindparam("b_id"))
        .values(
            customs_status=bindparam("s"), status_time=bindparam("t"), updated_at=bindparam("u")
        )
    )
    conn.execute(stmt, rows)


def link_receipts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Link stored receipts to their declaration; rows hold ``b_id`` and ``b_decl``."""
    if not rows:
        return
    r = RECEIPT.c
    stmt = (
        update(RECEIPT).where(r.id == bindparam("b_id")).values(declaration_id=bindparam("b_decl"))
    )
    conn.execute(stmt, rows)


def unrecorded_filings(
    conn: Connection, ids: Sequence[Any]
) -> list[tuple[uuid.UUID, datetime, str, str]]:
    """Return id, created_at, content hash and source of those declarations with no
    ``filed`` history row."""
    d, h = DECLARATION.c, STATUS_HISTORY.c
    filed = exists().where(h.declaration_id == d.id, h.event == "filed")
    out: list[tuple[uuid.UUID, datetime, str, str]] = []
    for part in chunks(ids):
        stmt = select(d.id, d.created_at, d.content_hash, d.source_file).where(
            d.id.in_(part), ~filed
        )
        out.extend((row[0], row[1], row[2], row[3]) for row in conn.execute(stmt))
    return out
