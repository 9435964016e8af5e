"""The review queue, one image for review, and an inspector's verdict on it.

The queue holds only images whose parcel still waits for a verdict: the edge has not yet
answered the PLC for it. Their time left runs to the edge's deadline (the PLC's request time
plus the ``deadline_ms`` it gave, from the edge's ``requested`` event), or, before the PLC
has asked, to an estimate: the image's arrival plus the review budget. Images reviewed, or
whose parcel the edge decided without a verdict, move to the history view. A verdict for a
parcel that has left the decision point is refused and recorded as a late review.
"""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlmodel import Session

from contracts.clock import Clock
from contracts.events import VerdictKind
from contracts.statuses import XrayState
from hub.db.auth_models import Role
from hub.db.models import DECLARATION
from hub.db.xray_models import XRAY_IMAGE
from hub.ingest.xray_store import (
    VIEW_NAMES,
    ReviewSettings,
    attach_parcel_code,
    find_pass,
    pass_code,
)
from hub.services import parcels as parcel_service
from hub.services import rules as rules_service
from hub.services import verdicts as verdict_service
from hub.services.auth import Principal
from hub.services.errors import Conflict, Invalid, NotFound
from hub.services.late_review import edge_deadline, late_reason, refuse_late
from hub.services.parcel_schemas import DeclarationView, Timeline
from hub.services.review_schemas import (
    CATEGORIES,
    FLAG_WORDS,
    Category,
    FlagView,
    QueueEntry,
    QueueStatus,
    ReviewDetail,
    ReviewQueue,
    ReviewVerdictIn,
    ReviewVerdictOut,
)
from hub.services.sites import ALL, SiteScope
from inspection.rules import RuleSet, parse_rules

logger = logging.getLogger(__name__)

#: Most images one queue answer lists.
MAX_QUEUE = 200
_REVIEWABLE = (XrayState.SUSPECT.value, XrayState.PENDING.value)


def _status(image: RowMapping, outcome: str | None, left: float) -> QueueStatus:
    """Where the image stands: reviewed, decided by the edge, held past its deadline, pending."""
    if image["verdict"] is not None:
        return QueueStatus.REVIEWED
    if outcome is not None:
        return QueueStatus.DECIDED
    return QueueStatus.HELD if left <= 0 else QueueStatus.PENDING


def queue_entry(
    conn: Connection,
    image: RowMapping,
    now: datetime,
    settings: ReviewSettings,
    found: list[tuple[uuid.UUID, str]] | None = None,
) -> QueueEntry:
    """Describe one image against its parcel's deadline.

    A parcel code newly known from the pass is recorded on the image at once, or, with
    ``found``, collected there for the caller to record after its reads (one short write).
    """
    parcel = find_pass(conn, image["site"], image["item_id"], image["received_at"])
    code = image["parcel_code"]
    deadline: datetime | None = None
    source = "budget"
    outcome: str | None = None
    reasons: list[str] = []
    if parcel is not None:
        if code is None and pass_code(parcel):
            code = pass_code(parcel)
            if found is None:
                attach_parcel_code(conn, image["image_id"], str(code))
            else:
                found.append((image["image_id"], str(code)))
        outcome = parcel["outcome"]
        reasons = list(parcel["reasons"] or [])
        deadline, source = edge_deadline(conn, parcel["parcel_key"])
    if deadline is None:
        deadline = image["received_at"] + timedelta(seconds=settings.review_budget_s)
    left = (deadline - now).total_seconds()
    flags = image["prescreen"].get("flags", []) if isinstance(image["prescreen"], dict) else []
    return QueueEntry(
        image_id=image["image_id"],
        site=image["site"],
        device_id=image["device_id"],
        item_id=image["item_id"],
        parcel_code=code,
        received_at=image["received_at"],
        state=image["state"],
        risk=round(float(image["risk"]), 3),
        alarms=[str(f["kind"]) for f in flags if f.get("alarm")],
        flags=[str(f["kind"]) for f in flags],
        deadline=deadline,
        deadline_source=source,
        seconds_left=round(left, 3),
        status=_status(image, outcome, left),
        edge_outcome=outcome,
        edge_reasons=reasons,
        edge_chute=parcel["chute"] if parcel is not None else None,
        decided_at=parcel["decided_at"] if parcel is not None else None,
        verdict=image["verdict"],
        reviewed_by=image["reviewed_by"],
        reviewed_at=image["reviewed_at"],
    )


