"""Threat image projection (TIP): the fictional threats shown to inspectors and their answers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

#: A UTC timestamp column (the models read it back timezone-aware).
UTCDateTime = sa.DateTime(timezone=True)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _index(name: str, table: str, columns: list[str]) -> None:
    """Create index ``name`` unless it exists already."""
    known = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}
    if name not in known:
        op.create_index(name, table, columns, unique=False)


def upgrade() -> None:
    """Create the tip_projection table."""
    if not sa.inspect(op.get_bind()).has_table("tip_projection"):
        op.create_table(
            "tip_projection",
            sa.Column("tip_id", sa.Uuid(), nullable=False),
            sa.Column("image_id", sa.Uuid(), nullable=False),
            sa.Column("inspector", sa.String(length=64), nullable=False),
            sa.Column("threat", sa.String(length=64), nullable=False),
            sa.Column("library_file", sa.String(length=200), nullable=False),
            sa.Column("path", sa.String(length=400), nullable=False),
            sa.Column("box_x", sa.Integer(), nullable=False),
            sa.Column("box_y", sa.Integer(), nullable=False),
            sa.Column("box_w", sa.Integer(), nullable=False),
            sa.Column("box_h", sa.Integer(), nullable=False),
            sa.Column("shown_at", UTCDateTime, nullable=False),
            sa.Column("answered_at", UTCDateTime, nullable=True),
            sa.Column("answer", sa.String(length=16), nullable=True),
            sa.Column("hit", sa.Boolean(), nullable=True),
            sa.PrimaryKeyConstraint("tip_id"),
        )
    _index("ix_tip_projection_image", "tip_projection", ["image_id", "inspector"])
    _index("ix_tip_projection_shown_at", "tip_projection", ["shown_at"])
    _index("ix_tip_projection_answered_at", "tip_projection", ["answered_at"])


def downgrade() -> None:
    """Drop the tip_projection table."""
    op.drop_table("tip_projection")
