"""Initial hub tables: declarations and receipts, users and keys, audit log, rules, sync.

Tables that exist already (made by ``hub.db.engine.create_tables`` before the hub first ran)
are kept as they are; the triggers, the audit head row and the sync backfill are added.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: A UTC timestamp column (the models read it back timezone-aware).
UTCDateTime = sa.DateTime(timezone=True)

#: The append-only triggers of ``audit_log`` as of this revision, per dialect.
GUARD_SQL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ),
    "postgresql": (
        "CREATE OR REPLACE FUNCTION clearline_audit_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP; END $$",
        "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION clearline_audit_append_only()",
        "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION clearline_audit_append_only()",
    ),
}

#: The triggers that number changed declarations in ``sync_change``, as of this revision.
SYNC_TRIGGER_SQL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        "CREATE TRIGGER IF NOT EXISTS sync_change_insert AFTER INSERT ON declaration "
        "BEGIN DELETE FROM sync_change WHERE declaration_id = NEW.id; "
        "INSERT INTO sync_change (declaration_id) VALUES (NEW.id); END",
        "CREATE TRIGGER IF NOT EXISTS sync_change_update AFTER UPDATE ON declaration "
        "BEGIN DELETE FROM sync_change WHERE declaration_id = NEW.id; "
        "INSERT INTO sync_change (declaration_id) VALUES (NEW.id); END",
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

TABLES = (
    "declaration",
    "declaration_line",
    "receipt",
    "status_history",
    "app_user",
    "api_key",
    "auth_token",
    "audit_log",
    "audit_head",
    "rule_version",
    "sync_change",
)


def _table(name: str, *items: Any, **kw: Any) -> None:
    """Create table ``name`` unless it exists already."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *items, **kw)


def _index(name: str, table: str, columns: list[str], unique: bool) -> None:
    """Create index ``name`` unless it exists already."""
    known = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}
    if name not in known:
        op.create_index(name, table, columns, unique=unique)


