"""Postal item declarations (CN22/CN23 data) and postal receipts as JSON or CSV, read and written.

The JSON item shape and the CSV column mapping are documented in ``docs/formats-postal.md``.
Weights are in kg; amounts are in the item's (or contents line's) currency.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import BinaryIO

from inspection.formats.csvutil import (
    CsvRow,
    FieldError,
    country_value,
    csv_line,
    currency_value,
    datetime_value,
    decimal_value,
    flatten_into,
    group_rows,
    int_value,
    iter_text,
    lines_label,
    merge_cells,
    plain_number,
    read_csv,
    require_columns,
    show,
    text_value,
    type_name,
)
from inspection.formats.jsonstream import dump_json, iter_json_items
from inspection.identity import s10_check_digit, s10_problem
from inspection.model import (
    Declaration,
    DocKind,
    FormatError,
    GoodsLine,
    ParsedRecord,
    Receipt,
    RecordError,
)

logger = logging.getLogger(__name__)

#: Item categories of a CN22/CN23 declaration.
CATEGORIES = frozenset(
    {"gift", "documents", "commercial_sample", "returned_goods", "sale_of_goods", "other"}
)
#: Above this total value (in the item's currency) an item is declared on a CN23.
CN23_VALUE_OVER = Decimal(300)
#: Above this gross weight in kg an item is declared on a CN23.
CN23_WEIGHT_OVER_KG = Decimal(2)
#: Customs status codes a postal receipt may carry (the CEB ``returnStatus`` set).
RETURN_STATUSES = frozenset(
    {1, 2, 3, 4, 100, 120, 300, 399, 400, 500, 501, 502, 503, 599, 600, 700, 800, 899}
)

_S10 = re.compile(r"[A-Z]{2}(\d{8})(\d)[A-Z]{2}")
_HS_CODE = re.compile(r"\d{4,13}")

_PARTIES: dict[str, tuple[str, ...]] = {
    "sender": ("name", "address", "country"),
    "addressee": ("name", "address", "country", "phone", "id_number"),
}
_CONTENT_KEYS = (
    "description", "quantity", "net_weight_kg", "value", "currency", "hs_code", "origin_country"
)  # fmt: skip
_ITEM_KEYS = (
    "item_id", "category", "sender", "addressee", "total_gross_weight_kg", "total_value",
    "currency", "declared_at", "operator", "contents",
)  # fmt: skip
_MAPPED_EXTRA = ("sender.address", "addressee.country", "operator")

#: Postal CSV columns in the order the writer puts them.
CSV_COLUMNS: tuple[str, ...] = (
    "item_id", "category",
    *(f"{party}_{key}" for party, keys in _PARTIES.items() for key in keys),
    "total_gross_weight_kg", "total_value", "currency", "declared_at", "operator",
    *(f"content_{key}" for key in _CONTENT_KEYS),
    "return_status", "return_time", "return_info",
)  # fmt: skip
_DECLARATION_COLUMNS = (
    "item_id", "category", "addressee_name", "total_gross_weight_kg", "total_value", "currency",
    "content_description", "content_quantity", "content_value",
)  # fmt: skip


def validate_s10(value: str, field: str = "item_id") -> str:
    """Normalise (strip, upper-case) and check a UPU S10 item id such as ``RR123456785CN``.

    The check digit, the service indicator and the country follow :mod:`inspection.identity`,
    so an id accepted here is one a scanner read can match.
    """
    code = value.strip().upper()
    m = _S10.fullmatch(code)
    if m is None:
        shape = "2 letters, 9 digits, 2 letters"
        raise FieldError(field, f"{field} {show(field, code)} is not a UPU S10 id ({shape})")
    expected = s10_check_digit(m.group(1))
    if int(m.group(2)) != expected:
        raise FieldError(
            field, f"{field} {show(field, code)} fails the S10 check digit (expected {expected})"
        )
    problem = s10_problem(code)  # reserved service indicator, unknown country
    if problem:
        raise FieldError(field, f"{field} {show(field, code)} is not a valid S10 id: {problem}")
    return code


def _get(obj: dict[str, object], key: str) -> object:
    """A member's value, with null and blank text treated as absent (``None``)."""
    value = obj.get(key)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _required(obj: dict[str, object], key: str, field: str, content: int = 0) -> object:
    value = _get(obj, key)
    if value is None:
        raise FieldError(field, f"{field} is required", content)
    return value


