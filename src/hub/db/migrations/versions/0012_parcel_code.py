"""The further codes a parcel pass was read with, so a trace by any of its labels finds it.

``parcel_code`` holds (code, parcel_key, site) for every normalised code of a pass other than
its ``parcel.parcel_code`` (a parcel with two labels is filed under the first). Existing
passes are filled from ``parcel.codes`` by the next refresh of each pass; ``clearline hub
db upgrade`` does not rewrite old rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``parcel_code`` keyed by (code, parcel_key)."""
    if "parcel_code" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "parcel_code",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("parcel_key", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("code", "parcel_key"),
    )


def downgrade() -> None:
    """Drop ``parcel_code`` (traces by a second label no longer find their pass)."""
    op.drop_table("parcel_code")
