"""Builders and fixtures for the event, parcel, stats, verdict and trace tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import ManualClock
from contracts.events import EdgeEvent, EventKind
from hub.app import create_app
from hub.db.auth_models import Role
from hub.db.engine import make_engine
from hub.db.event_models import create_event_tables
from hub.importing.importer import import_records
from hub.services.users import create_api_key
from hub.settings import HubSettings
from inspection.model import Declaration, ParsedRecord, Receipt
from simulators.sample_declarations import ParcelSet, parcel_sets
from tests.conftest import require_service

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def make_event(
    kind: EventKind,
    data: dict[str, Any] | None = None,
    *,
    site: str = "s1",
    edge_id: str = "e1",
    item_id: int | None = 7,
    parcel_code: str | None = None,
    at_s: float = 0.0,
) -> EdgeEvent:
    """One edge event ``at_s`` seconds after T0."""
    return EdgeEvent(
        event_id=uuid.uuid4(),
        site=site,
        edge_id=edge_id,
        kind=kind,
        at=T0 + timedelta(seconds=at_s),
        item_id=item_id,
        parcel_code=parcel_code,
        data=data or {},
    )


def parcel_story(
    item_id: int,
    code: str,
    *,
    site: str = "s1",
    edge_id: str = "e1",
    start_s: float = 0.0,
    weight_kg: float = 1.25,
    outcome: str = "RELEASE",
    reasons: tuple[str, ...] = (),
    chute: int = 1,
    declaration_key: str | None = None,
    declaration_kind: str = "inventory",
) -> list[EdgeEvent]:
    """The events of one parcel pass, from induction to the PLC's confirmation."""
    common: dict[str, Any] = {"site": site, "edge_id": edge_id, "item_id": item_id}
    return [
        make_event(EventKind.PARCEL_SEEN, {"device_id": "plc1"}, at_s=start_s, **common),
        make_event(
            EventKind.CODE_READ,
            {"device_id": "tunnel1", "status": "OK", "codes": [f"]C1{code}"]},
            at_s=start_s + 0.4,
            **common,
        ),
        make_event(
            EventKind.WEIGHED,
            {"device_id": "cw1", "weight_kg": weight_kg, "stable": True},
            at_s=start_s + 0.9,
            **common,
        ),
        make_event(
            EventKind.IMAGED,
            {"device_id": "xr1", "prescreen": "clear"},
            at_s=start_s + 1.5,
            **common,
        ),
        make_event(
            EventKind.DECIDED,
            {
                "outcome": outcome,
                "reasons": list(reasons),
                "rule_set_version": "2026.11-1",
                "declaration_kind": declaration_kind if declaration_key else None,
                "declaration_key": declaration_key,
                "chute": chute,
                "latency_ms": 3.5,
                "notes": [],
            },
            parcel_code=code,
            at_s=start_s + 1.6,
            **common,
        ),
        make_event(
            EventKind.DIVERTED, {"chute": chute, "reason": 0}, at_s=start_s + 1.61, **common
        ),
        make_event(EventKind.CONFIRMED, {"chute": chute, "status": 0}, at_s=start_s + 6, **common),
    ]


def sqlite_memory_engine() -> Engine:
    """A fresh in-memory SQLite hub database with every table."""
    engine = make_engine("sqlite://")
    create_event_tables(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A fresh hub database: a SQLite file, and PostgreSQL in a throw-away schema."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
        create_event_tables(eng)
        yield eng
        eng.dispose()
        return
    require_service("PostgreSQL", "127.0.0.1", 5432)
    schema = f"t_events_{uuid.uuid4().hex[:10]}"
    eng = make_engine(PG_URL)
    with eng.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))

    @sa_event.listens_for(eng, "connect")
    def _search_path(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"SET search_path TO {schema}")
        cur.close()

    eng.dispose()
    create_event_tables(eng)
    try:
        yield eng
    finally:
        eng.dispose()
        with eng.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        eng.dispose()


@pytest.fixture
def mem_engine() -> Iterator[Engine]:
    """A fresh in-memory SQLite hub database."""
    eng = sqlite_memory_engine()
    yield eng
    eng.dispose()


def file_declarations(engine: Engine, count: int, seed: int = 5) -> list[ParcelSet]:
    """File ``count`` consistent CBEC document sets (with receipts); return them."""
    sets = list(parcel_sets(count, seed=seed))
    records: list[Declaration | Receipt] = []
    for ps in sets:
        records.extend(ps.declarations())
        records.append(ps.receipt)
    report = import_records(engine, [ParsedRecord(i + 1, r) for i, r in enumerate(records)])
    assert report.rejected == 0, report.rejections
    return sets


def story_for(ps: ParcelSet, item_id: int, **kw: Any) -> list[EdgeEvent]:
    """A pass of the parcel declared by ``ps``, matched to its inventory."""
    return parcel_story(
        item_id,
        ps.inventory.logistics_no,
        declaration_key=ps.inventory.business_key,
        declaration_kind="inventory",
        **kw,
    )


@dataclass
class Hub:
    """A running hub app with one API key per role."""

    client: TestClient
    engine: Engine
    clock: ManualClock
    keys: dict[Role, str]
    app: Any

    def auth(self, role: Role) -> dict[str, str]:
        """Headers that authenticate as ``role``."""
        return {"X-API-Key": self.keys[role]}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """The hub app on a migrated SQLite file, site ``s1``, clock at T0 + 1 h."""
    settings = HubSettings(dev=True, database_url=f"sqlite:///{tmp_path / 'hub.db'}", site_id="s1")
    eng = make_engine(settings.database_url)
    clock = ManualClock(T0 + timedelta(hours=1))
    app = create_app(settings, engine=eng, clock=clock)
    keys = {}
    with Session(eng) as session:
        for role in (Role.EDGE, Role.SUPERVISOR, Role.INSPECTOR, Role.OPERATOR):
            _, secret = create_api_key(session, f"{role.value}-1", role, clock.now())
            keys[role] = secret
    with TestClient(app) as client:
        yield Hub(client, eng, clock, keys, app)
    eng.dispose()
