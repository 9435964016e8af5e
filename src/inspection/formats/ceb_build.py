"""Turn one parsed CEB record element into a Declaration or Receipt, or the error rejecting it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from lxml import etree

from inspection.formats.ceb_fields import (
    BONDED_MODES,
    CEB_PREFIX,
    EXPORT_MODES,
    IE_FLAGS,
    IMPORT_MODES,
    LINE_ATTRS,
    MESSAGE_DIRECTION,
    RECEIPT_ATTRS,
    TRADE_MODES,
    DeclarationSpec,
    FieldType,
    ReceiptSpec,
    business_key,
)
from inspection.masking import scrub
from inspection.model import Declaration, GoodsLine, Prebuilt, Receipt, RecordError

#: CEB times carry no zone; they are China Standard Time.
CHINA_TZ = timezone(timedelta(hours=8), "UTC+08:00")

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d{1,12}", re.ASCII)
_QUOTE_MAX = 40
_REQUIRED = "required field is missing or empty"


class _RejectedError(Exception):
    """Internal: the record being built is rejected at ``field`` for ``reason``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def _quote(value: str) -> str:
    """Quote a bad value for an error reason: shortened, long digit runs masked."""
    short = value if len(value) <= _QUOTE_MAX else value[:_QUOTE_MAX] + "…"
    return repr(scrub(short))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _parse_decimal(value: str, where: str, name: str) -> Decimal:
    """Parse a plain non-negative decimal (no exponent); reject the record at ``where.name``."""
    if _DECIMAL.fullmatch(value) is None:
        raise _RejectedError(f"{where}.{name}", f"{_quote(value)} is not a decimal number")
    number = Decimal(value)
    if number < 0:
        raise _RejectedError(f"{where}.{name}", "must not be negative")
    return number


#: Lengths of the CEB time forms: ``yyyyMMdd``, ``yyyyMMddHHmmss``, ``yyyyMMddHHmmssSSS``.
TIME_LENGTHS = (8, 14, 17)
_TIME_FORMS = "yyyyMMdd, yyyyMMddHHmmss or yyyyMMddHHmmssSSS"


def ceb_time(value: str) -> datetime | None:
    """Return a CEB date or time (8, 14 or 17 digits) as China time (UTC+8), zone-aware;
    a date alone is midnight China time. None when it is not a real date of that form."""
    n = len(value)
    if n not in TIME_LENGTHS or not (value.isascii() and value.isdigit()):
        return None
    try:
        if n == 8:
            return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), tzinfo=CHINA_TZ)
        return datetime(
            int(value[0:4]), int(value[4:6]), int(value[6:8]),
            int(value[8:10]), int(value[10:12]), int(value[12:14]),
            int(value[14:17]) * 1000 if n == 17 else 0, tzinfo=CHINA_TZ,
        )  # fmt: skip
    except ValueError:
        return None


def _parse_time(value: str, where: str, name: str) -> datetime:
    """Parse a CEB time (see :func:`ceb_time`); reject the record at ``where.name``."""
    at = ceb_time(value)
    if at is not None:
        return at
    n = len(value)
    quoted = repr(value if n <= _QUOTE_MAX else value[:_QUOTE_MAX] + "…")  # not personal data
    if value.isascii() and value.isdigit() and n in TIME_LENGTHS:
        reason = f"{quoted} is not a real calendar date and time ({_TIME_FORMS})"
    else:
        reason = f"{quoted} is not a time of the form {_TIME_FORMS}"
    raise _RejectedError(f"{where}.{name}", reason)


def _parse_status(value: str, where: str, name: str) -> int:
    if _INTEGER.fullmatch(value) is None:
        raise _RejectedError(f"{where}.{name}", f"{_quote(value)} is not a whole number")
    return int(value)


def _parse_gnum(value: str, where: str, name: str) -> int:
    number = _parse_status(value, where, name)
    if number < 1:
        raise _RejectedError(f"{where}.{name}", "must be 1 or more")
    return number


