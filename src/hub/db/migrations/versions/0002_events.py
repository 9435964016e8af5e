"""Edge events, the per-parcel projection and inspector verdicts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

#: A UTC timestamp column (the models read it back timezone-aware).
UTCDateTime = sa.DateTime(timezone=True)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "event",
    "parcel",
    "verdict",
)


def _table(name: str, *items: Any, **kw: Any) -> None:
    """Create table ``name`` unless it exists already."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *items, **kw)


def _index(name: str, table: str, columns: list[str], unique: bool) -> None:
    """Create index ``name`` unless it exists already."""
    known = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}
    if name not in known:
        op.create_index(name, table, columns, unique=unique)


def upgrade() -> None:
    """Create the event, parcel and verdict tables."""
    _table(
        "event",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("parcel_code", sa.String(length=64), nullable=True),
        sa.Column("parcel_key", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    _index("ix_event_kind", "event", ["kind"], unique=False)
    _index("ix_event_parcel_code", "event", ["parcel_code"], unique=False)
    _index("ix_event_parcel_key_at", "event", ["parcel_key", "at"], unique=False)
    _index("ix_event_site_at", "event", ["site", "at"], unique=False)

    _table(
        "parcel",
        sa.Column("parcel_key", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("parcel_code", sa.String(length=64), nullable=True),
        sa.Column("first_seen", UTCDateTime, nullable=True),
        sa.Column("last_event_at", UTCDateTime, nullable=True),
        sa.Column("codes", sa.JSON(), nullable=False),
        sa.Column("read_status", sa.String(length=16), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("weight_stable", sa.Boolean(), nullable=True),
        sa.Column("xray", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("rule_set_version", sa.String(length=64), nullable=True),
        sa.Column("declaration_kind", sa.String(length=32), nullable=True),
        sa.Column("declaration_key", sa.String(length=128), nullable=True),
        sa.Column("chute", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("confirmed_chute", sa.Integer(), nullable=True),
        sa.Column("confirmed_status", sa.String(length=32), nullable=True),
        sa.Column("confirmed_at", UTCDateTime, nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("parcel_key"),
    )
    _index("ix_parcel_edge_id", "parcel", ["edge_id"], unique=False)
    _index("ix_parcel_item_id", "parcel", ["item_id"], unique=False)
    _index("ix_parcel_outcome_first_seen", "parcel", ["outcome", "first_seen"], unique=False)
    _index("ix_parcel_parcel_code", "parcel", ["parcel_code"], unique=False)
    _index("ix_parcel_site_first_seen", "parcel", ["site", "first_seen"], unique=False)

    _table(
        "verdict",
        sa.Column("verdict_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("parcel_code", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("inspector", sa.String(length=64), nullable=False),
        sa.Column("why", sa.String(length=1000), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("verdict_id"),
    )
    _index("ix_verdict_at", "verdict", ["at"], unique=False)
    _index("ix_verdict_parcel_code", "verdict", ["parcel_code"], unique=False)


def downgrade() -> None:
    """Drop the tables of this revision."""
    for name in reversed(TABLES):
        op.drop_table(name)
