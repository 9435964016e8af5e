"""Received X-ray images with their review, and manual-inspection results.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

#: A UTC timestamp column (the models read it back timezone-aware).
UTCDateTime = sa.DateTime(timezone=True)

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "xray_image",
    "inspection_result",
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
    """Create the xray_image and inspection_result tables."""
    _table(
        "xray_image",
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("parcel_code", sa.String(length=64), nullable=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("prescreen", sa.JSON(), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=True),
        sa.Column("opened_at", UTCDateTime, nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("verdict_id", sa.Uuid(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("reviewed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("image_id"),
        sa.UniqueConstraint("site", "device_id", "item_id", "sha256", name="uq_xray_image_item"),
    )
    _index("ix_xray_image_parcel_code", "xray_image", ["parcel_code"], unique=False)
    _index("ix_xray_image_reviewed_at", "xray_image", ["reviewed_at"], unique=False)
    _index("ix_xray_image_review", "xray_image", ["verdict", "received_at"], unique=False)
    _index("ix_xray_image_site_item", "xray_image", ["site", "item_id"], unique=False)

    _table(
        "inspection_result",
        sa.Column("result_id", sa.Uuid(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("parcel_code", sa.String(length=64), nullable=False),
        sa.Column("parcel_key", sa.String(length=200), nullable=False),
        sa.Column("result", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("why", sa.String(length=1000), nullable=False),
        sa.Column("inspector", sa.String(length=64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("result_id"),
    )
    _index("ix_inspection_result_at", "inspection_result", ["at"], unique=False)
    _index("ix_inspection_result_parcel_code", "inspection_result", ["parcel_code"], unique=False)


def downgrade() -> None:
    """Drop the tables of this revision."""
    for name in reversed(TABLES):
        op.drop_table(name)
