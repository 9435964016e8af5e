"""Golden-file tests of the CEB XML reader: records, rejections, receipts and whole-file errors."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from inspection.formats import detect_format, read_records
from inspection.formats.ceb_read import read_ceb
from inspection.model import Declaration, DocKind, FormatError, ParsedRecord, Receipt, RecordError

DATA = Path(__file__).parent / "data" / "ceb"

# Identity and phone numbers that appear in the golden files; no reason may quote them.
SECRETS = (
    "330106199001011234",
    "330106199202025678",
    "44010619850505432X",
    "13800138000",
    "13900139000",
)


def read(name: str, expected_type: str) -> list[ParsedRecord]:
    """All records of a golden file read as ``expected_type``."""
    with (DATA / name).open("rb") as stream:
        return list(read_ceb(stream, source=name, expected_type=expected_type))


def read_bytes(data: bytes, expected_type: str = "CEB621") -> list[ParsedRecord]:
    """All records of an in-memory file."""
    return list(read_ceb(io.BytesIO(data), source="mem.xml", expected_type=expected_type))


def rejections(records: list[ParsedRecord]) -> list[tuple[int, str, str]]:
    """(index, field, reason) of every rejected record."""
    return [
        (r.item.index, r.item.field, r.item.reason)
        for r in records
        if isinstance(r.item, RecordError)
    ]


def accepted(records: list[ParsedRecord]) -> list[Declaration]:
    """The declarations that were accepted."""
    return [r.item for r in records if isinstance(r.item, Declaration)]


def receipts(records: list[ParsedRecord]) -> list[Receipt]:
    """The receipts that were accepted."""
    return [r.item for r in records if isinstance(r.item, Receipt)]


MODES = "1210, 1239, 9610, 9710, 9810"


def test_ceb621_counts_and_exact_rejections() -> None:
    records = read("ceb621_mixed.xml", "CEB621")
    assert [r.index for r in records] == list(range(1, 10))
    assert [d.business_key for d in accepted(records)] == [
        "3301960003:C20261101000001",
        "3301960003:C20261101000009",
    ]
    assert rejections(records) == [
        (2, "InventoryHead.grossWeight", "required field is missing or empty"),
        (3, "InventoryHead.tradeMode", f"trade mode '0110' is not one of {MODES}"),
        (4, "InventoryList[2].gcode", "HS code '42022100AB' must be digits only"),
        (5, "InventoryHead.freight", "must not be negative"),
        (6, "InventoryList", "at least one InventoryList is required"),
        (7, "InventoryHead.ieFlag", "'X' is not I or E"),
        (
            8,
            "InventoryHead.declTime",
            "'2026-11-01 09:30:15' is not a time of the form "
            "yyyyMMdd, yyyyMMddHHmmss or yyyyMMddHHmmssSSS",
        ),
    ]


def test_ceb621_first_record_fields() -> None:
    first = accepted(read("ceb621_mixed.xml", "CEB621"))[0]
    assert first.kind is DocKind.INVENTORY
    assert first.message_type == "CEB621"
    assert (first.agent_code, first.cop_no, first.order_no) == (
        "3301960003",
        "C20261101000001",
        "SO20261101000001",
    )
    assert first.logistics_no == "YT7700000000001"
    assert first.invt_no == ""  # <ceb:invtNo/> is an empty value
    assert first.pre_no == ""
    assert (first.trade_mode, first.ie_flag, first.country, first.currency) == (
        "1210",
        "I",
        "142",
        "142",
    )
    assert first.buyer_id_number == "330106199001011234"
    assert first.buyer_name == "王伟"
    assert first.consignee_address == "浙江省杭州市西湖区文三路 100 号 3 幢 & 501 室"
    assert first.freight == Decimal("10.00000")
    assert first.gross_weight_kg == Decimal("1.25000")
    assert first.net_weight_kg == Decimal("1.08750")
    assert first.decl_time == datetime(2026, 11, 1, 1, 30, 15, 123000, tzinfo=UTC)
    assert first.decl_time is not None and first.decl_time.utcoffset() is not None
    assert first.extra["ebpName"] == "杭州某某跨境电商平台有限公司"
    assert first.extra["emsNo"] == "T2921W000123"
    assert first.extra["note"] == ""
    assert first.extra["trafNo"] == ""
    assert "orderNo" not in first.extra
    line1, line2 = first.lines
    assert (line1.gnum, line1.hs_code, line1.name, line1.model) == (
        1,
        "1901101000",
        "婴幼儿配方奶粉",
        "800g|1段|0-6月龄",
    )
    assert (line1.qty, line1.unit, line1.price, line1.total_price) == (
        Decimal("1"),
        "122",
        Decimal("268.12345"),
        Decimal("268.12345"),
    )
    assert (line1.currency, line1.origin) == ("142", "502")
    assert line2.name == "保湿面霜"  # gname is empty, itemName is used
    assert line2.total_price == Decimal("199.00000")


def test_fourteen_digit_time_is_china_time() -> None:
    last = accepted(read("ceb621_mixed.xml", "CEB621"))[1]
    assert last.decl_time == datetime(2026, 11, 1, 15, 59, 59, tzinfo=UTC)


def test_ceb311_orders_with_inconsistent_amounts_accepted() -> None:
    records = read("ceb311_orders.xml", "CEB311")
    assert rejections(records) == [
        (3, "OrderHead.buyerIdNumber", "required field is missing or empty"),
        (4, "OrderHead.acturalPaid", "'87.28.00' is not a decimal number"),
        (5, "OrderList[1].gnum", "required field is missing or empty"),
    ]
    first, second = accepted(records)
    assert first.kind is DocKind.ORDER
    assert first.business_key == "3301960ABC:SO20261101000001"
    assert first.discount is None  # <ceb:discount/>
    assert (first.goods_value, first.tax_total, first.actural_paid) == (
        Decimal("467.12345"),
        Decimal("42.50823"),
        Decimal("519.63168"),
    )
    assert (first.pay_code, first.pay_transaction_id) == ("3301968888", "PAY2026110100000001")
    assert first.consignee_telephone == "13800138000"
    assert first.extra["consigneeDistrict"] == "330106"
    assert first.extra["note"] == "请尽快发货"
    assert [line.name for line in first.lines] == ["婴幼儿配方奶粉", "保湿面霜"]
    assert first.lines[0].hs_code == ""  # OrderList carries no gcode
    # 100 + 0 + 9.1 - 5 != 150: the arithmetic is the three-document check's job, not the reader's
    assert second.actural_paid == Decimal("150.00000")
    assert second.buyer_id_number == "44010619850505432X"


def test_ceb411_payment_default_namespace_and_phone_in_extra() -> None:
    records = read("ceb411_payments.xml", "CEB411")
    assert rejections(records) == [
        (2, "PaymentHead.amountPaid", "required field is missing or empty")
    ]
    (payment,) = accepted(records)
    assert payment.kind is DocKind.PAYMENT
    assert payment.business_key == "3301968888:PAY2026110100000001"
    assert (payment.payer_id_type, payment.payer_id_number, payment.payer_name) == (
        "1",
        "330106199001011234",
        "王伟",
    )
    assert payment.amount_paid == Decimal("519.63168")
    assert payment.extra["telephone"] == "13800138000"
    assert payment.extra["payTime"] == "20261101080959"
    assert payment.lines == ()


def test_ceb511_waybill_weight_is_gross_weight() -> None:
    records = read("ceb511_waybills.xml", "CEB511")
    assert rejections(records) == [
        (2, "LogisticsHead.weight", "'1,5' is not a decimal number"),
        (3, "LogisticsHead.logisticsCode", "required field is missing or empty"),
    ]
    (waybill,) = accepted(records)
    assert waybill.kind is DocKind.WAYBILL
    assert waybill.business_key == "3301980001:YT7700000000001"
    assert waybill.gross_weight_kg == Decimal("1.25000")
    assert waybill.consignee == "王伟"
    assert waybill.extra["goodsInfo"] == "奶粉,面霜"
    assert "weight" not in waybill.extra


def test_ceb603_export_inventory() -> None:
    records = read("ceb603_export.xml", "CEB603")
    assert rejections(records) == [
        (2, "InventoryHead.tradeMode", f"trade mode '0110' is not one of {MODES}"),
        (3, "InventoryList[1].gnum", "required field is missing or empty"),
    ]
    (export,) = accepted(records)
    assert export.kind is DocKind.EXPORT_INVENTORY
    assert export.message_type == "CEB603"
    assert export.business_key == "4403960777:E20261102000001"
    assert export.ie_flag == "E"
    assert export.extra["POD"] == "USLAX"
    assert export.extra["statisticsFlag"] == "A"
    assert export.lines[0].total_price == Decimal("123.33330")


def test_ceb622_receipts() -> None:
    records = read("ceb622_receipts.xml", "CEB622")
    assert rejections(records) == [
        (4, "InventoryReturn.returnStatus", "required field is missing or empty"),
        (
            5,
            "InventoryReturn.returnTime",
            "'20261301100800000' is not a real calendar date and time "
            "(yyyyMMdd, yyyyMMddHHmmss or yyyyMMddHHmmssSSS)",
        ),
        (6, "InventoryReturn.agentCode", "required field is missing or empty"),
    ]
    released, rejected, failed = receipts(records)
    assert released.kind is DocKind.INVENTORY
    assert released.message_type == "CEB622"
    assert released.business_key == "3301960003:C20261101000001"
    assert released.return_status == 800
    assert released.return_time == datetime(2026, 11, 1, 2, 5, 12, 345000, tzinfo=UTC)
    assert released.invt_no == "29212026I000000001"
    assert released.guid == "A1B2C3D4-0001-4000-8000-000000000001"
    assert released.return_info == "[Code:2600;Desc:放行]"
    assert (rejected.return_status, rejected.return_info) == (100, "海关退单：收件地址不详")
    assert rejected.return_time == datetime(2026, 11, 1, 2, 6, tzinfo=UTC)
    assert rejected.invt_no == ""
    assert failed.return_status == -304001


@pytest.mark.parametrize(
    ("name", "message_type", "kind", "key", "status"),
    [
        ("ceb312_receipt.xml", "CEB312", DocKind.ORDER, "3301960ABC:SO20261101000001", 120),
        ("ceb412_receipt.xml", "CEB412", DocKind.PAYMENT, "3301968888:PAY2026110100000001", 2),
        ("ceb512_receipt.xml", "CEB512", DocKind.WAYBILL, "3301980001:YT7700000000001", 120),
        (
            "ceb604_receipt.xml",
            "CEB604",
            DocKind.EXPORT_INVENTORY,
            "4403960777:E20261102000001",
            800,
        ),
    ],
)
def test_other_receipts(name: str, message_type: str, kind: DocKind, key: str, status: int) -> None:
    (record,) = read(name, message_type)
    receipt = record.item
    assert isinstance(receipt, Receipt)
    assert (receipt.message_type, receipt.kind, receipt.business_key, receipt.return_status) == (
        message_type,
        kind,
        key,
        status,
    )
    assert receipt.return_time is not None and receipt.return_time.utcoffset() is not None


def test_receipt_order_no_and_logistics_no() -> None:
    (order_receipt,) = receipts(read("ceb312_receipt.xml", "CEB312"))
    assert order_receipt.order_no == "SO20261101000001"
    (waybill_receipt,) = receipts(read("ceb512_receipt.xml", "CEB512"))
    assert waybill_receipt.logistics_no == "YT7700000000001"
    assert waybill_receipt.return_info == ""


def test_truncated_file_keeps_records_then_names_the_line() -> None:
    stream = (DATA / "ceb621_truncated.xml").open("rb")
    got: list[ParsedRecord] = []
    with stream, pytest.raises(FormatError) as err:
        got.extend(read_ceb(stream, source="ceb621_truncated.xml", expected_type="CEB621"))
    assert [r.index for r in got] == [1, 2, 3]
    assert isinstance(got[0].item, Declaration)
    message = str(err.value)
    assert message.startswith("ceb621_truncated.xml: XML is not well-formed at line 129")
    assert "3 record(s) before it were read" in message
    assert "records after line 129 were not read" in message


def test_syntax_error_in_the_middle() -> None:
    good = (DATA / "ceb622_receipts.xml").read_text(encoding="utf-8")
    bad_line = "收件地址不详</ceb:returnInfo>"
    line = next(n for n, text in enumerate(good.splitlines(), 1) if bad_line in text)
    broken = good.replace(bad_line, "收件地址不详</ceb:returnInf>").encode()
    got: list[ParsedRecord] = []
    with pytest.raises(FormatError) as err:
        got.extend(read_ceb(io.BytesIO(broken), source="mem.xml", expected_type="CEB622"))
    assert [r.index for r in got] == [1]
    assert f"at line {line} " in str(err.value)
    assert f"1 record(s) before it were read, records after line {line} were not read" in str(
        err.value
    )


def test_wrong_message_type_is_rejected_whole() -> None:
    with pytest.raises(
        FormatError, match=r"ceb311_orders.xml: is a CEB311 message, expected CEB621"
    ):
        read("ceb311_orders.xml", "CEB621")


def test_html_is_rejected_whole() -> None:
    with pytest.raises(
        FormatError, match=r"not_ceb.html: a DOCTYPE declaration \(html\) at line 1"
    ):
        read("not_ceb.html", "CEB621")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "mem.xml: file is empty"),
        (b"   \n", "mem.xml: file is empty"),
        (b"orderNo,goodsValue\nSO1,1.0\n", "mem.xml: not well-formed XML before the root"),
        (b"<?xml version='1.0'?>\n<!-- nothing -->\n", "mem.xml: not well-formed XML"),
        (b"<CEB621Message><Inventory/></CEB621Message>", "not a CEB621 message"),
        (b'<x:CEB621Message xmlns:x="urn:other"/>', "not a CEB621 message"),
        (b"\x00\x01\x02garbage", "mem.xml: not well-formed XML"),
    ],
)
def test_not_ceb_at_the_top(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read_bytes(data)


def test_unknown_expected_type() -> None:
    with pytest.raises(FormatError, match=r"CEB711.*not read here"):
        read_bytes(b"<a/>", "CEB711")


def test_reasons_never_quote_identity_or_phone() -> None:
    files = [
        ("ceb621_mixed.xml", "CEB621"),
        ("ceb311_orders.xml", "CEB311"),
        ("ceb411_payments.xml", "CEB411"),
    ]
    reasons = [r for name, t in files for r in rejections(read(name, t))]
    assert reasons
    for _index, _field, reason in reasons:
        assert not any(secret in reason for secret in SECRETS)


def test_identity_number_in_a_number_field_is_masked_in_the_reason() -> None:
    data = (
        b'<ceb:CEB411Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"><ceb:Payment>'
        b"<ceb:PaymentHead><ceb:payCode>P1</ceb:payCode><ceb:payTransactionId>T1"
        b"</ceb:payTransactionId><ceb:amountPaid>330106199001011234X</ceb:amountPaid>"
        b"</ceb:PaymentHead></ceb:Payment></ceb:CEB411Message>"
    )
    ((index, field, reason),) = rejections(read_bytes(data, "CEB411"))
    assert (index, field) == (1, "PaymentHead.amountPaid")
    assert "330106199001011234" not in reason
    assert reason.endswith("is not a decimal number")


def test_gbk_encoded_file() -> None:
    text = (
        '<?xml version="1.0" encoding="GBK"?>\n'
        '<ceb:CEB511Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" guid="g" version="1.0">'
        "<ceb:Logistics><ceb:LogisticsHead><ceb:logisticsCode>L1</ceb:logisticsCode>"
        "<ceb:logisticsNo>N1</ceb:logisticsNo><ceb:weight>0.5</ceb:weight>"
        "<ceb:consignee>张三</ceb:consignee></ceb:LogisticsHead></ceb:Logistics>"
        "</ceb:CEB511Message>"
    )
    (waybill,) = accepted(read_bytes(text.encode("gbk"), "CEB511"))
    assert waybill.consignee == "张三"


def test_a_doctype_with_entities_is_refused_whole() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE ceb:CEB511Message [\n'
        b'<!ENTITY ext SYSTEM "file:///etc/passwd">\n<!ENTITY big "xxxxxxxxxxxxxxxx">\n]>\n'
        b'<ceb:CEB511Message xmlns:ceb="http://www.chinaport.gov.cn/ceb">'
        b"<ceb:Logistics><ceb:LogisticsHead><ceb:logisticsCode>L1</ceb:logisticsCode>"
        b"<ceb:logisticsNo>N1</ceb:logisticsNo><ceb:weight>0.5</ceb:weight>"
        b"<ceb:consignee>A&ext;B</ceb:consignee><ceb:note>&big;&big;</ceb:note>"
        b"</ceb:LogisticsHead></ceb:Logistics></ceb:CEB511Message>"
    )
    with pytest.raises(FormatError, match=r"DOCTYPE declaration \(ceb:CEB511Message\) at line 2"):
        read_bytes(data, "CEB511")


def test_an_entity_reference_without_a_doctype_rejects_its_record() -> None:
    data = (
        b'<ceb:CEB511Message xmlns:ceb="http://www.chinaport.gov.cn/ceb">'
        b"<ceb:Logistics><ceb:LogisticsHead><ceb:logisticsCode>L1</ceb:logisticsCode>"
        b"<ceb:logisticsNo>N1</ceb:logisticsNo><ceb:weight>0.5</ceb:weight>"
        b"<ceb:consignee>A&ext;B</ceb:consignee>"
        b"</ceb:LogisticsHead></ceb:Logistics></ceb:CEB511Message>"
    )
    with pytest.raises(FormatError, match="XML is not well-formed"):
        read_bytes(data, "CEB511")


def test_a_doctype_system_file_is_never_opened(tmp_path: Path) -> None:
    """The file a DOCTYPE names is a FIFO: any reader opening it would be seen by the writer."""
    import os
    import threading

    fifo = tmp_path / "external.dtd"
    os.mkfifo(fifo)
    opened = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: nobody has it open for reading
                done.wait(0.001)
                continue
            opened.set()
            os.close(fd)
            return

    watcher = threading.Thread(target=watch, name="fifo-watch")
    watcher.start()
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE ceb:CEB511Message SYSTEM "{fifo}">\n'
        '<ceb:CEB511Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"></ceb:CEB511Message>'
    ).encode()
    try:
        with pytest.raises(FormatError, match="DOCTYPE"):
            read_bytes(data, "CEB511")
        with pytest.raises(FormatError, match="DOCTYPE"):
            fmt = detect_format(data, "mem.xml")
            list(read_records(io.BytesIO(data), fmt, source="mem.xml"))
    finally:
        done.set()
        watcher.join(5.0)
    assert not opened.is_set()


def test_comments_and_signature_blocks_are_not_records() -> None:
    data = (
        b'<ceb:CEB512Message xmlns:ceb="http://www.chinaport.gov.cn/ceb" '
        b'xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><!-- c -->'
        b"<ceb:LogisticsReturn><ceb:logisticsCode>L1</ceb:logisticsCode><!-- c -->"
        b"<ceb:logisticsNo> N1 </ceb:logisticsNo><ceb:returnStatus>800</ceb:returnStatus>"
        b"</ceb:LogisticsReturn><ds:Signature><ds:SignatureValue>abc</ds:SignatureValue>"
        b"</ds:Signature></ceb:CEB512Message>"
    )
    (receipt,) = receipts(read_bytes(data, "CEB512"))
    assert receipt.business_key == "L1:N1"  # surrounding whitespace is trimmed
    assert receipt.return_time is None


def test_empty_message_has_no_records() -> None:
    data = b'<ceb:CEB621Message xmlns:ceb="http://www.chinaport.gov.cn/ceb"/>'
    assert read_bytes(data) == []


def test_read_records_dispatches_to_the_ceb_reader() -> None:
    data = (DATA / "ceb512_receipt.xml").read_bytes()
    fmt = detect_format(data[:8192], "ceb512_receipt.xml")
    assert fmt.message_type == "CEB512"
    (record,) = list(read_records(io.BytesIO(data), fmt, "ceb512_receipt.xml"))
    assert isinstance(record.item, Receipt)
