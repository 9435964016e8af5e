"""Generic parcel CSV, for sites whose platform exports neither CEB nor postal data.

One row per parcel, or several consecutive rows sharing ``code`` for several goods lines.
Weights are in kg; amounts are in the parcel's ``currency``. Columns are documented in
``docs/formats-postal.md``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO

from inspection.formats.csvutil import (
    CsvRow,
    FieldError,
    csv_line,
    datetime_value,
    decimal_value,
    group_rows,
    lines_label,
    merge_cells,
    plain_number,
    read_csv,
    require_columns,
    show,
)
from inspection.formats.postal import validate_s10
from inspection.model import Declaration, DocKind, FormatError, GoodsLine, ParsedRecord, RecordError

logger = logging.getLogger(__name__)

#: Parcel-level columns, in the order the writer puts them.
PARCEL_COLUMNS = (
    "code", "trade_mode", "ie_flag", "enterprise_code", "agent_code", "buyer_id_number",
    "buyer_name", "consignee", "consignee_phone", "goods_value", "freight", "currency",
    "gross_weight_kg", "net_weight_kg", "country", "declared_at",
)  # fmt: skip
#: Goods-line columns (one goods line per row), in the order the writer puts them.
LINE_COLUMNS = ("hs_code", "description", "quantity", "unit", "line_value", "origin")
#: Every column the writer puts, in order.
CSV_COLUMNS = PARCEL_COLUMNS + LINE_COLUMNS

_S10_SHAPE = re.compile(r"[A-Z]{2}\d{9}[A-Z]{2}")
_TRADE_MODE = re.compile(r"\d{4}")
_CODE_TEXT = re.compile(r"[0-9A-Z]{2,3}")
_HS_CODE = re.compile(r"\d{4,13}")
_DECIMALS = ("goods_value", "freight", "gross_weight_kg", "net_weight_kg")


def normalise_code(code: str) -> str:
    """A parcel code as it is looked up: stripped and upper-cased."""
    return code.strip().upper()


def _pattern(cells: dict[str, str], col: str, pattern: re.Pattern[str], what: str) -> str:
    value = cells.get(col, "").upper()
    if value and not pattern.fullmatch(value):
        raise FieldError(col, f"{col} {show(col, value)} is not {what}")
    return value


def _goods_line(gnum: int, row: CsvRow, currency: str) -> GoodsLine:
    cells = row.cells
    hs_code = cells.get("hs_code", "").replace(".", "").replace(" ", "")
    if hs_code and not _HS_CODE.fullmatch(hs_code):
        raise FieldError("hs_code", f"hs_code {show('hs_code', hs_code)} is not 4-13 digits", gnum)
    try:
        qty = cells.get("quantity")
        value = cells.get("line_value")
        return GoodsLine(
            gnum=gnum,
            hs_code=hs_code,
            name=cells.get("description", ""),
            qty=None if qty is None else decimal_value(qty, "quantity"),
            unit=cells.get("unit", ""),
            total_price=None if value is None else decimal_value(value, "line_value"),
            currency=currency,
            origin=_pattern(cells, "origin", _CODE_TEXT, "a 2- or 3-character country code"),
        )
    except FieldError as problem:
        raise FieldError(problem.field, str(problem), gnum) from None


def _declaration(group: list[CsvRow], header: list[str]) -> Declaration:
    not_merged = {"code", *LINE_COLUMNS}  # rows of one group share the normalised code
    cells = merge_cells(group, [c for c in header if c and c not in not_merged])
    code = normalise_code(group[0].cells.get("code", ""))
    if not code:
        raise FieldError("code", "code is required")
    if _S10_SHAPE.fullmatch(code):
        validate_s10(code, "code")
    ie_flag = _pattern(cells, "ie_flag", re.compile("[IE]"), "I or E")
    trade_mode = _pattern(cells, "trade_mode", _TRADE_MODE, "a 4-digit customs mode")
    currency = _pattern(cells, "currency", _CODE_TEXT, "a currency code (CNY or 142)")
    country = _pattern(cells, "country", _CODE_TEXT, "a 2- or 3-character country code")
    numbers = {col: decimal_value(cells[col], col) for col in _DECIMALS if col in cells}
    declared = cells.get("declared_at")
    rows = [row for row in group if any(col in row.cells for col in LINE_COLUMNS)]
    lines = tuple(_goods_line(i, row, currency) for i, row in enumerate(rows, 1))
    known = set(PARCEL_COLUMNS)
    return Declaration(
        kind=DocKind.GENERIC,
        message_type="GENERIC",
        business_key=code,
        logistics_no=code,
        trade_mode=trade_mode,
        ie_flag=ie_flag,
        decl_time=None if declared is None else datetime_value(declared, "declared_at"),
        goods_value=numbers.get("goods_value"),
        freight=numbers.get("freight"),
        currency=currency,
        gross_weight_kg=numbers.get("gross_weight_kg"),
        net_weight_kg=numbers.get("net_weight_kg"),
        country=country,
        lines=lines,
        ebc_code=cells.get("enterprise_code", ""),
        agent_code=cells.get("agent_code", ""),
        buyer_id_number=cells.get("buyer_id_number", ""),
        buyer_name=cells.get("buyer_name", ""),
        consignee=cells.get("consignee", ""),
        consignee_telephone=cells.get("consignee_phone", ""),
        extra={k: v for k, v in cells.items() if k not in known},
    )


def read_generic_csv(stream: BinaryIO, *, source: str) -> Iterator[ParsedRecord]:
    """Stream generic parcel declarations from CSV (a ``code`` column is required)."""
    header, rows = read_csv(stream, source)
    require_columns(header, ("code",), source, "generic CSV")
    groups = group_rows(rows, key=lambda r: normalise_code(r.cells.get("code", "")),
                        alone=lambda r: False)  # fmt: skip
    for index, group in enumerate(groups, 1):
        where = lines_label(group)
        surplus = next((row for row in group if row.surplus), None)
        if surplus is not None:
            reason = f"line {surplus.line} has {surplus.surplus} more cell(s) than the header"
            logger.debug("%s: record %d rejected: %s", source, index, reason)
            yield ParsedRecord(index, RecordError(index, "row", reason))
            continue
        try:
            record = _declaration(group, header)
        except FieldError as problem:
            if problem.content:
                lines = [r for r in group if any(c in r.cells for c in LINE_COLUMNS)]
                where = f"line {lines[problem.content - 1].line}"
            reason = f"{problem} ({where})"
            logger.debug("%s: record %d rejected (%s): %s", source, index, problem.field, reason)
            yield ParsedRecord(index, RecordError(index, problem.field, reason))
            continue
        yield ParsedRecord(index, record)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return plain_number(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_generic_csv(stream: BinaryIO, records: Iterable[Declaration]) -> int:
    """Write declarations as generic UTF-8 CSV (CRLF, one row per goods line); returns the count.

    Extra fields are not written; goods-line prices are the line totals (``line_value``).
    """
    stream.write(csv_line(CSV_COLUMNS))
    count = 0
    for d in records:
        if not d.business_key:
            raise FormatError("a generic CSV record needs a business key (its code)")
        parcel = [d.business_key, d.trade_mode, d.ie_flag, d.ebc_code, d.agent_code,
                  d.buyer_id_number, d.buyer_name, d.consignee, d.consignee_telephone,
                  d.goods_value, d.freight, d.currency, d.gross_weight_kg, d.net_weight_kg,
                  d.country, d.decl_time]  # fmt: skip
        lines: list[list[object]] = [
            [g.hs_code, g.name, g.qty, g.unit, g.total_price, g.origin] for g in d.lines
        ]
        for line in lines or [[""] * len(LINE_COLUMNS)]:
            stream.write(csv_line([_text(v) for v in parcel + line]))
        count += 1
    return count
