"""Tests of the CEB XML writer: well-formed output, exact amounts, write-then-read round trips."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from inspection.formats.ceb_fields import CEB_NS
from inspection.formats.ceb_read import read_ceb
from inspection.formats.ceb_write import format_decimal, format_time, write_ceb
from inspection.model import Declaration, DocKind, FormatError, GoodsLine, Receipt

DATA = Path(__file__).parent / "data" / "ceb"
NS = {"ceb": CEB_NS}
WHEN = datetime(2026, 11, 1, 9, 30, 15, 123000, tzinfo=timezone(timedelta(hours=8)))


def inventory(n: int, **changes: object) -> Declaration:
    """A complete, valid CEB621 declaration numbered ``n``."""
    fields: dict[str, object] = {
        "kind": DocKind.INVENTORY,
        "message_type": "CEB621",
        "business_key": f"3301960003:C{n:015d}",
        "order_no": f"SO{n:012d}",
        "logistics_no": f"YT{n:012d}",
        "invt_no": "",
        "cop_no": f"C{n:015d}",
        "ebp_code": "3301960ABC",
        "ebc_code": "3301960002",
        "ebc_name": "杭州某某贸易有限公司",
        "logistics_code": "3301980001",
        "agent_code": "3301960003",
        "trade_mode": "1210",
        "ie_flag": "I",
        "decl_time": WHEN.replace(hour=0, minute=0, second=0, microsecond=0),  # a date
        "buyer_id_type": "1",
        "buyer_id_number": "330106199001011234",
        "buyer_name": "王伟",
        "buyer_telephone": "13800138000",
        "consignee_address": "浙江省杭州市西湖区文三路 <100> 号 & 501",
        "freight": Decimal("10.00000"),
        "currency": "142",
        "gross_weight_kg": Decimal("1.25000"),
        "net_weight_kg": Decimal("1.08750"),
        "country": "142",
        "lines": (
            GoodsLine(1, "1901101000", "婴幼儿配方奶粉", "800g|1段", Decimal(1), "122",
                      Decimal("268.12345"), Decimal("268.12345"), "142", "502"),
            GoodsLine(2, "3304990099", "保湿面霜", "50ml", Decimal(2), "142",
                      Decimal("99.5"), Decimal("199.0"), "142", "116"),
        ),
        "extra": {"ebpName": "杭州某某平台", "note": "", "emsNo": "T2921W000123",
                  "areaCode": "3301960004", "zzCustom": "x"},
    }  # fmt: skip
    fields.update(changes)
    return Declaration(**fields)  # type: ignore[arg-type]


def write(message_type: str, records: list[Declaration] | list[Receipt], **kw: str) -> bytes:
    """The bytes of one written message."""
    out = io.BytesIO()
    count = write_ceb(out, message_type, records, **kw)
    assert count == len(records)
    return out.getvalue()


def read_back(data: bytes, message_type: str) -> list[Declaration | Receipt]:
    """Records read back from written bytes; every one must be accepted."""
    items = [r.item for r in read_ceb(io.BytesIO(data), source="w.xml", expected_type=message_type)]
    assert all(isinstance(i, Declaration | Receipt) for i in items), items
    return items  # type: ignore[return-value]


def test_inventory_round_trip() -> None:
    records = [inventory(1), inventory(2, trade_mode="9610", lines=(GoodsLine(1, "6109100021"),))]
    assert read_back(write("CEB621", records), "CEB621") == records


def test_output_is_well_formed_ceb_with_base_transfer() -> None:
    data = write("CEB621", [inventory(1)], guid="G-1", cop_code="3301960003", dxp_id="DXPX")
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = etree.fromstring(data)
    assert root.tag == f"{{{CEB_NS}}}CEB621Message"
    assert root.prefix == "ceb"
    assert (root.get("guid"), root.get("version")) == ("G-1", "1.0")
    children = [etree.QName(c).localname for c in root]
    assert children == ["Inventory", "BaseTransfer"]
    assert root.findtext("ceb:BaseTransfer/ceb:copCode", namespaces=NS) == "3301960003"
    assert root.findtext("ceb:BaseTransfer/ceb:dxpId", namespaces=NS) == "DXPX"
    assert root.findtext("ceb:BaseTransfer/ceb:dxpMode", namespaces=NS) == "DXP"
    head = root.find("ceb:Inventory/ceb:InventoryHead", NS)
    assert head is not None
    names = [etree.QName(c).localname for c in head]
    # schema order, known extras in place, unknown extras last
    assert names.index("ebpCode") < names.index("ebpName") < names.index("copNo")
    assert names[-1] == "zzCustom"
    assert "invtNo" not in names  # empty values are left out
    assert head.findtext("ceb:declTime", namespaces=NS) == "20261101"  # yyyyMMdd
    assert (
        head.findtext("ceb:consigneeAddress", namespaces=NS)
        == "浙江省杭州市西湖区文三路 <100> 号 & 501"
    )
    assert head.findtext("ceb:note", namespaces=NS) == ""


def test_default_guid_is_unique() -> None:
    first = etree.fromstring(write("CEB621", [inventory(1)]))
    second = etree.fromstring(write("CEB621", [inventory(1)]))
    assert first.get("guid") and first.get("guid") != second.get("guid")


def test_amounts_are_exact_text() -> None:
    assert format_decimal(Decimal("1E+2")) == "100"
    assert format_decimal(Decimal("0E-7")) == "0.0000000"
    assert format_decimal(Decimal("268.12345")) == "268.12345"
    record = inventory(1, freight=Decimal("1E+1"), gross_weight_kg=Decimal("0.00001"))
    data = write("CEB621", [record])
    assert b"<ceb:freight>10</ceb:freight>" in data
    assert b"<ceb:grossWeight>0.00001</ceb:grossWeight>" in data
    assert read_back(data, "CEB621") == [record]


def test_times_are_china_time() -> None:
    assert format_time(datetime(2026, 1, 1, 0, 0, 0, 5000, tzinfo=UTC)) == "20260101080000005"
    assert format_time(datetime(2026, 1, 1, 8, 0, 0)) == "20260101080000000"


@pytest.mark.parametrize(
    ("message_type", "record"),
    [
        (
            "CEB311",
            Declaration(
                kind=DocKind.ORDER, message_type="CEB311", business_key="3301960ABC:SO1",
                order_no="SO1", ebp_code="3301960ABC", ebc_code="3301960002", ebc_name="某公司",
                goods_value=Decimal("467.12345"), freight=Decimal(0), discount=Decimal("5"),
                tax_total=Decimal("42.50823"), actural_paid=Decimal("504.63168"), currency="142",
                buyer_id_type="1", buyer_id_number="330106199001011234", buyer_name="王伟",
                buyer_telephone="13800138000", pay_code="P1", pay_transaction_id="T1",
                consignee="王伟", consignee_telephone="13800138000", consignee_address="杭州",
                lines=(GoodsLine(1, "", "奶粉", "800g", Decimal(1), "122", Decimal("1.5"),
                                 Decimal("1.5"), "142", "502"),),
                extra={"orderType": "I", "buyerRegNo": "u1"},
            ),
        ),
        (
            "CEB411",
            Declaration(
                kind=DocKind.PAYMENT, message_type="CEB411", business_key="P1:T1", pay_code="P1",
                pay_transaction_id="T1", order_no="SO1", ebp_code="3301960ABC",
                payer_id_type="1", payer_id_number="330106199001011234", payer_name="王伟",
                amount_paid=Decimal("504.63168"), currency="142",
                extra={"telephone": "13800138000", "payTime": "20261101080959"},
            ),
        ),
        (
            "CEB511",
            Declaration(
                kind=DocKind.WAYBILL, message_type="CEB511", business_key="L1:RR123456785CN",
                logistics_code="L1", logistics_no="RR123456785CN", order_no="SO1",
                freight=Decimal("8"), gross_weight_kg=Decimal("1.25"), currency="142",
                consignee="王伟", consignee_telephone="13800138000", consignee_address="杭州",
            ),
        ),
        (
            "CEB603",
            Declaration(
                kind=DocKind.EXPORT_INVENTORY, message_type="CEB603", business_key="A1:E1",
                agent_code="A1", cop_no="E1", ie_flag="E", trade_mode="9710",
                gross_weight_kg=Decimal("3"), ebc_code="E", ebc_name="深圳某某",
                lines=(GoodsLine(1, "3926909090", "手机壳", qty=Decimal(10)),),
                extra={"POD": "USLAX", "statisticsFlag": "A"},
            ),
        ),
    ],
)  # fmt: skip
def test_declaration_round_trips(message_type: str, record: Declaration) -> None:
    assert read_back(write(message_type, [record, record]), message_type) == [record, record]


@pytest.mark.parametrize(
    ("message_type", "kind", "key", "numbers"),
    [
        ("CEB622", DocKind.INVENTORY, "3301960003:C1", {"invt_no": "I1"}),
        ("CEB604", DocKind.EXPORT_INVENTORY, "4403960777:E1", {"invt_no": "I2"}),
        ("CEB312", DocKind.ORDER, "3301960ABC:SO1", {"order_no": "SO1"}),
        ("CEB412", DocKind.PAYMENT, "P1:T1", {}),
        ("CEB512", DocKind.WAYBILL, "L1:RR123456785CN", {"logistics_no": "RR123456785CN"}),
    ],
)
def test_receipt_round_trips(
    message_type: str, kind: DocKind, key: str, numbers: dict[str, str]
) -> None:
    records = [
        Receipt(message_type, kind, key, 800, WHEN, "放行", guid="G1", **numbers),
        Receipt(message_type, kind, key, -304001, None, "处理失败 <重复>"),
    ]
    back = read_back(write(message_type, records), message_type)
    expected_second = Receipt(message_type, kind, key, -304001, None, "处理失败 <重复>")
    if "order_no" in numbers or "logistics_no" in numbers:  # key part is also that number
        expected_second = Receipt(
            message_type, kind, key, -304001, None, "处理失败 <重复>", **numbers
        )
    assert back == [records[0], expected_second]


def test_golden_file_survives_read_write_read() -> None:
    with (DATA / "ceb621_mixed.xml").open("rb") as stream:
        first = [r.item for r in read_ceb(stream, source="g", expected_type="CEB621")]
    good = [d for d in first if isinstance(d, Declaration)]
    assert len(good) == 2
    # declTime is written as the specification's yyyyMMdd: the date survives, not the hour
    dated = [
        replace(d, decl_time=d.decl_time.replace(hour=0, minute=0, second=0, microsecond=0))
        for d in good
        if d.decl_time is not None
    ]
    assert read_back(write("CEB621", good), "CEB621") == dated


def test_streams_a_generator() -> None:
    produced: list[int] = []

    def records() -> Iterator[Declaration]:
        for n in range(1, 1201):
            produced.append(n)
            yield inventory(n)

    out = io.BytesIO()
    assert write_ceb(out, "ceb621", records()) == 1200
    assert produced[-1] == 1200
    items = read_back(out.getvalue(), "CEB621")
    assert len(items) == 1200
    assert items[-1] == inventory(1200)


@pytest.mark.parametrize(
    ("message_type", "record", "message"),
    [
        ("CEB622", inventory(1), "record 1: CEB622 carries receipts"),
        ("CEB311", inventory(1), "record 1: CEB311 carries order declarations, not inventory"),
        ("CEB621", Receipt("CEB622", DocKind.INVENTORY, "A:C", 800), "not receipt"),
        ("CEB622", Receipt("CEB622", DocKind.INVENTORY, "nokey", 800), "code:number"),
        (
            "CEB621",
            inventory(1, buyer_name="a\x00b"),
            r"InventoryHead.buyerName: character U\+0000 cannot be written",
        ),
        (
            "CEB621",
            inventory(1, extra={"bad name": "x"}),
            "InventoryHead.bad name: extra field name is not an XML element name",
        ),
        ("CEB411", inventory(1, kind=DocKind.PAYMENT), "CEB411 has no goods lines"),
    ],
)
def test_unwritable_records(message_type: str, record: Declaration | Receipt, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        write_ceb(io.BytesIO(), message_type, [record])


def test_unknown_message_type() -> None:
    with pytest.raises(FormatError, match="cannot write 'CEB999'"):
        write_ceb(io.BytesIO(), "CEB999", [])


def test_carriage_return_survives() -> None:
    record = inventory(1, consignee_address="第一行\r\n第二行\t尾")
    assert read_back(write("CEB621", [record]), "CEB621") == [record]


def test_bad_character_in_a_line_names_the_line() -> None:
    record = inventory(1, lines=(GoodsLine(7, "1901101000", "奶粉\x0b"),))
    with pytest.raises(FormatError, match=r"record 1: InventoryList\[gnum 7\]\.gname: character"):
        write_ceb(io.BytesIO(), "CEB621", [record])
