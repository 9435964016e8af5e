"""The codes a parcel declaration is found by."""

from __future__ import annotations

from inspection.index import parcel_codes
from inspection.model import Declaration, DocKind


def test_each_code_once_in_order_normalised() -> None:
    decl = Declaration(
        DocKind.INVENTORY, "CEB621", "AG:K1", order_no="so 1", logistics_no="yt1",
        invt_no="", cop_no="YT1",
    )  # fmt: skip
    assert parcel_codes(decl) == ["YT1", "SO1"]


def test_a_postal_item_and_a_generic_row_are_found_by_their_own_key_too() -> None:
    for kind in (DocKind.POSTAL, DocKind.GENERIC):
        decl = Declaration(kind, "CN23", "rr123456785cn", logistics_no="RR123456785CN")
        assert parcel_codes(decl) == ["RR123456785CN", "RR123456785CN"]
    assert parcel_codes(Declaration(DocKind.EXPORT_INVENTORY, "CEB603", "K", cop_no="c")) == ["C"]
