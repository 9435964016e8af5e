"""Fast path of the CEB reader: strict, flat records cut from large chunks and read by regex.

Most real CEB files are UTF-8, carry no DTD, and write every field as a plain
``<ceb:name>text</ceb:name>`` child. For such records the whole element tree is not needed:
the record is cut at its end tag and its children are read with compiled regular
expressions (C code). Anything outside that strict grammar is handed back:

- a record that is well-formed but not flat (attributes, comments, CDATA, nesting, another
  prefix) is read by lxml on its own, with the root's namespace declarations around it;
- anything else (bad bytes, a broken record, unexpected content between records, a
  non-UTF-8 file) makes :meth:`FastReader.records` give up, and the caller re-reads the
  file with the full lxml parser, skipping the records already yielded, so errors, their
  record indexes and line numbers are exactly those of the lxml reader.

Only the five predefined entities and numeric character references are decoded; any other
``&`` sends the record to lxml, which never expands external entities.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from inspection.formats.ceb_build import DeclarationBuilder, ReceiptBuilder
from inspection.formats.ceb_fields import CEB_NS, CEB_PREFIX
from inspection.model import PASSED, Declaration, ParsedRecord, Prebuilt, Receipt, RecordError

logger = logging.getLogger(__name__)

#: Bytes read per chunk.
CHUNK = 1 << 20
#: A record longer than this (characters) is left to the lxml reader.
MAX_RECORD = 16 << 20
#: Keep at least this much text ahead of the cursor before looking at what comes next.
_AHEAD = 64 * 1024

_WS = "[ \t\n]*"
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_ATTR = rb"""[ \t\r\n]+([^\s=<>/"']+)[ \t\r\n]*=[ \t\r\n]*(?:"([^"<&]*)"|'([^'<&]*)')"""
_ROOT = re.compile(
    rb"(?:\xef\xbb\xbf)?(<\?xml(?:[ \t\r\n]+[A-Za-z]+[ \t\r\n]*=[ \t\r\n]*"
    rb"""(?:"[^"]*"|'[^']*'))*[ \t\r\n]*\?>)?[ \t\r\n]*"""
    rb"(?:<!--(?:[^-]|-[^-])*-->[ \t\r\n]*)*"
    rb"(<(?:([A-Za-z_][A-Za-z0-9_.\-]*):)?(CEB\d{3}Message)((?:" + _ATTR + rb")*)[ \t\r\n]*>)"
)
_ATTRS = re.compile(_ATTR)
_ENCODING = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*["']([^"']*)["']""")
# Bytes that need a closer look: controls XML 1.0 forbids, "]" (of "]]>", not allowed in
# text) and 0xEF (leads U+FFFE and U+FFFF, which XML forbids too).
_CONTROLS = bytes(c for c in range(0x20) if c not in (0x9, 0xA, 0xD))
_PLAIN = bytes(c for c in range(256) if c not in _CONTROLS and c not in b"]\xef")


def _suspect(data: bytes) -> bool:
    """Whether ``data`` may hold something XML forbids in text (a quick, safe over-estimate)."""
    odd = data.translate(None, _PLAIN)
    if not odd:
        return False
    if odd.translate(None, b"]\xef"):
        return True
    return b"]]>" in data or b"\xef\xbf\xbe" in data or b"\xef\xbf\xbf" in data


class _NotStrictError(Exception):
    """Internal: a record is outside the strict grammar; lxml reads it instead."""


@dataclass(frozen=True, slots=True)
class FastPlan:
    """What the fast reader needs from a file's head: its root tag and CEB prefix."""

    prefix: str  # "ceb:" or "" (default namespace)
    root_open: str  # the root start tag exactly as written
    root_name: str  # e.g. "ceb:CEB621Message"
    body_start: int  # offset in the head bytes just after the root start tag


def plan_for(head: bytes, message_type: str) -> FastPlan | None:
    """Return how to read a file fast, or ``None`` when only the lxml reader may read it.

    ``head`` is the start of the file, up to and past its root start tag. The fast path
    needs UTF-8, a prolog of nothing but the XML declaration and comments, and the CEB
    namespace declared on the root.
    """
    m = _ROOT.match(head)
    if m is None or m.group(4).decode() != f"{message_type}Message":
        return None
    decl = m.group(1)
    if decl is not None:
        enc = _ENCODING.search(decl)
        if enc is not None and enc.group(1).lower() != b"utf-8":
            return None
    prefix = (m.group(3) or b"").decode()
    wanted = f"xmlns:{prefix}" if prefix else "xmlns"
    bound = False
    for name, dq, sq in _ATTRS.findall(m.group(5)):
        if name.decode() == wanted:
            bound = (dq or sq).decode() == CEB_NS
    if not bound:
        return None
    try:
        root_open = m.group(2).decode()
    except UnicodeDecodeError:
        return None
    qualified = f"{prefix}:" if prefix else ""
    return FastPlan(qualified, root_open, qualified + m.group(4).decode(), m.end())


class _Feed:
    """Decoded text of a stream, read on demand; line ends normalised as XML does."""

    __slots__ = ("_decoder", "_held", "_pending", "_stream", "_tail", "buf", "eof", "pos")

    def __init__(self, first: bytes, stream: BinaryIO) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._held = ""  # a trailing "\r" waits for the next chunk (it may start a "\r\n")
        self._pending: bytes | None = first
        self._stream = stream
        self._tail = b""  # last bytes of the previous chunk, for checks across the seam
        self.buf = ""
        self.pos = 0
        self.eof = False

    def fill(self) -> bool:
        """Append the next chunk to ``buf`` (dropping what lies before ``pos``).

        Return ``False`` when the bytes are not UTF-8 or hold characters XML forbids.
        """
        if self._pending is not None:
            data, self._pending = self._pending, None
        else:
            data = self._stream.read(CHUNK)
            self.eof = not data
        if _suspect(self._tail + data):
            return False
        self._tail = data[-2:]
        try:
            text = self._held + self._decoder.decode(data, final=self.eof)
        except UnicodeDecodeError:
            return False
        self._held = ""
        if text.endswith("\r") and not self.eof:
            text, self._held = text[:-1], "\r"
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        return True


class FastReader:
    """Reads the strict records of one CEB message; gives up on anything else."""

    def __init__(
        self,
        plan: FastPlan,
        builder: DeclarationBuilder | ReceiptBuilder,
        pass_over: Callable[[int], bool] | None = None,
    ) -> None:
        """Compile the patterns for ``plan``'s prefix and ``builder``'s record layout.

        Records whose 1-based index ``pass_over`` is true for are yielded as ``PASSED``
        without reading their content (their bounds are still found).
        """
        self.plan = plan
        self.builder = builder
        self.pass_over = pass_over
        self.count = 0
        p = re.escape(plan.prefix)
        # a block between records (``BaseTransfer``) is passed over only when its texts hold
        # no reference: ``&`` may be malformed (``DXPEN&T``, ``&#0;``), which lxml must judge
        field = f"(?:<{p}({_NAME})>[^<&]*</{p}\\{{n}}>|<{p}{_NAME}{_WS}/>)"
        # A field's text is taken only when it has no whitespace at either end (``\\s`` is
        # what ``str.strip()`` removes); a padded one leaves the record to lxml.
        self._field = re.compile(f"<{p}({_NAME})>(?!\\s)([^<]*+)(?<!\\s)</{p}\\1>")
        self._empty = re.compile(f"<{p}({_NAME}){_WS}/>")
        self._flat = re.compile(f"{_WS}<{p}({_NAME})>((?:{_WS}{field.format(n=3)})*{_WS})</{p}\\1>")
        # possessive: text runs and fields are taken whole, never given back
        self._blocks = re.compile(
            f"<{p}({_NAME})>((?:[^<]++|<{p}{_NAME}>[^<]*+</{p}{_NAME}>)*+)</{p}\\1>"
        )
        self._expand = f"<{plan.prefix}\\1></{plan.prefix}\\1>"
        self._between = re.compile("(?:[ \t\n]+|<!--(?:[^-]|-[^-])*-->)*")
        spec = builder.spec
        self._record = spec.record
        self._open = f"<{plan.prefix}{spec.record}>"
        self._close = f"</{plan.prefix}{spec.record}>"
        self._root_close = f"</{plan.root_name}"
        self._end = re.compile(f"(</{re.escape(plan.root_name)}{_WS}>){_WS}")
        if isinstance(builder, DeclarationBuilder):
            self._head = spec.head  # type: ignore[union-attr]
            self._line = spec.line  # type: ignore[union-attr]
        self._parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            huge_tree=False,
        )
        self._record_tag = CEB_PREFIX + spec.record

    def records(self, head: bytes, stream: BinaryIO) -> Generator[ParsedRecord, None, bool]:
        """Yield the records after the root start tag; return ``False`` on giving up.

        ``self.count`` is the number of records yielded. On ``True`` the whole message,
        up to the end of the file, was read and is well-formed.
        """
        feed = _Feed(head[self.plan.body_start :], stream)
        while True:
            if not feed.eof and len(feed.buf) - feed.pos < _AHEAD:
                if not feed.fill():
                    return False
                continue
            buf = feed.buf
            pos = feed.pos = self._between.match(buf, feed.pos).end()  # type: ignore[union-attr]
            if buf.startswith(self._open, pos):
                end = buf.find(self._close, pos)
                if end < 0:
                    if feed.eof or len(buf) - pos > MAX_RECORD or not feed.fill():
                        return False
                    continue
                feed.pos = end + len(self._close)
                if self.pass_over is not None and self.pass_over(self.count + 1):
                    self.count += 1
                    yield ParsedRecord(self.count, PASSED)
                    continue
                item = self._read(self.count + 1, buf[pos + len(self._open) : end])
                if item is None:
                    return False
                self.count += 1
                yield ParsedRecord(self.count, item)
            elif buf.startswith(self._root_close, pos):
                m = self._end.match(buf, pos)
                if m is None and not feed.eof:
                    if not feed.fill():
                        return False
                    continue
                if m is None or m.end() != len(buf):
                    return False
                if feed.eof:
                    return True
                feed.buf, feed.pos = buf[pos : m.end(1)], 0
                if not feed.fill():
                    return False
            else:
                m = self._flat.match(buf, pos)
                if m is not None and m.group(1) != self._record:
                    feed.pos = m.end()
                elif m is not None or feed.eof or len(buf) - pos > MAX_RECORD or not feed.fill():
                    return False

    def _read(self, index: int, body: str) -> Declaration | Receipt | RecordError | Prebuilt | None:
        """Build one record from its content; ``None`` when it is not even well-formed."""
        try:
            return self._strict(index, body)
        except _NotStrictError:
            pass
        return self._with_lxml(index, body)

    def _strict(self, index: int, body: str) -> Declaration | Receipt | RecordError | Prebuilt:
        """Build a flat record from its content, or raise :class:`_NotStrictError`.

        Every ``<`` of the record must belong to a block or field the patterns matched;
        text between them is what lxml would keep as tails, which the builders ignore.
        """
        if "&" in body:
            raise _NotStrictError
        if "/>" in body:
            body = self._empty.sub(self._expand, body)
        builder = self.builder
        field = self._field.findall
        if isinstance(builder, ReceiptBuilder):
            fields = field(body)
            if body.count("<") != 2 * len(fields):
                raise _NotStrictError
            return builder.build_parts(index, dict(fields))
        tags = 0
        heads: list[dict[str, str]] = []
        lines: list[dict[str, str]] = []
        for name, inner in self._blocks.findall(body):
            fields = field(inner)
            tags += 2 + 2 * len(fields)
            if name == self._line:
                lines.append(dict(fields))
            elif name == self._head:
                heads.append(dict(fields))
            else:
                raise _NotStrictError
        if body.count("<") != tags:
            raise _NotStrictError
        return builder.build_stripped(index, heads, lines)

    def _with_lxml(
        self, index: int, body: str
    ) -> Declaration | Receipt | RecordError | Prebuilt | None:
        """Read one record with lxml inside a copy of the root start tag."""
        doc = f"{self.plan.root_open}{self._open}{body}{self._close}</{self.plan.root_name}>"
        try:
            root = etree.fromstring(doc.encode(), self._parser)
        except (etree.XMLSyntaxError, etree.ParserError, ValueError):
            return None
        if len(root) != 1 or root[0].tag != self._record_tag:
            return None
        return self.builder.build(index, root[0])
