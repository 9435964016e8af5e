"""X-ray images kept in the database, so every hub process reaches every image.

``xray_blob`` holds the PNG bytes under the image's ``xray_image.path`` when the hub is set to
keep its images in the database (``CLEARLINE_XRAY_STORE=database``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``xray_blob`` (path, site, stored_at, png) with an index on ``stored_at``."""
    if "xray_blob" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "xray_blob",
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("path"),
    )
    op.create_index("ix_xray_blob_stored_at", "xray_blob", ["stored_at"], unique=False)


def downgrade() -> None:
    """Drop ``xray_blob`` (the images it held are gone with it)."""
    op.drop_index("ix_xray_blob_stored_at", table_name="xray_blob")
    op.drop_table("xray_blob")
