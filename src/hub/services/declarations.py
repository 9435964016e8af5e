"""Declarations: filing (JSON or files), listing with filters, one with its history.

A filer (a principal bound to an enterprise code) sees the declarations that name its
enterprise as e-commerce company, platform, declaring agent or logistics company, and
files only as that enterprise: every enterprise code a record carries must be its own.
Receipts set a declaration's customs status only when they come through the customs
channel (the ``customs`` role here; ``clearline import`` on the hub's host); any other
caller's receipts are stored as information.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from contracts.clock import Clock
from hub.db.auth_models import Role
from hub.db.models import DeclarationLineRow, DeclarationRow, ReceiptRow, StatusHistoryRow
from hub.db.notice_models import NoticeRow
from hub.importing.importer import FileReport, import_records
from hub.services.auth import Principal
from hub.services.errors import Invalid, NotFound
from inspection.formats import detect_format, read_records
from inspection.formats.detect import HEAD_BYTES
from inspection.model import (
    Declaration,
    DocKind,
    FormatError,
    Notice,
    ParsedRecord,
    Receipt,
    RecordError,
)

log = logging.getLogger(__name__)

#: Columns that name an enterprise a filer may own a declaration through.
OWNER_COLUMNS = ("ebc_code", "ebp_code", "agent_code", "logistics_code")
#: The customs message field of each enterprise column, for the import report.
OWNER_FIELDS = {
    "ebc_code": "ebcCode",
    "ebp_code": "ebpCode",
    "agent_code": "agentCode",
    "logistics_code": "logisticsCode",
}

#: Notices only customs sends (an enterprise's copy would give quota back or raise alarms).
CUSTOMS_NOTICES = frozenset({"CEB624", "CEB626", "CEB900"})
#: Largest page of a list.
MAX_LIMIT = 500


def _codes(values: Iterable[str]) -> set[str]:
    return {v.strip().upper() for v in values if v and v.strip()}


def declaration_owned(principal: Principal, decl: Declaration | DeclarationRow) -> bool:
    """Return whether ``principal`` may see and file ``decl`` (always, unless a filer)."""
    if not principal.is_filer:
        return True
    return principal.enterprise.upper() in _codes(getattr(decl, c) for c in OWNER_COLUMNS)


def owner_clause(principal: Principal) -> ColumnElement[bool] | None:
    """Return the SQL condition restricting declarations to the filer's enterprise."""
    if not principal.is_filer:
        return None
    code = principal.enterprise.upper()
    return or_(*(func.upper(getattr(DeclarationRow, c)) == code for c in OWNER_COLUMNS))


def _stored(session: Session, kind: str, key: str) -> DeclarationRow | None:
    return session.exec(
        select(DeclarationRow).where(
            DeclarationRow.kind == kind, DeclarationRow.business_key == key
        )
    ).first()


def foreign_enterprise(principal: Principal, decl: Declaration) -> RecordError | None:
    """Return why a filer may not file ``decl`` in its own name, or None when it may.

    Every enterprise code the record carries must be the filer's, and at least one must
    name it; the error names the first other field and its value.
    """
    code = principal.enterprise.upper()
    for column in OWNER_COLUMNS:
        value = (getattr(decl, column) or "").strip()
        if value and value.upper() != code:
            reason = (
                f"{OWNER_FIELDS[column]} {value!r} is not enterprise {code}: a filer files "
                "only as the declaring enterprise"
            )
            return RecordError(0, column, reason)
    if not declaration_owned(principal, decl):
        return RecordError(0, "ebc_code", f"the declaration does not name enterprise {code}")
    return None


