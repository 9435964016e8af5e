"""Hub tables for edge events, the per-parcel projection built from them, and verdicts."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Table
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime, table_of


def _time(nullable: bool = True, index: bool = False) -> Any:
    """A UTC timestamp column."""
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


def _json(factory: Callable[[], Any]) -> Any:
    """A JSON column (a dict or list made by ``factory`` by default)."""
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class EventRow(SQLModel, table=True):
    """One edge event, stored exactly once under its ``event_id``.

    ``parcel_key`` names the parcel projection the event feeds (see ``hub.ingest.projection``);
    it is empty for events about no parcel (device state, site alarms).
    """

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_parcel_key_at", "parcel_key", "at"),
        Index("ix_event_site_at", "site", "at"),
    )

    event_id: uuid.UUID = Field(primary_key=True)
    site: str = Field(max_length=64)
    edge_id: str = Field(max_length=64)
    kind: str = Field(max_length=32, index=True)
    at: datetime = _time(nullable=False)
    item_id: int | None = Field(default=None, sa_type=BigInteger())
    parcel_code: str | None = Field(default=None, max_length=64, index=True)
    parcel_key: str = Field(default="", max_length=200)
    data: dict[str, Any] = _json(dict)
    received_at: datetime = _time(nullable=False)


class ParcelRow(SQLModel, table=True):
    """What the hub knows about one parcel pass, folded from its events in time order.

    Keyed by ``site/edge_id/item_id`` (a pass on a sorting line) or ``site/code/CODE`` (a
    manual desk, no PLC item id). Weights in kg, latency in milliseconds, times in UTC.
    """

    __tablename__ = "parcel"
    __table_args__ = (
        Index("ix_parcel_site_first_seen", "site", "first_seen"),
        Index("ix_parcel_outcome_first_seen", "outcome", "first_seen"),
    )

    parcel_key: str = Field(primary_key=True, max_length=200)
    site: str = Field(max_length=64)
    edge_id: str = Field(default="", max_length=64, index=True)
    item_id: int | None = Field(default=None, sa_type=BigInteger(), index=True)
    parcel_code: str | None = Field(default=None, max_length=64, index=True)
    first_seen: datetime | None = _time()
    last_event_at: datetime | None = _time()
    codes: list[str] = _json(list)
    read_status: str | None = Field(default=None, max_length=16)
    weight_kg: float | None = None
    weight_stable: bool | None = None
    xray: str | None = Field(default=None, max_length=32)
    outcome: str | None = Field(default=None, max_length=16)
    reasons: list[str] = _json(list)
    rule_set_version: str | None = Field(default=None, max_length=64)
    declaration_kind: str | None = Field(default=None, max_length=32)
    declaration_key: str | None = Field(default=None, max_length=128)
    chute: int | None = None
    decided_at: datetime | None = _time()
    latency_ms: float | None = None
    confirmed_chute: int | None = None
    confirmed_status: str | None = Field(default=None, max_length=32)
    confirmed_at: datetime | None = _time()
    event_count: int = 0
    updated_at: datetime | None = _time()


class ParcelCodeRow(SQLModel, table=True):
    """A further code a parcel pass was read with (a label beyond its ``parcel_code``).

    A parcel with two labels (a multi-read) is filed under its first code; this row lets a
    trace by the second label find the same pass. Codes are normalised (no AIM prefix).
    """

    __tablename__ = "parcel_code"

    code: str = Field(primary_key=True, max_length=64)
    parcel_key: str = Field(primary_key=True, max_length=200)
    site: str = Field(max_length=64)


class VerdictRow(SQLModel, table=True):
    """An inspector's verdict as recorded by the hub, and whether it reached the broker."""

    __tablename__ = "verdict"

    verdict_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    site: str = Field(max_length=64)
    parcel_code: str = Field(max_length=64, index=True)
    item_id: int | None = Field(default=None, sa_type=BigInteger())
    verdict: str = Field(max_length=16)
    category: str = Field(default="", max_length=64)
    inspector: str = Field(max_length=64)
    why: str = Field(default="", max_length=1000)
    at: datetime = _time(nullable=False, index=True)
    published_at: datetime | None = _time()


EVENT: Table = table_of(EventRow)
PARCEL: Table = table_of(ParcelRow)
PARCEL_CODE: Table = table_of(ParcelCodeRow)
VERDICT: Table = table_of(VerdictRow)


def create_event_tables(engine: Engine) -> None:
    """Create the event, parcel and verdict tables (and the declaration tables) if missing."""
    from hub.db.engine import create_tables

    create_tables(engine)
