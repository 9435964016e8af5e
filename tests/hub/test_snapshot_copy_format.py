"""The snapshot's rows read by PostgreSQL's own ``COPY … FROM`` (a reader we did not write).

A row of the snapshot is COPY's text format with ``NULL ''``. On a SQLite hub the rows are
written by our own escaping (``hub.services.snapshot._page_rows``); on PostgreSQL they come
from the kept file. Either way PostgreSQL itself must read every row back, field for field as
the hub's tables hold them: the change number, kind, business key, goods lines and extra.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from hub.db.migrate import upgrade
from hub.db.models import DECLARATION, DECLARATION_LINE
from hub.db.sync_models import SyncChange
from hub.services.snapshot import read_rows
from hub.services.snapshot_keep import SnapshotStore
from hub.services.sync import DECL_FIELDS
from tests.edge.test_snapshot import _fill
from tests.hub import conftest as hub_fx

pg_engine = hub_fx.pg_engine
sqlite_engine = hub_fx.sqlite_engine
_SYNC = SyncChange.__table__  # type: ignore[attr-defined]
#: change, customs_status, listState, the declaration's fields, lines, extra
COLUMNS = 3 + len(DECL_FIELDS) + 2


def _expected(engine: Engine) -> dict[int, tuple[str, str, int, dict[str, Any]]]:
    """Per change number: kind, business key, goods lines and extra, from the hub's tables."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(_SYNC.c.seq, DECLARATION.c.id, DECLARATION.c.kind,
                   DECLARATION.c.business_key, DECLARATION.c.extra)
            .join(DECLARATION, DECLARATION.c.id == _SYNC.c.declaration_id)
        ).all()  # fmt: skip
        lines: dict[Any, int] = {}
        for (decl_id,) in conn.execute(select(DECLARATION_LINE.c.declaration_id)):
            lines[decl_id] = lines.get(decl_id, 0) + 1
    return {
        int(seq): (kind, key, lines.get(decl_id, 0), json.loads(extra))
        for seq, decl_id, kind, key, extra in rows
    }


def _read_by_postgresql(pg: Engine, data: bytes) -> list[tuple[Any, ...]]:
    """Load ``data`` with ``COPY … FROM STDIN`` into a table of text columns; read it back."""
    cols = ", ".join(f"c{i} text" for i in range(COLUMNS))
    kind = 3 + DECL_FIELDS.index("kind")
    key = 3 + DECL_FIELDS.index("business_key")
    raw: Any = pg.raw_connection()
    try:
        with raw.driver_connection.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE snap ({cols})")
            with cur.copy("COPY snap FROM STDIN WITH (NULL '')") as copy:
                copy.write(data)
            cur.execute(
                f"SELECT c0::bigint, c{kind}, c{key}, json_array_length(c{COLUMNS - 2}::json), "
                f"c{COLUMNS - 1}::jsonb FROM snap"
            )
            got: list[tuple[Any, ...]] = cur.fetchall()
        raw.rollback()
    finally:
        raw.close()
    return got


def _check(pg: Engine, hub: Engine, data: bytes) -> None:
    want = _expected(hub)
    got = _read_by_postgresql(pg, data)
    assert len(got) == len(want) == 30 * 4 + 1
    for seq, kind, key, n_lines, extra in got:
        w_kind, w_key, w_lines, w_extra = want[seq]
        assert (kind, key, n_lines) == (w_kind, w_key, w_lines), seq
        # the stream's extra may leave out what it carries in a column of its own (listState)
        assert {k: v for k, v in w_extra.items() if k in extra} == extra, seq
        assert set(w_extra) - set(extra) <= {"listState"}, seq


def test_rows_our_escaping_wrote_on_sqlite(pg_engine: Engine, sqlite_engine: Engine) -> None:
    upgrade(sqlite_engine)
    _fill(sqlite_engine)  # its goods text holds a tab, a backslash, quotes and a new line
    with read_rows(sqlite_engine) as (_conn, _upto, _count, rows):
        data = b"".join(rows)
    _check(pg_engine, sqlite_engine, data)


def test_the_kept_file_on_postgresql(pg_engine: Engine, tmp_path: Any) -> None:
    upgrade(pg_engine)
    _fill(pg_engine)
    kept = SnapshotStore(tmp_path / "snapshots").build(pg_engine)
    _check(pg_engine, pg_engine, kept.path.read_bytes())
