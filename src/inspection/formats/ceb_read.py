"""Streaming reader for CEB XML messages: one ParsedRecord per record element, flat memory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import BinaryIO

from lxml import etree

from inspection.formats.ceb_build import DeclarationBuilder, ReceiptBuilder
from inspection.formats.ceb_fast import FastReader, plan_for
from inspection.formats.ceb_fields import (
    CEB_NS,
    CEB_PREFIX,
    DECLARATIONS,
    NOTICES,
    READ_TYPES,
    RECEIPTS,
)
from inspection.formats.ceb_notice import NoticeBuilder
from inspection.model import PASSED, FormatError, ParsedRecord, RecordError

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024
#: How far into a file the root element must start (bytes).
PROLOG_LIMIT = 1024 * 1024
_XML_ERRORS = (etree.XMLSyntaxError, etree.ParserError, LookupError, UnicodeError)


class _Replay:
    """A read-only file object that returns ``head`` first, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        """Next at most ``size`` bytes (all when negative)."""
        if self._head:
            if size < 0 or size >= len(self._head):
                chunk, self._head = self._head, b""
                return chunk
            chunk, self._head = self._head[:size], self._head[size:]
            return chunk
        return self._stream.read(size)


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


_Builder = DeclarationBuilder | ReceiptBuilder | NoticeBuilder


def _builder(message_type: str, source: str) -> _Builder:
    if message_type in DECLARATIONS:
        return DeclarationBuilder(DECLARATIONS[message_type])
    if message_type in RECEIPTS:
        return ReceiptBuilder(RECEIPTS[message_type])
    if message_type in NOTICES:
        return NoticeBuilder(NOTICES[message_type])
    raise FormatError(
        f"{source}: CEB message type {message_type!r} is not read here; "
        f"supported: {', '.join(READ_TYPES)}"
    )


def _xml_reason(err: Exception) -> str:
    if isinstance(err, etree.XMLSyntaxError) and err.msg:
        return str(err.msg)
    return str(err) or type(err).__name__


_DOCTYPE = b"<!DOCTYPE"


def refuse_doctype(prolog: bytes, source: str) -> None:
    """Raise FormatError when the bytes before the root element hold a document type.

    A DOCTYPE can name files or URLs for the parser to open and define entities that expand
    without bound; no CEB message has one (DESIGN §4), so it is refused unread.
    """
    at = prolog.find(_DOCTYPE)
    if at >= 0:
        line = prolog.count(b"\n", 0, at) + 1
        declared = prolog[at + len(_DOCTYPE) :].split(maxsplit=1)[:1]
        name = declared[0].rstrip(b">[").decode("ascii", "replace")[:60] if declared else "?"
        raise FormatError(
            f"{source}: a DOCTYPE declaration ({name}) at line {line} is refused: a CEB "
            "message carries none, and a document type can make the reader open other files"
        )


def _root(stream: BinaryIO, source: str) -> tuple[bytes, str, dict[str, str]]:
    """Read until the root start tag; return the bytes read, the root tag and its attributes."""
    parser = etree.XMLPullParser(
        events=("start",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    head = bytearray()
    while True:
        chunk = stream.read(_CHUNK)
        head += chunk
        refuse_doctype(bytes(head), source)  # before libxml2 sees it: it opens SYSTEM ids
        broken: Exception | None = None
        try:
            if chunk:
                parser.feed(chunk)
            elif head.strip():
                parser.close()
        except _XML_ERRORS as err:
            broken = err
        for _event, elem in parser.read_events():
            if isinstance(elem, etree._Element) and isinstance(elem.tag, str):
                attrs = {str(k): str(v) for k, v in elem.attrib.items()}
                return bytes(head), elem.tag, attrs
        if broken is not None:
            raise FormatError(
                f"{source}: not well-formed XML before the root element ({_xml_reason(broken)})"
            ) from broken
        if not chunk:
            what = "no XML root element found" if head.strip() else "file is empty"
            raise FormatError(f"{source}: {what}, expected a CEB XML message")
        if len(head) > PROLOG_LIMIT:
            raise FormatError(f"{source}: no XML root element in the first {PROLOG_LIMIT} bytes")


def _release(elem: etree._Element) -> None:
    """Free a parsed record and the siblings before it, so memory stays flat over the file."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _check_root(tag: str, expected: str, source: str) -> None:
    want = f"{expected}Message"
    local = tag.rpartition("}")[2]
    if tag == CEB_PREFIX + want:
        return
    if tag.startswith(CEB_PREFIX) and local.startswith("CEB") and local.endswith("Message"):
        raise FormatError(f"{source}: is a {local[: -len('Message')]} message, expected {expected}")
    raise FormatError(
        f"{source}: root element <{local}> is not a {expected} message "
        f"(expected <{want}> in namespace {CEB_NS})"
    )


def read_ceb(
    stream: BinaryIO,
    *,
    source: str,
    expected_type: str,
    builder: _Builder | None = None,
    pass_over: Callable[[int], bool] | None = None,
) -> Iterator[ParsedRecord]:
    """Stream the records of a CEB message of type ``expected_type`` (e.g. ``CEB621``).

    Yields one :class:`ParsedRecord` per record element (1-based index): a ``Declaration``,
    a ``Receipt`` or the ``RecordError`` that rejected it. Raises :class:`FormatError` when
    the file is not a CEB message of that type, or when the XML breaks part-way (records
    yielded before the break stand). Amounts are ``Decimal``, weights kg, times UTC+8.
    ``builder`` replaces the message type's own (it must be for the same message type).
    Records whose index ``pass_over`` is true for come as ``PASSED``, their content unread
    (when the file is well-formed; a break is reported wherever it is).
    """
    message_type = expected_type.strip().upper()
    if builder is None:
        builder = _builder(message_type, source)
    elif builder.spec.message_type != message_type:
        raise FormatError(f"{source}: builder for {builder.spec.message_type}, not {message_type}")
    head, root_tag, attrs = _root(stream, source)
    _check_root(root_tag, message_type, source)
    skip = 0
    plan = plan_for(head, message_type) if _seekable(stream) else None
    if plan is not None and not isinstance(builder, NoticeBuilder):
        origin = stream.tell() - len(head)
        fast = FastReader(plan, builder, pass_over)
        finished = yield from fast.records(head, stream)
        if finished:
            logger.debug("%s: read %d %s records", source, fast.count, message_type)
            return
        skip = fast.count
        logger.debug(
            "%s: strict reading stopped after record %d; reading on with lxml", source, skip
        )
        stream.seek(origin)
        head = b""
    record_tag = CEB_PREFIX + builder.spec.record
    context = etree.iterparse(
        _Replay(head, stream),
        events=("end",),
        tag=record_tag,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        huge_tree=False,
    )
    index = 0
    rejected = 0
    try:
        for _event, elem in context:
            index += 1
            if index <= skip:
                _release(elem)
                continue
            passed = pass_over is not None and pass_over(index)
            item = PASSED if passed else builder.build(index, elem)
            _release(elem)
            if isinstance(item, RecordError):
                rejected += 1
            yield ParsedRecord(index, item)
    except _XML_ERRORS as err:
        line = getattr(err, "lineno", None) or "?"
        logger.warning("%s: XML breaks at line %s after %d records", source, line, index)
        raise FormatError(
            f"{source}: XML is not well-formed at line {line} ({_xml_reason(err)}); "
            f"{index} record(s) before it were read, records after line {line} were not read"
        ) from err
    logger.debug(
        "%s: read %d %s records (%d rejected), message guid %s",
        source, index, message_type, rejected, attrs.get("guid", ""),
    )  # fmt: skip
