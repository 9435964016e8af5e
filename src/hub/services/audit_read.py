"""The audit log as people read it: newest first, by action, a page at a time."""

from __future__ import annotations

from sqlmodel import Session, col, select

from hub.db.audit_models import AuditEntry

#: Most rows on one page.
MAX_ROWS = 200


def latest(
    session: Session, *, before: int = 0, action: str = "", limit: int = 100
) -> list[AuditEntry]:
    """Up to ``limit`` rows, newest first, older than ``before`` (0: from the end), of
    ``action`` when given (a prefix ending in ``_`` or ``.`` takes the whole family)."""
    stmt = select(AuditEntry)
    if before > 0:
        stmt = stmt.where(col(AuditEntry.seq) < before)
    if action.endswith(("_", ".")):
        stmt = stmt.where(col(AuditEntry.action).startswith(action))
    elif action:
        stmt = stmt.where(col(AuditEntry.action) == action)
    stmt = stmt.order_by(col(AuditEntry.seq).desc()).limit(max(1, min(limit, MAX_ROWS)))
    return list(session.exec(stmt))
