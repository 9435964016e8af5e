"""CEB declarations turned straight into SQLite rows, without the Declaration in between.

:class:`RowBuilder` takes a record's head and goods-line texts as the fast CEB reader
splits them and returns the :class:`~hub.importing.rows.Prepared` rows that
:meth:`RowShaper.prepare <hub.importing.rows.RowShaper.prepare>` would return for the
Declaration built from the same texts: the same values, content hash and ``extra``.
It does so only on the plain path (every value well-formed, every check passed);
anything else (a missing field, an odd number, a bad date) goes the long way, through
the Declaration and the shaper, so rejections and their reasons are exactly the same.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import fields
from operator import itemgetter
from typing import Any, BinaryIO

from lxml import etree

from hub.importing.rows import (
    AMOUNT_PLACES,
    HEAD_FIELDS,
    LINE_FIELDS,
    Prepared,
    RowShaper,
    extra_text,
    time_text,
)
from inspection.formats import read_records
from inspection.formats.ceb_build import DeclarationBuilder, ceb_time, direction_ok
from inspection.formats.ceb_fields import (
    DECLARATIONS,
    IE_FLAGS,
    LINE_ATTRS,
    TRADE_MODES,
    DeclarationSpec,
    FieldType,
)
from inspection.formats.ceb_read import read_ceb
from inspection.formats.detect import DetectedFormat
from inspection.model import (
    LINELESS_KINDS,
    Declaration,
    GoodsLine,
    ParsedRecord,
    Prebuilt,
    RecordError,
)

#: Amounts taken on the plain path: up to 10 digits, up to 5 decimals, no sign.
_PLAIN_AMOUNT = re.compile(rf"(\d{{1,10}})(?:\.(\d{{1,{AMOUNT_PLACES}}}))?", re.ASCII)
#: An amount already in the stored form: no leading zero, exactly 5 decimals.
_WRITTEN_AMOUNT = re.compile(rf"(?:0|[1-9]\d{{0,9}})\.\d{{{AMOUNT_PLACES}}}", re.ASCII)
_PAD = "0" * AMOUNT_PLACES
_TRADE_MODES = TRADE_MODES | {""}
_IE_FLAGS = IE_FLAGS | {""}
#: Default of every Declaration and GoodsLine field (all are "" or None).
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Declaration)}
_LINE_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(GoodsLine)}


def _amount_text(value: str) -> str | None:
    """Return a plain amount as the shaper writes it (``12.5`` → ``12.50000``), else None."""
    if value[-6:-5] == "." and _WRITTEN_AMOUNT.fullmatch(value) is not None:
        return value  # written as stored already (the usual case)
    m = _PLAIN_AMOUNT.fullmatch(value)
    if m is None:
        return None
    whole, frac = m.groups()
    return f"{whole.lstrip('0') or '0'}.{((frac or '') + _PAD)[:AMOUNT_PLACES]}"


@functools.lru_cache(maxsize=10_000)
def _utc_hour(key: str) -> str | None:
    """Return the UTC date and hour of China-time ``yyyyMMddHH``, or None when it is none.

    China time is a whole number of hours from UTC, so minutes and seconds carry over;
    records filed together share their hour, so the answer is kept.
    """
    at = ceb_time(key + "0000")
    if at is None:
        return None
    try:
        return time_text(at)[:13]
    except OverflowError:  # the first hours of year 1, China time
        return None


def _time_text(value: str) -> str | None:
    """Return a CEB time as the shaper writes it (UTC text), else None."""
    if len(value) not in (8, 14, 17) or not (value.isascii() and value.isdigit()):
        return None
    if len(value) == 8:  # a date (declTime, ieDate): midnight China time
        value += "000000"
    hour = _utc_hour(value[:10])
    if hour is None or value[10:12] > "59" or value[12:14] > "59":
        return None
    return f"{hour}:{value[10:12]}:{value[12:14]}.{value[14:17] or '000'}000"


def _stripped(texts: dict[str, str]) -> dict[str, str]:
    """Return a copy of ``texts`` with every value stripped of whitespace at either end."""
    return {tag: value.strip() for tag, value in texts.items()}


class _Columns:
    """Where a row's values come from: element texts read in one C call, a few converted.

    ``fill`` maps every tag to its empty value (and holds the Declaration's default for a
    field the message does not carry, under a key no element can have); ``take`` reads
    the values of a filled copy in column order; ``typed`` lists the positions that need
    converting: (position, is_time), or is_time None for a field that stays None.
    """

    __slots__ = ("fill", "take", "typed")

    def __init__(self, names: tuple[str, ...], by_attr: dict[str, Any], defaults: dict[str, Any]):
        fill: dict[str, Any] = {}
        keys: list[str] = []
        typed: list[tuple[int, bool | None]] = []
        for pos, name in enumerate(names):
            found = by_attr.get(name)
            if found is None:
                key = f"<{name}>"  # not a tag name
                fill[key] = defaults[name]
                if defaults[name] is None:
                    typed.append((pos, None))
            else:
                key, field_type = found
                fill[key] = ""
                if field_type is not FieldType.TEXT:
                    typed.append((pos, field_type is FieldType.TIME))
            keys.append(key)
        self.fill = fill
        self.take = itemgetter(*keys)
        self.typed = tuple(typed)

    def values(self, raw: dict[str, str], digest: Any) -> list[Any] | None:
        """Column values of stripped element texts (their text fed to ``digest``), or None."""
        full = self.fill.copy()
        full.update(raw)
        values = list(self.take(full))
        texts = values.copy()
        for pos, is_time in self.typed:
            value = values[pos]
            if not value:
                values[pos] = None
                texts[pos] = ""
                continue
            text = _time_text(value) if is_time else _amount_text(value)
            if text is None:
                return None
            values[pos] = texts[pos] = text
        digest.update("\x1f".join(texts).encode())
        return values


class RowBuilder(DeclarationBuilder):
    """A :class:`DeclarationBuilder` that returns rows ready for SQLite (:class:`Prepared`)."""

    def __init__(self, spec: DeclarationSpec, shaper: RowShaper) -> None:
        """Prepare the column maps of ``spec`` for ``shaper`` (its dialect must take text)."""
        super().__init__(spec)
        if not shaper.wire_as_text:
            raise ValueError("RowBuilder writes SQLite's form; use RowShaper.prepare elsewhere")
        self.shaper = shaper
        attrs = spec.attrs()
        by_attr = {attr: (tag, kind) for tag, (attr, kind) in attrs.items()}
        # Head columns after kind, message_type and business_key.
        self._head_cols = _Columns(HEAD_FIELDS[3:], by_attr, _DEFAULTS)
        self._known = frozenset(attrs)
        self._need_tags = tuple(spec.required)
        self._key_tags = spec.key
        self._trade = by_attr["trade_mode"][0]
        self._ie = by_attr["ie_flag"][0]
        line_by_attr = {attr: (tag, kind) for tag, (attr, kind) in LINE_ATTRS.items()}
        self._line_cols = _Columns(LINE_FIELDS[1:], line_by_attr, _LINE_DEFAULTS)
        self._item_name = next(t for t, (a, _k) in LINE_ATTRS.items() if a == "item_name")
        self._name_tag = line_by_attr["name"][0]
        self._hs_tag = line_by_attr["hs_code"][0]
        self._gnum_tag = line_by_attr["gnum"][0]
        self._prefix = (str(spec.kind), spec.message_type)

    def build(self, index: int, record: etree._Element) -> Declaration | RecordError | Prebuilt:
        """Rows for an lxml record element (the long way), or why it is rejected."""
        return self._shape(index, super().build(index, record))

    def build_parts(
        self, index: int, heads: list[dict[str, str]], lines: list[dict[str, str]]
    ) -> Declaration | RecordError | Prebuilt:
        """Rows for a record's head and line texts, or why it is rejected."""
        return self._rows(index, heads, lines, stripped=False)

    def build_stripped(
        self, index: int, heads: list[dict[str, str]], lines: list[dict[str, str]]
    ) -> Declaration | RecordError | Prebuilt:
        """:meth:`build_parts` for texts that have no whitespace at either end."""
        return self._rows(index, heads, lines, stripped=True)

    def _rows(
        self,
        index: int,
        heads: list[dict[str, str]],
        lines: list[dict[str, str]],
        *,
        stripped: bool,
    ) -> Declaration | RecordError | Prebuilt:
        """Rows on the plain path (texts stripped first unless ``stripped``), else the long way.

        The long way gets the texts as they came: it strips them itself.
        """
        if len(heads) == 1:
            head, plain_lines = heads[0], lines
            if not stripped:
                head, plain_lines = _stripped(head), [_stripped(x) for x in lines]
            fast = self._plain(index, head, plain_lines)
            if fast is not None:
                return fast
        return self._shape(index, super().build_parts(index, heads, lines))

    def _shape(
        self, index: int, item: Declaration | RecordError | Prebuilt
    ) -> Declaration | RecordError | Prebuilt:
        return self.shaper.prepare(index, item) if isinstance(item, Declaration) else item

    def _plain(
        self, index: int, head: dict[str, str], lines: list[dict[str, str]]
    ) -> Prepared | None:
        """The rows of a record's stripped texts on the plain path, or None to go the long way."""
        for tag in self._need_tags:
            if not head.get(tag):
                return None
        code, number = (head.get(t, "") for t in self._key_tags)
        if ":" in code:
            return None
        trade, ie = head.get(self._trade, ""), head.get(self._ie, "")
        if trade not in _TRADE_MODES or ie not in _IE_FLAGS:
            return None
        if not direction_ok(self.spec, {"trade_mode": trade, "ie_flag": ie}, head):
            return None
        if len(lines) < self.spec.min_lines or (lines and self.spec.kind in LINELESS_KINDS):
            return None  # the long way says why
        kind, message_type = self._prefix
        key = f"{code}:{number}"
        digest = hashlib.blake2b(f"{kind}\x1f{message_type}\x1f{key}\x1f".encode(), digest_size=16)
        values = self._head_cols.values(head, digest)
        if values is None:
            return None
        rows: list[tuple[Any, ...]] = []
        seen: set[int] = set()
        for line in lines:
            row = self._line(line, seen, digest)
            if row is None:
                return None
            rows.append(row)
        unknown = head.keys() - self._known
        extra = extra_text({tag: head[tag] for tag in unknown}) if unknown else "{}"
        digest.update(b"\x1d")
        digest.update(extra.encode())
        return Prepared(
            index, key, kind, digest.hexdigest(), extra, [kind, message_type, key, *values], rows
        )

    def _line(self, line: dict[str, str], seen: set[int], digest: Any) -> tuple[Any, ...] | None:
        """One goods line's row from its stripped texts (fed to ``digest``), or None."""
        gnum_text = line.get(self._gnum_tag, "")
        if not (gnum_text.isascii() and gnum_text.isdigit()) or len(gnum_text) > 9:
            return None
        gnum = int(gnum_text)
        if gnum < 1 or gnum in seen:
            return None
        seen.add(gnum)
        hs_code = line.get(self._hs_tag, "")
        if hs_code:
            if not (hs_code.isascii() and hs_code.isdigit()):
                return None
        elif self.spec.hs_required:
            return None
        if not line.get(self._name_tag):
            line = {**line, self._name_tag: line.get(self._item_name, "")}
        digest.update(f"\x1e{gnum}\x1f".encode())
        values = self._line_cols.values(line, digest)
        return None if values is None else (gnum, *values)


def shaped_records(
    stream: BinaryIO,
    fmt: DetectedFormat,
    source: str,
    shaper: RowShaper,
    pass_over: Callable[[int], bool] | None = None,
) -> Iterator[ParsedRecord]:
    """Read records as :func:`~inspection.formats.read_records` does, shaped where it pays.

    CEB declarations going into SQLite come as :class:`Prepared` rows (built by
    :class:`RowBuilder`); everything else comes as the reader yields it. A CEB reader
    passes over the records ``pass_over`` names (see :func:`~inspection.formats.ceb_read.read_ceb`);
    other formats read every record.
    """
    if fmt.family != "ceb":
        return read_records(stream, fmt, source)
    spec = DECLARATIONS.get(fmt.message_type)
    builder = RowBuilder(spec, shaper) if spec is not None and shaper.wire_as_text else None
    return read_ceb(
        stream, source=source, expected_type=fmt.message_type, builder=builder, pass_over=pass_over
    )