def review_queue(
    session: Session,
    settings: ReviewSettings,
    clock: Clock,
    limit: int = MAX_QUEUE,
    view: str = "waiting",
    scope: SiteScope = ALL,
) -> ReviewQueue:
    """The images of the queue window whose parcel still waits for a verdict, least time left
    first (``waiting``), or the reviewed and decided ones, newest first (``history``)."""
    if not 1 <= limit <= MAX_QUEUE:
        raise Invalid(f"limit must be 1..{MAX_QUEUE}", field="limit")
    if view not in ("waiting", "history"):
        raise Invalid("view must be waiting or history", field="view")
    now = clock.now()
    since = now - timedelta(hours=settings.review_window_h)
    conn = session.connection()
    unreviewed = and_(XRAY_IMAGE.c.verdict.is_(None), XRAY_IMAGE.c.state.in_(_REVIEWABLE))
    shown = unreviewed if view == "waiting" else or_(unreviewed, XRAY_IMAGE.c.verdict.is_not(None))
    rows = conn.execute(
        select(XRAY_IMAGE)
        .where(shown, XRAY_IMAGE.c.received_at >= since, scope.clause(XRAY_IMAGE.c.site))
        .order_by(XRAY_IMAGE.c.received_at.desc())
        .limit(5 * MAX_QUEUE)
    ).mappings()
    found: list[tuple[uuid.UUID, str]] = []
    entries = [queue_entry(conn, r, now, settings, found) for r in rows]
    session.rollback()  # reads done: no lock is held while the codes are written
    for image_id, code in found:
        attach_parcel_code(session.connection(), image_id, code)
    session.commit()
    pending = sorted(
        (e for e in entries if e.status is QueueStatus.PENDING), key=lambda e: e.seconds_left
    )
    done = [e for e in entries if e.status is not QueueStatus.PENDING]
    held = sum(1 for e in done if e.status is QueueStatus.HELD or "XRAY_PENDING" in e.edge_reasons)
    return ReviewQueue(
        now=now,
        view=view,
        pending=len(pending),
        held=held,
        history=len(done),
        items=(pending if view == "waiting" else done)[:limit],
    )