def _party(item: dict[str, object], name: str, extra: dict[str, str]) -> dict[str, str]:
    raw = _get(item, name)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FieldError(name, f"{name} must be an object, not {type_name(raw)}")
    party: dict[str, str] = {}
    for key, value in raw.items():
        field = f"{name}.{key}"
        if key not in _PARTIES[name]:
            flatten_into(field, value, extra)
        elif key == "country" and _get(raw, key) is not None:
            party[key] = country_value(value, field)
        else:
            party[key] = text_value(value, field)
    return party


def _line(gnum: int, raw: object, currency: str, extra: dict[str, str]) -> GoodsLine:
    if not isinstance(raw, dict):
        what = type_name(raw)
        raise FieldError("", f"contents line {gnum} must be an object, not {what}", gnum)

    def opt(key: str) -> object:
        return _get(raw, key)

    for key, value in raw.items():
        if key not in _CONTENT_KEYS:
            flatten_into(f"contents.{gnum}.{key}", value, extra)
    try:
        hs_code = text_value(opt("hs_code"), "hs_code").replace(".", "").replace(" ", "")
        if hs_code and not _HS_CODE.fullmatch(hs_code):
            raise FieldError("hs_code", f"hs_code {show('hs_code', hs_code)} is not 4-13 digits")
        weight, line_currency, origin = opt("net_weight_kg"), opt("currency"), opt("origin_country")
        return GoodsLine(
            gnum=gnum,
            hs_code=hs_code,
            name=text_value(_required(raw, "description", "description"), "description"),
            qty=decimal_value(_required(raw, "quantity", "quantity"), "quantity"),
            total_price=decimal_value(_required(raw, "value", "value"), "value"),
            net_weight_kg=None if weight is None else decimal_value(weight, "net_weight_kg"),
            currency=(
                currency if line_currency is None else currency_value(line_currency, "currency")
            ),
            origin="" if origin is None else country_value(origin, "origin_country"),
        )
    except FieldError as problem:
        raise FieldError(problem.field, str(problem), gnum) from None


def _declaration(item: dict[str, object]) -> Declaration:
    item_id = validate_s10(text_value(_required(item, "item_id", "item_id"), "item_id"))
    category = text_value(_required(item, "category", "category"), "category")
    category = category.lower().replace(" ", "_").replace("-", "_")
    if category not in CATEGORIES:
        raise FieldError(
            "category", f"category {show('category', category)} is not one of {sorted(CATEGORIES)}"
        )
    extra: dict[str, str] = {}
    sender = _party(item, "sender", extra)
    addressee = _party(item, "addressee", extra)
    if not addressee.get("name"):
        raise FieldError("addressee.name", "addressee.name is required")
    gross = decimal_value(_required(item, "total_gross_weight_kg", "total_gross_weight_kg"),
                          "total_gross_weight_kg")  # fmt: skip
    value = decimal_value(_required(item, "total_value", "total_value"), "total_value")
    currency = currency_value(_required(item, "currency", "currency"), "currency")
    declared = _get(item, "declared_at")
    contents = _required(item, "contents", "contents")
    if not isinstance(contents, list) or not contents:
        raise FieldError("contents", "contents must be a non-empty list of contents lines")
    lines = tuple(_line(i, raw, currency, extra) for i, raw in enumerate(contents, 1))
    for key, sub in item.items():
        if key not in _ITEM_KEYS:
            flatten_into(key, sub, extra)
    for key, mapped in (("sender.address", sender), ("addressee.country", addressee)):
        if mapped.get(key.split(".")[1]):
            extra[key] = mapped[key.split(".")[1]]
    operator = text_value(_get(item, "operator"), "operator")
    if operator:
        extra["operator"] = operator
    big = value > CN23_VALUE_OVER or gross > CN23_WEIGHT_OVER_KG
    form = extra.get("form", "").strip().upper()  # the form the item was declared on
    if form and form not in ("CN22", "CN23"):
        raise FieldError("form", f"form {show('form', form)} is not CN22 or CN23")
    tax = decimal_value(extra["tax"], "tax") if extra.get("tax") else None
    return Declaration(
        kind=DocKind.POSTAL,
        message_type=form or ("CN23" if big else "CN22"),
        tax_total=tax,
        business_key=item_id,
        logistics_no=item_id,
        decl_time=None if declared is None else datetime_value(declared, "declared_at"),
        gross_weight_kg=gross,
        goods_value=value,
        currency=currency,
        category=category,
        sender=sender.get("name", ""),
        addressee=addressee["name"],
        consignee_address=addressee.get("address", ""),
        consignee_telephone=addressee.get("phone", ""),
        buyer_id_number=addressee.get("id_number", ""),
        country=sender.get("country", ""),
        lines=lines,
        extra=extra,
    )


