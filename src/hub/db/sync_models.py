"""Hub table of the sync change sequence: one row per declaration, at its newest change."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Column, Identity, Integer
from sqlmodel import Field, SQLModel


class SyncChange(SQLModel, table=True):
    """The change number of a declaration's newest write.

    The import store inserts a row for every new declaration, in the transaction that
    stores it (migration 0004); a database trigger deletes and re-inserts it on every
    update. So ``seq`` only grows and each declaration appears once, at its latest change.
    """

    __tablename__ = "sync_change"
    __table_args__ = {"sqlite_autoincrement": True}

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            Identity(always=False),
            primary_key=True,
        ),
    )
    declaration_id: uuid.UUID = Field(foreign_key="declaration.id", ondelete="CASCADE", unique=True)


#: Statements that kept ``sync_change`` up to date from ``declaration`` writes, per dialect,
#: as migration 0001 created them; migration 0004 drops the insert triggers.
#: On PostgreSQL a statement-level trigger takes an EXCLUSIVE lock on ``sync_change``
#: before a declaration is written, so change numbers are handed out in commit order and
#: a reader that has seen number N never later finds a smaller number committed.
SYNC_TRIGGER_SQL: dict[str, tuple[str, ...]] = {
    "sqlite": tuple(
        f"CREATE TRIGGER IF NOT EXISTS sync_change_{op.lower()} AFTER {op} ON declaration "
        "BEGIN DELETE FROM sync_change WHERE declaration_id = NEW.id; "
        "INSERT INTO sync_change (declaration_id) VALUES (NEW.id); END"
        for op in ("INSERT", "UPDATE")
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION clearline_sync_lock() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN LOCK TABLE sync_change IN EXCLUSIVE MODE; RETURN NULL; END $$",
        "CREATE OR REPLACE FUNCTION clearline_sync_record() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN "
        "DELETE FROM sync_change s USING changed_rows c WHERE s.declaration_id = c.id; "
        "INSERT INTO sync_change (declaration_id) SELECT id FROM changed_rows; "
        "RETURN NULL; END $$",
        "DROP TRIGGER IF EXISTS sync_change_lock ON declaration",
        "CREATE TRIGGER sync_change_lock BEFORE INSERT OR UPDATE ON declaration "
        "FOR EACH STATEMENT EXECUTE FUNCTION clearline_sync_lock()",
        "DROP TRIGGER IF EXISTS sync_change_insert ON declaration",
        "CREATE TRIGGER sync_change_insert AFTER INSERT ON declaration "
        "REFERENCING NEW TABLE AS changed_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION clearline_sync_record()",
        "DROP TRIGGER IF EXISTS sync_change_update ON declaration",
        "CREATE TRIGGER sync_change_update AFTER UPDATE ON declaration "
        "REFERENCING NEW TABLE AS changed_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION clearline_sync_record()",
    ),
}

#: Backfill for declarations stored before the triggers existed, oldest change first.
SYNC_BACKFILL_SQL = (
    "INSERT INTO sync_change (declaration_id) SELECT d.id FROM declaration d "
    "WHERE NOT EXISTS (SELECT 1 FROM sync_change s WHERE s.declaration_id = d.id) "
    "ORDER BY d.updated_at, d.id"
)
