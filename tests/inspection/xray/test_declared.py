"""What declared goods lead one to expect, and the mismatch rules."""

from __future__ import annotations

import pytest

from inspection.model import GoodsLine
from inspection.xray.declared import (
    GoodsGroup,
    ImageContent,
    MismatchConfig,
    declared_goods,
    goods_group,
    mismatch_flag,
)
from inspection.xray.flags import FlagKind

from .scans import declared

OBJ = (10, 10, 100, 100)


def content(metal_g: float = 0.0, cells: float = 0.0, dense_cm2: float = 0.0) -> ImageContent:
    return ImageContent(
        metal_mass_g=metal_g,
        metal_box=(20, 20, 30, 30) if metal_g else None,
        cells=cells,
        cells_box=(40, 40, 10, 10) if cells else None,
        dense_cm2=dense_cm2,
        impenetrable_cm2=0.0,
        object_box=OBJ,
    )


@pytest.mark.parametrize(
    ("hs", "name", "group"),
    [
        ("6109100021", "", GoodsGroup.ORGANIC),
        ("61.09", "", GoodsGroup.ORGANIC),
        ("4901990000", "", GoodsGroup.DOCUMENTS),
        ("8204110000", "", GoodsGroup.METAL),
        ("8517130000", "", GoodsGroup.ELECTRICAL),
        ("3924100000", "", GoodsGroup.OTHER),
        ("", "儿童T恤", GoodsGroup.ORGANIC),
        ("", "Power Bank 10000mAh", GoodsGroup.ELECTRICAL),
        ("", "文件", GoodsGroup.DOCUMENTS),
        ("", "gift", GoodsGroup.UNKNOWN),
    ],
)
def test_goods_group_by_hs_chapter_or_name(hs: str, name: str, group: GoodsGroup) -> None:
    assert goods_group(GoodsLine(gnum=1, hs_code=hs, name=name)) is group


def test_declared_goods_summary() -> None:
    clothes = declared_goods(declared(("6109100021", "T-shirt"), ("6404110000", "shoes")))
    assert clothes.organic_only and not clothes.metal_expected and clothes.known
    mixed = declared_goods(declared(("6109100021", "T-shirt"), ("8517130000", "phone")))
    assert not mixed.organic_only and mixed.metal_expected and mixed.cells_expected
    docs = declared_goods(declared(category="documents"))
    assert docs.documents and docs.organic_only and docs.known
    unknown = declared_goods(declared(("", "gift")))
    assert not unknown.known and not unknown.organic_only


def test_metal_in_organic_goods_is_a_mismatch_by_mass() -> None:
    cfg = MismatchConfig()
    goods = declared_goods(declared(("6109100021", "T-shirt")))
    assert mismatch_flag(goods, content(metal_g=20.0), cfg) is None
    weak = mismatch_flag(goods, content(metal_g=80.0), cfg)
    assert weak is not None and not weak.alarm
    strong = mismatch_flag(goods, content(metal_g=400.0), cfg)
    assert strong is not None and strong.alarm
    assert strong.kind is FlagKind.DECLARATION_MISMATCH
    assert strong.region == (20, 20, 30, 30)


def test_documents_are_held_to_tighter_limits() -> None:
    cfg = MismatchConfig()
    docs = declared_goods(declared(category="documents"))
    metal = mismatch_flag(docs, content(metal_g=70.0), cfg)
    assert metal is not None and metal.alarm
    dense = mismatch_flag(docs, content(dense_cm2=100.0), cfg)
    assert dense is not None and dense.alarm and "dense" in dense.detail


def test_cells_where_no_declared_line_holds_any() -> None:
    cfg = MismatchConfig()
    shoes = declared_goods(declared(("6404110000", "shoes")))
    flag = mismatch_flag(shoes, content(cells=1.5), cfg)
    assert flag is not None and flag.alarm
    phone = declared_goods(declared(("8517130000", "phone")))
    assert mismatch_flag(phone, content(cells=1.5, metal_g=30.0), cfg) is None
    unknown = declared_goods(declared(("", "gift")))
    assert mismatch_flag(unknown, content(cells=1.5), cfg) is None
