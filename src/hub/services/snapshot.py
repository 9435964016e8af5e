"""The whole current state of the declarations, for an edge's first sync: one stream.

A snapshot is a stream of lines read in one database snapshot (REPEATABLE READ on
PostgreSQL, one read transaction on SQLite): a JSON header (``snapshot``, the ``cursor`` the
delta sync continues from, ``count``, the field names, the rules), one row per declaration in
change order, and a JSON trailer (``end``, ``count``). Every declaration it holds has a change
number at or below the cursor; a change committed after the snapshot began gets a larger
number (``hub.db.sync_models``: numbers are handed out in commit order), so the delta sync
from the cursor delivers it and nothing is lost between the two.

A row is PostgreSQL's ``COPY ... TO STDOUT`` text format with ``NULL ''`` (tab-separated,
backslash escapes; https://www.postgresql.org/docs/current/sql-copy.html): ``change,
customs_status, listState, *DECL_FIELDS, lines, extra``. Amounts are exact decimal text,
times ISO 8601 UTC, an empty field in an amount, time or status column is null, ``lines`` a
JSON array of arrays in ``LINE_FIELDS`` order, ``extra`` a JSON object, and ``listState``
(``cancelled`` / ``returned``) what the delta sync puts in ``extra``. On PostgreSQL the
database writes the rows itself, so the hub only passes bytes on; elsewhere they are built
from the delta sync's own pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Numeric, func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from hub.db.models import DECLARATION, DECLARATION_LINE, UTCDateTime, table_of
from hub.db.sync_models import SyncChange
from hub.importing.notices import LIST_STATE
from hub.services.snapshot_keep import OpenSnapshot
from hub.services.sync import DECL_FIELDS, LINE_FIELDS, MAX_SYNC_LIMIT, page, rules_meta
from inspection.model import LINELESS_KINDS

#: Version of the stream's layout; an edge refuses one it does not know.
FORMAT = 1
#: Bytes handed to the web server at a time.
CHUNK = 1 << 20
#: What COPY's text format escapes, backslash first.
_ESCAPES = (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
_SYNC = table_of(SyncChange)
_LIST_KINDS = ("inventory", "export_inventory")


def _pg_value(table: Any, name: str) -> str:
    """Return the SQL of one column as the delta sync sends it (exact text, UTC ISO time)."""
    col = table.c[name]
    ref = f"{'d' if table is DECLARATION else 'l'}.{name}"
    if isinstance(col.type, Numeric):
        return f"{ref}::text"
    if isinstance(col.type, UTCDateTime):
        return f"""to_char({ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
    return ref


def _pg_rows_sql(upto: int) -> str:
    """Return the PostgreSQL query whose rows are the snapshot's lines, oldest change first."""
    head = ", ".join(_pg_value(DECLARATION, n) for n in DECL_FIELDS)
    line = ", ".join(_pg_value(DECLARATION_LINE, n) for n in LINE_FIELDS)
    cancel = next(k for k, v in LIST_STATE.items() if v == "cancelled")
    states = ", ".join(f"'{k}'" for k in LIST_STATE)
    kinds = ", ".join(f"'{k}'" for k in _LIST_KINDS)
    # a payment or waybill has no goods lines (the import refuses one with lines): half the
    # stream's declarations need no lookup of their lines
    lineless = ", ".join(f"'{k.value}'" for k in sorted(LINELESS_KINDS))
    return f"""
SELECT s.seq, d.customs_status,
    CASE WHEN d.kind IN ({kinds}) THEN (
        SELECT CASE WHEN bool_or(n.message_type = '{cancel}') THEN 'cancelled' ELSE 'returned' END
        FROM notice n WHERE n.business_key = d.business_key AND n.status = '800'
            AND n.message_type IN ({states})
        HAVING count(*) > 0
    ) END,
    {head},
    CASE WHEN d.kind IN ({lineless}) THEN '[]' ELSE
        COALESCE((SELECT json_agg(json_build_array({line}) ORDER BY l.gnum)::text
                  FROM declaration_line l WHERE l.declaration_id = d.id), '[]') END,
    d.extra
FROM sync_change s JOIN declaration d ON d.id = s.declaration_id
WHERE s.seq <= {int(upto)}
ORDER BY s.seq
"""


#: Planner settings that make the first row come at once: walk the change numbers in order
#: and look each declaration up (the whole-table plan would sort and join everything first).
STREAMING = ("SET LOCAL jit = off", "SET LOCAL enable_sort = off",
             "SET LOCAL enable_hashjoin = off", "SET LOCAL enable_mergejoin = off")  # fmt: skip


def _pg_rows(conn: Connection, upto: int) -> Iterator[bytes]:
    """The rows as PostgreSQL's own ``COPY ... TO STDOUT`` text writes them (NULL empty)."""
    driver: Any = conn.connection.driver_connection
    with driver.cursor() as cur:
        for setting in STREAMING:  # and no JIT: compiling the row expressions costs seconds
            cur.execute(setting)
        with cur.copy(f"COPY ({_pg_rows_sql(upto)}) TO STDOUT WITH (NULL '')") as copy:
            buf = bytearray()
            for data in copy:
                buf += data
                if len(buf) >= CHUNK:
                    yield bytes(buf)
                    buf.clear()
            if buf:
                yield bytes(buf)


def _escape(value: Any) -> str:
    """One field as COPY's text format writes it (None as the empty string)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\\" in text or "\n" in text or "\r" in text or "\t" in text:
        for raw, esc in _ESCAPES:
            text = text.replace(raw, esc)
    return text


def _page_rows(conn: Connection, upto: int) -> Iterator[bytes]:
    """The same rows built from the delta sync's own pages (any database), in the same
    transaction."""
    session = Session(bind=conn)
    cursor = ""
    while True:
        body = page(session, cursor, MAX_SYNC_LIMIT)
        out = []
        for item in body["declarations"]:
            if item["change"] > upto:
                break
            decl = dict(item["declaration"])
            lines, extra = decl.pop("lines"), decl.pop("extra")
            state = extra.pop("listState", None) if decl["kind"] in _LIST_KINDS else None
            row = [item["change"], item["customs_status"], state]
            row += [decl[n] for n in DECL_FIELDS]
            row += [_json([[ln[n] for n in LINE_FIELDS] for ln in lines]), _json(extra)]
            out.append("\t".join(map(_escape, row)))
        if out:
            yield ("\n".join(out) + "\n").encode()
        cursor = body["next_cursor"]
        if not body["more"] or int(cursor) >= upto:
            return


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _begin(conn: Connection) -> None:
    """Start the one read snapshot every statement of the stream sees."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")  # pysqlite would leave SELECTs outside a transaction
        conn.exec_driver_sql("SELECT 1 FROM sync_change LIMIT 1").all()  # fixes the snapshot


@contextmanager
def read_rows(engine: Engine) -> Iterator[tuple[Connection, int, int, Iterator[bytes]]]:
    """Open one read snapshot; give its connection, cursor, row count and the rows' bytes.

    The rows are read lazily inside the transaction, which ends when the block does.
    """
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    with engine.connect() as raw:
        conn = raw.execution_options(**options)
        _begin(conn)
        upto = int(conn.execute(select(func.coalesce(func.max(_SYNC.c.seq), 0))).scalar_one())
        count = int(
            conn.execute(
                select(func.count()).select_from(_SYNC).where(_SYNC.c.seq <= upto)
            ).scalar_one()
        )
        rows = _pg_rows if conn.dialect.name == "postgresql" else _page_rows
        try:
            yield conn, upto, count, rows(conn, upto)
        finally:
            conn.rollback()


def _header(conn: Connection, cursor: int, count: int, known_digest: str,
            verdicts: dict[str, Any] | None) -> bytes:  # fmt: skip
    """The stream's first line: format, cursor, count, field names, rules, verdicts."""
    header = {
        "snapshot": FORMAT,
        "cursor": str(cursor),
        "count": count,
        "fields": list(DECL_FIELDS),
        "line_fields": list(LINE_FIELDS),
        "rules": rules_meta(Session(bind=conn), known_digest),
        **(verdicts or {}),
    }
    return (json.dumps(header, ensure_ascii=False) + "\n").encode()


def stream(
    engine: Engine,
    known_digest: str = "",
    verdicts: dict[str, Any] | None = None,
    kept: OpenSnapshot | None = None,
) -> Iterator[bytes]:
    """Yield the snapshot's bytes: header, one line per declaration, trailer.

    With ``kept`` (``SnapshotStore.open_usable``) the rows are that file's, headed by its
    cursor (``hub.services.snapshot_keep``); otherwise the whole stream is read inside one
    transaction, which a client that goes away ends. ``verdicts`` (``verdicts`` and
    ``next_verdicts``, as a delta page has them) go in the header.
    """
    sent = 0
    if kept is not None:
        with engine.connect() as conn:
            head = _header(conn, kept.kept.cursor, kept.kept.count, known_digest, verdicts)
            conn.rollback()
        yield head
        for chunk in kept.chunks(CHUNK):
            sent += chunk.count(b"\n")
            yield chunk
    else:
        with read_rows(engine) as (conn, upto, count, rows):
            yield _header(conn, upto, count, known_digest, verdicts)
            for chunk in rows:
                sent += chunk.count(b"\n")
                yield chunk
    yield (json.dumps({"end": True, "count": sent}) + "\n").encode()
