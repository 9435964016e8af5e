"""CEB records shaped straight into rows equal the long way through Declaration and shaper."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from hub.importing.fast import RowBuilder
from hub.importing.rows import Prepared, RowShaper
from inspection.formats.ceb_build import DeclarationBuilder
from inspection.formats.ceb_fields import DECLARATIONS, LINE_ATTRS, DeclarationSpec, FieldType
from inspection.model import Declaration, RecordError

SHAPER = RowShaper(sqlite.dialect())  # type: ignore[no-untyped-call]

AMOUNTS = st.sampled_from(
    ["0", "12", "12.5", "0012.50", "1234567890.12345", "12345678901", "1.123456", "1.100000",
     "15.43440", "00.50000", "-1.00000",
     "1.", ".5", "+1", "-1", "-0", "1e3", "abc", "", "  7.25  ", "\u00a03\u00a0"]
)  # fmt: skip
TIMES = st.sampled_from(
    ["20261101080001", "20261101080001123", "20260230080000", "2026110108", "x" * 14, "",
     " 20261231235959 ", "00010101000000", "９９９９"]
)  # fmt: skip
TEXTS = st.sampled_from(["", "3301960001", "张三", "  padded  ", "A:B", "9610", "1210", "I", "X"])


def _value(kind: FieldType) -> st.SearchStrategy[str]:
    if kind is FieldType.DECIMAL:
        return AMOUNTS
    if kind is FieldType.TIME:
        return TIMES
    return TEXTS


PLAIN_AMOUNTS = st.sampled_from(
    ["0", "12", "12.5", "0012.50", "1234567890.12345", " 3.1 ", "15.43440", "0.50000"]
)
PLAIN_TIMES = st.sampled_from(["20261101", "20261101080001", "20261101080001123", "20260101000000"])
PLAIN_TEXTS = st.sampled_from(["", "3301960001", "张三", "  padded  ", "浙江省杭州市"])
SPECIAL = {
    "tradeMode": st.sampled_from(["9610", "1210", "9710", "9810"]),
    "ieFlag": st.sampled_from(["I", "E"]),
}


def _plain_value(tag: str, kind: FieldType) -> st.SearchStrategy[str]:
    if tag in SPECIAL:
        return SPECIAL[tag]
    if kind is FieldType.DECIMAL:
        return PLAIN_AMOUNTS
    if kind is FieldType.TIME:
        return PLAIN_TIMES
    return PLAIN_TEXTS


@st.composite
def _record(
    draw: st.DrawFn, spec: DeclarationSpec, plain: bool
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A head and goods lines: plain (well-formed) ones, or values from plain to broken."""
    head: dict[str, str] = {}
    for tag, (_attr, kind) in spec.attrs().items():
        if plain and tag in spec.required:
            head[tag] = draw(_plain_value(tag, kind).filter(lambda v: v.strip() != ""))
        elif draw(st.integers(0, 9)) < 8:
            head[tag] = draw(_plain_value(tag, kind) if plain else _value(kind))
    if draw(st.booleans()):
        head[draw(st.sampled_from(["guid", "appType", "note", "customsCode"]))] = draw(TEXTS)
    direction = {"CEB621": ("I", "9610"), "CEB603": ("E", "9710")}.get(spec.message_type)
    if plain and direction is not None and draw(st.integers(0, 9)) < 8:
        head["ieFlag"], head["tradeMode"] = direction  # mostly as the message requires
    lines = []
    # a plain payment or waybill has no goods lines (their messages have none)
    count = draw(st.integers(spec.min_lines if plain else 0, 3 if spec.line or not plain else 0))
    for number in range(1, count + 1):
        line: dict[str, str] = {}
        for tag, (_attr, kind) in LINE_ATTRS.items():
            if plain and tag in ("gnum", "gcode"):
                line[tag] = str(number) if tag == "gnum" else "3304990099"
            elif draw(st.integers(0, 9)) < 8:
                if kind is FieldType.INT:
                    line[tag] = draw(st.sampled_from(["1", "2", "01", "0", "x", "", "99999999999"]))
                else:
                    line[tag] = draw(_plain_value(tag, kind) if plain else _value(kind))
        if draw(st.booleans()):
            line["barCode"] = draw(TEXTS)
        lines.append(line)
    if plain and draw(st.booleans()):  # break one value of an otherwise plain record
        where = head if not lines or draw(st.booleans()) else draw(st.sampled_from(lines))
        if where:
            tag = draw(st.sampled_from(sorted(where)))
            where[tag] = draw(st.one_of(AMOUNTS, TIMES, TEXTS))
    return head, lines


