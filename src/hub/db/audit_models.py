"""Hub tables of the append-only, HMAC-chained audit log and its head pointer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from hub.db.models import UTCDateTime

#: ``prev_hash`` of the first audit row.
GENESIS_HASH = "0" * 64


class AuditEntryPublic(SQLModel):
    """One audit row as returned by the API."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    subject: str
    why: str
    data: str
    prev_hash: str
    hash: str


class AuditEntry(SQLModel, table=True):
    """One audited action: who, when, what, on what, why; chained by ``prev_hash``.

    ``hash`` is the HMAC-SHA256, keyed with the audit key kept outside the database, of
    the canonical JSON of every other field (see hub.services.audit).
    """

    __tablename__ = "audit_log"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    actor: str = Field(max_length=64)
    role: str = Field(max_length=32)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=200, index=True)
    why: str = Field(default="", sa_type=Text())
    data: str = Field(default="{}", sa_type=Text())
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64, unique=True)


class AuditHead(SQLModel, table=True):
    """The single row that names the newest audit entry; appends lock it to serialise."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger())
    hash: str = Field(default=GENESIS_HASH, max_length=64)
    legacy_seq: int | None = Field(
        default=None,
        sa_type=BigInteger(),
        description="Rows 1..legacy_seq were chained with plain SHA-256 before the key.",
    )
