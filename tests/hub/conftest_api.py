"""Fixtures for the hub API tests: an app on in-memory SQLite, a driven clock, principals.

Import the fixtures you use explicitly in a test module (``from tests.hub.conftest_api
import api, ...``); ``pytest_plugins`` is reserved for the root conftest.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from contracts.clock import ManualClock
from hub.app import create_app
from hub.db.auth_models import Role, UserCreate
from hub.db.engine import make_engine
from hub.services import users
from hub.settings import HubSettings
from inspection.formats.ceb_write import write_ceb
from inspection.model import Declaration, Receipt

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
ADMIN_PASSWORD = "a-long-bootstrap-password-for-tests"


def hub_settings(**kw: Any) -> HubSettings:
    """Settings for a test app (a strong admin password, never the environment's DB)."""
    values: dict[str, Any] = {
        "database_url": "sqlite://",
        "admin_user": "admin",
        "admin_password": ADMIN_PASSWORD,
        "dev": False,
        "audit_key_path": str(Path(tempfile.mkdtemp(prefix="clearline-audit-")) / "audit.key"),
    }
    values.update(kw)
    return HubSettings(**values)


@dataclass
class Api:
    """A running test app with helpers to act as any role."""

    app: FastAPI
    client: TestClient
    engine: Engine
    clock: ManualClock
    _keys: dict[tuple[Role, str], dict[str, str]] = field(default_factory=dict)

    def as_role(self, role: Role, enterprise: str = "") -> dict[str, str]:
        """Return headers carrying an API key of ``role`` (made on first use)."""
        if role is Role.FILER and not enterprise:
            enterprise = "E1"
        cache = (role, enterprise)
        if cache not in self._keys:
            with Session(self.engine) as session:
                name = f"{role.value}-{enterprise or 'x'}-{uuid.uuid4().hex[:6]}"
                _key, secret = users.create_api_key(
                    session, name, role, self.clock.now(), enterprise
                )
            self._keys[cache] = {"X-API-Key": secret}
        return self._keys[cache]

    def add_user(self, name: str, role: Role, password: str, enterprise: str = "") -> None:
        """Store a user with a password."""
        with Session(self.engine) as session:
            users.create_user(
                session,
                UserCreate(name=name, role=role, password=password, enterprise=enterprise),
                self.clock.now(),
            )

    def login(self, name: str, password: str) -> dict[str, str]:
        """Log in over HTTP and return bearer headers."""
        r = self.client.post("/api/v1/auth/token", data={"username": name, "password": password})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def api_engine() -> Iterator[Engine]:
    """An empty in-memory SQLite database."""
    engine = make_engine("sqlite://")
    yield engine
    engine.dispose()


@pytest.fixture
def api(api_engine: Engine) -> Iterator[Api]:
    """The hub app on an in-memory database, with a clock the test drives."""
    clock = ManualClock(T0)
    app = create_app(hub_settings(), engine=api_engine, clock=clock)
    with TestClient(app) as client:
        yield Api(app, client, api_engine, clock)


def ceb_file(message_type: str, records: list[Declaration] | list[Receipt]) -> bytes:
    """Return a CEB XML message holding ``records``."""
    buffer = io.BytesIO()
    write_ceb(buffer, message_type, records)
    return buffer.getvalue()


def decl_json(n: int, ebc: str = "3301960002", **kw: Any) -> dict[str, Any]:
    """A CEB621 inventory as the JSON body of POST /api/v1/declarations."""
    body: dict[str, Any] = {
        "kind": "inventory",
        "message_type": "CEB621",
        "business_key": f"AG001:COP{n:08d}",
        "order_no": f"ORD{n:08d}",
        "logistics_no": f"YT{n:010d}",
        "invt_no": f"INV{n:08d}",
        "cop_no": f"COP{n:08d}",
        "ebp_code": "EBP0001",
        "ebc_code": ebc,
        "agent_code": "AG001",
        "logistics_code": "LOG01",
        "trade_mode": "9610",
        "ie_flag": "I",
        "buyer_id_type": "1",
        "buyer_id_number": "110101199003071234",
        "buyer_name": "张三",
        "buyer_telephone": "13800138000",
        "goods_value": "190.00000",
        "freight": "10.00000",
        "currency": "142",
        "gross_weight_kg": "1.20000",
        "lines": [
            {
                "gnum": 1,
                "hs_code": "6109100021",
                "name": "棉制针织T恤衫",
                "qty": "2",
                "price": "95.00000",
                "total_price": "190.00000",
                "currency": "142",
            }
        ],
        "extra": {"customsCode": "2991"},
    }
    body.update(kw)
    return body
