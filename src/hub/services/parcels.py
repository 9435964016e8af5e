"""Parcel queries: the filtered list, and one parcel's timeline with what it was matched to."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import Text, and_, cast, func, or_, select
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from contracts.reasons import Outcome, Reason
from hub.db.event_models import EVENT, PARCEL, PARCEL_CODE, VERDICT
from hub.db.models import DECLARATION, DECLARATION_LINE
from hub.ingest.projection import CODE_KINDS
from hub.services import siteday
from hub.services.errors import Invalid, NotFound
from hub.services.parcel_schemas import (
    Comparison,
    ConfirmationView,
    DecisionView,
    DeclarationView,
    LineView,
    ParcelPage,
    ParcelSummary,
    ReasonView,
    Timeline,
    TimelineEvent,
    VerdictView,
)
from hub.services.sites import ALL, SiteScope
from hub.web.wording import event_summary, outcome_words, reason_words
from inspection.identity import normalise
from inspection.masking import mask_id, mask_name, mask_phone, scrub
from inspection.model import PARCEL_KINDS

#: Most parcels one page may hold.
MAX_PAGE = 500
#: Most events a timeline shows (a parcel has a handful per pass).
MAX_TIMELINE_EVENTS = 2000
_FREE_TEXT = ("notes", "detail", "alarm")


def list_parcels(
    session: Session,
    *,
    outcome: str | None = None,
    reason: str | None = None,
    day: date | None = None,
    edge: str | None = None,
    site: str | None = None,
    limit: int = 50,
    offset: int = 0,
    enterprise: str | None = None,
    scope: SiteScope = ALL,
    zone: tzinfo = siteday.DEFAULT_ZONE,
    since: datetime | None = None,
    day_to: date | None = None,
) -> ParcelPage:
    """Return one page of parcel passes matching every given filter, newest first.

    ``day`` is a site day in ``zone`` (to ``day_to``, included, when given); ``since`` keeps
    the parcels first seen at or after it.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be 1..{MAX_PAGE}", field="limit")
    if offset < 0:
        raise Invalid("offset must not be negative", field="offset")
    conds: list[Any] = []
    if outcome is not None:
        if outcome not in Outcome.__members__:
            raise Invalid(f"outcome must be one of {list(Outcome.__members__)}", field="outcome")
        conds.append(PARCEL.c.outcome == outcome)
    if reason is not None:
        if reason not in Reason.__members__:
            raise Invalid(f"reason {reason!r} is not a reason code", field="reason")
        conds.append(cast(PARCEL.c.reasons, Text).like(f'%"{reason}"%'))
    if day_to is not None and day is None:
        raise Invalid("a period's last day (to) needs its first (day)", field="to")
    if day is not None:
        if day_to is not None and not 0 <= (day_to - day).days < siteday.MAX_PERIOD_DAYS:
            raise Invalid(
                f"a period runs forward and spans at most {siteday.MAX_PERIOD_DAYS} days",
                field="to",
            )
        start, end = siteday.bounds(day, day_to, tz=zone)
        conds.append(and_(PARCEL.c.first_seen >= start, PARCEL.c.first_seen < end))
    if since is not None:
        if since.tzinfo is None:
            raise Invalid(
                "since must carry its time zone (e.g. 2026-12-06T08:00:00+08:00)", field="since"
            )
        conds.append(PARCEL.c.first_seen >= since)
    if edge is not None:
        conds.append(PARCEL.c.edge_id == edge)
    if site is not None:
        conds.append(PARCEL.c.site == site)
    conds.append(scope.clause(PARCEL.c.site))
    if enterprise:
        declared_by = select(DECLARATION.c.business_key).where(
            DECLARATION.c.ebc_code == enterprise.strip().upper(),
            DECLARATION.c.kind == PARCEL.c.declaration_kind,
        )
        conds.append(PARCEL.c.declaration_key.in_(declared_by))
    conn = session.connection()
    total = conn.execute(select(func.count()).select_from(PARCEL).where(*conds)).scalar_one()
    rows = conn.execute(
        select(PARCEL)
        .where(*conds)
        .order_by(PARCEL.c.first_seen.desc(), PARCEL.c.parcel_key)
        .limit(limit)
        .offset(offset)
    ).mappings()
    items = [ParcelSummary.model_validate(dict(r)) for r in rows]
    return ParcelPage(total=int(total), limit=limit, offset=offset, items=items)