def _guard(
    records: Iterable[ParsedRecord], principal: Principal, session: Session
) -> Iterator[ParsedRecord]:
    """Turn records this caller may not file into rejections; pass the rest through."""
    if principal.role is Role.CUSTOMS:
        yield from _customs_guard(records)
        return
    if not principal.is_filer:
        yield from records
        return
    code = principal.enterprise.upper()
    for rec in records:
        item = rec.item
        if isinstance(item, Declaration):
            refused = foreign_enterprise(principal, item)
            if refused is not None:
                error = RecordError(rec.index, refused.field, refused.reason)
                yield ParsedRecord(rec.index, error)
                continue
            existing = _stored(session, item.kind.value, item.business_key)
            if existing is not None and not declaration_owned(principal, existing):
                reason = "this business key belongs to another enterprise's declaration"
                yield ParsedRecord(rec.index, RecordError(rec.index, "business_key", reason))
                continue
        elif isinstance(item, Notice) and item.message_type in CUSTOMS_NOTICES:
            reason = f"{item.message_type} is customs' answer; only the customs channel files it"
            yield ParsedRecord(rec.index, RecordError(rec.index, "message_type", reason))
            continue
        elif isinstance(item, Receipt):
            existing = _stored(session, item.kind.value, item.business_key)
            if existing is None or not declaration_owned(principal, existing):
                reason = f"no declaration of enterprise {code} has this business key"
                yield ParsedRecord(rec.index, RecordError(rec.index, "business_key", reason))
                continue
        yield rec


def _customs_guard(records: Iterable[ParsedRecord]) -> Iterator[ParsedRecord]:
    """The customs channel files receipts; a declaration in its files is refused."""
    for rec in records:
        if isinstance(rec.item, Declaration):
            reason = "the customs channel files receipts, not declarations"
            yield ParsedRecord(rec.index, RecordError(rec.index, "message_type", reason))
            continue
        yield rec


def from_customs(principal: Principal) -> bool:
    """Whether receipts filed by ``principal`` come through the customs channel."""
    return principal.role is Role.CUSTOMS


def _warned(report: FileReport, principal: Principal) -> FileReport:
    """Log, as a warning, receipts kept as information and records refused to a filer."""
    if report.receipts_information:
        log.warning(
            "%s receipt(s) from %s (role %s) stored as information: only customs sets a status",
            report.receipts_information,
            principal.name,
            principal.role.value,
        )
    foreign = sum(1 for r in report.rejections if r.field in OWNER_COLUMNS)
    if principal.is_filer and foreign:
        log.warning(
            "%s record(s) from filer %s refused: they name another enterprise",
            foreign,
            principal.name,
        )
    return report


def import_stream(
    session: Session,
    principal: Principal,
    stream: BinaryIO,
    source: str,
    clock: Clock,
    *,
    claimed_format: str | None = None,
) -> FileReport:
    """Import one uploaded file (format detected from its content) as ``principal``."""
    try:
        fmt = detect_format(stream.read(HEAD_BYTES), source, claimed_format)
        stream.seek(0)
        records = read_records(stream, fmt, source)
    except FormatError as err:
        return FileReport(file=source, error=str(err))
    guarded = _guard(records, principal, session)
    report = import_records(
        session,
        guarded,
        source=source,
        format_label=fmt.label,
        clock=clock,
        customs=from_customs(principal),
    )
    return _warned(report, principal)


def import_items(
    session: Session,
    principal: Principal,
    items: Sequence[Declaration | Receipt],
    source: str,
    clock: Clock,
) -> FileReport:
    """Import declarations or receipts given as JSON, as ``principal``."""
    records = [ParsedRecord(i, item) for i, item in enumerate(items, start=1)]
    guarded = _guard(records, principal, session)
    report = import_records(
        session,
        guarded,
        source=source,
        format_label="json",
        clock=clock,
        customs=from_customs(principal),
    )
    return _warned(report, principal)


def file_one(
    session: Session, principal: Principal, decl: Declaration, clock: Clock
) -> tuple[FileReport, DeclarationRow]:
    """File one declaration; return the report and the stored row.

    Raises :class:`Invalid` naming the field when the declaration is refused.
    """
    report = import_items(session, principal, [decl], "api", clock)
    if report.rejections:
        first = report.rejections[0]
        raise Invalid(first.reason, field=first.field)
    row = _stored(session, decl.kind.value, decl.business_key)
    if row is None:
        raise Invalid("the declaration was not stored", field="")
    return report, row


@dataclass(frozen=True, slots=True)
class DeclarationFilter:
    """What a declaration list is narrowed to; empty fields do not narrow."""

    kind: DocKind | None = None
    trade_mode: str = ""
    enterprise: str = ""
    customs_status: int | None = None
    code: str = ""


