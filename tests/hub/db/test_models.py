"""Hub tables, engines and the helpers that shape rows for them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from sqlmodel import select as select_model

from hub.db.engine import StoreError, create_tables, make_engine, session_scope
from hub.db.models import DECLARATION, DeclarationLineRow, DeclarationRow, ReceiptRow
from hub.importing.rows import IdSource


def _row(key: str = "AG001:COP1", **kw: Any) -> DeclarationRow:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    values: dict[str, Any] = {
        "kind": "inventory",
        "message_type": "CEB621",
        "business_key": key,
        "content_hash": "0" * 32,
        "created_at": now,
        "updated_at": now,
    }
    values.update(kw)
    return DeclarationRow(**values)


def test_tables_indexes_and_constraints_exist(engine: Engine) -> None:
    insp = inspect(engine)
    assert {"declaration", "declaration_line", "receipt", "status_history"} <= set(
        insp.get_table_names()
    )
    indexed = {tuple(ix["column_names"]) for ix in insp.get_indexes("declaration")}
    for code in ("logistics_no", "invt_no", "order_no", "cop_no"):
        assert (code,) in indexed
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("declaration")}
    assert ("kind", "business_key") in uniques
    fks = insp.get_foreign_keys("declaration_line")
    assert fks[0]["referred_table"] == "declaration"
    assert ("kind", "business_key") in {
        tuple(ix["column_names"]) for ix in insp.get_indexes("receipt")
    }


def test_sqlite_engine_sets_wal_foreign_keys_and_normal_sync(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "hub.db"
    engine = make_engine(f"sqlite:///{path}")
    assert path.parent.is_dir()
    assert not path.exists()  # nothing connects before first use
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


def test_bad_urls_raise_store_error() -> None:
    with pytest.raises(StoreError, match="not a valid"):
        make_engine("no url at all")
    with pytest.raises(StoreError, match="not supported"):
        make_engine("mysql://u@h/db")


def test_postgres_engine_is_lazy() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    with pytest.raises(StoreError, match="cannot create the hub tables"):
        create_tables(engine)
    engine.dispose()


def test_kind_and_business_key_are_unique(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(_row())
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(_row())
    with session_scope(engine) as session:
        session.add(_row(kind="order"))  # same key, other kind: allowed
    with Session(engine) as session:
        assert len(session.execute(select(DECLARATION.c.id)).all()) == 2


def test_times_are_stored_in_utc_and_read_back_aware(engine: Engine) -> None:
    china = timezone(timedelta(hours=8))
    filed = datetime(2025, 5, 1, 10, 30, 15, 123456, tzinfo=china)
    with session_scope(engine) as session:
        session.add(_row(decl_time=filed, status_time=datetime(2025, 5, 2, 1, 0)))
    with Session(engine) as session:
        row = session.exec(select_model(DeclarationRow)).one()
        assert row.decl_time == filed
        assert row.decl_time.tzinfo is not None
        assert row.decl_time.utcoffset() == timedelta(0)
        assert row.decl_time.hour == 2  # 10:30 China time is 02:30 UTC
        assert row.status_time == datetime(2025, 5, 2, 1, 0, tzinfo=UTC)  # naive taken as UTC


def test_amounts_keep_five_decimals(engine: Engine) -> None:
    with session_scope(engine) as session:
        head = _row(goods_value=Decimal("1234567.12345"), freight=Decimal("0.00001"))
        session.add(head)
        session.flush()
        session.add(
            DeclarationLineRow(declaration_id=head.id, gnum=1, qty=Decimal("3.5"), price=None)
        )
    with Session(engine) as session:
        row = session.exec(select_model(DeclarationRow)).one()
        assert row.goods_value == Decimal("1234567.12345")
        assert row.freight == Decimal("0.00001")
        line_row = session.exec(select_model(DeclarationLineRow)).one()
        assert line_row.qty == Decimal("3.5")
        assert line_row.price is None


def test_receipt_link_is_cleared_when_its_declaration_goes(engine: Engine) -> None:
    with session_scope(engine) as session:
        head = _row()
        session.add(head)
        session.flush()
        session.add(
            ReceiptRow(
                message_type="CEB622",
                kind="inventory",
                business_key=head.business_key,
                return_status=800,
                content_hash="1" * 32,
                declaration_id=head.id,
                received_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
    with session_scope(engine) as session:
        session.delete(session.exec(select_model(DeclarationRow)).one())
    with Session(engine) as session:
        kept = session.exec(select_model(ReceiptRow)).one()
        assert kept.declaration_id is None


def test_id_source_gives_distinct_ordered_version_7_ids() -> None:
    ids = IdSource().take(1000) + IdSource().take(1000)
    assert len(set(ids)) == 2000
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in ids)
    assert ids[:1000] == sorted(ids[:1000])
    texts = IdSource(as_text=True).take(3)
    assert [uuid.UUID(t).hex for t in texts] == texts
    assert IdSource().take(0) == []
