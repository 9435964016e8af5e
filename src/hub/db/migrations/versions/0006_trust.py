"""Receipts filed outside the customs channel, and the keyed audit chain.

``receipt.from_customs`` is false for a receipt stored as information only (a filer's):
it never sets a customs status. Receipts stored before this revision keep true.

``audit_head.legacy_seq`` records how many audit rows were chained with plain SHA-256
before the hub had its audit key; the hub seals them with its first keyed row.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_column(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    """Add ``receipt.from_customs`` and ``audit_head.legacy_seq``; mark the unkeyed rows."""
    if not _has_column("receipt", "from_customs"):
        op.add_column(
            "receipt",
            sa.Column("from_customs", sa.Boolean(), nullable=False, server_default=sa.true()),
        )
    if not _has_column("audit_head", "legacy_seq"):
        op.add_column("audit_head", sa.Column("legacy_seq", sa.BigInteger(), nullable=True))
        op.execute(sa.text("UPDATE audit_head SET legacy_seq = seq WHERE seq > 0"))


def downgrade() -> None:
    """Drop the two columns (keyed rows stay; an older hub cannot verify them)."""
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("legacy_seq")
    with op.batch_alter_table("receipt") as batch:
        batch.drop_column("from_customs")
