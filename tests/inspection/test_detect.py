"""Format detection from a file's first bytes, with and without a claimed format."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection.formats.detect import HEAD_BYTES, DetectedFormat, detect_format
from inspection.model import FormatError

CEB621 = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<ceb:CEB621Message guid="4CDE1CFD-EDED-46B1-946C-B8022E42FC94" version="1.0" '
    b'xmlns:ceb="http://www.chinaport.gov.cn/ceb">\n<ceb:Inventory>'
)
CEB311 = b'\xef\xbb\xbf<CEB311Message xmlns="http://www.chinaport.gov.cn/ceb" guid="x">'


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (CEB621, DetectedFormat("ceb", "CEB621")),
        (CEB311, DetectedFormat("ceb", "CEB311")),
        (b'[{"item_id": "RR123456785CN"}]', DetectedFormat("postal-json")),
        (b'\xef\xbb\xbf \n {"items": []}', DetectedFormat("postal-json")),
        (b'{"item_id": "RR123456785CN"}\n{"item_id": "EB0"}\n', DetectedFormat("postal-json")),
        (b"item_id,category\r\nRR123456785CN,gift\r\n", DetectedFormat("postal-csv")),
        (b'\xef\xbb\xbf" Item_ID ",category\n', DetectedFormat("postal-csv")),
        (b"code,item_id\n", DetectedFormat("postal-csv")),
        (b"\n\nwaybill,CODE,consignee\nSF1,x,y\n", DetectedFormat("generic-csv")),
        ("code,收件人\nSF1,张三\n".encode(), DetectedFormat("generic-csv")),
    ],
)  # fmt: skip
def test_detects_each_family(head: bytes, expected: DetectedFormat) -> None:
    assert detect_format(head, "f") == expected


def test_label_is_the_message_type_or_the_family() -> None:
    assert DetectedFormat("ceb", "CEB621").label == "CEB621"
    assert DetectedFormat("postal-csv").label == "postal-csv"


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (b"", "f: file is empty"),
        (b"\xef\xbb\xbf  \n", "f: file is empty"),
        (b'<?xml version="1.0"?><Order xmlns="urn:x"/>', "root element 'Order' is not a CEB"),
        (b"<CEB621Message>", "root element 'CEB621Message' is not a CEB"),
        (b"\xff\xfe[\x00", "not UTF-8"),
        (b"waybill,consignee\nSF1,x\n", "needs a 'code' column"),
        (b"item_id;category\n", "first line: 'item_id;category'"),
    ],
)
def test_unrecognised_files_raise_format_error_naming_the_source(head: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        detect_format(head, "f")


@pytest.mark.parametrize(
    ("head", "claimed", "expected"),
    [
        (CEB621, "CEB621", DetectedFormat("ceb", "CEB621")),
        (CEB621, " ceb621 ", DetectedFormat("ceb", "CEB621")),
        (CEB621, "ceb", DetectedFormat("ceb", "CEB621")),
        (CEB621, "CEB", DetectedFormat("ceb", "CEB621")),
        (b"item_id\n", "Postal-CSV", DetectedFormat("postal-csv")),
        (b"[]", "postal-json", DetectedFormat("postal-json")),
    ],
)
def test_a_claim_that_matches_is_accepted(
    head: bytes, claimed: str, expected: DetectedFormat
) -> None:
    assert detect_format(head, "f", claimed) == expected


@pytest.mark.parametrize(
    ("head", "claimed", "message"),
    [
        (CEB621, "CEB311", "f: claimed CEB311 but the file is CEB621"),
        (b"code\n", "CEB621", "claimed CEB621 but the file is generic-csv"),
        (b"item_id\n", "generic-csv", "claimed generic-csv but the file is postal-csv"),
        (CEB621, "postal-json", "claimed postal-json but the file is CEB621"),
        (b"code\n", "excel", "unknown format 'excel'; known: ceb, dxp, postal-json"),
        (b"code\n", "", "unknown format ''"),
    ],
)
def test_a_wrong_claim_is_an_error(head: bytes, claimed: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        detect_format(head, "f", claimed)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"")))
def test_any_head_is_detected_or_refused_with_format_error(head: bytes) -> None:
    try:
        found = detect_format(head, "f")
    except FormatError:
        return
    assert found.family in ("ceb", "postal-json", "postal-csv", "generic-csv")


def test_bare_carriage_return_line_endings_are_csv() -> None:
    """Old-style CR line endings still give a header line."""
    assert detect_format(b"code,a\rSF1,b\r", "f") == DetectedFormat("generic-csv")


def test_a_long_first_line_cut_inside_a_character_is_still_utf8() -> None:
    data = ("code,x" + ",名" * 5000 + "\n").encode()
    assert detect_format(data[:HEAD_BYTES], "f") == DetectedFormat("generic-csv")