_Converter = Callable[[str, str, str], Any]
_CONVERTERS: dict[FieldType, _Converter | None] = {
    FieldType.TEXT: None,
    FieldType.DECIMAL: _parse_decimal,
    FieldType.TIME: _parse_time,
    FieldType.INT: _parse_gnum,
    FieldType.STATUS: _parse_status,
}
_Table = dict[str, tuple[str, str, _Converter | None]]


def _fields(
    raw: dict[Any, str | None], table: _Table, where: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Convert an element's children (Clark tag → text): mapped ones into attributes, the
    rest into ``extra`` under their local name."""
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for tag, text in raw.items():
        value = text.strip() if text else ""
        mapped = table.get(tag)
        if mapped is None:
            if isinstance(tag, str):
                extra[_local(tag)] = value
            continue
        attr, name, convert = mapped
        if convert is None:
            values[attr] = value
        elif value:
            values[attr] = convert(value, where, name)
    return values, extra


class _LocalTable:
    """Lookup tables by local element name, split into plain text and converted fields."""

    __slots__ = ("text", "typed")

    def __init__(self, table: _Table) -> None:
        self.text = {tag: attr for tag, (attr, _n, convert) in table.items() if convert is None}
        self.typed = {tag: (attr, convert) for tag, (attr, _n, convert) in table.items() if convert}


def _fields_local(
    raw: dict[str, str], table: _LocalTable, where: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """:func:`_fields` for children keyed by local name, with the same results and errors."""
    text, typed = table.text, table.typed
    values = {text[tag]: value.strip() for tag, value in raw.items() if tag in text}
    converted = [tag for tag in raw if tag in typed]
    known = len(values) + len(converted)
    for tag in converted:
        value = raw[tag].strip()
        if value:
            attr, convert = typed[tag]
            values[attr] = convert(value, where, tag)
    extra: dict[str, str] = {}
    if len(raw) > known:
        extra = {tag: v.strip() for tag, v in raw.items() if tag not in text and tag not in typed}
    return values, extra


def _children(elem: etree._Element) -> dict[Any, str | None]:
    """Tag → text of an element's children (the last of a repeated tag wins)."""
    return {child.tag: child.text for child in elem}


def _table(attrs: dict[str, tuple[str, FieldType]], prefix: str = CEB_PREFIX) -> _Table:
    return {prefix + name: (attr, name, _CONVERTERS[kind]) for name, (attr, kind) in attrs.items()}


def _check_code(code: str, field: str) -> None:
    if ":" in code:
        raise _RejectedError(field, "a code must not contain ':' (it separates the business key)")


def check_direction(spec: DeclarationSpec, values: dict[str, Any], extra: dict[str, str]) -> None:
    """Refuse an ieFlag or trade mode that contradicts the message, and a bonded list
    without its account book (``emsNo``) and warehouse enterprise (``areaCode``)."""
    direction = MESSAGE_DIRECTION.get(spec.message_type)
    if direction is None:
        return
    head = spec.head
    ie_flag = values.get("ie_flag") or ""
    if ie_flag and ie_flag != direction:
        raise _RejectedError(
            f"{head}.ieFlag", f"{_quote(ie_flag)} contradicts {spec.message_type} ({direction})"
        )
    mode = values.get("trade_mode") or ""
    allowed = IMPORT_MODES if direction == "I" else EXPORT_MODES
    if mode and mode not in allowed:
        raise _RejectedError(
            f"{head}.tradeMode",
            f"trade mode {_quote(mode)} is not an {'import' if direction == 'I' else 'export'} "
            f"mode for {spec.message_type} (one of {', '.join(sorted(allowed))})",
        )
    if direction == "I" and mode in BONDED_MODES:
        for name in ("emsNo", "areaCode"):
            if not extra.get(name):
                raise _RejectedError(f"{head}.{name}", f"{_REQUIRED} (bonded mode {mode})")


def direction_ok(spec: DeclarationSpec, values: dict[str, Any], head: dict[str, str]) -> bool:
    """True when :func:`check_direction` lets the record through."""
    try:
        check_direction(spec, values, head)
    except _RejectedError:
        return False
    return True


class DeclarationBuilder:
    """Builds declarations of one message type from record elements (CEB311/411/511/621/603).

    :meth:`build` reads an lxml record element; :meth:`build_parts` takes the same record
    already split into children (local name → text), as the fast reader produces it. Both
    give the same result for the same record. A subclass may turn records straight into
    its own form (a :class:`~inspection.model.Prebuilt`), skipping the Declaration.
    """

    def __init__(self, spec: DeclarationSpec) -> None:
        """Prepare the lookup tables for ``spec``."""
        self.spec = spec
        attrs = spec.attrs()
        self._head_tag = CEB_PREFIX + spec.head
        self._line_tag = CEB_PREFIX + spec.line if spec.line else ""
        self._head = _table(attrs)
        self._lines = _table(LINE_ATTRS)
        self._head_local = _LocalTable(_table(attrs, ""))
        self._lines_local = _LocalTable(_table(LINE_ATTRS, ""))
        self._required = tuple((name, attrs[name][0]) for name in spec.required)
        self._key = (attrs[spec.key[0]][0], attrs[spec.key[1]][0])

    def build(self, index: int, record: etree._Element) -> Declaration | RecordError | Prebuilt:
        """Declaration for the record element, or why record ``index`` (1-based) is rejected."""
        try:
            return self._build(record)
        except _RejectedError as rejected:
            return RecordError(index, rejected.field, rejected.reason)

    def build_parts(
        self, index: int, heads: list[dict[str, str]], lines: list[dict[str, str]]
    ) -> Declaration | RecordError | Prebuilt:
        """Declaration from a record's head and goods-line children (local name → text)."""
        try:
            if len(heads) > 1:
                raise _RejectedError(self.spec.head, f"record has more than one {self.spec.head}")
            if not heads:
                raise _RejectedError(self.spec.head, f"record has no {self.spec.head}")
            values, extra = _fields_local(heads[0], self._head_local, self.spec.head)
            parsed = (self._line_values(i, raw, False) for i, raw in enumerate(lines, 1))
            return self._finish(values, extra, len(lines), parsed)
        except _RejectedError as rejected:
            return RecordError(index, rejected.field, rejected.reason)

    def build_stripped(
        self, index: int, heads: list[dict[str, str]], lines: list[dict[str, str]]
    ) -> Declaration | RecordError | Prebuilt:
        """:meth:`build_parts` for texts that have no whitespace at either end."""
        return self.build_parts(index, heads, lines)

    def _build(self, record: etree._Element) -> Declaration:
        spec = self.spec
        head: etree._Element | None = None
        line_elems: list[etree._Element] = []
        for child in record:
            if child.tag == self._line_tag:
                line_elems.append(child)
            elif child.tag == self._head_tag:
                if head is not None:
                    raise _RejectedError(spec.head, f"record has more than one {spec.head}")
                head = child
        if head is None:
            raise _RejectedError(spec.head, f"record has no {spec.head}")
        values, extra = _fields(_children(head), self._head, spec.head)
        parsed = (
            self._line_values(i, _children(elem), True) for i, elem in enumerate(line_elems, 1)
        )
        return self._finish(values, extra, len(line_elems), parsed)

    def _finish(
        self,
        values: dict[str, Any],
        extra: dict[str, str],
        line_count: int,
        lines_parsed: Iterator[GoodsLine],
    ) -> Declaration:
        """Check the head values, then build the lines in order, then the declaration."""
        spec = self.spec
        for name, attr in self._required:
            value = values.get(attr)
            if value is None or value == "":
                raise _RejectedError(f"{spec.head}.{name}", _REQUIRED)
        trade_mode = values.get("trade_mode")
        if trade_mode and trade_mode not in TRADE_MODES:
            raise _RejectedError(
                f"{spec.head}.tradeMode",
                f"trade mode {_quote(trade_mode)} is not one of {', '.join(sorted(TRADE_MODES))}",
            )
        ie_flag = values.get("ie_flag")
        if ie_flag and ie_flag not in IE_FLAGS:
            raise _RejectedError(f"{spec.head}.ieFlag", f"{_quote(ie_flag)} is not I or E")
        code = values.get(self._key[0], "")
        _check_code(code, f"{spec.head}.{spec.key[0]}")
        if line_count < spec.min_lines:
            raise _RejectedError(spec.line, f"at least one {spec.line} is required")
        check_direction(spec, values, extra)
        lines = tuple(lines_parsed)
        return Declaration(
            kind=spec.kind,
            message_type=spec.message_type,
            business_key=business_key(code, values.get(self._key[1], "")),
            lines=lines,
            extra=extra,
            **values,
        )

    def _line_values(self, number: int, raw: dict[Any, Any], clark: bool) -> GoodsLine:
        where = f"{self.spec.line}[{number}]"
        if clark:
            values = _fields(raw, self._lines, where)[0]
        else:
            values = _fields_local(raw, self._lines_local, where)[0]
        if values.get("gnum") is None:
            raise _RejectedError(f"{where}.gnum", _REQUIRED)
        item_name = values.pop("item_name", "")
        if not values.get("name"):
            values["name"] = item_name
        hs_code = values.get("hs_code", "")
        if self.spec.hs_required and not hs_code:
            raise _RejectedError(f"{where}.gcode", _REQUIRED)
        if hs_code and not (hs_code.isascii() and hs_code.isdigit()):
            raise _RejectedError(f"{where}.gcode", f"HS code {_quote(hs_code)} must be digits only")
        return GoodsLine(**values)


class ReceiptBuilder:
    """Builds receipts of one message type (CEB622/604/312/412/512) from record elements."""

    def __init__(self, spec: ReceiptSpec) -> None:
        """Prepare the lookup tables for ``spec``."""
        self.spec = spec
        self._fields = _table(RECEIPT_ATTRS)
        self._fields_local = _LocalTable(_table(RECEIPT_ATTRS, ""))
        self._key_tags = (CEB_PREFIX + spec.key[0], CEB_PREFIX + spec.key[1])

    def build(self, index: int, record: etree._Element) -> Receipt | RecordError:
        """Receipt for the record element, or why record ``index`` (1-based) is rejected."""
        try:
            raw = _children(record)
            return self._finish(
                _fields(raw, self._fields, self.spec.record)[0], raw, self._key_tags
            )
        except _RejectedError as rejected:
            return RecordError(index, rejected.field, rejected.reason)

    def build_parts(self, index: int, raw: dict[str, str]) -> Receipt | RecordError:
        """Receipt from a record's children (local name → text), as the fast reader gives."""
        try:
            values = _fields_local(raw, self._fields_local, self.spec.record)[0]
            return self._finish(values, raw, self.spec.key)  # type: ignore[arg-type]
        except _RejectedError as rejected:
            return RecordError(index, rejected.field, rejected.reason)

    def _finish(
        self, values: dict[str, Any], raw: dict[Any, str | None], key_tags: tuple[str, str]
    ) -> Receipt:
        spec = self.spec
        key = [(raw.get(tag) or "").strip() for tag in key_tags]
        for name, value in zip(spec.key, key, strict=True):
            if not value:
                raise _RejectedError(f"{spec.record}.{name}", _REQUIRED)
        if values.get("return_status") is None:
            raise _RejectedError(f"{spec.record}.returnStatus", _REQUIRED)
        _check_code(key[0], f"{spec.record}.{spec.key[0]}")
        return Receipt(
            message_type=spec.message_type,
            kind=spec.kind,
            business_key=business_key(key[0], key[1]),
            **values,
        )
