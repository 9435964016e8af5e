"""Inspector verdicts: recorded with who/when/why in the audit log, then sent down to edges."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.engine import Engine, RowMapping
from sqlmodel import Session

from contracts.clock import Clock
from contracts.events import VerdictKind
from contracts.messages import Verdict
from devices.mqtt_link import DeviceError
from hub.db.event_models import VERDICT, VerdictRow
from hub.ingest.xray_store import find_pass
from hub.services import audit
from hub.services.auth import Principal
from hub.services.errors import Invalid
from hub.services.late_review import late_reason, refuse_late
from hub.services.parcel_schemas import VerdictView
from hub.services.sites import ALL, SiteScope
from inspection.identity import normalise
from inspection.masking import scrub

logger = logging.getLogger(__name__)

#: Most verdicts one list call returns.
MAX_LIST = 500


class VerdictPublisher(Protocol):
    """Anything that can send a verdict to the site's edges (the hub's MQTT side)."""

    def publish_verdict(self, verdict: Verdict) -> None:
        """Publish ``verdict``; raise DeviceError when it could not be acknowledged."""
        ...


class VerdictCreate(BaseModel):
    """An inspector's verdict on one parcel, with the reason for the record."""

    model_config = ConfigDict(extra="forbid")

    parcel_code: str = Field(min_length=1, max_length=64, description="Parcel code.")
    item_id: int | None = Field(None, ge=0, le=0xFFFF_FFFF, description="PLC item id, if known.")
    verdict: VerdictKind = Field(description="clear, suspect or hold.")
    category: str = Field("", max_length=64, description="Reason category when suspect.")
    why: str = Field(min_length=1, max_length=1000, description="Why, for the audit log.")


class VerdictRecorded(BaseModel):
    """A recorded verdict and whether the broker acknowledged it already."""

    verdict: VerdictView
    published: bool


def to_wire(row: VerdictRow) -> Verdict:
    """The wire form of a stored verdict."""
    return Verdict(
        verdict_id=row.verdict_id,
        site=row.site,
        parcel_code=row.parcel_code,
        item_id=row.item_id,
        verdict=VerdictKind(row.verdict),
        category=row.category,
        inspector=row.inspector,
        at=row.at,
    )


def _view(row: VerdictRow) -> VerdictView:
    """The API view of a stored verdict."""
    return VerdictView(
        verdict_id=row.verdict_id,
        verdict=row.verdict,
        category=row.category,
        inspector=row.inspector,
        why=row.why,
        at=row.at,
        published=row.published_at is not None,
    )


def record_verdict(
    session: Session,
    body: VerdictCreate,
    *,
    site: str,
    principal: Principal,
    clock: Clock,
    publisher: VerdictPublisher | None,
) -> VerdictRecorded:
    """Store the verdict and its audit row in one transaction, then publish it (QoS 1).

    When no publisher is available or the broker does not acknowledge, the verdict stays
    recorded and pending; ``publish_pending`` sends it later.
    """
    if body.verdict is VerdictKind.SUSPECT and not body.category:
        raise Invalid("a suspect verdict needs a category", field="category")
    now = clock.now()
    code = normalise(body.parcel_code)[:64]
    if body.item_id is not None:
        parcel = find_pass(session.connection(), site, body.item_id, now)
        _check_code(parcel, code, body.item_id)
        late = late_reason(session.connection(), parcel, now)
        if late is not None:
            refuse_late(
                session,
                principal=principal,
                code=code,
                item_id=body.item_id,
                verdict=body.verdict.value,
                reason=late,
                at=now,
            )
    row = VerdictRow(
        verdict_id=uuid.uuid4(),
        site=site,
        parcel_code=code,
        item_id=body.item_id,
        verdict=body.verdict.value,
        category=body.category,
        inspector=principal.name,
        why=scrub(body.why),
        at=now,
    )
    session.add(row)
    audit.append(
        session,
        at=now,
        actor=principal.name,
        role=principal.role.value,
        action="verdict",
        subject=row.parcel_code,
        why=body.why,
        data={
            "verdict_id": str(row.verdict_id),
            "verdict": row.verdict,
            "category": row.category,
            "item_id": row.item_id,
        },
    )
    session.commit()
    session.refresh(row)
    published = False
    if publisher is not None:
        published = _publish(session, row, publisher, clock.now())
    return VerdictRecorded(verdict=_view(row), published=published)


def _check_code(parcel: RowMapping | None, code: str, item_id: int) -> None:
    """Refuse a code that the item's own events do not name (the parcel is filed by them)."""
    if parcel is None:
        return
    own = {normalise(str(c))[:64] for c in parcel["codes"] or []}
    if parcel["parcel_code"]:
        own.add(normalise(str(parcel["parcel_code"]))[:64])
    if own and code not in own:
        raise Invalid(
            f"item {item_id} was read as {', '.join(sorted(own))}, not {code}: "
            "give the code on the parcel's label",
            field="parcel_code",
        )


def _publish(session: Session, row: VerdictRow, publisher: VerdictPublisher, at: datetime) -> bool:
    """Publish one verdict and mark it sent; False (logged) when the broker did not ack."""
    try:
        publisher.publish_verdict(to_wire(row))
    except DeviceError as err:
        logger.warning("verdict %s not yet sent to the edges: %s", row.verdict_id, err)
        return False
    session.connection().execute(
        update(VERDICT).where(VERDICT.c.verdict_id == row.verdict_id).values(published_at=at)
    )
    session.commit()
    session.refresh(row)
    return True


def publish_pending(engine: Engine, publisher: VerdictPublisher, clock: Clock) -> int:
    """Send every verdict not yet acknowledged by the broker, oldest first; return how many."""
    sent = 0
    with Session(engine) as session:
        pending = session.exec(
            select(VerdictRow)  # type: ignore[call-overload]
            .where(VERDICT.c.published_at.is_(None))
            .order_by(VERDICT.c.at)
        ).all()
        for (row,) in pending:
            if not _publish(session, row, publisher, clock.now()):
                break
            sent += 1
    return sent


def list_verdicts(
    session: Session,
    *,
    parcel_code: str | None = None,
    limit: int = 100,
    offset: int = 0,
    scope: SiteScope = ALL,
) -> list[VerdictView]:
    """Verdicts of the scope's sites newest first, optionally for one parcel code."""
    if not 1 <= limit <= MAX_LIST:
        raise Invalid(f"limit must be 1..{MAX_LIST}", field="limit")
    if offset < 0:
        raise Invalid("offset must not be negative", field="offset")
    stmt = (
        select(VerdictRow)
        .where(scope.clause(VERDICT.c.site))
        .order_by(VERDICT.c.at.desc())
        .limit(limit)
        .offset(offset)
    )
    if parcel_code is not None:
        stmt = stmt.where(VERDICT.c.parcel_code == parcel_code)
    rows = session.exec(stmt).all()  # type: ignore[call-overload]
    return [_view(row) for (row,) in rows]
