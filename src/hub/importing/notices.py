"""Storing notices (CEB513, CEB623-626) and the history they add to their declaration.

A notice is kept as filed in the ``notice`` table, linked to the declaration whose history
it joins: the list for CEB623-626 (by ``agentCode:copNo``, else by ``invtNo``), the parcel's
list for CEB513 (by ``logisticsNo``, else the waybill by ``logisticsCode:logisticsNo``). It
adds one ``status_history`` row to that declaration (event below, the notice's content hash
in ``content_hash``). An accepted cancellation or return (CEB624/626 with returnStatus 800)
also touches the list, so edges sync it again with its new state (see
:mod:`hub.services.sync`); the decision index applies it with
``DeclarationIndex.apply_notice``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.db.engine import StoreError, db_reason
from hub.db.models import DECLARATION, STATUS_HISTORY
from hub.db.notice_models import NOTICE
from inspection.model import Notice

log = logging.getLogger(__name__)

#: History event of each notice message type.
HISTORY_EVENT = {
    "CEB513": "logistics",
    "CEB623": "cancel_request",
    "CEB624": "cancel_receipt",
    "CEB625": "return_request",
    "CEB626": "return_receipt",
    "CEB900": "refused_by_schema",
}
#: List states an accepted receipt gives (sent to edges as the list's ``listState``).
LIST_STATE = {"CEB624": "cancelled", "CEB626": "returned"}
_LIST_KINDS = ("inventory", "export_inventory")


def notice_hash(notice: Notice) -> str:
    """Return a stable 32-hex-digit hash of a notice's content."""
    parts = [notice.message_type, notice.business_key, json.dumps(notice.fields, sort_keys=True)]
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def _one(conn: Connection, *conds: Any) -> Any:
    d = DECLARATION.c
    return conn.execute(select(d.id).where(*conds).order_by(d.id).limit(1)).scalar()


def target_of(conn: Connection, notice: Notice) -> Any:
    """Return the id of the declaration whose history ``notice`` joins, or None."""
    d = DECLARATION.c
    if notice.message_type == "CEB513":
        if notice.logistics_no:
            found = _one(conn, d.kind.in_(_LIST_KINDS), d.logistics_no == notice.logistics_no)
            if found is not None:
                return found
        return _one(conn, d.kind == "waybill", d.business_key == notice.business_key)
    if notice.business_key:
        found = _one(conn, d.kind.in_(_LIST_KINDS), d.business_key == notice.business_key)
        if found is not None:
            return found
    if notice.invt_no:
        return _one(conn, d.kind.in_(_LIST_KINDS), d.invt_no == notice.invt_no)
    return None


def write_notices(
    conn: Connection, notices: Iterable[Notice], now: datetime, source: str
) -> tuple[int, int]:
    """Store new notices on ``conn`` (the caller commits); return (new, unchanged)."""
    new = unchanged = 0
    seen: set[str] = set()
    n = NOTICE.c
    for notice in notices:
        h = notice_hash(notice)
        if h in seen or conn.execute(select(n.id).where(n.content_hash == h)).first():
            unchanged += 1
            continue
        seen.add(h)
        new += 1
        target = target_of(conn, notice)
        conn.execute(
            insert(NOTICE).values(
                id=uuid.uuid4(),
                message_type=notice.message_type,
                business_key=notice.business_key,
                invt_no=notice.invt_no,
                order_no=notice.order_no,
                logistics_no=notice.logistics_no,
                status=notice.status,
                time=notice.time,
                info=notice.info,
                fields=json.dumps(notice.fields, ensure_ascii=False, sort_keys=True),
                content_hash=h,
                declaration_id=target,
                received_at=now,
                source_file=source,
            )
        )
        if target is None:
            log.info(
                "%s for %s kept; its declaration is not filed yet",
                notice.message_type,
                notice.business_key or notice.invt_no,
            )
            continue
        conn.execute(
            insert(STATUS_HISTORY).values(
                id=uuid.uuid4(),
                declaration_id=target,
                at=notice.time or now,
                event=HISTORY_EVENT.get(notice.message_type, "notice"),
                old_status=None,
                new_status=None,
                content_hash=h,
                source_file=source,
            )
        )
        if notice.accepted:  # the list's state changed: edges must sync it again
            d = DECLARATION.c
            conn.execute(update(DECLARATION).where(d.id == target).values(updated_at=now))
            log.info(
                "%s accepted for %s: the list is %s",
                notice.message_type,
                notice.business_key,
                LIST_STATE[notice.message_type],
            )
    return new, unchanged


def _notice(row: Any) -> Notice:
    fields = json.loads(row.fields) if row.fields else {}
    return Notice(
        message_type=row.message_type,
        business_key=row.business_key,
        invt_no=row.invt_no,
        order_no=row.order_no,
        logistics_no=row.logistics_no,
        status=row.status,
        time=row.time,
        info=row.info,
        fields=fields,
    )


def iter_notices(engine: Engine, business_keys: Iterable[str] | None = None) -> Iterator[Notice]:
    """Yield stored notices (optionally only for ``business_keys``), oldest received first."""
    n = NOTICE.c
    stmt = select(NOTICE).order_by(n.received_at, n.id)
    if business_keys is not None:
        stmt = stmt.where(n.business_key.in_(sorted(set(business_keys))))
    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    except SQLAlchemyError as err:
        raise StoreError(f"cannot read notices: {db_reason(err)}") from err
    for row in rows:
        yield _notice(row)


def list_states(conn: Connection, business_keys: Iterable[str]) -> dict[str, str]:
    """Return ``listState`` (cancelled / returned) of the lists among ``business_keys``."""
    n = NOTICE.c
    keys = sorted(set(business_keys))
    out: dict[str, str] = {}
    if not keys:
        return out
    stmt = select(n.business_key, n.message_type).where(
        n.business_key.in_(keys), n.message_type.in_(tuple(LIST_STATE)), n.status == "800"
    )
    for key, message_type in conn.execute(stmt):
        if out.get(key) != "cancelled":  # a cancelled list stays cancelled
            out[key] = LIST_STATE[message_type]
    return out