def upgrade() -> None:
    """Create the tables, the append-only and sync triggers, and the audit head row."""
    _table(
        "declaration",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("message_type", sa.String(), nullable=False),
        sa.Column("business_key", sa.String(), nullable=False),
        sa.Column("order_no", sa.String(), nullable=False),
        sa.Column("logistics_no", sa.String(), nullable=False),
        sa.Column("invt_no", sa.String(), nullable=False),
        sa.Column("cop_no", sa.String(), nullable=False),
        sa.Column("pre_no", sa.String(), nullable=False),
        sa.Column("ebp_code", sa.String(), nullable=False),
        sa.Column("ebc_code", sa.String(), nullable=False),
        sa.Column("ebc_name", sa.String(), nullable=False),
        sa.Column("logistics_code", sa.String(), nullable=False),
        sa.Column("agent_code", sa.String(), nullable=False),
        sa.Column("pay_code", sa.String(), nullable=False),
        sa.Column("pay_transaction_id", sa.String(), nullable=False),
        sa.Column("trade_mode", sa.String(), nullable=False),
        sa.Column("ie_flag", sa.String(), nullable=False),
        sa.Column("decl_time", UTCDateTime, nullable=True),
        sa.Column("buyer_id_type", sa.String(), nullable=False),
        sa.Column("buyer_id_number", sa.String(), nullable=False),
        sa.Column("buyer_name", sa.String(), nullable=False),
        sa.Column("buyer_telephone", sa.String(), nullable=False),
        sa.Column("payer_id_type", sa.String(), nullable=False),
        sa.Column("payer_id_number", sa.String(), nullable=False),
        sa.Column("payer_name", sa.String(), nullable=False),
        sa.Column("consignee", sa.String(), nullable=False),
        sa.Column("consignee_telephone", sa.String(), nullable=False),
        sa.Column("consignee_address", sa.String(), nullable=False),
        sa.Column("goods_value", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("freight", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("discount", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("tax_total", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("actural_paid", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("amount_paid", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("gross_weight_kg", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("net_weight_kg", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("sender", sa.String(), nullable=False),
        sa.Column("addressee", sa.String(), nullable=False),
        sa.Column("extra", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("customs_status", sa.Integer(), nullable=True),
        sa.Column("status_time", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "business_key", name="uq_declaration_kind_key"),
    )
    _index("ix_declaration_cop_no", "declaration", ["cop_no"], unique=False)
    _index("ix_declaration_invt_no", "declaration", ["invt_no"], unique=False)
    _index("ix_declaration_logistics_no", "declaration", ["logistics_no"], unique=False)
    _index("ix_declaration_order_no", "declaration", ["order_no"], unique=False)

    _table(
        "declaration_line",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("declaration_id", sa.Uuid(), nullable=False),
        sa.Column("gnum", sa.Integer(), nullable=False),
        sa.Column("hs_code", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("qty", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("price", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("total_price", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("origin", sa.String(), nullable=False),
        sa.Column("net_weight_kg", sa.Numeric(precision=18, scale=5), nullable=True),
        sa.ForeignKeyConstraint(["declaration_id"], ["declaration.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    _index(
        "ix_declaration_line_declaration_id", "declaration_line", ["declaration_id"], unique=False
    )

    _table(
        "receipt",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_type", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("business_key", sa.String(), nullable=False),
        sa.Column("return_status", sa.Integer(), nullable=False),
        sa.Column("return_time", UTCDateTime, nullable=True),
        sa.Column("return_info", sa.String(), nullable=False),
        sa.Column("invt_no", sa.String(), nullable=False),
        sa.Column("order_no", sa.String(), nullable=False),
        sa.Column("logistics_no", sa.String(), nullable=False),
        sa.Column("guid", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("declaration_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["declaration_id"], ["declaration.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_hash"),
    )
    _index("ix_receipt_declaration_id", "receipt", ["declaration_id"], unique=False)
    _index("ix_receipt_kind_key", "receipt", ["kind", "business_key"], unique=False)

    _table(
        "status_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("declaration_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("old_status", sa.Integer(), nullable=True),
        sa.Column("new_status", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("source_file", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["declaration_id"], ["declaration.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("ix_status_history_declaration_id", "status_history", ["declaration_id"], unique=False)

    _table(
        "app_user",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("enterprise", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("ix_app_user_name", "app_user", ["name"], unique=True)

    _table(
        "api_key",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("enterprise", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("ix_api_key_key_hash", "api_key", ["key_hash"], unique=True)
    _index("ix_api_key_name", "api_key", ["name"], unique=True)

    _table(
        "auth_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("ix_auth_token_expires_at", "auth_token", ["expires_at"], unique=False)
    _index("ix_auth_token_token_hash", "auth_token", ["token_hash"], unique=True)
    _index("ix_auth_token_user_id", "auth_token", ["user_id"], unique=False)

    _table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
        sa.UniqueConstraint("prev_hash"),
    )
    _index("ix_audit_log_action", "audit_log", ["action"], unique=False)
    _index("ix_audit_log_subject", "audit_log", ["subject"], unique=False)

    _table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )

    _table(
        "rule_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _index("ix_rule_version_number", "rule_version", ["number"], unique=True)

    _table(
        "sync_change",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("declaration_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["declaration_id"], ["declaration.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("declaration_id"),
        sqlite_autoincrement=True,
    )

    bind = op.get_bind()
    for statement in (
        *GUARD_SQL.get(bind.dialect.name, ()),
        *SYNC_TRIGGER_SQL.get(bind.dialect.name, ()),
    ):
        op.execute(sa.text(statement))
    op.execute(sa.text(SYNC_BACKFILL_SQL))
    if bind.execute(sa.text("SELECT count(*) FROM audit_head")).scalar_one() == 0:
        op.execute(
            sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)").bindparams(
                h="0" * 64
            )
        )


def downgrade() -> None:
    """Drop every table of this revision (and with them their triggers)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_lock ON declaration"))
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_insert ON declaration"))
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_update ON declaration"))
    else:
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_insert"))
        op.execute(sa.text("DROP TRIGGER IF EXISTS sync_change_update"))
    for name in reversed(TABLES):
        op.drop_table(name)
    if bind.dialect.name == "postgresql":
        op.execute(sa.text("DROP FUNCTION IF EXISTS clearline_sync_lock()"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS clearline_sync_record()"))
        op.execute(sa.text("DROP FUNCTION IF EXISTS clearline_audit_append_only()"))
