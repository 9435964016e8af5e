"""Postal item declarations and receipts: JSON and CSV reading, writing and validation."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from inspection.formats.csvutil import FieldError
from inspection.formats.postal import (
    read_postal_csv,
    read_postal_json,
    validate_s10,
    write_postal_csv,
    write_postal_json,
)
from inspection.model import (
    Declaration,
    DocKind,
    FormatError,
    GoodsLine,
    ParsedRecord,
    Receipt,
    RecordError,
)

DATA = Path(__file__).parent / "data" / "postal"
Reader = Callable[..., Iterator[ParsedRecord]]


def read(reader: Reader, data: bytes) -> list[ParsedRecord]:
    """Read every record of ``data`` with ``reader``."""
    return list(reader(io.BytesIO(data), source="test"))


def read_file(reader: Reader, name: str) -> list[ParsedRecord]:
    """Read every record of a fixture file."""
    with (DATA / name).open("rb") as f:
        return list(reader(f, source=name))


def errors(records: list[ParsedRecord]) -> list[tuple[int, str]]:
    """(index, field) of every rejected record."""
    return [(r.index, r.item.field) for r in records if isinstance(r.item, RecordError)]


def reasons(records: list[ParsedRecord]) -> list[str]:
    """Reason of every rejected record."""
    return [r.item.reason for r in records if isinstance(r.item, RecordError)]


def declarations(records: list[ParsedRecord]) -> list[Declaration]:
    """The accepted declarations."""
    return [r.item for r in records if isinstance(r.item, Declaration)]


def item_json(**overrides: object) -> str:
    """One valid item as JSON text, with members replaced by ``overrides``."""
    base: dict[str, object] = {
        "item_id": '"RR123456785CN"',
        "category": '"gift"',
        "addressee": '{"name": "Li Lei", "phone": "13800138000", '
        '"id_number": "110101199003071234"}',
        "total_gross_weight_kg": "1.5",
        "total_value": "100",
        "currency": '"CNY"',
        "contents": '[{"description": "Tea", "quantity": 1, "value": 100}]',
    }
    base.update(overrides)
    return "{" + ", ".join(f'"{k}": {v}' for k, v in base.items() if v is not None) + "}"


# --- S10 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["RR123456785CN", "EB000717595HK", "EB000717618HK"])
def test_validate_s10_accepts_published_vectors(code: str) -> None:
    assert validate_s10(code.lower() + " ") == code


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("RB123456786US", "fails the S10 check digit \\(expected 5\\)"),
        ("RB123456785XX", "not a valid S10 id: country XX"),
        ("RR12345678CN", "not a UPU S10 id"),
        ("RR1234567850CN", "not a UPU S10 id"),
    ],
)
def test_validate_s10_rejects_with_the_reason(code: str, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        validate_s10(code)


# --- JSON ----------------------------------------------------------------------------------


def test_json_array_fixture_accepts_good_items_and_lists_each_rejection() -> None:
    records = read_file(read_postal_json, "items.json")
    assert [r.index for r in records] == [1, 2, 3, 4, 5, 6, 7]
    assert [d.business_key for d in declarations(records)] == [
        "LX314159268DE", "RB888888885US", "CQ555544442GB"
    ]  # fmt: skip
    assert [d.message_type for d in declarations(records)] == ["CN22", "CN23", "CN22"]
    assert errors(records) == [
        (3, "item_id"), (4, "category"), (6, "contents[2].quantity"), (7, "item")
    ]  # fmt: skip
    assert reasons(records) == [
        "item_id 'RR123456786CN' fails the S10 check digit (expected 5) (item at line 29 column 3)",
        "category is required (item at line 38 column 3)",
        "quantity '-1' is negative (item at line 57 column 3)",
        "an item must be a JSON object, not text (item at line 69 column 3)",
    ]


def test_json_item_maps_onto_the_declaration() -> None:
    d = declarations(read_file(read_postal_json, "items.json"))[1]
    assert d == Declaration(
        kind=DocKind.POSTAL,
        message_type="CN23",
        business_key="RB888888885US",
        logistics_no="RB888888885US",
        gross_weight_kg=Decimal("3.25"),
        goods_value=Decimal("420.00"),
        currency="USD",
        category="sale_of_goods",
        sender="Gadget Store LLC",
        addressee="张伟",
        consignee_address="上海市浦东新区世纪大道100号",
        consignee_telephone="13800138000",
        buyer_id_number="110101199003071234",
        country="US",
        lines=(
            GoodsLine(
                gnum=1,
                hs_code="851830",
                name="蓝牙耳机 Bluetooth earphones",
                qty=Decimal(2),
                total_price=Decimal("300.00"),
                currency="USD",
                origin="CN",
                net_weight_kg=Decimal("0.4"),
            ),
            GoodsLine(
                gnum=2,
                hs_code="392690",
                name="Phone case",
                qty=Decimal(3),
                total_price=Decimal(120),
                currency="USD",
                origin="VN",
                net_weight_kg=Decimal("0.3"),
            ),
        ),
        extra={"sender.address": "1 Market St, San Francisco, CA", "addressee.country": "CN"},
    )


def test_json_keeps_unmapped_members_in_extra_and_normalises_codes() -> None:
    first, _, third = declarations(read_file(read_postal_json, "items.json"))
    assert first.decl_time == datetime(2024, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert first.extra["operator"] == "DEPOST"
    assert first.lines[0].hs_code == "611710"
    assert first.lines[0].origin == "DE"
    assert first.lines[0].currency == "EUR"  # inherited from the item
    assert third.business_key == "CQ555544442GB"
    assert third.category == "documents"
    assert third.extra == {"sender.region": "London", "insured": "true"}
    assert third.buyer_id_number == ""


def test_json_wrapper_object_streams_its_items() -> None:
    records = read_file(read_postal_json, "wrapped.json")
    assert [d.business_key for d in declarations(records)] == ["EE777777775CN", "CA121212122US"]
    assert declarations(records)[0].message_type == "CN23"  # 2.5 kg
    assert declarations(records)[1].lines[0].hs_code == "21069099"


def test_json_lines_carry_declarations_and_receipts() -> None:
    records = read_file(read_postal_json, "items.jsonl")
    receipts = [r.item for r in records if isinstance(r.item, Receipt)]
    assert [(r.business_key, r.return_status) for r in receipts] == [
        ("RR111122229FR", 800), ("LP000001235CN", 500), ("LP000001235CN", -304001)
    ]  # fmt: skip
    assert receipts[0] == Receipt(
        message_type="POSTAL",
        kind=DocKind.POSTAL,
        business_key="RR111122229FR",
        logistics_no="RR111122229FR",
        return_status=800,
        return_time=datetime(2024, 5, 3, 10, 15, tzinfo=timezone(timedelta(hours=8))),
        return_info="放行",
    )
    assert errors(records) == [(4, "return_status")]
    assert declarations(records)[0].message_type == "CN23"  # 350 > 300


def test_json_syntax_error_keeps_the_good_items_then_names_line_and_column() -> None:
    got: list[ParsedRecord] = []
    with (DATA / "broken.json").open("rb") as f, pytest.raises(FormatError) as info:
        got.extend(read_postal_json(f, source="broken.json"))
    assert [d.business_key for d in declarations(got)] == ["RR123456785CN", "EB000717595HK"]
    assert "broken.json" in str(info.value)
    assert "line 4 column 51" in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \n ", "empty"),
        (b'"just text"', "starts with"),
        (b"42", "starts with"),
        (b"\xff\xfe{\x00", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b"[" + item_json().encode() + b"] trailing", "after the end"),
        (b'{"items": [' + item_json().encode() + b"]} {}", "after the end"),
        (b"[" + item_json().encode(), "end of file"),
    ],
)
def test_json_that_is_not_item_json_raises_format_error(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read(read_postal_json, data)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"total_value": "NaN"}, "total_value", "not a finite number"),
        ({"total_value": "-1"}, "total_value", "negative"),
        ({"total_value": "true"}, "total_value", "must be a number"),
        ({"currency": '"RMB1"'}, "currency", "three-letter currency"),
        ({"category": '"bribe"'}, "category", "not one of"),
        ({"sender": '"Bob"'}, "sender", "must be an object"),
        ({"sender": '{"country": "USA"}'}, "sender.country", "two-letter country"),
        ({"addressee": '{"phone": "1"}'}, "addressee.name", "required"),
        ({"contents": "[]"}, "contents", "non-empty list"),
        ({"contents": "[1]"}, "contents[1]", "must be an object"),
        ({"contents": '[{"description": "x", "quantity": 1}]'}, "contents[1].value", "required"),
        ({"contents": '[{"description": "x", "quantity": 1, "value": 1, "hs_code": "85AB"}]'},
         "contents[1].hs_code", "4-13 digits"),
        ({"declared_at": '"yesterday"'}, "declared_at", "ISO 8601"),
        ({"return_status": "800"}, "return_status", "carries no contents"),
    ],
)  # fmt: skip
def test_json_bad_fields_are_rejected_by_name(
    overrides: dict[str, object], field: str, reason: str
) -> None:
    records = read(read_postal_json, item_json(**overrides).encode())
    assert len(records) == 1
    assert isinstance(records[0].item, RecordError)
    assert records[0].item.field == field
    assert reason in records[0].item.reason


@pytest.mark.parametrize(
    ("value", "weight", "expected"),
    [("300", "2", "CN22"), ("300.01", "2", "CN23"), ("10", "2.001", "CN23"), ("0", "0", "CN22")],
)
def test_cn23_when_value_over_300_or_weight_over_2_kg(
    value: str, weight: str, expected: str
) -> None:
    text = item_json(total_value=value, total_gross_weight_kg=weight)
    (d,) = declarations(read(read_postal_json, text.encode()))
    assert d.message_type == expected


def test_json_round_trip_keeps_every_record() -> None:
    originals = [
        r.item
        for name in ("items.json", "wrapped.json", "items.jsonl")
        for r in read_file(read_postal_json, name)
        if not isinstance(r.item, RecordError)
    ]
    out = io.BytesIO()
    assert write_postal_json(out, originals) == len(originals) == 9
    again = [r.item for r in read(read_postal_json, out.getvalue())]
    assert again == originals


def test_write_postal_json_of_nothing_is_an_empty_list() -> None:
    out = io.BytesIO()
    assert write_postal_json(out, []) == 0
    assert read(read_postal_json, out.getvalue()) == []


def test_writers_refuse_non_postal_records() -> None:
    other = Declaration(kind=DocKind.GENERIC, message_type="GENERIC", business_key="X1")
    with pytest.raises(FormatError, match="not a postal item"):
        write_postal_json(io.BytesIO(), [other])
    with pytest.raises(FormatError, match="not a postal item"):
        write_postal_csv(io.BytesIO(), [other])


def test_receipt_time_in_utc_round_trips() -> None:
    receipt = Receipt(message_type="POSTAL", kind=DocKind.POSTAL, business_key="RR123456785CN",
                      logistics_no="RR123456785CN", return_status=700,
                      return_time=datetime(2024, 5, 1, 1, 2, 3, tzinfo=UTC))  # fmt: skip
    pairs = ((write_postal_json, read_postal_json), (write_postal_csv, read_postal_csv))
    for writer, reader in pairs:
        out = io.BytesIO()
        writer(out, [receipt])
        assert [r.item for r in read(reader, out.getvalue())] == [receipt]


# --- CSV -----------------------------------------------------------------------------------


def test_csv_fixture_groups_rows_into_items_and_lists_each_rejection() -> None:
    records = read_file(read_postal_csv, "items.csv")
    assert [r.index for r in records] == [1, 2, 3, 4, 5, 6, 7, 8]
    ds = declarations(records)
    assert [d.business_key for d in ds] == ["RB888888885US", "LX314159268DE", "UA987654326JP"]
    assert [len(d.lines) for d in ds] == [2, 1, 2]
    assert ds[0].lines[0].name == "蓝牙耳机, 黑色"
    assert ds[0].consignee_address == "上海市浦东新区世纪大道100号"
    assert ds[0].decl_time == datetime(2024, 5, 1, 10, tzinfo=timezone(timedelta(hours=8)))
    assert ds[2].lines[1].name == "Button sample\nwith two lines"
    assert ds[2].lines[0].hs_code == "540752"
    assert ds[2].sender == "Tanaka Co."
    assert errors(records) == [
        (3, "total_value"), (4, "item_id"), (7, "content_quantity"), (8, "addressee_name")
    ]  # fmt: skip
    assert reasons(records) == [
        "total_value differs between rows of one record: '20' on line 5, '25' on line 6 "
        "(lines 5-6)",
        "item_id 'RR123456786CN' fails the S10 check digit (expected 5) (line 7)",
        "content_quantity 'abc' is not a number (line 13)",
        "addressee_name is required (line 14)",
    ]
    (receipt,) = [r.item for r in records if isinstance(r.item, Receipt)]
    assert (receipt.business_key, receipt.return_status, receipt.return_info) == (
        "RR123456785CN", 500, "查验"
    )  # fmt: skip


def test_csv_and_json_of_the_same_item_agree() -> None:
    from_json = declarations(read_file(read_postal_json, "items.json"))[1]
    from_csv = declarations(read_file(read_postal_csv, "items.csv"))[0]
    assert from_csv.lines[1] == from_json.lines[1]
    assert (from_csv.consignee_telephone, from_csv.buyer_id_number, from_csv.message_type) == (
        from_json.consignee_telephone, from_json.buyer_id_number, from_json.message_type
    )  # fmt: skip


def test_csv_round_trip_keeps_every_record() -> None:
    originals = [r.item for r in read_file(read_postal_csv, "items.csv")
                 if not isinstance(r.item, RecordError)]  # fmt: skip
    out = io.BytesIO()
    assert write_postal_csv(out, originals) == 4
    assert out.getvalue().startswith(b"item_id,category,sender_name,")
    assert [r.item for r in read(read_postal_csv, out.getvalue())] == originals


def test_csv_header_without_required_columns_is_a_format_error() -> None:
    data = b"item_id,category,addressee_name,currency\nRR123456785CN,gift,A,CNY\n"
    with pytest.raises(FormatError, match=r"test: postal CSV header lacks .*total_value"):
        read(read_postal_csv, data)
    with pytest.raises(FormatError, match="empty"):
        read(read_postal_csv, b"")
    with pytest.raises(FormatError, match="twice"):
        read(read_postal_csv, b"item_id,Item_ID\n")


def test_receipt_only_csv_needs_only_item_id_and_status() -> None:
    data = (
        "\ufeffitem_id,return_status,return_time,return_info\r\n"
        "RR123456785CN,800,2024-05-03T09:00:00+08:00,放行\r\n"
        "RR123456785CN,abc,,\r\n"
        ",100,,收件地址不详\r\n"
    ).encode()
    records = read(read_postal_csv, data)
    assert [type(r.item).__name__ for r in records] == ["Receipt", "RecordError", "RecordError"]
    assert errors(records) == [(2, "return_status"), (3, "item_id")]


def test_csv_surplus_cells_reject_the_row_and_reasons_mask_personal_numbers() -> None:
    header = "item_id,category,addressee_name,addressee_phone,addressee_id_number,"
    header += "total_gross_weight_kg,total_value,currency,content_description,content_quantity,"
    header += "content_value\n"
    rows = (
        "RR123456785CN,gift,A,13800138000,110101199003071234,1,5,CNY,Tea,1,5\n"
        "RR123456785CN,gift,A,13900139000,110101199003071234,1,5,CNY,Cup,1,5\n"
        "EB000717595HK,gift,A,,110101199003071234,1,5,CNY,Tea,1,5\n"
        "EB000717595HK,gift,A,,110101199003079999,1,5,CNY,Cup,1,5\n"
        "LX314159268DE,gift,A,,,1,5,CNY,Tea,1,5,surplus\n"
    )
    records = read(read_postal_csv, (header + rows).encode())
    assert errors(records) == [(1, "addressee_phone"), (2, "addressee_id_number"), (3, "row")]
    text = " ".join(reasons(records))
    for secret in ("13800138000", "13900139000", "110101199003071234", "110101199003079999"):
        assert secret not in text
    assert "138****8000" in text


def test_csv_rows_of_one_item_may_differ_in_item_id_case() -> None:
    header = "item_id,category,addressee_name,total_gross_weight_kg,total_value,currency,"
    header += "content_description,content_quantity,content_value\n"
    rows = "rr123456785cn,gift,A,1,5,CNY,Tea,1,2\nRR123456785CN ,,,,,,Cup,1,3\n"
    (record,) = read(read_postal_csv, (header + rows).encode())
    assert isinstance(record.item, Declaration)
    assert record.item.business_key == "RR123456785CN"
    assert [g.name for g in record.item.lines] == ["Tea", "Cup"]
