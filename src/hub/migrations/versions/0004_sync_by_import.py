"""New declarations get their sync change number from the import, not from a row trigger.

On SQLite a row trigger on ``declaration`` cost more than the rest of an imported row
together; the import store (:mod:`hub.import_store`), the one writer of new
declarations, now inserts their ``sync_change`` rows in bulk in the same transaction.
Updates keep their trigger.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from hub.sync_models import SYNC_TRIGGER_SQL

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop the insert trigger that numbered new declarations."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_insert ON declaration"))
    else:
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_insert"))


def downgrade() -> None:
    """Put the insert trigger back."""
    name = op.get_bind().dialect.name
    for statement in SYNC_TRIGGER_SQL.get(name, ()):
        if "sync_change_insert" in statement:
            op.execute(sa.text(statement))