def _receipt(item: dict[str, object]) -> Receipt:
    item_id = validate_s10(text_value(_required(item, "item_id", "item_id"), "item_id"))
    if _get(item, "contents") not in (None, []):
        raise FieldError("return_status", "a receipt (with return_status) carries no contents")
    status = int_value(_required(item, "return_status", "return_status"), "return_status")
    if status >= 0 and status not in RETURN_STATUSES:
        raise FieldError("return_status", f"return_status {status} is not a customs status code")
    when = _get(item, "return_time")
    return Receipt(
        message_type="POSTAL",
        kind=DocKind.POSTAL,
        business_key=item_id,
        logistics_no=item_id,
        return_status=status,
        return_time=None if when is None else datetime_value(when, "return_time"),
        return_info=text_value(_get(item, "return_info"), "return_info"),
    )


def convert_item(item: object) -> Declaration | Receipt:
    """Turn one decoded item (JSON shape) into a Declaration or, with ``return_status``, a Receipt.

    Raises :class:`FieldError` naming the first field that is missing or wrong.
    """
    if not isinstance(item, dict):
        raise FieldError("item", f"an item must be a JSON object, not {type_name(item)}")
    if _get(item, "return_status") is not None:
        return _receipt(item)
    return _declaration(item)


def _rejected(index: int, field: str, reason: str, source: str) -> ParsedRecord:
    logger.debug("%s: record %d rejected (%s): %s", source, index, field, reason)
    return ParsedRecord(index, RecordError(index, field, reason))


def read_postal_json(stream: BinaryIO, *, source: str) -> Iterator[ParsedRecord]:
    """Stream postal items from a JSON array, an ``{"items": [...]}`` object or JSON Lines."""
    for index, found in enumerate(iter_json_items(iter_text(stream, source), source), 1):
        try:
            record = convert_item(found.value)
        except FieldError as problem:
            field = problem.field
            if problem.content:
                field = f"contents[{problem.content}]" + (f".{field}" if field else "")
            where = f"item at line {found.line} column {found.column}"
            yield _rejected(index, field, f"{problem} ({where})", source)
            continue
        yield ParsedRecord(index, record)


def _csv_item(group: list[CsvRow], header: list[str]) -> tuple[dict[str, object], list[int]]:
    """Rebuild the JSON item shape from one item's rows; also the line of each contents row."""
    item_cols = [c for c in header if c and c != "item_id" and not c.startswith("content_")]
    content_cols = [c for c in header if c.startswith("content_")]
    item: dict[str, object] = {"item_id": group[0].cells.get("item_id", "")}  # shared, folded
    parties: dict[str, dict[str, str]] = {}
    for col, value in merge_cells(group, item_cols).items():
        party, _, key = col.partition("_")
        if party in _PARTIES and key in _PARTIES[party]:
            parties.setdefault(party, {})[key] = value
        else:
            item[col] = value
    item.update(parties)
    contents: list[object] = []
    lines: list[int] = []
    for row in group:
        line = {c.removeprefix("content_"): row.cells[c] for c in content_cols if c in row.cells}
        if line:
            contents.append(line)
            lines.append(row.line)
    if contents:
        item["contents"] = contents
    return item, lines


