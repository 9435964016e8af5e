"""Incremental JSON item reading: a top-level array, an ``{"items": [...]}`` wrapper or JSON Lines.

Only one item is decoded at a time, over a sliding text buffer fed by
:func:`json.JSONDecoder.raw_decode`, so a file of a million items never sits whole in memory.
A value cut by the buffer's end is decoded again only once the text after its start has
doubled, so reading stays linear in the input however long one value is; a value longer
than ``MAX_VALUE_CHARS`` is refused.
Numbers are decoded as :class:`~decimal.Decimal` (``NaN`` and ``Infinity`` too, for the
caller to refuse).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from inspection.model import FormatError

logger = logging.getLogger(__name__)

#: Largest single JSON value (one item) accepted, in characters. A postal item with a few
#: hundred contents lines is some tens of kB; anything near this is not a declaration.
MAX_VALUE_CHARS = 4 * 1024 * 1024
_WHITESPACE = " \t\n\r"
_NUMBER_TAIL = re.compile(r"[0-9.eE+-]*")
_SCALAR_END_SLACK = 16  # an error this close to the buffer end may be a value cut by the buffer


@dataclass(frozen=True, slots=True)
class JsonValue:
    """One decoded top-level item and where it starts (1-based line and column)."""

    value: object
    line: int
    column: int


class _Buffer:
    """A sliding window over decoded text with line/column bookkeeping."""

    def __init__(self, chunks: Iterator[str], source: str) -> None:
        self._chunks = chunks
        self.source = source
        self.buf = ""
        self.pos = 0
        self.eof = False
        self._line = 1  # line of buf[0]
        self._column = 1  # column of buf[0]
        self._decoder = json.JSONDecoder(
            parse_float=Decimal, parse_int=Decimal, parse_constant=Decimal
        )

    def _fill(self) -> bool:
        """Append the next chunk, dropping consumed text first; False at end of input."""
        if self.eof:
            return False
        if self.pos:
            dropped = self.buf[: self.pos]
            newlines = dropped.count("\n")
            if newlines:
                self._line += newlines
                self._column = len(dropped) - dropped.rfind("\n")
            else:
                self._column += len(dropped)
            self.buf = self.buf[self.pos :]
            self.pos = 0
        for chunk in self._chunks:
            if chunk:
                self.buf += chunk
                return True
        self.eof = True
        return False

    def location(self, pos: int | None = None) -> tuple[int, int]:
        """Line and column (1-based) of buffer position ``pos`` (default: the cursor)."""
        p = self.pos if pos is None else pos
        newlines = self.buf.count("\n", 0, p)
        if not newlines:
            return self._line, self._column + p
        return self._line + newlines, p - self.buf.rfind("\n", 0, p)

    def where(self, pos: int | None = None) -> str:
        """``line L column C`` of a buffer position, for error messages."""
        line, column = self.location(pos)
        return f"line {line} column {column}"

    def peek(self) -> str:
        """Skip whitespace and return the next character, or ``""`` at end of input."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def expect(self, allowed: str, after: str) -> str:
        """Consume one of the ``allowed`` characters or raise FormatError naming the spot."""
        ch = self.peek()
        if ch and ch in allowed:
            self.pos += 1
            return ch
        found = repr(ch) if ch else "end of file"
        wanted = " or ".join(repr(c) for c in allowed)
        raise FormatError(
            f"{self.source}: JSON syntax error at {self.where()}: expected {wanted} {after}, "
            f"found {found}"
        )

    def _grow(self, start: int) -> int:
        """Read until the text from ``start`` has doubled (or input ends); return the new start.

        Raises FormatError when the value at ``start`` grows past ``MAX_VALUE_CHARS``.
        """
        line, column = self.location(start)
        offset = start - self.pos
        target = max(2 * (len(self.buf) - start), 64 * 1024)
        while len(self.buf) - (self.pos + offset) < target and self._fill():
            if len(self.buf) - (self.pos + offset) > MAX_VALUE_CHARS:
                raise FormatError(
                    f"{self.source}: the JSON value at line {line} column {column} is longer "
                    f"than {MAX_VALUE_CHARS} characters; no item is that large"
                )
        return self.pos + offset

    def decode(self) -> JsonValue:
        """Decode the value at the cursor, reading more text while it is incomplete."""
        self.peek()
        start = self.pos
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, start)
            except json.JSONDecodeError as err:
                cut = err.pos >= len(self.buf) - _SCALAR_END_SLACK or err.msg.startswith(
                    "Unterminated string"
                )
                if cut and not self.eof:
                    start = self._grow(start)
                    continue
                raise FormatError(
                    f"{self.source}: JSON syntax error at {self.where(err.pos)}: {err.msg}"
                ) from None
            except RecursionError:
                raise FormatError(
                    f"{self.source}: JSON nested too deeply at {self.where(start)}"
                ) from None
            scalar = not isinstance(value, dict | list | str)
            if scalar and not self.eof and _NUMBER_TAIL.fullmatch(self.buf, end):
                start = self._grow(start)  # a number at the buffer's end may go on
                continue
            line, column = self.location(start)
            self.pos = end
            return JsonValue(value, line, column)


