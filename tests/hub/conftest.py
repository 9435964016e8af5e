"""Hub fixtures: a database engine on SQLite and, when reachable, on PostgreSQL; record builders."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from hub.db.engine import create_tables, make_engine
from inspection.model import Declaration, DocKind, GoodsLine, ParsedRecord, Receipt, RecordError
from tests.conftest import require_service
from tests.inspection import builders

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
BUYER_ID = builders.BUYER_ID
BUYER_PHONE = "13800138000"


def _pg_engine(schema: str) -> Engine:
    """An engine whose every connection works inside ``schema``."""
    engine = make_engine(PG_URL)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f'SET search_path TO "{schema}"')
        cur.close()
        dbapi_conn.commit()  # a SET in a transaction rolled back later would be undone

    return engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A fresh SQLite file database with the hub tables."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db' / 'hub.db'}")
    create_tables(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A fresh PostgreSQL schema with the hub tables, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"t_hub_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = _pg_engine(schema)
    try:
        create_tables(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The hub database on each supported backend."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    result: Engine = request.getfixturevalue(name)
    return result


def line(gnum: int = 1, **kw: Any) -> GoodsLine:
    """A goods line of 2 T-shirts at CNY 95.00000 each."""
    base = GoodsLine(
        gnum=gnum,
        hs_code="6109100021",
        name="棉制针织T恤衫",
        model="100%棉|男式",
        qty=Decimal(2),
        unit="011",
        price=Decimal("95.00000"),
        total_price=Decimal("190.00000"),
        currency="142",
        origin="116",
    )
    return replace(base, **kw)


def inventory(n: int = 1, **kw: Any) -> Declaration:
    """A CEB621 import inventory for parcel ``n``, as filed with every stored field set."""
    base = builders.inventory(
        n,
        decl_time=T0,
        buyer_id_type="1",
        buyer_telephone=BUYER_PHONE,
        consignee_address="浙江省杭州市西湖区文三路1号",
        gross_weight_kg=Decimal("1.20000"),
        net_weight_kg=Decimal("1.00000"),
        country="142",
        lines=(line(1),),
        extra={"customsCode": "2991", "note": "测试"},
    )
    return replace(base, **kw)


def receipt(n: int = 1, status: int = 800, at: datetime | None = T0, **kw: Any) -> Receipt:
    """A CEB622 receipt for ``inventory(n)``."""
    base = Receipt(
        message_type="CEB622",
        kind=DocKind.INVENTORY,
        business_key=f"AG001:COP{n:08d}",
        return_status=status,
        return_time=at,
        return_info="放行" if status == 800 else "处理中",
        invt_no=f"INV{n:08d}",
    )
    return replace(base, **kw)


def parsed(items: Iterable[Declaration | Receipt | RecordError]) -> list[ParsedRecord]:
    """Number items as a reader would (1-based)."""
    return [ParsedRecord(i, item) for i, item in enumerate(items, start=1)]
