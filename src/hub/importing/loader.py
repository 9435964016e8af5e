"""Reading stored declarations, customs statuses and notices back for the decision index."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.db.engine import StoreError, db_reason
from hub.db.models import DECLARATION, DECLARATION_LINE
from hub.importing.notices import iter_notices
from hub.importing.rows import HEAD_FIELDS, LINE_FIELDS
from inspection.identity import normalise
from inspection.index import DeclarationIndex
from inspection.model import PARCEL_KINDS, Declaration, DocKind, GoodsLine

log = logging.getLogger(__name__)

#: Declarations fetched per round trip while streaming.
CHUNK = 5_000

_HEAD_COLUMNS = [DECLARATION.c[name] for name in HEAD_FIELDS]
_LINE_COLUMNS = [DECLARATION_LINE.c[name] for name in LINE_FIELDS]


def _declaration(row: Sequence[Any], lines: list[GoodsLine]) -> Declaration:
    """Rebuild one parsed declaration from its row (id first, extra last) and its lines."""
    values: dict[str, Any] = dict(zip(HEAD_FIELDS, row[1:-1], strict=True))
    values["kind"] = DocKind(values["kind"])
    extra = row[-1]
    return Declaration(
        **values,
        lines=tuple(lines),
        extra=json.loads(extra) if extra and extra != "{}" else {},
    )


def iter_declarations(
    engine: Engine,
    kinds: Iterable[DocKind] | None = None,
    *,
    chunk: int = CHUNK,
    where: ColumnElement[bool] | None = None,
) -> Iterator[Declaration]:
    """Yield every stored declaration (optionally only of ``kinds``, or matching ``where``)
    with its goods lines.

    Streams in chunks of ``chunk`` declarations ordered by id, so memory stays flat however
    many are stored. Amounts come back as Decimal and times as aware UTC datetimes.
    Raises :class:`StoreError` when the database cannot be read.
    """
    wanted = sorted(str(k) for k in kinds) if kinds is not None else None
    d, ln = DECLARATION.c, DECLARATION_LINE.c
    last_id: Any = None
    try:
        with engine.connect() as conn:
            while True:
                stmt = select(d.id, *_HEAD_COLUMNS, d.extra).order_by(d.id).limit(chunk)
                if wanted is not None:
                    stmt = stmt.where(d.kind.in_(wanted))
                if where is not None:
                    stmt = stmt.where(where)
                if last_id is not None:
                    stmt = stmt.where(d.id > last_id)
                heads = conn.execute(stmt).all()
                if not heads:
                    return
                first, last_id = heads[0][0], heads[-1][0]
                lines: dict[Any, list[GoodsLine]] = {}
                line_stmt = (
                    select(ln.declaration_id, *_LINE_COLUMNS)
                    .where(ln.declaration_id >= first, ln.declaration_id <= last_id)
                    .order_by(ln.declaration_id, ln.gnum)
                )
                if wanted is not None or where is not None:
                    line_stmt = line_stmt.where(ln.declaration_id.in_([h[0] for h in heads]))
                for line in conn.execute(line_stmt):
                    lines.setdefault(line[0], []).append(GoodsLine(*line[1:]))
                for head in heads:
                    yield _declaration(head, lines.get(head[0], []))
    except SQLAlchemyError as err:
        raise StoreError(f"cannot read declarations: {db_reason(err)}") from err


def latest_statuses(
    engine: Engine, keys: Iterable[tuple[DocKind, str]] | None = None
) -> dict[tuple[DocKind, str], int]:
    """Return the latest customs ``returnStatus`` of every declaration that has one.

    Keyed by (kind, business key); only those among ``keys`` when given. Receipts whose
    declaration is not stored yet are not included (they are applied when it arrives).
    Raises :class:`StoreError` on failure.
    """
    d = DECLARATION.c
    stmt = select(d.kind, d.business_key, d.customs_status).where(d.customs_status.is_not(None))
    if keys is not None:
        wanted = sorted({key for _kind, key in keys})
        stmt = stmt.where(d.business_key.in_(wanted))
    out: dict[tuple[DocKind, str], int] = {}
    try:
        with engine.connect() as conn:
            for kind, key, status in conn.execute(stmt):
                out[(DocKind(kind), key)] = status
    except SQLAlchemyError as err:
        raise StoreError(f"cannot read customs statuses: {db_reason(err)}") from err
    return out


def load_index(engine: Engine) -> DeclarationIndex:
    """Build the decision index of every stored declaration, status and notice."""
    idx = DeclarationIndex()
    idx.add_all(iter_declarations(engine))
    for (kind, key), status in latest_statuses(engine).items():
        idx.set_status(kind, key, status)
    for notice in iter_notices(engine):
        idx.apply_notice(notice)
    return idx


#: Rounds of following the codes of lists found to the other lists sharing them.
_CODE_ROUNDS = 3
_PARCEL_KIND_NAMES = sorted(k.value for k in PARCEL_KINDS)


def _codes_of(decl: Declaration) -> set[str]:
    raw = (decl.logistics_no, decl.invt_no, decl.order_no, decl.cop_no, decl.business_key)
    return {normalise(c) for c in raw if c}


def load_index_for(engine: Engine, code: str) -> DeclarationIndex:
    """Build the decision index of what one parcel code's decision reads, and no more.

    That is every parcel-level declaration sharing a code with it (followed over a few
    rounds, for conflicts), their orders, payments and waybills, the other lists of the
    same buyers (the annual ledger), their customs statuses and their notices (by business
    key). The decision on this index is the one the whole index gives for this code.
    """
    d = DECLARATION.c
    columns = (d.logistics_no, d.invt_no, d.order_no, d.cop_no, d.business_key)
    parcels: dict[tuple[DocKind, str], Declaration] = {}
    codes, asked = {normalise(code)}, set[str]()
    for _ in range(_CODE_ROUNDS):
        new = sorted(codes - asked)
        if not new:
            break
        asked |= set(new)
        cond = and_(
            d.kind.in_(_PARCEL_KIND_NAMES),
            or_(*(func.upper(func.trim(c)).in_(new) for c in columns)),
        )
        for decl in iter_declarations(engine, where=cond):
            parcels[(decl.kind, decl.business_key)] = decl
            codes |= _codes_of(decl)
    buyers = sorted({p.buyer_id_number for p in parcels.values() if p.buyer_id_number})
    if buyers:
        cond = and_(d.kind == DocKind.INVENTORY.value, d.buyer_id_number.in_(buyers))
        for decl in iter_declarations(engine, where=cond):
            parcels.setdefault((decl.kind, decl.business_key), decl)
    orders = sorted({p.order_no for p in parcels.values() if p.order_no})
    waybills = sorted({p.logistics_no for p in parcels.values() if p.logistics_no})
    docs = or_(
        and_(d.kind.in_(("order", "payment")), d.order_no.in_(orders)),
        and_(d.kind == DocKind.WAYBILL.value, d.logistics_no.in_(waybills)),
    )
    idx = DeclarationIndex()
    idx.add_all(iter_declarations(engine, where=docs) if orders or waybills else ())
    idx.add_all(parcels.values())
    for (kind, key), status in latest_statuses(engine, parcels).items():
        if (kind, key) in parcels:
            idx.set_status(kind, key, status)
    for notice in iter_notices(engine, [key for _kind, key in parcels]):
        idx.apply_notice(notice)
    return idx
