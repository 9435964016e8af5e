"""The edge's records: text records round trip, the older ``marshal`` ones still read, and a
snapshot row's own bytes are the record of its declaration."""

from __future__ import annotations

import marshal
from dataclasses import fields, replace
from decimal import Decimal
from typing import Any

import pytest

from edge import record
from edge.record import TEXT, decode, encode
from edge.snapshot import FIELDS, SnapshotError, SnapshotWriter
from hub.services.snapshot import _escape as snapshot_escape
from hub.services.snapshot import _json as snapshot_json
from inspection.model import Declaration, DocKind, GoodsLine
from simulators.sample_declarations import parcel_sets

ODD = 'tab\there, back\\slash, "quoted"\nnew line\r, \\n not a newline'


def _kept(decl: Declaration) -> Declaration:
    """What the edge keeps of ``decl``."""
    extra = {k: decl.extra[k] for k in ("goodsInfo", "insuredFee") if decl.extra.get(k)}
    return replace(decl, buyer_telephone="", sender="", addressee="", extra=extra)


def _old_record(decl: Declaration) -> bytes:
    """A record as edges wrote them before the text records (a ``marshal``led tuple)."""
    v: list[Any] = [getattr(decl, f.name) for f in fields(Declaration)]
    v = [str(x) if isinstance(x, Decimal) else x for x in v]
    names = [f.name for f in fields(Declaration)]
    for name in ("buyer_telephone", "sender", "addressee"):
        v[names.index(name)] = ""
    at = names.index("decl_time")
    v[at] = v[at].isoformat() if v[at] is not None else None
    v[names.index("lines")] = tuple(
        tuple(str(getattr(ln, f.name)) if isinstance(getattr(ln, f.name), Decimal)
              else getattr(ln, f.name) for f in fields(GoodsLine))
        for ln in decl.lines
    )  # fmt: skip
    v[names.index("extra")] = _kept(decl).extra
    v[0] = v[0].value
    return marshal.dumps(tuple(v))


def _sets() -> list[Declaration]:
    ps = next(iter(parcel_sets(1, seed=3)))
    odd = replace(
        ps.inventory,
        consignee_address=ODD,
        buyer_name="\\",
        freight=None,
        decl_time=None,
        lines=(*ps.inventory.lines, GoodsLine(9, name=ODD, qty=Decimal("1.50"), price=None)),
        extra={"goodsInfo": ODD, "insuredFee": "2.5", "appType": "1", "other": "x"},
    )
    return [*ps.declarations(), odd]


@pytest.mark.parametrize("decl", _sets(), ids=lambda d: d.kind.value)
def test_a_text_record_gives_back_what_the_edge_keeps(decl: Declaration) -> None:
    body = encode(decl)
    assert body[0] == TEXT
    assert decode(body) == _kept(decl)


@pytest.mark.parametrize("decl", _sets(), ids=lambda d: d.kind.value)
def test_a_record_of_an_older_store_still_reads(decl: Declaration) -> None:
    old = _old_record(decl)
    assert old[0] != TEXT
    assert decode(old) == decode(encode(decl)) == _kept(decl)


def test_a_record_is_the_declaration_in_its_field_order() -> None:
    """The snapshot's rows and the records share one layout: the stream's fields, then the
    goods lines and ``extra``."""
    assert tuple(f.name for f in fields(Declaration)) == (*FIELDS, "lines", "extra")


def test_escapes_are_undone_field_by_field() -> None:
    assert record.escape(ODD) == (
        'tab\\there, back\\\\slash, "quoted"\\nnew line\\r, \\\\n not a newline'
    )
    assert record.unescape(record.escape(ODD)) == ODD
    assert record.unescape("a\\bb\\fc\\vd\\x") == "a\bb\fc\vdx"  # as PostgreSQL writes them


def test_a_row_whose_lines_or_extra_are_not_json_is_refused() -> None:
    writer = SnapshotWriter(None, None, [])  # type: ignore[arg-type]
    row = ["1", "", "", "order", *[""] * (len(FIELDS) - 1), "[]", "{}"]
    row[5] = "K1"
    for i, bad in ((-2, "[1"), (-2, ""), (-1, "{1"), (-1, "[]")):
        broken = list(row)
        broken[i] = bad
        with pytest.raises(SnapshotError):
            writer._row("\t".join(broken).encode())


def test_a_text_record_of_the_wrong_width_does_not_decode() -> None:
    body = encode(_sets()[0])
    with pytest.raises(ValueError, match="fields"):
        decode(body + b"\tone too many")


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _row(decl: Declaration, status: str = "", state: str = "") -> bytes:
    """``decl`` as a row of the hub's snapshot (``hub.services.snapshot``)."""
    values: list[Any] = ["7", status, state]
    for name in FIELDS:
        value = getattr(decl, name)
        value = value.value if name == "kind" else value
        values.append(value.isoformat() if hasattr(value, "isoformat") else value)
    lines = [[_text(getattr(ln, f.name)) for f in fields(GoodsLine)] for ln in decl.lines]
    values += [snapshot_json(lines), snapshot_json(decl.extra)]
    return "\t".join(map(snapshot_escape, values)).encode()


def _written(decl: Declaration) -> bytes:
    """The record the snapshot's writer files for ``decl``'s row."""
    writer = SnapshotWriter(None, None, [])  # type: ignore[arg-type]
    writer._row(_row(decl, status="800"))
    rows = writer._rows["entry"] or writer._rows["doc"]
    return next(v for v in rows if isinstance(v, bytes))


def _with_everything(decl: Declaration) -> list[Declaration]:
    """``decl`` without, then with the fields the edge leaves out; with escapes, ``extra``."""
    return [
        replace(decl, buyer_telephone="", sender="", addressee=""),  # the row's own bytes
        replace(decl, buyer_telephone="13800000000", sender="S\tender", addressee="A"),
        replace(decl, buyer_telephone="", sender="", addressee="x", consignee=ODD),
        replace(decl, buyer_name="\\", extra={"goodsInfo": ODD, "other": "x"}),
        replace(decl, lines=(GoodsLine(1, name=ODD, qty=Decimal("2")),), extra={"x": "y"}),
    ]


@pytest.mark.parametrize("decl", _sets(), ids=lambda d: d.kind.value)
def test_the_snapshot_files_the_record_encode_makes(decl: Declaration) -> None:
    """From a row's own bytes or joined again, the record decodes as ``encode``'s."""
    postal = replace(decl, kind=DocKind.POSTAL) if decl.kind is DocKind.INVENTORY else decl
    for variant in _with_everything(postal):
        assert decode(_written(variant)) == decode(encode(variant)) == _kept(variant)


def test_a_text_field_that_is_none_is_kept_empty_as_the_snapshot_keeps_it() -> None:
    decl = _sets()[0]
    odd = replace(decl, pre_no=None)  # type: ignore[arg-type]
    assert decode(encode(odd)) == replace(_kept(decl), pre_no="")