def _long_way(spec: DeclarationSpec, head: dict[str, str], lines: list[dict[str, str]]) -> Any:
    item = DeclarationBuilder(spec).build_parts(7, [head], lines)
    return SHAPER.prepare(7, item) if isinstance(item, Declaration) else item


@pytest.mark.parametrize("message_type", sorted(DECLARATIONS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rows_equal_the_long_way(message_type: str, data: st.DataObject) -> None:
    """Whatever the values, the rows (or the rejection) are those of Declaration + shaper."""
    spec = DECLARATIONS[message_type]
    head, lines = data.draw(_record(spec, data.draw(st.booleans())))
    got = RowBuilder(spec, SHAPER).build_parts(7, [head], lines)
    assert got == _long_way(spec, head, lines)
    # the fast reader's entry, for texts it found unpadded, agrees as well
    head, *lines = ({t: v.strip() for t, v in x.items()} for x in (head, *lines))
    assert RowBuilder(spec, SHAPER).build_stripped(7, [head], lines) == _long_way(spec, head, lines)


@pytest.mark.parametrize("message_type", sorted(DECLARATIONS))
def test_most_plain_records_take_the_short_way(message_type: str) -> None:
    """The comparison above is not idle: plain records do skip the Declaration."""
    spec = DECLARATIONS[message_type]
    builder = RowBuilder(spec, SHAPER)
    taken: list[bool] = []

    @settings(max_examples=100, deadline=None, database=None)
    @given(record=_record(spec, True))
    def count(record: tuple[dict[str, str], list[dict[str, str]]]) -> None:
        head, lines = record
        stripped = [{t: v.strip() for t, v in x.items()} for x in (head, *lines)]
        taken.append(builder._plain(7, stripped[0], stripped[1:]) is not None)

    count()
    assert sum(taken) >= len(taken) // 4


def _plain_inventory() -> tuple[dict[str, str], list[dict[str, str]]]:
    head = {
        "guid": "6EEB6124", "orderNo": "ORD1", "ebpCode": "E1", "ebcCode": "E2",
        "logisticsNo": "YT1", "logisticsCode": "L1", "copNo": " COP1 ", "invtNo": "INV1",
        "ieFlag": "I", "declTime": "20261101080001123", "buyerIdType": "1",
        "buyerIdNumber": "110101199000000001", "buyerName": "张三", "agentCode": "A1",
        "tradeMode": "9610", "country": "142", "freight": "15.4", "currency": "142",
        "grossWeight": "4.51131", "netWeight": "0", "note": "备注",
    }  # fmt: skip
    lines = [
        {"gnum": "1", "gcode": "3304990099", "gname": "", "itemName": "保湿面霜", "qty": "1",
         "unit": "011", "price": "489.60313", "totalPrice": "489.60313", "barCode": "x"},
        {"gnum": "2", "gcode": "8518300000", "gname": "蓝牙耳机", "qty": "3", "price": "0.5"},
    ]  # fmt: skip
    return head, lines


def test_a_plain_record_takes_the_short_way_with_the_same_rows() -> None:
    """A typical CEB621 record never builds a Declaration, and its rows are unchanged."""
    spec = DECLARATIONS["CEB621"]
    head, lines = _plain_inventory()  # some of its texts padded with spaces
    builder = RowBuilder(spec, SHAPER)
    stripped = [{t: v.strip() for t, v in x.items()} for x in (head, *lines)]
    fast = builder._plain(7, stripped[0], stripped[1:])
    assert isinstance(fast, Prepared)
    assert fast == _long_way(spec, head, lines) == builder.build_parts(7, [head], lines)
    assert fast.business_key == "A1:COP1"
    assert fast.extra == '{"guid":"6EEB6124","note":"备注"}'
    assert fast.lines[0][2] == "保湿面霜"  # gname empty: itemName names the goods


def test_a_bad_record_is_rejected_with_the_long_way_reason() -> None:
    """A broken amount goes the long way and is rejected naming its field."""
    spec = DECLARATIONS["CEB621"]
    head, lines = _plain_inventory()
    head["freight"] = "-3"
    got = RowBuilder(spec, SHAPER).build_parts(7, [head], lines)
    assert got == RecordError(7, "InventoryHead.freight", "must not be negative")


def test_other_databases_are_refused() -> None:
    """Rows in SQLite's form are not offered for a database that takes typed values."""
    with pytest.raises(ValueError, match="SQLite"):
        RowBuilder(DECLARATIONS["CEB621"], RowShaper(postgresql.dialect()))  # type: ignore[no-untyped-call]
