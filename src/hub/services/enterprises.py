"""Enterprises as pages name them: the name declarations give for a code."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from hub.db.models import DeclarationRow


def names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """The e-commerce enterprise name the declarations give for each code (when any does)."""
    wanted = sorted({c for c in codes if c})[:100]
    if not wanted:
        return {}
    stmt = (
        select(DeclarationRow.ebc_code, DeclarationRow.ebc_name)
        .where(col(DeclarationRow.ebc_code).in_(wanted), DeclarationRow.ebc_name != "")
        .distinct()
    )
    found: dict[str, str] = {}
    for code, name in session.exec(stmt):
        found.setdefault(code, name)
    return found
