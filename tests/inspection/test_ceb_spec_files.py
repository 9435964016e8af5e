"""Files written field by field from the published CEB field tables import as customs means."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from inspection.formats import detect_format, read_records
from inspection.formats.ceb_build import CHINA_TZ, ceb_time
from inspection.formats.ceb_write import format_time, write_ceb
from inspection.formats.detect import HEAD_BYTES
from inspection.formats.dxp import unwrap_dxp
from inspection.model import Declaration, FormatError, Notice, ParsedRecord, Receipt, RecordError

SPEC = Path(__file__).parent / "data" / "ceb" / "spec"


def read(name: str) -> list[ParsedRecord]:
    path = SPEC / name
    with path.open("rb") as stream:
        fmt = detect_format(stream.read(HEAD_BYTES), name)
        stream.seek(0)
        return list(read_records(stream, fmt, name))


def errors(records: list[ParsedRecord]) -> list[tuple[int, str, str]]:
    return [
        (r.index, r.item.field, r.item.reason) for r in records if isinstance(r.item, RecordError)
    ]


@pytest.mark.parametrize("name", ["ceb621_spec.xml", "ceb621_spec_gbk.xml"])
def test_ceb621_as_the_specification_writes_it(name: str) -> None:
    records = read(name)
    assert len(records) == 5
    assert errors(records) == [
        (3, "InventoryHead.tradeMode",
         "trade mode '9710' is not an import mode for CEB621 (one of 1210, 1239, 9610)"),
        (4, "InventoryHead.ieFlag", "'E' contradicts CEB621 (I)"),
        (5, "InventoryHead.emsNo", "required field is missing or empty (bonded mode 1239)"),
    ]  # fmt: skip
    first, bonded = (r.item for r in records[:2])
    assert isinstance(first, Declaration) and isinstance(bonded, Declaration)
    assert first.decl_time == datetime(2026, 11, 1, tzinfo=CHINA_TZ)  # yyyyMMdd
    assert first.extra["appTime"] == "20261101093015"
    assert first.extra["ieDate"] == "20261101"
    assert first.invt_no == "" and first.extra["emsNo"] == ""  # empty elements
    assert first.lines[0].total_price == Decimal("268.12345")  # 5 decimals, exact
    assert first.lines[0].name == "保湿面霜"
    assert first.consignee_address == "浙江省杭州市西湖区文三路 100 号"
    assert bonded.trade_mode == "1210" and bonded.country == "142"
    assert (bonded.extra["emsNo"], bonded.extra["areaCode"]) == ("T2921W000123", "3301960004")
    assert bonded.extra["insuredFee"] == "1.5"
    # declared on 1 January 2027 China time: 31 December 2026 16:00 UTC, a 2027 purchase
    assert bonded.decl_time is not None and bonded.decl_time.astimezone(CHINA_TZ).year == 2027


def test_gbk_file_reads_the_same_as_utf8() -> None:
    utf8 = [r.item for r in read("ceb621_spec.xml")]
    gbk = [r.item for r in read("ceb621_spec_gbk.xml")]
    assert gbk == utf8
    assert (SPEC / "ceb621_spec_gbk.xml").read_bytes().find("保湿面霜".encode("gbk")) > 0


def test_ceb311_keeps_an_acturalpaid_that_does_not_add_up() -> None:
    records = read("ceb311_spec.xml")
    assert errors(records) == []
    good, odd = (r.item for r in records)
    assert isinstance(good, Declaration) and isinstance(odd, Declaration)
    assert good.tax_total == Decimal("64.13") and good.actural_paid == Decimal("342.25345")
    assert odd.goods_value is not None and odd.discount is not None
    computed = odd.goods_value + (odd.freight or 0) + (odd.tax_total or 0) - odd.discount
    assert computed == Decimal("318.70") and odd.actural_paid == Decimal("320.00")


def test_dxp_envelope_carries_the_order_message() -> None:
    assert (
        detect_format((SPEC / "dxp_ceb311_spec.xml").read_bytes()[:HEAD_BYTES], "d").family == "dxp"
    )
    inside = [r.item for r in read("dxp_ceb311_spec.xml")]
    assert inside == [r.item for r in read("ceb311_spec.xml")]


def test_dxp_msgtype_must_agree_and_data_must_be_base64() -> None:
    text = (SPEC / "dxp_ceb311_spec.xml").read_text(encoding="utf-8")
    with pytest.raises(FormatError, match="MsgType 'CEB621' but Data carries CEB311"):
        from io import BytesIO

        from inspection.formats.dxp import read_dxp

        read_dxp(BytesIO(text.replace(">CEB311<", ">CEB621<").encode()), source="d")
    broken = text.split("<Data>")[0] + "<Data>not base64 !</Data></DxpMsg>"
    with pytest.raises(FormatError, match="not Base64"):
        unwrap_dxp(broken.encode(), "d")
    payload = base64.b64encode(b"<x/>").decode()
    doctype = f'<!DOCTYPE d [<!ENTITY e "x">]><DxpMsg xmlns="http://www.chinaport.gov.cn/dxp"><Data>{payload}</Data></DxpMsg>'
    with pytest.raises(FormatError, match="DOCTYPE"):
        unwrap_dxp(doctype.encode(), "d")


def test_ceb513_is_read_as_logistics_status_notices() -> None:
    records = read("ceb513_spec.xml")
    items = [r.item for r in records]
    assert all(isinstance(i, Notice) for i in items) and len(items) == 2
    first = items[0]
    assert isinstance(first, Notice)
    assert first.business_key == "3301980001:YT8800000000001"
    assert first.status == "S"
    assert first.time == datetime(2026, 11, 3, 11, 55, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("name", "kind", "status", "accepted"),
    [
        ("ceb623_spec.xml", "CEB623", "", False),
        ("ceb624_spec.xml", "CEB624", "800", True),
        ("ceb625_spec.xml", "CEB625", "", False),
        ("ceb626_spec.xml", "CEB626", "800", True),
    ],
)
def test_cancellation_and_return_messages(
    name: str, kind: str, status: str, accepted: bool
) -> None:
    (rec,) = read(name)
    notice = rec.item
    assert isinstance(notice, Notice) and not isinstance(notice, Receipt)
    assert notice.message_type == kind and notice.status == status
    assert notice.accepted is accepted
    assert notice.business_key.startswith("3301960003:C2026110100")
    assert notice.invt_no.startswith("29912026I")


def test_times_read_in_all_three_lengths_and_written_in_the_spec_form() -> None:
    assert ceb_time("20270101") == datetime(2027, 1, 1, tzinfo=CHINA_TZ)
    assert ceb_time("20270101020304") == datetime(2027, 1, 1, 2, 3, 4, tzinfo=CHINA_TZ)
    assert ceb_time("20270101020304567") == datetime(2027, 1, 1, 2, 3, 4, 567000, tzinfo=CHINA_TZ)
    for bad in ("2027010", "202701010203", "20271301", "2027-01-01"):
        assert ceb_time(bad) is None
    at = datetime(2027, 1, 1, 2, 3, 4, 567000, tzinfo=CHINA_TZ)
    assert (format_time(at, 8), format_time(at, 14), format_time(at)) == (
        "20270101", "20270101020304", "20270101020304567",
    )  # fmt: skip


def test_writer_writes_decltime_as_a_date_and_returntime_in_full() -> None:
    from io import BytesIO

    decl = next(r.item for r in read("ceb621_spec.xml") if isinstance(r.item, Declaration))
    out = BytesIO()
    write_ceb(out, "CEB621", [decl])
    assert b"<ceb:declTime>20261101</ceb:declTime>" in out.getvalue()
    assert b"<ceb:appTime>20261101093015</ceb:appTime>" in out.getvalue()
    receipt = Receipt("CEB622", decl.kind, decl.business_key, 800, decl.decl_time)
    out = BytesIO()
    write_ceb(out, "CEB622", [receipt])
    assert b"<ceb:returnTime>20261101000000000</ceb:returnTime>" in out.getvalue()


def test_ceb900_is_read_as_an_alarm_on_the_refused_message() -> None:
    from inspection.index import DeclarationIndex

    records = read("ceb900_spec.xml")
    assert errors(records) == []
    notices = [r.item for r in records]
    assert len(notices) == 2 and all(isinstance(n, Notice) for n in notices)
    first, second = notices
    assert isinstance(first, Notice) and isinstance(second, Notice)
    assert (first.message_type, first.status, first.business_key) == ("CEB900", "-1", "")
    assert first.fields["guid"] == "6A1E0B7C-0001-4F00-9A00-000000006211"
    assert first.time == datetime(2026, 11, 2, 9, 30, 0, 456000, tzinfo=CHINA_TZ)
    assert not first.accepted
    assert "message 6A1E0B7C-0001-4F00-9A00-000000006211" in first.refusal
    assert "CEB621 message 6A1E0B7C-0001-4F00-9A00-000000006212" in second.refusal
    idx = DeclarationIndex()
    idx.apply_notice(first)
    assert idx.alarms == [first.refusal]


def test_ceb900_without_the_refused_guid_is_rejected() -> None:
    from io import BytesIO

    text = (SPEC / "ceb900_spec.xml").read_text(encoding="utf-8")
    text = text.replace("<guid>6A1E0B7C-0001-4F00-9A00-000000006211</guid>", "<guid/>")
    fmt = detect_format(text.encode()[:HEAD_BYTES], "x.xml")
    records = list(read_records(BytesIO(text.encode()), fmt, "x.xml"))
    assert errors(records) == [(1, "MessageReturn.guid", "required field is missing or empty")]
