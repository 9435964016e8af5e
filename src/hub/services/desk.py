"""The manual-inspection desk: why a parcel is there, and its audited inspection result.

A result sets the parcel's outcome in the projection through a ``decided`` event on the
parcel's own pass (edge and item of that pass, ``rule_set_version`` ``manual-inspection``),
so the trace shows it and a later re-fold keeps it. Mapping: consistent and release after
inspection → RELEASE; inconsistent → HOLD (INSPECTOR_HOLD); seized → HOLD
(CUSTOMS_DETAINED); return → RETURN (CUSTOMS_RETURN).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from contracts.clock import Clock
from contracts.events import EdgeEvent, EventKind
from contracts.reasons import Outcome, Reason
from hub.db.xray_models import INSPECTION_RESULT, XRAY_IMAGE
from hub.ingest.events import IngestReport, insert_events, refresh_parcels, validate_batch
from hub.ingest.xray_store import find_pass
from hub.services import audit
from hub.services.auth import Principal
from hub.services.errors import Invalid, NotFound
from hub.services.parcel_schemas import ParcelSummary, ReasonView, Timeline
from hub.services.parcels import weight_comparison
from hub.services.review import (
    credit_grade,
    declaration_for,
    flag_views,
    timeline_of,
)
from hub.services.review_schemas import (
    RESULT_WORDS,
    DeskResult,
    DeskResultIn,
    DeskResultView,
    DeskView,
    ImageSummary,
)
from hub.services.sites import ALL, SiteScope
from hub.web.wording import outcome_words, reason_words
from inspection.identity import normalise
from inspection.masking import scrub

logger = logging.getLogger(__name__)

#: Rule-set version written on the decisions the desk makes.
DESK_RULES = "manual-inspection"
#: Edge id used for a parcel the hub knows only by its code (no line pass).
DESK_EDGE = "desk"

#: The outcome and reasons each result sets.
RESULT_OUTCOME: dict[DeskResult, tuple[Outcome, tuple[Reason, ...]]] = {
    DeskResult.CONSISTENT: (Outcome.RELEASE, ()),
    DeskResult.RELEASE_AFTER_INSPECTION: (Outcome.RELEASE, ()),
    DeskResult.INCONSISTENT: (Outcome.HOLD, (Reason.INSPECTOR_HOLD,)),
    DeskResult.SEIZED: (Outcome.HOLD, (Reason.CUSTOMS_DETAINED,)),
    DeskResult.RETURN: (Outcome.RETURN, (Reason.CUSTOMS_RETURN,)),
}


def desk_code(raw: str) -> str:
    """A scanned or typed parcel code, normalised; raise Invalid when nothing is left."""
    code = normalise(raw)
    if not code or len(code) > 64:
        raise Invalid("give a parcel code of 1..64 characters", field="code")
    return code


def _results(conn: Connection, code: str, scope: SiteScope = ALL) -> list[DeskResultView]:
    """Every desk result of the parcel (on the scope's sites), oldest first."""
    rows = conn.execute(
        select(INSPECTION_RESULT)
        .where(INSPECTION_RESULT.c.parcel_code == code, scope.clause(INSPECTION_RESULT.c.site))
        .order_by(INSPECTION_RESULT.c.at)
    ).mappings()
    return [
        DeskResultView(
            result_id=r["result_id"],
            result=r["result"],
            words=RESULT_WORDS.get(DeskResult(r["result"]), r["result"]),
            outcome=r["outcome"],
            inspector=r["inspector"],
            why=scrub(r["why"]),
            at=r["at"],
        )
        for r in rows
    ]


def _images(
    conn: Connection, code: str, item_ids: set[int], scope: SiteScope = ALL
) -> list[ImageSummary]:
    """The parcel's X-ray images, newest first (by code, or by the item ids of its passes)."""
    cond = XRAY_IMAGE.c.parcel_code == code
    if item_ids:
        cond = cond | (
            XRAY_IMAGE.c.parcel_code.is_(None) & XRAY_IMAGE.c.item_id.in_(sorted(item_ids))
        )
    rows = conn.execute(
        select(XRAY_IMAGE)
        .where(cond, scope.clause(XRAY_IMAGE.c.site))
        .order_by(XRAY_IMAGE.c.received_at.desc())
        .limit(20)
    ).mappings()
    return [
        ImageSummary(
            image_id=r["image_id"],
            received_at=r["received_at"],
            state=r["state"],
            verdict=r["verdict"],
            category=r["category"],
            flags=flag_views(r["prescreen"]),
            width=r["width"],
            height=r["height"],
        )
        for r in rows
    ]


def _timeline(session: Session, code: str, scope: SiteScope = ALL) -> Timeline:
    """The parcel's timeline by code, else through an image reviewed under that code.

    (A pass that was scanned but never decided carries the code only as read; its image,
    once reviewed, knows the normalised code and the item's pass.) Raises NotFound.
    """
    timeline = timeline_of(session, code, scope)
    if timeline is not None:
        return timeline
    conn = session.connection()
    image = conn.execute(
        select(XRAY_IMAGE.c.site, XRAY_IMAGE.c.item_id, XRAY_IMAGE.c.received_at)
        .where(XRAY_IMAGE.c.parcel_code == code, scope.clause(XRAY_IMAGE.c.site))
        .order_by(XRAY_IMAGE.c.received_at.desc())
        .limit(1)
    ).first()
    parcel = find_pass(conn, image.site, image.item_id, image.received_at) if image else None
    timeline = timeline_of(session, parcel["parcel_key"], scope) if parcel is not None else None
    if timeline is None:
        raise NotFound(f"no parcel known as {code!r}")
    decl = timeline.declaration or declaration_for(session, code)
    return timeline.model_copy(
        update={
            "parcel_code": code,
            "declaration": decl,
            "comparisons": timeline.comparisons or weight_comparison(parcel, decl),
        }
    )


def desk_view(session: Session, raw_code: str, scope: SiteScope = ALL) -> DeskView:
    """Everything the desk shows for one parcel (on the scope's sites); raise NotFound when
    the hub never saw it there."""
    code = desk_code(raw_code)
    timeline = _timeline(session, code, scope)
    conn = session.connection()
    latest = _latest_pass(timeline.passes)
    decision = timeline.decision
    status = latest.outcome if latest is not None and latest.outcome else None
    reasons = latest.reasons if latest is not None else []
    return DeskView(
        parcel_code=timeline.parcel_code or code,
        status=status or "none",
        status_words=outcome_words(status),
        reasons=[ReasonView(code=r, words=reason_words(r)) for r in reasons],
        decided_at=decision.decided_at if decision is not None else None,
        verdicts=timeline.verdicts,
        images=_images(conn, timeline.parcel_code or code, _item_ids(timeline.passes), scope),
        declaration=timeline.declaration,
        credit_grade=credit_grade(session, timeline.declaration),
        comparisons=timeline.comparisons,
        results=_results(conn, timeline.parcel_code or code, scope),
        choices={r.value: w for r, w in RESULT_WORDS.items()},
    )


def _latest_pass(passes: list[ParcelSummary]) -> ParcelSummary | None:
    """The latest decided pass, else the latest pass."""
    decided = [p for p in passes if p.outcome and p.decided_at is not None]
    if decided:
        return max(decided, key=_decided_at)
    return passes[-1] if passes else None


def _decided_at(parcel: ParcelSummary) -> datetime:
    """When the pass was decided (only called on decided passes)."""
    assert parcel.decided_at is not None
    return parcel.decided_at


def _item_ids(passes: list[ParcelSummary]) -> set[int]:
    return {p.item_id for p in passes if p.item_id}


def record_result(
    session: Session,
    raw_code: str,
    body: DeskResultIn,
    *,
    site: str,
    principal: Principal,
    clock: Clock,
    scope: SiteScope = ALL,
) -> DeskResultView:
    """Record a manual-inspection result (audited) and set the parcel's outcome; one transaction.

    Only for a parcel of the scope's sites (NotFound otherwise)."""
    code = desk_code(raw_code)
    timeline = _timeline(session, code, scope)
    code = timeline.parcel_code or code
    latest = _latest_pass(timeline.passes)
    outcome, reasons = RESULT_OUTCOME[body.result]
    now = clock.now()
    result_id = uuid.uuid4()
    data: dict[str, Any] = {
        "outcome": outcome.value,
        "reasons": [r.value for r in reasons],
        "rule_set_version": DESK_RULES,
        "declaration_kind": latest.declaration_kind if latest is not None else None,
        "declaration_key": latest.declaration_key if latest is not None else None,
        "chute": latest.chute if latest is not None else None,
        "notes": [f"manual inspection: {body.result.value} by {principal.name}"],
        "inspection_result_id": str(result_id),
    }
    event = EdgeEvent(
        event_id=uuid.uuid4(),
        site=latest.site if latest is not None else site,
        edge_id=(latest.edge_id if latest is not None and latest.edge_id else DESK_EDGE),
        kind=EventKind.DECIDED,
        at=now,
        item_id=latest.item_id if latest is not None else None,
        parcel_code=code,
        data=data,
    )
    report = IngestReport(received=1)
    rows = validate_batch([event], now, report)
    if report.rejected:
        raise Invalid(f"the desk decision could not be recorded: {report.rejected[0].error}")
    conn = session.connection()
    insert_events(conn, rows)
    key = rows[0]["parcel_key"]
    refresh_parcels(conn, {key: rows[0]}, now)
    conn.execute(
        INSPECTION_RESULT.insert().values(
            result_id=result_id,
            site=event.site,
            parcel_code=code,
            parcel_key=key,
            result=body.result.value,
            outcome=outcome.value,
            why=scrub(body.why),
            inspector=principal.name,
            at=now,
        )
    )
    audit.append(
        session,
        at=now,
        actor=principal.name,
        role=principal.role.value,
        action="inspection_result",
        subject=code,
        why=body.why,
        data={
            "result_id": str(result_id),
            "result": body.result.value,
            "outcome": outcome.value,
            "reasons": [r.value for r in reasons],
            "parcel_key": key,
        },
    )
    session.commit()
    logger.info(
        "desk result parcel_code=%s: %s (%s) by %s",
        code,
        body.result.value,
        outcome.value,
        principal.name,
    )
    return DeskResultView(
        result_id=result_id,
        result=body.result.value,
        words=RESULT_WORDS[body.result],
        outcome=outcome.value,
        inspector=principal.name,
        why=scrub(body.why),
        at=now,
    )
