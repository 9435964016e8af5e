"""New declarations get their sync change number from the import, not from a row trigger.

On SQLite a row trigger on ``declaration`` cost more than the rest of an imported row
together; the import store (:mod:`hub.importing.store`), the one writer of new
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

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The insert trigger of revision 0001 that this revision drops, per dialect.
INSERT_TRIGGER_SQL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS sync_change_insert AFTER INSERT ON declaration "
        "BEGIN DELETE FROM sync_change WHERE declaration_id = NEW.id; "
        "INSERT INTO sync_change (declaration_id) VALUES (NEW.id); END",
    ),
    "postgresql": (
        "DROP TRIGGER IF EXISTS sync_change_insert ON declaration",
        "CREATE TRIGGER sync_change_insert AFTER INSERT ON declaration "
        "REFERENCING NEW TABLE AS changed_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION clearline_sync_record()",
    ),
}


def upgrade() -> None:
    """Drop the insert trigger that numbered new declarations."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_insert ON declaration"))
    else:
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_insert"))


def downgrade() -> None:
    """Put the insert trigger back."""
    name = op.get_bind().dialect.name
    for statement in INSERT_TRIGGER_SQL.get(name, ()):
        op.execute(sa.text(statement))
