"""Delta sync for edges: declarations changed after a cursor, in change order, resumable.

The cursor is the ``sync_change.seq`` of the last declaration delivered. The import
numbers a new declaration as it stores it, and a database trigger gives it a new, larger
``seq`` on every update (amendment, customs status), keeping only its newest one, so
paging by ``seq`` delivers each change once, in commit order, and an amended declaration
comes again with its new state. A list whose cancellation (CEB624) or consumer return
(CEB626) customs accepted carries ``extra.listState`` (``cancelled`` / ``returned``); the
notice's import touches the list, so it comes again with it.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from hub.db.event_models import VERDICT
from hub.db.models import DECLARATION, DECLARATION_LINE
from hub.db.rules_models import RuleVersion
from hub.db.sync_models import SyncChange
from hub.importing.notices import list_states
from hub.services import rules as rules_service
from hub.services.errors import Invalid, NotFound
from inspection.model import Declaration, GoodsLine

#: Largest page an edge may ask for, in declarations.
MAX_SYNC_LIMIT = 10_000
#: Most inspector verdicts one sync page carries.
MAX_SYNC_VERDICTS = 1000
#: Declaration fields sent, in the parsed model's order (lines and extra separately).
DECL_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Declaration) if f.name not in ("lines", "extra")
)
LINE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(GoodsLine))

_SYNC = SyncChange.__table__  # type: ignore[attr-defined]
#: Kinds a cancellation or consumer return applies to.
_LIST_KINDS = ("inventory", "export_inventory")


def parse_cursor(cursor: str) -> int:
    """Return the change number a cursor stands for (``""`` is the beginning)."""
    text = cursor.strip()
    if not text:
        return 0
    if not text.isdigit() or len(text) > 18:
        raise Invalid(f"cursor {cursor[:40]!r} is not one this hub gave out", field="cursor")
    return int(text)


def _wire(value: Any) -> Any:
    """Return a JSON-ready value: amounts as exact text, times as ISO 8601 UTC."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def rules_meta(session: Session, known_digest: str) -> dict[str, Any] | None:
    """Return the current rules' number, version and digest (and text when it differs)."""
    try:
        row: RuleVersion = rules_service.current(session)
    except NotFound:
        return None
    return {
        "number": row.number,
        "version": row.version,
        "digest": row.digest,
        "text": None if known_digest == row.digest else row.text,
    }


def page(session: Session, cursor: str, limit: int, known_digest: str = "") -> dict[str, Any]:
    """Return one sync page: declarations changed after ``cursor``, oldest change first.

    The result holds ``cursor``, ``next_cursor`` (give it back for the next page),
    ``more`` (another page is waiting now), ``rules`` and ``declarations``.
    """
    if limit < 1 or limit > MAX_SYNC_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_SYNC_LIMIT}", field="limit")
    after = parse_cursor(cursor)
    d, ln = DECLARATION.c, DECLARATION_LINE.c
    conn = session.connection()
    head_cols = [d[name] for name in DECL_FIELDS]
    stmt = (
        select(
            _SYNC.c.seq, d.id, *head_cols, d.extra, d.customs_status, d.status_time, d.updated_at
        )
        .join(DECLARATION, d.id == _SYNC.c.declaration_id)
        .where(_SYNC.c.seq > after)
        .order_by(_SYNC.c.seq)
        .limit(limit + 1)
    )
    rows = conn.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r[1] for r in rows]
    lines: dict[Any, list[dict[str, Any]]] = {}
    if ids:
        line_stmt = (
            select(ln.declaration_id, *[ln[name] for name in LINE_FIELDS])
            .where(ln.declaration_id.in_(ids))
            .order_by(ln.declaration_id, ln.gnum)
        )
        for line in conn.execute(line_stmt):
            values = {k: _wire(v) for k, v in zip(LINE_FIELDS, line[1:], strict=True)}
            lines.setdefault(line[0], []).append(values)
    n = len(DECL_FIELDS)
    key_at = 2 + DECL_FIELDS.index("business_key")
    states = list_states(conn, [r[key_at] for r in rows])
    out = []
    for row in rows:
        head = {k: _wire(v) for k, v in zip(DECL_FIELDS, row[2 : 2 + n], strict=True)}
        extra_text, status, status_time, updated_at = row[2 + n :]
        extra: Any = json.loads(extra_text or "{}")
        if head["kind"] in _LIST_KINDS and head["business_key"] in states:
            extra["listState"] = states[head["business_key"]]  # accepted cancel or return
        out.append(
            {
                "id": str(row[1]),
                "change": int(row[0]),
                "customs_status": status,
                "status_time": _wire(status_time),
                "updated_at": _wire(updated_at),
                "declaration": {**head, "lines": lines.get(row[1], []), "extra": extra},
            }
        )
    next_cursor = str(rows[-1][0]) if rows else str(after)
    return {
        "cursor": str(after),
        "next_cursor": next_cursor,
        "more": more,
        "rules": rules_meta(session, known_digest),
        "declarations": out,
    }


def verdicts_since(session: Session, after: str) -> tuple[list[dict[str, Any]], str]:
    """Return the verdicts recorded at or after ``after`` (ISO time, ``""`` for all), oldest
    first, and the cursor to give back (the time of the last one; the edge ignores repeats).

    An edge that lost its disk gets every verdict again, so a HOLD is never forgotten.
    """
    try:
        since = datetime.fromisoformat(after) if after else None
    except ValueError:
        msg = f"verdicts_after {after[:40]!r} is not a time"
        raise Invalid(msg, field="verdicts_after") from None
    stmt = select(VERDICT).order_by(VERDICT.c.at, VERDICT.c.verdict_id).limit(MAX_SYNC_VERDICTS)
    if since is not None:
        stmt = stmt.where(VERDICT.c.at >= since)
    rows = session.connection().execute(stmt).mappings().all()
    out = [
        {
            "verdict_id": str(r["verdict_id"]),
            "site": r["site"],
            "parcel_code": r["parcel_code"],
            "item_id": r["item_id"],
            "verdict": r["verdict"],
            "category": r["category"],
            "inspector": r["inspector"],
            "at": _wire(r["at"]),
        }
        for r in rows
    ]
    return out, (out[-1]["at"] if out else after)


def backlog(session: Session, cursor: str, cap: int) -> int:
    """Return how many declarations changed after ``cursor``, counting no further than ``cap``
    (an edge that far behind takes a snapshot instead of the pages)."""
    after = parse_cursor(cursor)
    waiting = select(_SYNC.c.seq).where(_SYNC.c.seq > after).limit(cap).subquery()
    return int(session.connection().execute(select(func.count()).select_from(waiting)).scalar_one())


def newest_cursor(session: Session) -> str:
    """Return the cursor after the newest change (what a sync notice announces)."""
    stmt = select(_SYNC.c.seq).order_by(_SYNC.c.seq.desc()).limit(1)
    value = session.connection().execute(stmt).scalar()
    return str(value or 0)