def _array(buf: _Buffer) -> Iterator[JsonValue]:
    """Yield the elements of the array whose ``[`` is at the cursor."""
    buf.expect("[", "to open the list of items")
    if buf.peek() == "]":
        buf.pos += 1
        return
    while True:
        yield buf.decode()
        if buf.expect(",]", "after an item") == "]":
            return


def _first_object(buf: _Buffer) -> Iterator[JsonValue]:
    """Read the first top-level object key by key: an ``items`` wrapper or a first item."""
    line, column = buf.location()
    buf.expect("{", "to open an object")
    pairs: dict[str, object] = {}
    wrapper = False
    if buf.peek() == "}":
        buf.pos += 1
    else:
        while True:
            if buf.peek() != '"':
                buf.expect('"', "to start a property name")
            key = buf.decode().value
            buf.expect(":", "after a property name")
            if key == "items" and not wrapper and buf.peek() == "[":
                wrapper = True
                yield from _array(buf)
            else:
                pairs[str(key)] = buf.decode().value
            if buf.expect(",}", "after a property") == "}":
                break
    if wrapper:
        if pairs:
            logger.debug("%s: ignoring wrapper keys %s", buf.source, sorted(pairs))
        _expect_end(buf)
        return
    yield JsonValue(pairs, line, column)
    while buf.peek():
        yield buf.decode()


def _expect_end(buf: _Buffer) -> None:
    if buf.peek():
        raise FormatError(
            f"{buf.source}: unexpected data after the end of the JSON document at {buf.where()}"
        )


def iter_json_items(chunks: Iterable[str], source: str) -> Iterator[JsonValue]:
    """Yield each item of a JSON item file, one at a time, with where it starts.

    Accepted shapes: a top-level array of items; an object whose ``items`` member is the
    array of items (other members are ignored); or one item object after another (JSON
    Lines, or any whitespace between objects). Items already yielded stand when a later
    syntax error raises :class:`FormatError` naming its line and column.
    """
    buf = _Buffer(iter(chunks), source)
    first = buf.peek()
    if not first:
        raise FormatError(f"{source}: empty file (no JSON value)")
    if first == "[":
        yield from _array(buf)
        _expect_end(buf)
    elif first == "{":
        yield from _first_object(buf)
    else:
        raise FormatError(
            f"{source}: not JSON items: the document starts with {first!r} at {buf.where()}, "
            "expected '[' (a list of items) or '{' (an object)"
        )


def dump_json(value: object) -> str:
    """Encode a value as compact one-line JSON, writing decimals as exact JSON numbers."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        members = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {dump_json(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(members) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
