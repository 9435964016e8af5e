"""Per-record work of the import: checks, content hashes and rows ready for executemany.

Everything here runs once per record, so it is written for speed: one pass over a
declaration's values checks its amounts, builds the text its content hash is taken of
and converts the few values the database driver cannot take as they are.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from operator import attrgetter
from typing import Any, get_type_hints

from sqlalchemy import Dialect

from hub.db.models import DECLARATION, DECLARATION_LINE, RECEIPT
from inspection.model import (
    LINELESS_KINDS,
    Declaration,
    GoodsLine,
    Prebuilt,
    Receipt,
    RecordError,
)

#: Declaration fields stored as columns of the same name, in table order (``kind`` first).
HEAD_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(Declaration) if f.name not in ("lines", "extra")
)
#: Goods-line fields stored as columns of the same name, in table order.
LINE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(GoodsLine))
#: Receipt fields hashed and stored, in table order after the id.
RECEIPT_FIELDS: tuple[str, ...] = (
    "message_type",
    "kind",
    "business_key",
    "return_status",
    "return_time",
    "return_info",
    "invt_no",
    "order_no",
    "logistics_no",
    "guid",
)

#: Decimal places a Numeric(18, 5) column keeps; digits before the point are 18 minus that.
AMOUNT_PLACES = 5
_Q5 = Decimal(1).scaleb(-AMOUNT_PLACES)
_CTX = Context(prec=18, traps=[InvalidOperation])
_INT32 = 2**31

_head_values = attrgetter(*HEAD_FIELDS)
_line_values = attrgetter(*LINE_FIELDS)
_receipt_values = attrgetter(*RECEIPT_FIELDS)


def _positions(names: tuple[str, ...], cls: type, hint: object) -> tuple[int, ...]:
    hints = get_type_hints(cls)
    return tuple(i for i, n in enumerate(names) if hints[n] == hint)


_HEAD_AMOUNTS = _positions(HEAD_FIELDS, Declaration, Decimal | None)
_HEAD_TIMES = _positions(HEAD_FIELDS, Declaration, datetime | None)
_LINE_AMOUNTS = _positions(LINE_FIELDS, GoodsLine, Decimal | None)
_LINE_GNUM = LINE_FIELDS.index("gnum")


def _check_layout() -> None:
    """Fail at import time if the tables and the parsed types ever drift apart."""
    head_cols = [c.name for c in DECLARATION.columns][1 : 1 + len(HEAD_FIELDS)]
    line_cols = [c.name for c in DECLARATION_LINE.columns][2 : 2 + len(LINE_FIELDS)]
    receipt_cols = [c.name for c in RECEIPT.columns][1 : 1 + len(RECEIPT_FIELDS)]
    if (
        head_cols != list(HEAD_FIELDS)
        or line_cols != list(LINE_FIELDS)
        or receipt_cols != list(RECEIPT_FIELDS)
        or _LINE_GNUM != 0
    ):
        raise RuntimeError("hub.db.models columns no longer follow inspection.model field order")


_check_layout()


def amount_limit(dialect: Dialect) -> Decimal:
    """Return the magnitude (exclusive) below which amounts are stored exactly.

    PostgreSQL keeps Numeric(18, 5) exactly: 13 digits before the point. SQLite keeps 15
    significant digits, so with 5 decimals only 10 digits before the point are exact.
    """
    return Decimal(10) ** (10 if dialect.name == "sqlite" else 18 - AMOUNT_PLACES)


def _amount_problem(value: object, limit: Decimal) -> str:
    if not isinstance(value, Decimal):
        return f"amount {value!r} is not a decimal number"
    if value.is_finite() and -limit < value < limit:
        return f"amount {value} has more than {AMOUNT_PLACES} decimal places"
    return f"amount {value} is not a number below {limit:,} that this database keeps exactly"


def time_text(value: datetime) -> str:
    """Render a time as UTC text, ``YYYY-MM-DD HH:MM:SS.ffffff`` (naive is taken as UTC).

    This is the form SQLite stores times in, and the form content hashes use.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def extra_text(extra: dict[str, str]) -> str:
    """Return extra source fields as canonical JSON text (keys sorted, Chinese kept as is)."""
    if not extra:
        return "{}"
    return json.dumps(extra, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def extra_json(decl: Declaration) -> str:
    """Return ``decl.extra`` as canonical JSON text (see :func:`extra_text`)."""
    return extra_text(decl.extra)


def receipt_hash(receipt: Receipt) -> str:
    """Return a stable 32-hex-digit hash of a receipt's content (equal receipts, equal hash)."""
    values = list(_receipt_values(receipt))
    values[4] = time_text(values[4]) if values[4] is not None else ""
    text = "\x1f".join(map(str, values))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def information_hash(content_hash: str) -> str:
    """Return the hash a receipt filed outside the customs channel is stored under.

    It differs from the customs hash of the same content, so a copy filed first as
    information never makes customs' own receipt look "already stored".
    """
    return hashlib.blake2b(b"information\x1f" + content_hash.encode(), digest_size=16).hexdigest()


def check_receipt(index: int, receipt: Receipt) -> RecordError | None:
    """Return why a parsed receipt cannot be stored as is, or ``None`` when it can."""
    if not receipt.business_key.strip():
        return RecordError(index, "business_key", "receipt names no declaration (empty key)")
    if not isinstance(receipt.return_status, int) or not -_INT32 <= receipt.return_status < _INT32:
        return RecordError(index, "return_status", f"status {receipt.return_status!r} is invalid")
    if receipt.return_time is not None and not isinstance(receipt.return_time, datetime):
        return RecordError(index, "return_time", f"{receipt.return_time!r} is not a date and time")
    return None


@dataclass(slots=True)
class Prepared(Prebuilt):
    """A checked declaration: its key, content hash and values in the driver's form.

    It holds plain values only (text, numbers, tuples), so it travels cheaply between
    processes.
    """

    index: int
    business_key: str
    kind: str
    content_hash: str
    extra: str
    head: list[Any]  # HEAD_FIELDS values, converted for the driver
    lines: list[tuple[Any, ...]]  # LINE_FIELDS values of each line, converted


class IdSource:
    """Hands out time-ordered UUIDs (version 7 layout) so bulk inserts append to indexes.

    Each call takes the current millisecond and a random start, then counts up, so ids
    from one process are unique and roughly ordered by creation time. With ``as_text``
    the ids come as 32 lowercase hex digits, the form SQLite stores them in.
    """

    __slots__ = ("as_text",)

    def __init__(self, as_text: bool = False) -> None:
        """``as_text``: hand out hex strings instead of :class:`uuid.UUID` objects."""
        self.as_text = as_text

    def take(self, count: int) -> list[Any]:
        """Return ``count`` new distinct ids, in increasing order."""
        if count <= 0:
            return []
        ms = time.time_ns() // 1_000_000
        rand = int.from_bytes(os.urandom(10), "big")
        rand_a = rand >> 68  # 12 bits
        rand_b = rand & ((1 << 61) - 1)  # 61 of 62 bits: room to count up without carry
        base = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
        if self.as_text:
            return ["%032x" % (base + i) for i in range(count)]  # the fastest form
        make = uuid.UUID
        return [make(int=base + i) for i in range(count)]


def _processor(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    proc: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).bind_processor(dialect)
    return proc


class RowShaper:
    """Checks and converts declarations for one database dialect."""

    def __init__(self, dialect: Dialect) -> None:
        """Look up which columns the driver needs converted on ``dialect``."""
        head_cols = list(DECLARATION.columns)[1:]
        line_cols = list(DECLARATION_LINE.columns)[2:]
        self._head_amounts = tuple((p, _processor(head_cols[p], dialect)) for p in _HEAD_AMOUNTS)
        self._head_times = tuple((p, _processor(head_cols[p], dialect)) for p in _HEAD_TIMES)
        self._line_amounts = tuple((p, _processor(line_cols[p], dialect)) for p in _LINE_AMOUNTS)
        self.limit = amount_limit(dialect)
        # SQLite takes amounts and times as text (NUMERIC affinity stores amounts as numbers).
        self.wire_as_text = dialect.name == "sqlite"

    def prepare(self, index: int, decl: Declaration) -> Prepared | RecordError:
        """Check one declaration and return it ready to store, or why it cannot be stored.

        The content hash covers every field, every goods line and ``extra``; amounts count
        by value (``12.5`` = ``12.50000``) and times by instant, so a declaration read back
        from the database hashes as it did when filed; any changed value hashes differently.
        """
        if not decl.business_key.strip():
            return RecordError(index, "business_key", "business key is empty")
        if decl.lines and decl.kind in LINELESS_KINDS:
            return RecordError(
                index, "lines", f"a {decl.kind} has no goods lines, yet {len(decl.lines)} came"
            )
        values = list(_head_values(decl))
        texts = values.copy()
        limit, as_text = self.limit, self.wire_as_text
        for pos, proc in self._head_amounts:
            value = values[pos]
            if value is None:
                texts[pos] = ""
                continue
            try:
                fixed = value.quantize(_Q5, context=_CTX)
                if fixed != value or not -limit < value < limit:
                    raise InvalidOperation
            except (ArithmeticError, AttributeError, TypeError):
                return RecordError(index, HEAD_FIELDS[pos], _amount_problem(value, limit))
            texts[pos] = text = str(fixed)
            if as_text:
                values[pos] = text
            elif proc is not None:
                values[pos] = proc(value)
        for pos, proc in self._head_times:
            value = values[pos]
            if value is None:
                texts[pos] = ""
                continue
            if not isinstance(value, datetime):
                return RecordError(index, HEAD_FIELDS[pos], f"{value!r} is not a date and time")
            try:
                texts[pos] = text = time_text(value)
            except OverflowError:  # the first hours of year 1 in a zone east of UTC
                return RecordError(index, HEAD_FIELDS[pos], f"{value} is before year 1 in UTC")
            if as_text:
                values[pos] = text
            elif proc is not None:
                values[pos] = proc(value)
        kind = values[0] = str(decl.kind)
        try:
            digest = hashlib.blake2b("\x1f".join(texts).encode(), digest_size=16)
        except (TypeError, UnicodeEncodeError):
            return _type_problem(index, HEAD_FIELDS, texts)
        lines: list[tuple[Any, ...]] = []
        seen: set[int] = set()
        for line in decl.lines:
            problem = self._line(index, line, seen, lines, digest)
            if problem is not None:
                return problem
        try:
            extra = extra_json(decl)
            digest.update(b"\x1d")
            digest.update(extra.encode())
        except (TypeError, ValueError) as err:
            return RecordError(index, "extra", f"extra fields cannot be stored: {err}")
        return Prepared(index, decl.business_key, kind, digest.hexdigest(), extra, values, lines)

    def _line(
        self,
        index: int,
        line: GoodsLine,
        seen: set[int],
        out: list[tuple[Any, ...]],
        digest: Any,
    ) -> RecordError | None:
        """Check and convert one goods line into ``out``; feed its text to ``digest``."""
        gnum = line.gnum
        if gnum.__class__ is not int or not 0 <= gnum < _INT32 or gnum in seen:
            why = "appears twice" if gnum in seen else "is not a whole number below 2**31"
            return RecordError(index, "gnum", f"goods line number {gnum!r} {why}")
        seen.add(gnum)
        values = list(_line_values(line))
        texts = values.copy()
        texts[_LINE_GNUM] = str(gnum)
        limit, as_text = self.limit, self.wire_as_text
        for pos, proc in self._line_amounts:
            value = values[pos]
            if value is None:
                texts[pos] = ""
                continue
            try:
                fixed = value.quantize(_Q5, context=_CTX)
                if fixed != value or not -limit < value < limit:
                    raise InvalidOperation
            except (ArithmeticError, AttributeError, TypeError):
                field_name = f"lines[{gnum}].{LINE_FIELDS[pos]}"
                return RecordError(index, field_name, _amount_problem(value, limit))
            texts[pos] = text = str(fixed)
            if as_text:
                values[pos] = text
            elif proc is not None:
                values[pos] = proc(value)
        try:
            digest.update(b"\x1e")
            digest.update("\x1f".join(texts).encode())
        except (TypeError, UnicodeEncodeError):
            return _type_problem(index, LINE_FIELDS, texts, prefix=f"lines[{gnum}].")
        out.append(tuple(values))
        return None


def _type_problem(
    index: int, names: tuple[str, ...], texts: list[Any], prefix: str = ""
) -> RecordError:
    """Name the first field that is not text or cannot be encoded as UTF-8."""
    for name, value in zip(names, texts, strict=True):
        if not isinstance(value, str):
            return RecordError(index, prefix + name, f"expected text, got {type(value).__name__}")
        try:
            value.encode()
        except UnicodeEncodeError:
            return RecordError(index, prefix + name, "text is not valid Unicode")
    return RecordError(index, "", "a field has an unexpected type")


def head_row(row_id: Any, p: Prepared, stamp: Any, source: str) -> tuple[Any, ...]:
    """Return a new ``declaration`` row in column order (no customs status yet).

    ``row_id`` and ``stamp`` (created and updated time) are in the driver's form already.
    """
    return (row_id, *p.head, p.extra, p.content_hash, None, None, stamp, stamp, source)


def receipt_row(
    row_id: Any,
    receipt: Receipt,
    content_hash: str,
    *,
    declaration_id: Any,
    received_at: Any,
    source: str,
    from_customs: bool = True,
) -> tuple[Any, ...]:
    """Return a ``receipt`` row in column order (values unconverted unless text)."""
    values = _receipt_values(receipt)
    return (
        row_id,
        values[0],
        str(receipt.kind),
        *values[2:],
        content_hash,
        declaration_id,
        received_at,
        source,
        from_customs,
    )
