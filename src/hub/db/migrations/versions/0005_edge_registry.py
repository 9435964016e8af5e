"""The registry of enrolled edges (signing keys, broker users, bound API keys) and trust alarms.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

#: A UTC timestamp column (the models read it back timezone-aware).
UTCDateTime = sa.DateTime(timezone=True)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    """Create the edge_registry and trust_alarm tables."""
    _table(
        "edge_registry",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("previous_key", sa.String(length=64), nullable=True),
        sa.Column("previous_until", UTCDateTime, nullable=True),
        sa.Column("broker_user", sa.String(length=64), nullable=False),
        sa.Column("broker_hash", sa.String(length=200), nullable=False),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("devices", sa.String(length=2000), nullable=False),
        sa.Column("enrolled_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("edge_id"),
        sa.UniqueConstraint("broker_user"),
    )
    _index("ix_edge_registry_api_key_id", "edge_registry", ["api_key_id"], unique=False)
    _table(
        "trust_alarm",
        sa.Column("alarm_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("alarm_id"),
    )
    _index("ix_trust_alarm_at", "trust_alarm", ["at"], unique=False)


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("trust_alarm")
    op.drop_table("edge_registry")
