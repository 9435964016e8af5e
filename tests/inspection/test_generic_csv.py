"""Generic parcel CSV: grouping, mapping, validation, round trips and robustness."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inspection.formats.generic_csv import read_generic_csv, write_generic_csv
from inspection.model import Declaration, DocKind, FormatError, GoodsLine, ParsedRecord, RecordError

FIXTURE = Path(__file__).parent / "data" / "generic" / "parcels.csv"
HEADER = "code,consignee,consignee_phone,buyer_id_number,goods_value,description,quantity\n"


def read(data: bytes) -> list[ParsedRecord]:
    """Every record of ``data`` read as generic CSV."""
    return list(read_generic_csv(io.BytesIO(data), source="test"))


def accepted(records: list[ParsedRecord]) -> list[Declaration]:
    """The accepted declarations."""
    return [r.item for r in records if isinstance(r.item, Declaration)]


def rejected(records: list[ParsedRecord]) -> list[RecordError]:
    """The rejections."""
    return [r.item for r in records if isinstance(r.item, RecordError)]


def test_fixture_accepts_good_parcels_and_lists_each_rejection() -> None:
    records = read(FIXTURE.read_bytes())
    assert [r.index for r in records] == list(range(1, 10))
    assert [d.business_key for d in accepted(records)] == [
        "JD0012345678", "SF1234567890", "EB000717595HK"
    ]  # fmt: skip
    assert [(e.index, e.field, e.reason) for e in rejected(records)] == [
        (3, "code", "code is required (line 5)"),
        (4, "code", "code 'RR123456786CN' fails the S10 check digit (expected 5) (line 6)"),
        (5, "goods_value", "goods_value '12,50' is not a number (line 7)"),
        (6, "consignee", "consignee differs between rows of one record: '王强' on line 8, "
                         "'王刚' on line 9 (lines 8-9)"),
        (7, "ie_flag", "ie_flag 'X' is not I or E (line 10)"),
        (8, "quantity", "quantity '-2' is negative (line 12)"),
    ]  # fmt: skip


def test_rows_map_onto_the_declaration() -> None:
    first = accepted(read(FIXTURE.read_bytes()))[0]
    assert first == Declaration(
        kind=DocKind.GENERIC,
        message_type="GENERIC",
        business_key="JD0012345678",
        logistics_no="JD0012345678",
        ebc_code="3301960ABC",
        agent_code="3301980XYZ",
        trade_mode="9610",
        ie_flag="I",
        decl_time=datetime(2024, 5, 1, 10, 0),
        buyer_id_number="110101199003071234",
        buyer_name="张伟",
        consignee="张伟",
        consignee_telephone="13800138000",
        goods_value=Decimal("299.00"),
        freight=Decimal("10.00"),
        currency="CNY",
        gross_weight_kg=Decimal("1.25"),
        net_weight_kg=Decimal("1.1"),
        country="USA",
        lines=(
            GoodsLine(
                gnum=1,
                hs_code="330499",
                name="面霜, 50ml",
                qty=Decimal(1),
                unit="瓶",
                total_price=Decimal("199.00"),
                currency="CNY",
                origin="USA",
            ),
            GoodsLine(
                gnum=2,
                hs_code="330510",
                name="Shampoo",
                qty=Decimal(2),
                unit="瓶",
                total_price=Decimal("100.00"),
                currency="CNY",
                origin="FR",
            ),
        ),
        extra={"shelf": "A-01"},
    )


def test_single_row_parcel_without_goods_lines_and_numeric_currency() -> None:
    parcel = accepted(read(FIXTURE.read_bytes()))[1]
    assert (parcel.trade_mode, parcel.currency, parcel.country, parcel.lines) == (
        "1210", "142", "JPN", ()
    )  # fmt: skip
    assert parcel.buyer_id_number == ""


def test_five_decimal_amounts_are_kept_exactly() -> None:
    data = HEADER + "yt1,A,,,199.12345,Stand,1\n"
    (d,) = accepted(read(data.encode()))
    assert d.goods_value == Decimal("199.12345")
    assert d.business_key == "YT1"


def test_header_without_code_is_a_format_error() -> None:
    with pytest.raises(FormatError, match=r"test: generic CSV header lacks required column.*code"):
        read(b"waybill,consignee\nSF1,A\n")
    with pytest.raises(FormatError, match="empty"):
        read(b"")
    with pytest.raises(FormatError, match="not UTF-8"):
        read(b"code\n\xff\xfe\n")


def test_reasons_never_show_phone_or_identity_numbers() -> None:
    data = HEADER + (
        "P1,A,13800138000,,1,,\n"
        "P1,A,13900139000,,1,,\n"
        "P2,A,,110101199003071234,1,,\n"
        "P2,A,,110101199003079999,1,,\n"
    )
    errors = rejected(read(data.encode()))
    assert [(e.index, e.field) for e in errors] == [(1, "consignee_phone"), (2, "buyer_id_number")]
    text = " ".join(e.reason for e in errors)
    for secret in ("13800138000", "13900139000", "110101199003071234", "110101199003079999"):
        assert secret not in text


def test_surplus_cells_reject_only_their_record() -> None:
    data = HEADER + "P1,A,,,1,,\nP2,A,,,1,,,oops\nP3,A,,,1,,\n"
    records = read(data.encode())
    assert [d.business_key for d in accepted(records)] == ["P1", "P3"]
    assert [(e.index, e.field) for e in rejected(records)] == [(2, "row")]


def test_round_trip_keeps_every_mapped_field() -> None:
    originals = accepted(read(FIXTURE.read_bytes()))
    late = Declaration(
        kind=DocKind.GENERIC,
        message_type="GENERIC",
        business_key="Z9",
        logistics_no="Z9",
        decl_time=datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
    )
    out = io.BytesIO()
    assert write_generic_csv(out, [*originals, late]) == 4
    again = accepted(read(out.getvalue()))
    expected = [*originals, late]
    expected[0] = replace(expected[0], extra={})  # extra fields are not written
    assert again == expected


def test_writer_needs_a_code() -> None:
    blank = Declaration(kind=DocKind.GENERIC, message_type="GENERIC", business_key="")
    with pytest.raises(FormatError, match="business key"):
        write_generic_csv(io.BytesIO(), [blank])


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    data=st.binary(max_size=300) | st.text(max_size=200).map(str.encode),
    at=st.integers(min_value=0, max_value=2000),
)
def test_random_and_mutated_input_raise_nothing_but_format_error(data: bytes, at: int) -> None:
    original = FIXTURE.read_bytes()
    at %= len(original)
    for candidate in (data, b"code,quantity\n" + data, original[:at] + data + original[at + 5 :]):
        try:
            for record in read(candidate):
                assert isinstance(record.item, Declaration | RecordError)
        except FormatError:
            pass


@given(st.text(max_size=40))
def test_spreadsheet_safe_cells_never_start_a_formula_and_keep_the_text(text: str) -> None:
    from inspection.formats.csvutil import spreadsheet_safe

    safe = spreadsheet_safe(text)
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠"))
    assert safe in (text, "'" + text)