def _find_passes(conn: Connection, query: str, scope: SiteScope = ALL) -> list[RowMapping]:
    """Parcel rows (of the scope's sites) named by their parcel code, a further code read, a
    parcel key or a PLC item id."""
    conds: list[Any] = [
        PARCEL.c.parcel_code == query,
        PARCEL.c.parcel_key == query,
        PARCEL.c.parcel_key.in_(
            select(PARCEL_CODE.c.parcel_key).where(PARCEL_CODE.c.code == normalise(query)[:64])
        ),
    ]
    if query.isascii() and query.isdigit() and len(query) <= 10:
        conds.append(PARCEL.c.item_id == int(query))
    rows = list(
        conn.execute(
            select(PARCEL)
            .where(or_(*conds), scope.clause(PARCEL.c.site))
            .order_by(PARCEL.c.first_seen)
        ).mappings()
    )
    return rows


def _shown_data(data: dict[str, Any]) -> dict[str, Any]:
    """Event data as shown: free-text fields with long numbers masked."""
    out = dict(data)
    for key in _FREE_TEXT:
        value = out.get(key)
        if isinstance(value, str):
            out[key] = scrub(value)
        elif isinstance(value, list):
            out[key] = [scrub(str(v)) for v in value]
    return out


def _named_by(codes: set[str]) -> ColumnElement[bool]:
    """Events that file themselves under one of ``codes``: the parcel's own events, or events
    of no line pass (a desk, a hold by code). An applied verdict of a line item names the code
    its message claimed; it joins the parcel by item, never by that code."""
    own = [str(k) for k in CODE_KINDS]
    return and_(
        EVENT.c.parcel_code.in_(codes), or_(EVENT.c.kind.in_(own), EVENT.c.item_id.is_(None))
    )


def get_timeline(session: Session, query: str, scope: SiteScope = ALL) -> Timeline:
    """Return the story of the parcel named by ``query`` (code, parcel key or PLC item id).

    Raises NotFound when no parcel pass and no event names it.
    """
    query = query.strip()
    if not query or len(query) > 200:
        raise Invalid("give a parcel code, parcel key or item id of 1..200 characters")
    conn = session.connection()
    passes = _find_passes(conn, query, scope)
    codes = {p["parcel_code"] for p in passes if p["parcel_code"]}
    if not passes:
        codes = {query}
    keys = [p["parcel_key"] for p in passes]
    event_rows = list(
        conn.execute(
            select(EVENT)
            .where(
                or_(EVENT.c.parcel_key.in_(keys), _named_by(codes)),
                scope.clause(EVENT.c.site),
            )
            .order_by(EVENT.c.at, EVENT.c.event_id)
            .limit(MAX_TIMELINE_EVENTS)
        ).mappings()
    )
    if not passes and not event_rows:
        raise NotFound(f"no parcel known as {query[:64]!r}")
    events = [
        TimelineEvent(
            event_id=r["event_id"],
            at=r["at"],
            kind=r["kind"],
            edge_id=r["edge_id"],
            item_id=r["item_id"],
            device_id=r["data"].get("device_id"),
            summary=event_summary(r["kind"], r["data"], r["item_id"]),
            data=_shown_data(r["data"]),
        )
        for r in event_rows
    ]
    decided = [p for p in passes if p["outcome"]]
    latest = decided[-1] if decided else (passes[-1] if passes else None)
    code = latest["parcel_code"] if latest is not None else query
    declaration = _declaration(conn, latest, code)
    return Timeline(
        query=query,
        parcel_code=code,
        passes=[ParcelSummary.model_validate(dict(p)) for p in passes],
        events=events,
        decision=_decision(latest, events),
        confirmation=_confirmation(latest),
        verdicts=_verdicts(conn, codes, scope),
        declaration=declaration,
        comparisons=weight_comparison(latest, declaration),
    )


def _decision(parcel: RowMapping | None, events: list[TimelineEvent]) -> DecisionView | None:
    """The latest decision of the parcel, with reasons in words and the edge's notes."""
    if parcel is None or not parcel["outcome"]:
        return None
    notes: list[str] = []
    for ev in events:
        if ev.kind == "decided" and ev.at == parcel["decided_at"]:
            notes = [str(n) for n in ev.data.get("notes") or []]
    return DecisionView(
        outcome=parcel["outcome"],
        outcome_words=outcome_words(parcel["outcome"]),
        reasons=[ReasonView(code=r, words=reason_words(r)) for r in parcel["reasons"]],
        rule_set_version=parcel["rule_set_version"],
        chute=parcel["chute"],
        decided_at=parcel["decided_at"],
        latency_ms=parcel["latency_ms"],
        notes=notes,
    )


