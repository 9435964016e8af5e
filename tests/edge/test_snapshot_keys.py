"""A snapshot keys its tables once the rows are in: documents two business keys share (the
last one stays), withdrawn documents (before or after another of the same number), and keys
the delta sync after the snapshot replaces rows by.

Runs on SQLite and on PostgreSQL (the ``engine`` fixture of ``tests/hub/conftest.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import ManualClock
from edge.cache import DeclarationCache
from edge.snapshot import BULK_SCHEMA, KEYED
from edge.store import SCHEMA, decode
from hub.app import create_app
from hub.db.auth_models import Role
from hub.db.migrate import upgrade
from hub.importing.importer import import_records
from hub.services import users
from inspection.identity import normalise
from inspection.model import Declaration, DocKind
from simulators.sample_declarations import parcel_sets
from tests.edge.test_snapshot import AT, _records, _sync, _tables
from tests.hub import conftest as hub_fx
from tests.hub.conftest_api import hub_settings

engine = hub_fx.engine
sqlite_engine = hub_fx.sqlite_engine
pg_engine = hub_fx.pg_engine


def _same_number(order: Declaration, tag: str, *, withdrawn: bool = False) -> Declaration:
    """Another business key filing the same order number (spaced, lower case)."""
    no = order.order_no
    extra = {**order.extra, "appType": "3"} if withdrawn else order.extra
    spaced = f"{no[:4]} {no[4:]}".lower()
    assert spaced != no and normalise(spaced) == normalise(no)
    return replace(order, business_key=order.business_key + tag, order_no=spaced, extra=extra)


@pytest.fixture
def hub(engine: Engine) -> Iterator[tuple[TestClient, str, list[Declaration]]]:
    """A hub whose orders share numbers across business keys; return its orders too."""
    upgrade(engine)
    sets = list(parcel_sets(6, seed=23))
    items: list[object] = []
    for ps in sets:
        items += [*ps.declarations(), ps.receipt]
    orders = [ps.order for ps in sets]
    items += [
        _same_number(orders[0], "A"),  # replaces order 0's record
        _same_number(orders[1], "W", withdrawn=True),  # withdraws order 1
        _same_number(orders[2], "W", withdrawn=True),  # withdraws order 2 ...
        _same_number(orders[2], "N"),  # ... which is filed again after
        _same_number(orders[3], "A"),  # order 3 replaced, then ...
        _same_number(orders[3], "W", withdrawn=True),  # ... withdrawn: none left
    ]
    import_records(engine, _records(items))
    with Session(engine) as session:
        _row, key = users.create_api_key(session, "edge-1", Role.EDGE, AT)
    app = create_app(hub_settings(), engine=engine, clock=ManualClock(AT))
    with TestClient(app) as client:
        yield client, key, orders


def _order(cache: DeclarationCache, order: Declaration) -> list[str]:
    """The business keys of the stored order records with ``order``'s number."""
    rows = cache._db.execute(
        "SELECT body FROM ix_doc WHERE kind = 'order' AND a = ? AND b = ?",
        (order.ebp_code.strip().upper(), normalise(order.order_no)),
    )
    return [decode(body).business_key for (body,) in rows]


def test_shared_and_withdrawn_documents_end_as_in_the_delta_sync(
    hub: tuple[TestClient, str, list[Declaration]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, key, orders = hub
    delta = _sync(client, key, tmp_path / "delta.db", snapshot=False)
    with caplog.at_level(logging.INFO, logger="edge.snapshot"):
        snap = _sync(client, key, tmp_path / "snap.db", snapshot=True)
    assert _tables(snap) == _tables(delta)
    assert _order(snap, orders[0]) == [orders[0].business_key + "A"]
    assert _order(snap, orders[1]) == []
    assert _order(snap, orders[2]) == [orders[2].business_key + "N"]
    assert _order(snap, orders[3]) == []
    assert _order(snap, orders[4]) == [orders[4].business_key]
    assert "rows of ix_doc replaced by a later one of their key" in caplog.text
    assert snap._db.execute("SELECT count(*) FROM ix_doc WHERE body = x''").fetchone() == (0,)
    assert snap._db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_the_snapshot_s_keys_replace_rows_of_the_delta_after_it(
    hub: tuple[TestClient, str, list[Declaration]], tmp_path: Path
) -> None:
    client, key, orders = hub
    snap = _sync(client, key, tmp_path / "snap.db", snapshot=True)
    names = {r[0] for r in snap._db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {f"{t}_key" for t in KEYED} <= names
    entry = snap._db.execute("SELECT kind, key FROM ix_entry LIMIT 1").fetchone()
    status = snap._db.execute("SELECT kind, key FROM ix_status LIMIT 1").fetchone()
    before = {t: snap._db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in KEYED}
    changed = replace(orders[4], extra={**orders[4].extra, "goodsInfo": "changed"})
    with snap._books.batch():  # what a delta page writes, by the store's own statements
        snap._books.put_doc(DocKind.ORDER, (orders[4].ebp_code, normalise(orders[4].order_no)),
                            changed)  # fmt: skip
        snap._books.put_status((DocKind(status[0]), status[1]), 399)
        snap._db.execute(
            "INSERT OR REPLACE INTO ix_entry SELECT kind, key, body, 1, 0, 0, '[]' FROM ix_entry "
            "WHERE kind = ? AND key = ?",
            entry,
        )
    after = {t: snap._db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in KEYED}
    assert after == before
    assert snap._books.doc(DocKind.ORDER, (orders[4].ebp_code, normalise(orders[4].order_no)))
    got = snap._db.execute("SELECT status FROM ix_status WHERE kind = ? AND key = ?", status)
    assert got.fetchall() == [(399,)]


def test_the_bulk_schema_is_the_store_s_without_inline_keys() -> None:
    assert "PRIMARY KEY" in SCHEMA and "PRIMARY KEY" not in BULK_SCHEMA
    assert BULK_SCHEMA.count("CREATE TABLE") == SCHEMA.count("CREATE TABLE")
    for table, columns in KEYED.items():
        assert f"PRIMARY KEY ({columns})" in SCHEMA.split(f"TABLE IF NOT EXISTS {table} (")[1]
