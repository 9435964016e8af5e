"""A page language per user: ``app_user.language`` ('' when the user chose none).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``app_user.language`` (VARCHAR(8), not null, default '')."""
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("app_user")}
    if "language" in columns:
        return
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Drop ``app_user.language``."""
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("language")