def _confirmation(parcel: RowMapping | None) -> ConfirmationView | None:
    """The sorter's confirmation of the latest pass, if any."""
    if parcel is None or parcel["confirmed_status"] is None:
        return None
    return ConfirmationView(
        chute=parcel["confirmed_chute"],
        status=parcel["confirmed_status"],
        at=parcel["confirmed_at"],
    )


def _verdicts(conn: Connection, codes: set[str], scope: SiteScope = ALL) -> list[VerdictView]:
    """Every verdict recorded for the parcel's codes, oldest first."""
    if not codes:
        return []
    rows = conn.execute(
        select(VERDICT)
        .where(VERDICT.c.parcel_code.in_(codes), scope.clause(VERDICT.c.site))
        .order_by(VERDICT.c.at)
    ).mappings()
    return [
        VerdictView(
            verdict_id=r["verdict_id"],
            verdict=r["verdict"],
            category=r["category"],
            inspector=r["inspector"],
            why=scrub(r["why"]),
            at=r["at"],
            published=r["published_at"] is not None,
        )
        for r in rows
    ]


def _declaration(
    conn: Connection, parcel: RowMapping | None, code: str | None
) -> DeclarationView | None:
    """The declaration the decision matched; else a parcel-level one filed under the code."""
    row: RowMapping | None = None
    if parcel is not None and parcel["declaration_kind"] and parcel["declaration_key"]:
        row = (
            conn.execute(
                select(DECLARATION).where(
                    DECLARATION.c.kind == parcel["declaration_kind"],
                    DECLARATION.c.business_key == parcel["declaration_key"],
                )
            )
            .mappings()
            .first()
        )
    if row is None and code:
        row = (
            conn.execute(
                select(DECLARATION)
                .where(
                    DECLARATION.c.kind.in_([k.value for k in PARCEL_KINDS]),
                    or_(
                        DECLARATION.c.logistics_no == code,
                        DECLARATION.c.invt_no == code,
                        DECLARATION.c.business_key == code,
                    ),
                )
                .order_by(DECLARATION.c.updated_at.desc())
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    lines = conn.execute(
        select(DECLARATION_LINE)
        .where(DECLARATION_LINE.c.declaration_id == row["id"])
        .order_by(DECLARATION_LINE.c.gnum)
    ).mappings()
    return DeclarationView(
        kind=row["kind"],
        message_type=row["message_type"],
        business_key=row["business_key"],
        logistics_no=row["logistics_no"],
        invt_no=row["invt_no"],
        order_no=row["order_no"],
        trade_mode=row["trade_mode"],
        ie_flag=row["ie_flag"],
        ebc_code=row["ebc_code"],
        ebc_name=row["ebc_name"],
        buyer_name=mask_name(row["buyer_name"]),
        buyer_id_number=mask_id(row["buyer_id_number"]),
        buyer_telephone=mask_phone(row["buyer_telephone"]),
        consignee=mask_name(row["consignee"]),
        consignee_telephone=mask_phone(row["consignee_telephone"]),
        goods_value=row["goods_value"],
        currency=row["currency"],
        gross_weight_kg=row["gross_weight_kg"],
        net_weight_kg=row["net_weight_kg"],
        customs_status=row["customs_status"],
        country=row["country"],
        category=row["category"],
        lines=[
            LineView(
                gnum=ln["gnum"],
                hs_code=ln["hs_code"],
                name=ln["name"],
                qty=ln["qty"],
                unit=ln["unit"],
                total_price=ln["total_price"],
                currency=ln["currency"],
                net_weight_kg=ln["net_weight_kg"],
            )
            for ln in lines
        ],
    )


def weight_comparison(parcel: RowMapping | None, decl: DeclarationView | None) -> list[Comparison]:
    """Measured gross weight of a pass beside the declared one, kg."""
    measured = parcel["weight_kg"] if parcel is not None else None
    declared = float(decl.gross_weight_kg) if decl and decl.gross_weight_kg is not None else None
    if measured is None and declared is None:
        return []
    diff = round(measured - declared, 5) if measured is not None and declared is not None else None
    return [
        Comparison(
            what="gross weight", unit="kg", measured=measured, declared=declared, difference=diff
        )
    ]