def image_row(conn: Connection, image_id: uuid.UUID, scope: SiteScope = ALL) -> RowMapping:
    """The stored image ``image_id`` (of the scope's sites); raise NotFound."""
    row: RowMapping | None = (
        conn.execute(
            select(XRAY_IMAGE).where(
                XRAY_IMAGE.c.image_id == image_id, scope.clause(XRAY_IMAGE.c.site)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no X-ray image {image_id} on your sites")
    return row


def flag_views(prescreen: Any) -> list[FlagView]:
    """The stored pre-screen flags with their words."""
    flags = prescreen.get("flags", []) if isinstance(prescreen, dict) else []
    return [
        FlagView(
            kind=str(f["kind"]),
            words=FLAG_WORDS.get(str(f["kind"]), str(f["kind"])),
            score=float(f.get("score", 0.0)),
            alarm=bool(f.get("alarm")),
            region=[int(v) for v in f.get("region", [0, 0, 0, 0])],
            value=float(f.get("value", 0.0)),
            detail=str(f.get("detail", "")),
        )
        for f in flags
    ]


@functools.lru_cache(maxsize=4)
def _compiled(text: str) -> RuleSet:
    """Compiled rules of a stored YAML text (cached: the text changes rarely)."""
    return parse_rules(text, "stored rules")


def credit_grade(session: Session, decl: DeclarationView | None) -> str | None:
    """The enterprise credit grade of the declaration's e-commerce company and agent."""
    if decl is None:
        return None
    try:
        rules = _compiled(rules_service.current(session).text)
    except NotFound:
        return None
    agent = (
        session.connection()
        .execute(
            select(DECLARATION.c.agent_code).where(
                DECLARATION.c.kind == decl.kind, DECLARATION.c.business_key == decl.business_key
            )
        )
        .scalar()
    )
    codes = [c.strip().upper() for c in (decl.ebc_code, agent or "") if c and c.strip()]
    return rules.grade_of(*codes).value


def timeline_of(session: Session, code: str | None, scope: SiteScope = ALL) -> Timeline | None:
    """The parcel's timeline (on the scope's sites) when its code is known and heard of."""
    if not code:
        return None
    try:
        return parcel_service.get_timeline(session, code, scope)
    except NotFound:
        return None


def declaration_for(session: Session, code: str | None) -> DeclarationView | None:
    """The parcel-level declaration filed under ``code`` (masked), if any.

    Used while the parcel's pass has no decision yet: the pass then carries the code only
    as read, so the timeline cannot match a declaration to it.
    """
    if not code:
        return None
    return parcel_service._declaration(session.connection(), None, code)


def review_detail(
    session: Session,
    image_id: uuid.UUID,
    principal: Principal,
    settings: ReviewSettings,
    clock: Clock,
    scope: SiteScope = ALL,
) -> ReviewDetail:
    """One image for review; the first time an inspector opens it is kept (decision time)."""
    now = clock.now()
    conn = session.connection()
    image = image_row(conn, image_id, scope)
    if image["verdict"] is None and principal.role in (Role.INSPECTOR, Role.ADMIN):
        conn.execute(
            update(XRAY_IMAGE)
            .where(
                XRAY_IMAGE.c.image_id == image_id,
                or_(XRAY_IMAGE.c.opened_by.is_(None), XRAY_IMAGE.c.opened_by != principal.name),
            )
            .values(opened_by=principal.name, opened_at=now)
        )
    entry = queue_entry(conn, image, now, settings)
    session.commit()
    timeline = timeline_of(session, entry.parcel_code, SiteScope(frozenset({image["site"]})))
    decl = timeline.declaration if timeline is not None else None
    comparisons = timeline.comparisons if timeline is not None else []
    if decl is None:
        decl = declaration_for(session, entry.parcel_code)
        parcel = find_pass(session.connection(), entry.site, entry.item_id, entry.received_at)
        comparisons = parcel_service.weight_comparison(parcel, decl)
    prescreen = image["prescreen"] if isinstance(image["prescreen"], dict) else {}
    return ReviewDetail(
        entry=entry,
        width=image["width"],
        height=image["height"],
        flags=flag_views(prescreen),
        shares=dict(prescreen.get("shares") or {}),
        blockers=[str(b) for b in prescreen.get("blockers") or []],
        verdict=image["verdict"],
        reviewed_by=image["reviewed_by"],
        declaration=decl,
        credit_grade=credit_grade(session, decl),
        comparisons=comparisons,
        views=list(VIEW_NAMES),
        categories=[
            Category(key=i + 1, code=code, words=words)
            for i, (code, words) in enumerate(CATEGORIES.items())
        ],
    )


def _check_category(body: ReviewVerdictIn) -> str:
    """The verdict's category: required and known for suspect, optional for hold, none for clear."""
    category = body.category.strip()
    if body.verdict is VerdictKind.CLEAR:
        if category:
            raise Invalid("a clear verdict takes no category", field="category")
        return ""
    if body.verdict is VerdictKind.SUSPECT and not category:
        raise Invalid("a suspect verdict needs a category", field="category")
    if category and category not in CATEGORIES:
        raise Invalid(f"category must be one of {', '.join(CATEGORIES)}", field="category")
    return category


def give_verdict(
    session: Session,
    image_id: uuid.UUID,
    body: ReviewVerdictIn,
    *,
    principal: Principal,
    clock: Clock,
    publisher: verdict_service.VerdictPublisher | None,
    scope: SiteScope = ALL,
) -> ReviewVerdictOut:
    """Record the verdict on an image (audited) and send it to the edges (QoS 1).

    Raises Conflict when the image was reviewed already or its parcel code is not known yet.
    """
    category = _check_category(body)
    conn = session.connection()
    image = image_row(conn, image_id, scope)
    if image["verdict"] is not None:
        raise Conflict(f"image {image_id} was reviewed already by {image['reviewed_by']}")
    code = image["parcel_code"]
    if code is None:
        parcel = find_pass(conn, image["site"], image["item_id"], image["received_at"])
        code = pass_code(parcel)
    if not code:
        raise Conflict(
            f"the parcel code of item {image['item_id']} is not known yet; "
            "wait for its scan or hold it at the desk"
        )
    now = clock.now()
    parcel = find_pass(conn, image["site"], image["item_id"], image["received_at"])
    late = late_reason(conn, parcel, now)
    if late is not None:
        refuse_late(
            session,
            principal=principal,
            code=code,
            item_id=image["item_id"],
            verdict=body.verdict.value,
            reason=late,
            at=now,
        )
    claimed = conn.execute(
        update(XRAY_IMAGE)
        .where(XRAY_IMAGE.c.image_id == image_id, XRAY_IMAGE.c.verdict.is_(None))
        .values(
            verdict=body.verdict.value,
            category=category,
            reviewed_by=principal.name,
            reviewed_at=now,
            parcel_code=code,
        )
    )
    if claimed.rowcount != 1:
        session.rollback()
        raise Conflict(f"image {image_id} was reviewed already")
    words = CATEGORIES.get(category, "")
    why = f"image review: {body.verdict.value}" + (f" ({words})" if words else "")
    if body.note.strip():
        why += f"; {body.note.strip()}"
    recorded = verdict_service.record_verdict(
        session,
        verdict_service.VerdictCreate(
            parcel_code=code,
            item_id=image["item_id"],
            verdict=body.verdict,
            category=category,
            why=why,
        ),
        site=image["site"],
        principal=principal,
        clock=clock,
        publisher=publisher,
    )
    session.connection().execute(
        update(XRAY_IMAGE)
        .where(XRAY_IMAGE.c.image_id == image_id)
        .values(verdict_id=recorded.verdict.verdict_id)
    )
    session.commit()
    logger.info(
        "image %s parcel_code=%s item_id=%s: %s by %s",
        image_id,
        code,
        image["item_id"],
        body.verdict.value,
        principal.name,
    )
    return ReviewVerdictOut(
        image_id=image_id, parcel_code=code, verdict=recorded.verdict, published=recorded.published
    )
