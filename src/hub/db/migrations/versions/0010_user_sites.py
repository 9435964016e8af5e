"""Many sites on one hub: the sites a user may see, and review deadlines fired once.

``user_site`` limits a user to some sites (no row: every site); ``review_deadline`` holds one
row per X-ray image whose review deadline passed with no verdict, written by the background
job of exactly one hub process.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

#: A UTC timestamp column (the models read it back timezone-aware).
UTCDateTime = sa.DateTime(timezone=True)

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _index(name: str, table: str, columns: list[str]) -> None:
    """Create index ``name`` unless it exists already."""
    known = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}
    if name not in known:
        op.create_index(name, table, columns, unique=False)


def upgrade() -> None:
    """Create ``user_site`` and ``review_deadline`` with their indexes."""
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "user_site" not in tables:
        op.create_table(
            "user_site",
            sa.Column("user_id", sa.Uuid(), nullable=False),
            sa.Column("site", sa.String(length=64), nullable=False),
            sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("user_id", "site"),
        )
    if "review_deadline" not in tables:
        op.create_table(
            "review_deadline",
            sa.Column("image_id", sa.Uuid(), nullable=False),
            sa.Column("site", sa.String(length=64), nullable=False),
            sa.Column("item_id", sa.BigInteger(), nullable=False),
            sa.Column("parcel_code", sa.String(length=64), nullable=True),
            sa.Column("deadline", UTCDateTime, nullable=False),
            sa.Column("deadline_source", sa.String(length=16), nullable=False),
            sa.Column("fired_at", UTCDateTime, nullable=False),
            sa.Column("fired_by", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("image_id"),
        )
    _index("ix_review_deadline_site", "review_deadline", ["site"])
    _index("ix_review_deadline_fired_at", "review_deadline", ["fired_at"])


def downgrade() -> None:
    """Drop ``review_deadline`` and ``user_site``."""
    op.drop_table("review_deadline")
    op.drop_table("user_site")
