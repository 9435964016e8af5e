"""Notices: CEB513 logistics status and CEB623-626 cancellations and returns, kept as filed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

#: A UTC timestamp column (the models read it back timezone-aware).
UTCDateTime = sa.DateTime(timezone=True)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the notice table and its indexes."""
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("notice"):
        op.create_table(
            "notice",
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("message_type", sa.String(), nullable=False),
            sa.Column("business_key", sa.String(), nullable=False),
            sa.Column("invt_no", sa.String(), nullable=False),
            sa.Column("order_no", sa.String(), nullable=False),
            sa.Column("logistics_no", sa.String(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("time", UTCDateTime, nullable=True),
            sa.Column("info", sa.String(), nullable=False),
            sa.Column("fields", sa.Text(), nullable=False),
            sa.Column("content_hash", sa.String(), nullable=False),
            sa.Column("declaration_id", sa.Uuid(), nullable=True),
            sa.Column("received_at", UTCDateTime, nullable=False),
            sa.Column("source_file", sa.String(), nullable=False),
            sa.ForeignKeyConstraint(["declaration_id"], ["declaration.id"], ondelete="SET NULL"),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("content_hash"),
        )
    known = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("notice")}
    if "ix_notice_business_key" not in known:
        op.create_index("ix_notice_business_key", "notice", ["business_key"], unique=False)
    if "ix_notice_declaration_id" not in known:
        op.create_index("ix_notice_declaration_id", "notice", ["declaration_id"], unique=False)


def downgrade() -> None:
    """Drop the notice table."""
    op.drop_table("notice")