def list_declarations(
    session: Session, principal: Principal, flt: DeclarationFilter, offset: int, limit: int
) -> tuple[list[DeclarationRow], int]:
    """Return one page of declarations visible to ``principal`` (newest change first) and
    the total matching."""
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    conds: list[ColumnElement[bool]] = []
    owner = owner_clause(principal)
    if owner is not None:
        conds.append(owner)
    if flt.kind is not None:
        conds.append(col(DeclarationRow.kind) == flt.kind.value)
    if flt.trade_mode:
        conds.append(col(DeclarationRow.trade_mode) == flt.trade_mode)
    if flt.enterprise:
        code = flt.enterprise.strip().upper()
        conds.append(or_(*(getattr(DeclarationRow, c) == code for c in OWNER_COLUMNS)))
    if flt.customs_status is not None:
        conds.append(col(DeclarationRow.customs_status) == flt.customs_status)
    if flt.code:
        code = flt.code.strip()
        conds.append(
            or_(
                col(DeclarationRow.business_key) == code,
                col(DeclarationRow.order_no) == code,
                col(DeclarationRow.logistics_no) == code,
                col(DeclarationRow.invt_no) == code,
                col(DeclarationRow.cop_no) == code,
            )
        )
    total = session.exec(select(func.count()).select_from(DeclarationRow).where(*conds)).one()
    rows = session.exec(
        select(DeclarationRow)
        .where(*conds)
        .order_by(col(DeclarationRow.updated_at).desc(), col(DeclarationRow.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)


@dataclass(frozen=True, slots=True)
class DeclarationRecord:
    """One declaration with its goods lines, status history and receipts."""

    row: DeclarationRow
    lines: list[DeclarationLineRow]
    history: list[StatusHistoryRow]
    receipts: list[ReceiptRow]
    notices: list[NoticeRow] = field(default_factory=list)  # CEB513, CEB623-626 about it

    def extra(self) -> dict[str, str]:
        """Return the extra source fields."""
        value: Any = json.loads(self.row.extra or "{}")
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def get_declaration(
    session: Session, principal: Principal, declaration_id: uuid.UUID
) -> DeclarationRecord:
    """Return one declaration visible to ``principal``; raise NotFound otherwise."""
    row = session.get(DeclarationRow, declaration_id)
    if row is None or not declaration_owned(principal, row):
        raise NotFound(f"no declaration {declaration_id}")
    lines = session.exec(
        select(DeclarationLineRow)
        .where(DeclarationLineRow.declaration_id == declaration_id)
        .order_by(col(DeclarationLineRow.gnum))
    ).all()
    history = session.exec(
        select(StatusHistoryRow)
        .where(StatusHistoryRow.declaration_id == declaration_id)
        .order_by(col(StatusHistoryRow.at), col(StatusHistoryRow.id))
    ).all()
    receipts = session.exec(
        select(ReceiptRow)
        .where(ReceiptRow.declaration_id == declaration_id)
        .order_by(col(ReceiptRow.received_at), col(ReceiptRow.id))
    ).all()
    notices = session.exec(
        select(NoticeRow)
        .where(NoticeRow.declaration_id == declaration_id)
        .order_by(col(NoticeRow.received_at), col(NoticeRow.id))
    ).all()
    return DeclarationRecord(
        row, list(lines), with_filing(row, list(history)), list(receipts), list(notices)
    )


def with_filing(row: DeclarationRow, history: list[StatusHistoryRow]) -> list[StatusHistoryRow]:
    """Return ``history`` with the filing first: a declaration never amended keeps its
    filing in its own row (the import writes a ``filed`` history row on first amendment)."""
    if any(h.event == "filed" for h in history):
        return history
    filing = StatusHistoryRow(
        id=uuid.uuid5(row.id, "filed"),
        declaration_id=row.id,
        at=row.created_at,
        event="filed",
        content_hash=row.content_hash,
        source_file=row.source_file,
    )
    return [filing, *history]


def save_upload(stream: BinaryIO, target: Path, max_bytes: int) -> int:
    """Copy an upload to ``target`` in 1 MiB chunks; return its size in bytes.

    Raises :class:`Invalid` when it is larger than ``max_bytes``.
    """
    size = 0
    with target.open("wb") as out:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise Invalid(f"the file is larger than {max_bytes} bytes", field="files")
            out.write(chunk)
    return size
