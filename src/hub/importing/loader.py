"""Reading stored declarations and customs statuses back, streamed, for the decision index."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.db.engine import StoreError, db_reason
from hub.db.models import DECLARATION, DECLARATION_LINE
from hub.importing.rows import HEAD_FIELDS, LINE_FIELDS
from inspection.model import Declaration, DocKind, GoodsLine

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
    engine: Engine, kinds: Iterable[DocKind] | None = None, *, chunk: int = CHUNK
) -> Iterator[Declaration]:
    """Yield every stored declaration (optionally only of ``kinds``) with its goods lines.

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
                if wanted is not None:
                    line_stmt = line_stmt.join(DECLARATION, d.id == ln.declaration_id).where(
                        d.kind.in_(wanted)
                    )
                for line in conn.execute(line_stmt):
                    lines.setdefault(line[0], []).append(GoodsLine(*line[1:]))
                for head in heads:
                    yield _declaration(head, lines.get(head[0], []))
    except SQLAlchemyError as err:
        raise StoreError(f"cannot read declarations: {db_reason(err)}") from err


def latest_statuses(engine: Engine) -> dict[tuple[DocKind, str], int]:
    """Return the latest customs ``returnStatus`` of every declaration that has one.

    Keyed by (kind, business key). Receipts whose declaration is not stored yet are not
    included (they are applied when it arrives). Raises :class:`StoreError` on failure.
    """
    d = DECLARATION.c
    stmt = select(d.kind, d.business_key, d.customs_status).where(d.customs_status.is_not(None))
    out: dict[tuple[DocKind, str], int] = {}
    try:
        with engine.connect() as conn:
            for kind, key, status in conn.execute(stmt):
                out[(DocKind(kind), key)] = status
    except SQLAlchemyError as err:
        raise StoreError(f"cannot read customs statuses: {db_reason(err)}") from err
    return out