def read_postal_csv(stream: BinaryIO, *, source: str) -> Iterator[ParsedRecord]:
    """Stream postal items from CSV: one row per contents line, consecutive rows per item.

    A row with a ``return_status`` is a receipt and stands alone.
    """
    header, rows = read_csv(stream, source)
    if "return_status" in header and "content_description" not in header:
        require_columns(header, ("item_id", "return_status"), source, "postal receipt CSV")
    else:
        require_columns(header, _DECLARATION_COLUMNS, source, "postal CSV")
    groups = group_rows(rows, key=lambda r: r.cells.get("item_id", "").upper(),
                        alone=lambda r: "return_status" in r.cells)  # fmt: skip
    for index, group in enumerate(groups, 1):
        where = lines_label(group)
        surplus = next((row for row in group if row.surplus), None)
        if surplus is not None:
            reason = f"line {surplus.line} has {surplus.surplus} more cell(s) than the header"
            yield _rejected(index, "row", reason, source)
            continue
        lines: list[int] = []
        try:
            item, lines = _csv_item(group, header)
            record = convert_item(item)
        except FieldError as problem:
            field = problem.field.replace(".", "_")
            if problem.content:
                field = f"content_{field}" if field else "contents"
                where = f"line {lines[problem.content - 1]}"
            message = str(problem)
            if problem.field and message.startswith(problem.field):
                message = field + message[len(problem.field) :]
            yield _rejected(index, field, f"{message} ({where})", source)
            continue
        yield ParsedRecord(index, record)


def _item_of(record: Declaration | Receipt) -> dict[str, object]:
    """The JSON item shape of a postal Declaration or Receipt (empty members left out)."""
    if record.kind != DocKind.POSTAL:
        raise FormatError(f"{record.business_key}: a {record.kind} record is not a postal item")
    if isinstance(record, Receipt):
        receipt = {"item_id": record.business_key, "return_status": record.return_status,
                   "return_time": record.return_time.isoformat() if record.return_time else None,
                   "return_info": record.return_info}  # fmt: skip
        return {k: v for k, v in receipt.items() if v not in (None, "")}
    d = record
    sender = {"name": d.sender, "address": d.extra.get("sender.address", ""), "country": d.country}
    addressee = {"name": d.addressee, "address": d.consignee_address,
                 "country": d.extra.get("addressee.country", ""),
                 "phone": d.consignee_telephone, "id_number": d.buyer_id_number}  # fmt: skip
    contents = [
        {"description": g.name, "quantity": g.qty, "net_weight_kg": g.net_weight_kg,
         "value": g.total_price, "currency": g.currency, "hs_code": g.hs_code,
         "origin_country": g.origin}
        for g in d.lines
    ]  # fmt: skip
    item: dict[str, object] = {
        "item_id": d.business_key, "category": d.category,
        "sender": {k: v for k, v in sender.items() if v},
        "addressee": {k: v for k, v in addressee.items() if v},
        "total_gross_weight_kg": d.gross_weight_kg, "total_value": d.goods_value,
        "currency": d.currency, "declared_at": d.decl_time.isoformat() if d.decl_time else None,
        "operator": d.extra.get("operator", ""),
        "contents": [{k: v for k, v in c.items() if v not in (None, "")} for c in contents],
    }  # fmt: skip
    for key, value in d.extra.items():
        if key not in _MAPPED_EXTRA and key not in item:
            item[key] = value
    return {k: v for k, v in item.items() if v not in (None, "", {})}


def write_postal_json(stream: BinaryIO, records: Iterable[Declaration | Receipt]) -> int:
    """Write postal records as a UTF-8 JSON array, one item per line; returns the item count."""
    count = 0
    for record in records:
        stream.write((",\n" if count else "[\n").encode("utf-8"))
        stream.write(dump_json(_item_of(record)).encode("utf-8"))
        count += 1
    stream.write(b"\n]\n" if count else b"[]\n")
    return count


def write_postal_csv(stream: BinaryIO, records: Iterable[Declaration | Receipt]) -> int:
    """Write postal records as UTF-8 CSV (CRLF, one row per contents line); returns the item count.

    Extra fields other than ``sender.address``, ``addressee.country`` and ``operator`` are
    not written (the CSV has a fixed set of columns).
    """
    stream.write(csv_line(CSV_COLUMNS))
    count = 0
    for record in records:
        item = _item_of(record)
        cells: dict[str, str] = {}
        for key, value in item.items():
            if isinstance(value, dict):
                cells.update({f"{key}_{k}": str(v) for k, v in value.items()})
            elif key != "contents":
                cells[key] = plain_number(value) if isinstance(value, Decimal) else str(value)
        listed = item.get("contents")
        lines = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
        for line in lines or [{}]:
            row = cells | {
                f"content_{k}": plain_number(v) if isinstance(v, Decimal) else str(v)
                for k, v in line.items()
            }
            stream.write(csv_line([row.get(col, "") for col in CSV_COLUMNS]))
        count += 1
    return count
