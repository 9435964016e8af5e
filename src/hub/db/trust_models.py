"""Hub tables of the trust boundary: the registry of enrolled edges and the trust alarms."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime, table_of


def _time(nullable: bool = True, index: bool = False) -> Any:
    """A UTC timestamp column."""
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


class EdgeRegistryRow(SQLModel, table=True):
    """One enrolled edge: its public signing key, broker user and bound API key.

    ``previous_key`` stays valid until ``previous_until`` after a rotation, so events signed
    with the old key and still in the edge's outbox are accepted while the new key rolls out.
    """

    __tablename__ = "edge_registry"

    edge_id: str = Field(primary_key=True, max_length=64)
    site: str = Field(max_length=64)
    public_key: str = Field(max_length=64)
    previous_key: str | None = Field(default=None, max_length=64)
    previous_until: datetime | None = _time()
    broker_user: str = Field(max_length=64, unique=True)
    broker_hash: str = Field(max_length=200)
    api_key_id: uuid.UUID | None = Field(default=None, index=True)
    devices: str = Field(default="", max_length=2000)
    enrolled_at: datetime = _time(nullable=False)
    revoked_at: datetime | None = _time()


class TrustAlarmRow(SQLModel, table=True):
    """A message refused at the trust boundary (forged, foreign, unsigned or conflicting)."""

    __tablename__ = "trust_alarm"

    alarm_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    at: datetime = _time(nullable=False, index=True)
    site: str = Field(max_length=64)
    edge_id: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    event_id: str | None = Field(default=None, max_length=64)
    detail: str = Field(default="", max_length=1000)


EDGE_REGISTRY: Table = table_of(EdgeRegistryRow)
TRUST_ALARM: Table = table_of(TrustAlarmRow)
