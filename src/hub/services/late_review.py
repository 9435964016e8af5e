"""When a verdict comes too late: the parcel's pass already left the decision point.

A verdict only matters while the edge still waits to answer the PLC. Once the edge decided
(or the PLC's deadline passed) the parcel is on its way to a chute; a verdict then would be
accepted by nobody, so it is refused with the reason in words and recorded in the audit log
as a late review.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.engine import Connection, RowMapping
from sqlmodel import Session

from hub.db.event_models import EVENT
from hub.services import audit
from hub.services.auth import Principal
from hub.services.errors import Conflict


def edge_deadline(conn: Connection, parcel_key: str) -> tuple[datetime | None, str]:
    """The pass's decision point and where it comes from.

    ``request``: the edge waits on the PLC's request (its ``requested`` event + ``deadline_ms``);
    ``decision``: the edge decided (the ``decided`` event time); ``(None, "budget")`` while
    the PLC has not asked yet.
    """
    rows = conn.execute(
        select(EVENT.c.kind, EVENT.c.at, EVENT.c.data)
        .where(EVENT.c.parcel_key == parcel_key, EVENT.c.kind.in_(("requested", "decided")))
        .order_by(EVENT.c.at)
    ).all()
    requested = next((r for r in rows if r.kind == "requested"), None)
    if requested is not None:
        left_ms = requested.data.get("deadline_ms") if isinstance(requested.data, dict) else None
        if isinstance(left_ms, int | float) and not isinstance(left_ms, bool) and left_ms > 0:
            return requested.at + timedelta(milliseconds=float(left_ms)), "request"
    decided = next((r for r in rows if r.kind == "decided"), None)
    if decided is not None:
        return decided.at, "decision"
    return None, "budget"


def late_reason(conn: Connection, parcel: RowMapping | None, now: datetime) -> str | None:
    """Why a verdict on this pass comes too late, in words; None while it still waits."""
    if parcel is None:
        return None
    if parcel["outcome"] is not None:
        chute = f", chute {parcel['chute']}" if parcel["chute"] is not None else ""
        at = parcel["decided_at"]
        when = f" at {at:%H:%M:%S}" if at is not None else ""
        return f"the edge already decided {parcel['outcome']}{chute}{when}"
    deadline, source = edge_deadline(conn, parcel["parcel_key"])
    if source == "request" and deadline is not None and deadline <= now:
        return f"the sorter's deadline passed at {deadline:%H:%M:%S}"
    return None


def refuse_late(
    session: Session,
    *,
    principal: Principal,
    code: str,
    item_id: int | None,
    verdict: str,
    reason: str,
    at: datetime,
) -> NoReturn:
    """Record the late review in the audit log, commit, and raise Conflict with the reason."""
    session.rollback()
    audit.append(
        session,
        at=at,
        actor=principal.name,
        role=principal.role.value,
        action="late_review",
        subject=code,
        why=f"verdict {verdict} too late: {reason}",
        data={"item_id": item_id, "verdict": verdict},
    )
    session.commit()
    raise Conflict(
        f"parcel {code} (item {item_id}) has left the decision point: {reason}. "
        "The verdict was not sent to the line; it is recorded as a late review. "
        "Use the manual-inspection desk if the parcel must be stopped."
    )
