"""Deliberately bad declaration files, each record or file wrong in one way, written from the
CEB spec samples and the postal and generic samples in ``tests/inspection/data``.

Every :class:`BadFile` names the values its reasons must show unchanged in any language.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "inspection" / "data"
CEB_NS = "http://www.chinaport.gov.cn/ceb"
DXP_NS = "http://www.chinaport.gov.cn/dxp"


@dataclass(frozen=True, slots=True)
class BadFile:
    """A file to upload and the values its worded reasons must keep as written."""

    name: str
    data: bytes
    values: tuple[str, ...] = ()


def _record(path: Path, element: str) -> str:
    """The first ``<ceb:element>`` record of a sample message."""
    text = path.read_text("utf-8")
    m = re.search(rf"<ceb:{element}>.*?</ceb:{element}>", text, re.S)
    assert m is not None, f"no {element} in {path}"
    return m.group(0)


INVENTORY = _record(DATA / "ceb" / "spec" / "ceb621_spec.xml", "Inventory")
EXPORT = _record(DATA / "ceb" / "ceb603_export.xml", "Inventory")
RETURN = _record(DATA / "ceb" / "ceb622_receipts.xml", "InventoryReturn")


def put(record: str, tag: str, text: str | None) -> str:
    """``record`` with element ``tag`` (its first) set to ``text``, or removed for None."""
    pattern = re.compile(rf"<ceb:{tag}>[^<]*</ceb:{tag}>|<ceb:{tag}/>")
    assert pattern.search(record), tag
    return pattern.sub("" if text is None else f"<ceb:{tag}>{text}</ceb:{tag}>", record, 1)


def ceb(message_type: str, *records: str) -> bytes:
    """A CEB message of ``records``."""
    body = "\n".join(records)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ceb:{message_type}Message '
        f'xmlns:ceb="{CEB_NS}" guid="6A1E0B7C-0001-4F00-9A00-00000000BAD1" version="1.0">\n'
        f"{body}\n</ceb:{message_type}Message>\n"
    ).encode()


def _head_block(record: str) -> str:
    m = re.search(r"<ceb:InventoryHead>.*?</ceb:InventoryHead>", record, re.S)
    assert m is not None
    return m.group(0)


def _without(record: str, block: str) -> str:
    return re.sub(rf"<ceb:{block}>.*?</ceb:{block}>", "", record, flags=re.S)


def ceb_files() -> list[BadFile]:
    """CEB621, CEB603 and CEB622 records, each wrong in one way."""
    inv, head = INVENTORY, _head_block(INVENTORY)
    line = re.search(r"<ceb:InventoryList>.*?</ceb:InventoryList>", inv, re.S)
    assert line is not None
    twin = line.group(0)
    records = [
        put(inv, "grossWeight", "1,25kg"),
        put(inv, "grossWeight", "-1"),
        put(inv, "declTime", "20261331"),
        put(inv, "declTime", "2026-11-01"),
        put(inv, "gnum", "one"),
        put(inv, "gnum", "0"),
        put(inv, "agentCode", "3301:960003"),
        put(inv, "ieFlag", "E"),
        put(inv, "tradeMode", "9710"),
        put(inv, "tradeMode", "1210"),
        put(inv, "copNo", ""),
        inv.replace(head, head + head),
        _without(inv, "InventoryHead"),
        put(inv, "tradeMode", "1234"),
        put(inv, "ieFlag", "X"),
        _without(inv, "InventoryList"),
        put(inv, "gcode", "33O4990099"),
        inv.replace(twin, twin + twin),
        put(inv, "gnum", "99999999999"),
        put(inv, "freight", "10.1234567"),
        put(inv, "freight", "123456789012345678901234"),
        put(inv, "declTime", "00010101"),
    ]
    values = (
        "'1,25kg'", "'20261331'", "'2026-11-01'", "'one'", "'E'", "9710", "1210", "1234",
        "'X'", "'33O4990099'", "99999999999", "10.1234567", "123456789012345678901234", "0001",
    )  # fmt: skip
    return [
        BadFile("inventory.xml", ceb("CEB621", *records), values),
        BadFile("export.xml", ceb("CEB603", put(EXPORT, "tradeMode", "1239")), ("'1239'",)),
        BadFile(
            "receipts.xml",
            ceb("CEB622", put(RETURN, "returnStatus", "999999999999"), put(RETURN, "copNo", "")),
            ("999999999999",),
        ),
        BadFile("truncated.xml", (DATA / "ceb" / "ceb621_truncated.xml").read_bytes()),
    ]


def _item(**changes: object) -> dict[str, object]:
    """A good postal item (the third of ``items.json``) with ``changes``; None drops a member."""
    item: dict[str, object] = json.loads((DATA / "postal" / "items.json").read_text("utf-8"))[2]
    item["item_id"] = "RR123456785CN"
    for key, value in changes.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def _content(**changes: object) -> list[dict[str, object]]:
    return [{"description": "Tea", "quantity": 1, "value": 10, **changes}]


def postal_files() -> list[BadFile]:
    """Postal JSON items and CSV rows, each wrong in one way."""
    items: list[object] = [
        _item(item_id="RR12345CN"),
        _item(item_id="RR123456784CN"),
        _item(item_id="JJ123456785CN"),
        _item(item_id="RR123456785ZZ"),
        _item(category=None),
        _item(contents=[7]),
        _item(sender="Anna"),
        5,
        _item(contents=_content(hs_code="12")),
        _item(category="toys"),
        _item(contents=[]),
        _item(form="CN99"),
        {"item_id": "RR123456785CN", "return_status": 800, "contents": _content()},
        {"item_id": "RR123456785CN", "return_status": 42},
        _item(contents=_content(description=True)),
        _item(total_value=[1]),
        _item(total_value="12,5"),
        _item(total_value="NaN"),
        _item(total_value=-3),
        {"item_id": "RR123456785CN", "return_status": "soon"},
        {"item_id": "RR123456785CN", "return_status": {"a": 1}},
        _item(declared_at="yesterday"),
        _item(sender={"name": "Anna", "country": "Germany"}),
        _item(currency="EURO"),
        _item(contents=_content(description="Tea \ud800")),
        _item(note="\ud800"),
        _item(declared_at="0001-01-01T00:00:00+08:00"),
        _item(total_value="10.1234567"),
    ]
    text = "[\n" + ",\n".join(json.dumps(i) for i in items) + "\n]\n"
    json_values = (
        "'RR12345CN'", "'RR123456784CN'", "'JJ123456785CN'", "'RR123456785ZZ'", "'12'",
        "'toys'", "'CN99'", "42", "'12,5'", "'NaN'", "'-3'", "'soon'", "'yesterday'",
        "'GERMANY'", "'EURO'", "0001", "10.1234567",
    )  # fmt: skip
    head = (DATA / "postal" / "items.csv").read_text("utf-8-sig").splitlines()[0]
    row = "RR123456785CN,gift,,,,Li Lei,,,,,1.0,10,CNY,,,Tea,1,,10,,,,,,"
    csv_rows = [
        head,
        row.replace("RR123456785CN", "EA100000017CN") + ",extra",
        row,
        row.replace("Li Lei", "Li Lin"),
        row.replace("RR123456785CN", "LX314159268DE").replace(",10,,,,,,", ",10,,12,,,,"),
    ]
    return [
        BadFile("items.json", text.encode(), json_values),
        BadFile("items.csv", ("\n".join(csv_rows) + "\n").encode(), ("'Li Lei'", "'Li Lin'")),
        BadFile("items-short.csv", b"item_id,category\nRR123456785CN,gift\n", ("addressee_name",)),
        BadFile("items-open.json", b'[{"item_id": "RR123456785CN"}', ()),
        BadFile("items-broken.json", b'[{"item_id": "RR123456785CN"} {"a": 1}]', ("'{'",)),
        BadFile("items-colon.json", b'{"item_id" 1}', ("'1'",)),
        BadFile("items-value.json", b'[{"item_id": tru}]', ()),
        BadFile("items-tail.json", b"[] x", ()),
        BadFile("items-deep.json", b"[" + b"[" * 200_000 + b"]" * 200_001, ()),
        BadFile("items-bytes.json", b'[{"item_id": "RR12345\xff"}]', ()),
    ]


def generic_files() -> list[BadFile]:
    """Generic CSV rows, each wrong in one way."""
    head = (DATA / "generic" / "parcels.csv").read_text("utf-8").splitlines()[0]
    good = "YT0000000009,9610,I,,,,,王强,,10,,CNY,0.3,,,,,,,,,,"
    cells = head.split(",")

    def row(**changes: str) -> str:
        values = good.split(",")
        for key, value in changes.items():
            values[cells.index(key)] = value
        return ",".join(values)

    rows = [
        head,
        row(ie_flag="X"),
        row(code="YT0000000010", trade_mode="96"),
        row(code="YT0000000011", currency="EURO"),
        row(code="YT0000000012", country="GERMANY"),
        row(code=""),
        row(code="YT0000000013", hs_code="12", description="Toy", quantity="1"),
        row(code="RR123456784CN"),
        row(code="YT0000000014", goods_value="ten"),
    ]
    return [
        BadFile(
            "parcels.csv",
            ("\n".join(rows) + "\n").encode(),
            ("'X'", "'96'", "'EURO'", "'GERMANY'", "'12'", "'RR123456784CN'", "'ten'"),
        ),
        BadFile("parcels-twice.csv", b"code,code\nA,B\n", ("'code'",)),
        BadFile("parcels-wide.csv", b"code,note\nA,1\nB," + b"x" * 140_000 + b"\n", ()),
        BadFile("parcels-head.csv", b"code," + b"x" * 140_000 + b"\nA\n", ()),
    ]


def _dxp(data: str, msg_type: str = "CEB311", root: str = "DxpMsg") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{DXP_NS}"><TransInfo>'
        f"<MsgType>{msg_type}</MsgType></TransInfo><Data>{data}</Data></{root}>\n"
    ).encode()


def whole_files() -> list[BadFile]:
    """Files refused whole: empty, of no known format, broken XML, bad envelopes."""
    spec311 = (DATA / "ceb" / "spec" / "ceb311_spec.xml").read_bytes()
    comment = f"<!-- <ceb:CEB621Message> {CEB_NS} -->"
    return [
        BadFile("empty.xml", b""),
        BadFile("page.html", (DATA / "ceb" / "not_ceb.html").read_bytes(), ("'html'",)),
        BadFile("latin.txt", "Größe\n".encode("latin-1"), ()),
        BadFile("hello.txt", b"hello world\n", ("'hello world'",)),
        BadFile("ceb999.xml", ceb("CEB999"), ("'CEB999'",)),
        BadFile(
            "doctype.xml",
            b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "b">]>\n' + ceb("CEB621"),
            ("2",),
        ),
        BadFile("broken-prolog.xml", f'<?xml version="1.0"?>\n{comment}\n<!-- a -- b -->'.encode()),
        BadFile(
            "long-prolog.xml",
            f'<?xml version="1.0"?>\n{comment}\n<!-- {"x" * (1 << 20)} -->\n'.encode(),
            ("1048576",),
        ),
        BadFile(
            "no-namespace.xml",
            f'<CEB621Message xmlns:x="{CEB_NS}"><x:Inventory/></CEB621Message>'.encode(),
            ("CEB621Message",),
        ),
        BadFile("dxp-doctype.xml", _dxp("x").replace(b"<DxpMsg", b"<!DOCTYPE d>\n<DxpMsg", 1)),
        BadFile("dxp-broken.xml", _dxp("<x>")),
        BadFile("dxp-root.xml", _dxp("x", root="DxpMsgs").replace(b"<Data>", b"<DxpMsg/><Data>")),
        BadFile("dxp-empty.xml", _dxp("")),
        BadFile("dxp-base64.xml", _dxp("not base64!"), ()),
        BadFile(
            "dxp-type.xml",
            _dxp(base64.b64encode(spec311).decode(), msg_type="CEB621"),
            ("'CEB621'", "CEB311"),
        ),
        BadFile("dxp-inner.xml", _dxp(base64.b64encode(b'[{"a": 1}]').decode()), ()),
    ]


def all_files() -> list[BadFile]:
    """Every bad file, each name once."""
    files = ceb_files() + postal_files() + generic_files() + whole_files()
    assert len({f.name for f in files}) == len(files)
    return files
