"""The edge's compact record of one declaration: what its store keeps, in text.

A record is the tag byte :data:`TEXT`, a tab, then every field of
:class:`~inspection.model.Declaration` in its order, tab-separated, in PostgreSQL's ``COPY``
text form (https://www.postgresql.org/docs/current/sql-copy.html: a backslash, tab, newline
or carriage return in a field is escaped with a backslash): amounts as exact decimal text and
the time in ISO 8601, empty when null; ``lines`` a JSON array of arrays in ``GoodsLine``
order; ``extra`` a JSON object of :data:`KEEP_EXTRA` only. It is the layout of a row of the
hub's snapshot (``hub.services.snapshot``), so a first sync files the row's own bytes
(``edge.snapshot``) instead of building a record of each. Stores written before keep
``marshal``led tuples; :func:`decode` reads both.
"""

from __future__ import annotations

import json
import marshal
import re
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any

from inspection.model import Declaration, DocKind, GoodsLine

#: First byte of a text record (a ``marshal``led record starts with a list's or tuple's code).
TEXT = 2
TEXT_HEAD = bytes([TEXT])
#: Fields no check reads; left out of the edge's copy (privacy and space).
DROPPED = frozenset({"buyer_telephone", "sender", "addressee"})
#: ``extra`` fields a decision reads: goods description, insured fee (dutiable value).
KEEP_EXTRA = ("goodsInfo", "insuredFee")

_FIELDS = tuple(f.name for f in fields(Declaration))
_DEC = tuple(i for i, f in enumerate(fields(Declaration)) if "Decimal" in str(f.type))
_LINE_DEC = tuple(i for i, f in enumerate(fields(GoodsLine)) if "Decimal" in str(f.type))
_LINE_FIELDS = tuple(f.name for f in fields(GoodsLine))
_TIME, _LINES, _EXTRA = (_FIELDS.index(n) for n in ("decl_time", "lines", "extra"))
_KINDS = {k.value: k for k in DocKind}
_ALL = attrgetter(*_FIELDS)
_ALL_LINE = attrgetter(*_LINE_FIELDS)
_DROPPED_AT = tuple(_FIELDS.index(n) for n in sorted(DROPPED))
_ESCAPED = re.compile(r"\\(.)")
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}
#: What ``COPY``'s text form escapes, backslash first.
_ESCAPES = (("\\", "\\\\"), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
_SPECIAL = re.compile(r"[\\\n\r\t]")
#: The JSON decoder's own scanner: one value from an index, without ``json.loads``' layers.
_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def unescape(field: str) -> str:
    """Undo ``COPY``'s text-form escapes in one field."""
    return _ESCAPED.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(1)), field)


def escape(text: str) -> str:
    """Escape one field as ``COPY``'s text form writes it."""
    if _SPECIAL.search(text):
        for raw, esc in _ESCAPES:
            text = text.replace(raw, esc)
    return text


def json_text(value: Any) -> str:
    """``value`` as the compact JSON a record holds."""
    return _JSON(value)


def kept_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """The ``extra`` fields the edge keeps."""
    return {k: extra[k] for k in KEEP_EXTRA if extra.get(k)}


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def encode(decl: Declaration) -> bytes:
    """Return the text record of what the edge keeps of a declaration."""
    v: list[Any] = list(_ALL(decl))
    v[0] = v[0].value
    for i in _DROPPED_AT:
        v[i] = ""
    for i in _DEC:
        v[i] = "" if v[i] is None else str(v[i])
    v[_TIME] = "" if v[_TIME] is None else v[_TIME].isoformat()
    lines = v[_LINES]
    v[_LINES] = json_text([list(map(_text, _ALL_LINE(ln))) for ln in lines]) if lines else "[]"
    kept = kept_extra(v[_EXTRA])
    v[_EXTRA] = json_text(kept) if kept else "{}"
    try:
        text = "\t".join(v)
    except TypeError:  # a text field that is None (the snapshot files it empty too)
        v = ["" if x is None else str(x) for x in v]
        text = "\t".join(v)
    if "\\" in text or "\n" in text or "\r" in text or text.count("\t") >= len(v):
        text = "\t".join(map(escape, v))
    return TEXT_HEAD + ("\t" + text).encode()


def _line(values: list[Any] | tuple[Any, ...]) -> GoodsLine:
    v = list(values)
    for j in _LINE_DEC:
        if v[j] is not None:
            v[j] = Decimal(v[j])
    return GoodsLine(*v)


def _json(text: str) -> Any:
    value, end = _SCAN(text, 0)
    if end != len(text):
        raise ValueError(f"record field has more than one JSON value: {text[:60]!r}")
    return value


def decode(body: bytes) -> Declaration:
    """Rebuild a declaration from its record (a text record, or an older ``marshal`` one)."""
    if body[0] != TEXT:
        return _decode_marshal(body)
    text = body[2:].decode()
    v: list[Any] = text.split("\t")
    if "\\" in text:
        v = [unescape(f) if "\\" in f else f for f in v]
    if len(v) != len(_FIELDS):
        raise ValueError(f"record of {len(v)} fields, not {len(_FIELDS)}")
    for i in _DEC:
        v[i] = Decimal(v[i]) if v[i] else None
    v[_TIME] = datetime.fromisoformat(v[_TIME]) if v[_TIME] else None
    lines = v[_LINES]
    v[_LINES] = tuple(_line(ln) for ln in _json(lines)) if lines != "[]" else ()
    extra = v[_EXTRA]
    v[_EXTRA] = _json(extra) if extra != "{}" else {}
    v[0] = _KINDS[v[0]]
    return Declaration(*v)


def _decode_marshal(body: bytes) -> Declaration:
    """Rebuild a declaration from a record of a store written before the text records."""
    v = list(marshal.loads(body))
    for i in _DEC:
        if v[i] is not None:
            v[i] = Decimal(v[i])
    if v[_TIME] is not None:
        v[_TIME] = datetime.fromisoformat(v[_TIME])
    v[_LINES] = tuple(_line(ln) for ln in v[_LINES])
    v[0] = _KINDS[v[0]]
    return Declaration(*v)
