"""Streaming writer for CEB XML messages: declarations and receipts, one record at a time."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO

from lxml import etree

from inspection.formats.ceb_build import CHINA_TZ
from inspection.formats.ceb_fields import (
    BASE_TRANSFER,
    CEB_NS,
    CEB_PREFIX,
    DECLARATIONS,
    LINE_ATTRS,
    MESSAGE_TYPES,
    RECEIPT_ATTRS,
    RECEIPTS,
    DeclarationSpec,
    FieldType,
    ReceiptSpec,
    split_business_key,
)
from inspection.model import Declaration, FormatError, GoodsLine, Receipt

#: Characters that need escaping or that XML 1.0 cannot carry at all.
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*", re.ASCII)
_FLUSH_EVERY = 512  # records per write to the stream


def _escape(text: str) -> str:
    """Escape ``text`` for element content; raise ``FormatError`` on characters XML forbids."""
    if _SPECIAL.search(text) is None:
        return text
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        raise FormatError(f"character U+{ord(bad.group()):04X} cannot be written in XML")
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def format_decimal(value: Decimal) -> str:
    """Exact plain-notation text of an amount, weight (kg) or quantity: never an exponent."""
    return format(value, "f")


#: Digits of each time element as the specification writes it (China time): dates
#: ``yyyyMMdd``, application times ``yyyyMMddHHmmss``, receipt times ``yyyyMMddHHmmssSSS``.
TIME_DIGITS = {"declTime": 8, "ieDate": 8, "appTime": 14, "logisticsTime": 14, "returnTime": 17}


def format_time(value: datetime, digits: int = 17) -> str:
    """A CEB time of ``digits`` (8, 14 or 17) in China time; a naive time is China time."""
    local = value.astimezone(CHINA_TZ) if value.tzinfo is not None else value
    full = local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}"
    return full[:digits]


def _text(value: object, name: str = "") -> str:
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return format_time(value, TIME_DIGITS.get(name, 17))
    return str(value)


def _element(name: str, text: str) -> str:
    return f"<ceb:{name}>{text}</ceb:{name}>"


_Plan = tuple[tuple[str, str | None], ...]


def _plan(order: Iterable[str], attrs: dict[str, tuple[str, FieldType]]) -> _Plan:
    """(element, attribute or None for ``extra``) in writing order."""
    return tuple((name, attrs[name][0] if name in attrs else None) for name in order)


class _DeclarationWriter:
    """Renders the declarations of one message type as XML fragments."""

    def __init__(self, spec: DeclarationSpec) -> None:
        self.spec = spec
        attrs = spec.attrs()
        self._head = _plan(spec.head_order, attrs)
        self._known = frozenset(spec.head_order) | frozenset(attrs)
        line_attrs = {k: v for k, v in LINE_ATTRS.items() if k not in ("gname", "itemName")}
        line_attrs[spec.line_name] = ("name", FieldType.TEXT)
        self._line = _plan(spec.line_order, line_attrs)

    def render(self, record: Declaration | Receipt, out: list[str]) -> None:
        spec = self.spec
        if not isinstance(record, Declaration) or record.kind != spec.kind:
            got = record.kind if isinstance(record, Declaration) else "receipt"
            raise FormatError(f"{spec.message_type} carries {spec.kind} declarations, not {got}")
        extra = record.extra
        out.append(f"<ceb:{spec.record}><ceb:{spec.head}>")
        name = ""
        try:
            for name, attr in self._head:
                if attr is None:
                    if name in extra:
                        out.append(_element(name, _escape(extra[name])))
                    continue
                value = getattr(record, attr)
                if value is not None and value != "":
                    out.append(_element(name, _text(value, name)))
            for name, text in extra.items():
                if name not in self._known:
                    if _NAME.fullmatch(name) is None:
                        raise FormatError("extra field name is not an XML element name")
                    out.append(_element(name, _escape(text)))
        except FormatError as err:
            raise FormatError(f"{spec.head}.{name}: {err}") from err
        out.append(f"</ceb:{spec.head}>")
        for line in record.lines:
            self._render_line(line, out)
        out.append(f"</ceb:{spec.record}>\n")

    def _render_line(self, line: GoodsLine, out: list[str]) -> None:
        tag = self.spec.line
        if not tag:
            raise FormatError(f"{self.spec.message_type} has no goods lines to write")
        out.append(f"<ceb:{tag}>")
        for name, attr in self._line:
            if attr is not None:
                value = getattr(line, attr)
                if value is not None and value != "":
                    try:
                        out.append(_element(name, _text(value, name)))
                    except FormatError as err:
                        raise FormatError(f"{tag}[gnum {line.gnum}].{name}: {err}") from err
        out.append(f"</ceb:{tag}>")


class _ReceiptWriter:
    """Renders the receipts of one message type as XML fragments."""

    def __init__(self, spec: ReceiptSpec) -> None:
        self.spec = spec
        self._plan = _plan(spec.order, RECEIPT_ATTRS)

    def render(self, record: Declaration | Receipt, out: list[str]) -> None:
        spec = self.spec
        if not isinstance(record, Receipt):
            raise FormatError(f"{spec.message_type} carries receipts, not declarations")
        try:
            key = dict(zip(spec.key, split_business_key(record.business_key), strict=True))
        except ValueError as err:
            raise FormatError(f"{spec.message_type}: {err}") from err
        out.append(f"<ceb:{spec.record}>")
        for name, attr in self._plan:
            if name in key:
                out.append(_element(name, _escape(key[name])))
            elif attr is not None:
                value = getattr(record, attr)
                if value is not None and value != "":
                    out.append(_element(name, _text(value, name)))
        out.append(f"</ceb:{spec.record}>\n")


def _renderer(message_type: str) -> Callable[[Declaration | Receipt, list[str]], None]:
    if message_type in DECLARATIONS:
        return _DeclarationWriter(DECLARATIONS[message_type]).render
    if message_type in RECEIPTS:
        return _ReceiptWriter(RECEIPTS[message_type]).render
    raise FormatError(f"cannot write {message_type!r}; supported: {', '.join(MESSAGE_TYPES)}")


def write_ceb(
    stream: BinaryIO,
    message_type: str,
    records: Iterable[Declaration | Receipt],
    *,
    guid: str | None = None,
    cop_code: str = "0000000000",
    cop_name: str = "",
    dxp_id: str = "DXPENT0000000000",
    dxp_mode: str = "DXP",
    version: str = "1.0",
) -> int:
    """Write ``records`` as one CEB message of ``message_type`` (UTF-8); return records written.

    Records are rendered and written in batches, so an iterator of any length is never held
    in memory. Raises :class:`FormatError` for a record the message cannot carry.
    """
    render = _renderer(message_type.strip().upper())
    root = f"{CEB_PREFIX}{message_type.strip().upper()}Message"
    attrs = {"guid": guid or str(uuid.uuid4()).upper(), "version": version}
    count = 0
    with etree.xmlfile(stream, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(root, attrs, nsmap={"ceb": CEB_NS}):
            xf.flush()
            out: list[str] = ["\n"]
            for record in records:
                try:
                    render(record, out)
                except FormatError as err:
                    raise FormatError(f"record {count + 1}: {err}") from err
                count += 1
                if count % _FLUSH_EVERY == 0:
                    stream.write("".join(out).encode("utf-8"))
                    out.clear()
            base = (cop_code, cop_name, dxp_mode, dxp_id, "")
            out.append("<ceb:BaseTransfer>")
            out.extend(_element(n, _escape(v)) for n, v in zip(BASE_TRANSFER, base, strict=True))
            out.append("</ceb:BaseTransfer>\n")
            stream.write("".join(out).encode("utf-8"))
    return count
