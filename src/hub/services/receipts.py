"""Customs receipts: listing with filters (filers see receipts of their own declarations)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from hub.db.models import DeclarationRow, ReceiptRow
from hub.services.auth import Principal
from hub.services.declarations import MAX_LIMIT, owner_clause
from hub.services.errors import Invalid


@dataclass(frozen=True, slots=True)
class ReceiptFilter:
    """What a receipt list is narrowed to; empty fields do not narrow."""

    business_key: str = ""
    return_status: int | None = None
    declaration_id: uuid.UUID | None = None
    pending: bool | None = None  # True: not yet linked to a declaration


def list_receipts(
    session: Session, principal: Principal, flt: ReceiptFilter, offset: int, limit: int
) -> tuple[list[ReceiptRow], int]:
    """Return one page of receipts visible to ``principal`` (newest first) and the total."""
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    conds: list[ColumnElement[bool]] = []
    owner = owner_clause(principal)
    if owner is not None:
        conds.append(owner)
    if flt.business_key:
        conds.append(col(ReceiptRow.business_key) == flt.business_key.strip())
    if flt.return_status is not None:
        conds.append(col(ReceiptRow.return_status) == flt.return_status)
    if flt.declaration_id is not None:
        conds.append(col(ReceiptRow.declaration_id) == flt.declaration_id)
    if flt.pending is not None:
        linked = col(ReceiptRow.declaration_id)
        conds.append(linked.is_(None) if flt.pending else linked.is_not(None))
    base = select(ReceiptRow)
    count = select(func.count()).select_from(ReceiptRow)
    if owner is not None:
        join_on = col(DeclarationRow.id) == col(ReceiptRow.declaration_id)
        base = base.join(DeclarationRow, join_on)
        count = count.join(DeclarationRow, join_on)
    total = session.exec(count.where(*conds)).one()
    rows = session.exec(
        base.where(*conds)
        .order_by(col(ReceiptRow.received_at).desc(), col(ReceiptRow.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), int(total)
