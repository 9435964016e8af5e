"""What the declared goods lead one to expect in the image, and the DECLARATION_MISMATCH flag.

Each goods line is placed in a goods group by its HS chapter (first two digits) or, without
an HS code, by keywords of its name (Chinese and English). The parcel is "organic only" when
every line is in an organic group (food, cosmetics, paper, textiles, footwear), "documents"
when the postal category says so or every line is documents; metal and lithium cells are
expected when a line is in a metal or electrical group.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field

from contracts.config import ConfigModel
from inspection.model import Declaration, GoodsLine
from inspection.xray.flags import Flag, FlagKind, Levels
from inspection.xray.regions import Box


class GoodsGroup(StrEnum):
    """What a goods line says about the materials in the parcel."""

    ORGANIC = "organic"  # food, cosmetics, paper, textiles, footwear
    DOCUMENTS = "documents"
    METAL = "metal"  # base metals and their articles, furniture, toys, instruments
    ELECTRICAL = "electrical"  # machines, electrical goods, vehicles, watches: may hold cells
    OTHER = "other"  # plastics, leather goods, glass, ...: may hold some metal
    UNKNOWN = "unknown"


def _chapters(*spans: tuple[int, int]) -> frozenset[int]:
    """HS chapters of inclusive spans."""
    return frozenset(c for lo, hi in spans for c in range(lo, hi + 1))


_ORGANIC = _chapters((1, 24), (33, 33), (47, 48), (50, 64))
_DOCUMENTS = _chapters((49, 49))
_METAL = _chapters((71, 83), (86, 86), (88, 89), (92, 94), (96, 96))
_ELECTRICAL = _chapters((84, 85), (87, 87), (90, 91), (95, 95))

#: Name keywords by group, matched case-insensitively as substrings, first group wins.
KEYWORDS: tuple[tuple[GoodsGroup, tuple[str, ...]], ...] = (
    (
        GoodsGroup.ELECTRICAL,
        (
            "phone",
            "手机",
            "power bank",
            "充电宝",
            "battery",
            "电池",
            "laptop",
            "电脑",
            "tablet",
            "平板",
            "earphone",
            "耳机",
            "watch",
            "手表",
            "camera",
            "相机",
            "charger",
            "充电器",
        ),
    ),
    (
        GoodsGroup.METAL,
        (
            "tool",
            "工具",
            "spanner",
            "wrench",
            "扳手",
            "knife",
            "刀",
            "steel",
            "钢",
            "iron",
            "铁",
            "hardware",
            "五金",
            "jewel",
            "首饰",
            "cutlery",
            "餐具",
            "lamp",
            "灯",
        ),
    ),
    (GoodsGroup.DOCUMENTS, ("document", "文件", "letter", "信件", "contract", "合同")),
    (
        GoodsGroup.ORGANIC,
        (
            "shirt",
            "t恤",
            "dress",
            "裙",
            "cloth",
            "衣",
            "garment",
            "服装",
            "sock",
            "袜",
            "trouser",
            "裤",
            "sweater",
            "jacket",
            "coat",
            "scarf",
            "围巾",
            "towel",
            "毛巾",
            "shoe",
            "鞋",
            "book",
            "书",
            "paper",
            "纸",
            "tea",
            "茶",
            "food",
            "食品",
            "snack",
            "零食",
            "cosmetic",
            "化妆品",
            "cream",
            "霜",
            "textile",
            "纺织",
        ),
    ),
)


def goods_group(line: GoodsLine) -> GoodsGroup:
    """Group of one goods line: by HS chapter when it has one, else by name keywords."""
    digits = "".join(ch for ch in line.hs_code if ch.isdigit())
    if len(digits) >= 2:
        chapter = int(digits[:2])
        for group, chapters in (
            (GoodsGroup.ORGANIC, _ORGANIC),
            (GoodsGroup.DOCUMENTS, _DOCUMENTS),
            (GoodsGroup.METAL, _METAL),
            (GoodsGroup.ELECTRICAL, _ELECTRICAL),
        ):
            if chapter in chapters:
                return group
        return GoodsGroup.OTHER
    name = f"{line.name} {line.model}".casefold()
    for group, words in KEYWORDS:
        if any(w in name for w in words):
            return group
    return GoodsGroup.UNKNOWN


@dataclass(frozen=True, slots=True)
class DeclaredGoods:
    """What the declaration lets one expect in the image."""

    groups: tuple[GoodsGroup, ...]
    documents: bool  # documents only
    organic_only: bool  # every line organic or documents
    metal_expected: bool  # some line may be mostly metal
    cells_expected: bool  # some line may hold lithium cells

    @property
    def known(self) -> bool:
        """True when every line could be placed in a group."""
        return bool(self.groups) and GoodsGroup.UNKNOWN not in self.groups


def declared_goods(declaration: Declaration) -> DeclaredGoods:
    """Read the goods groups of a declaration (postal category ``documents`` counts too)."""
    groups = tuple(goods_group(line) for line in declaration.lines)
    docs_category = declaration.category.strip().casefold() == "documents"
    documents = docs_category or (bool(groups) and all(g is GoodsGroup.DOCUMENTS for g in groups))
    if docs_category and not groups:
        groups = (GoodsGroup.DOCUMENTS,)
    organic = bool(groups) and all(g in (GoodsGroup.ORGANIC, GoodsGroup.DOCUMENTS) for g in groups)
    return DeclaredGoods(
        groups=groups,
        documents=documents,
        organic_only=organic,
        metal_expected=any(g in (GoodsGroup.METAL, GoodsGroup.ELECTRICAL) for g in groups),
        cells_expected=any(g is GoodsGroup.ELECTRICAL for g in groups),
    )


class MismatchConfig(ConfigModel):
    """Levels of the DECLARATION_MISMATCH rules."""

    organic_metal_g: Levels = Field(
        Levels(report=50.0, alarm=150.0),
        title="Metal in organic goods",
        description="Metal mass (steel equivalent, g) in a parcel declared as organic goods only.",
    )
    documents_metal_g: Levels = Field(
        Levels(report=20.0, alarm=60.0),
        title="Metal in documents",
        description="Metal mass (steel equivalent, g) in a parcel declared as documents.",
    )
    undeclared_cells: Levels = Field(
        Levels(report=0.3, alarm=0.8),
        title="Undeclared cells",
        description="Lithium cells found where no declared line can hold any.",
    )
    documents_dense_cm2: Levels = Field(
        Levels(report=20.0, alarm=60.0),
        title="Dense matter in documents",
        description="Area (cm²) thicker than a documents parcel can be, in one declared so.",
    )
    documents_max_high: float = Field(
        1.0,
        gt=0.0,
        description="High-energy attenuation above which matter is too dense for documents.",
    )


@dataclass(frozen=True, slots=True)
class ImageContent:
    """What the image holds, as the mismatch rules need it."""

    metal_mass_g: float
    metal_box: Box | None  # image pixels, union of metal regions
    cells: float
    cells_box: Box | None
    dense_cm2: float  # area above the documents density limit
    impenetrable_cm2: float
    object_box: Box


def mismatch_flag(goods: DeclaredGoods, content: ImageContent, cfg: MismatchConfig) -> Flag | None:
    """The strongest DECLARATION_MISMATCH finding of the image against the goods, if any."""
    found: list[Flag] = []
    kind = FlagKind.DECLARATION_MISMATCH
    obj = content.object_box
    if goods.organic_only:
        levels = cfg.documents_metal_g if goods.documents else cfg.organic_metal_g
        what = "documents" if goods.documents else "organic goods only"
        if content.metal_mass_g >= levels.report:
            found.append(
                Flag(
                    kind,
                    levels.score(content.metal_mass_g),
                    content.metal_box or obj,
                    content.metal_mass_g,
                    f"declared {what}, image holds about {content.metal_mass_g:.0f} g of metal",
                )
            )
    if goods.known and not goods.cells_expected and content.cells >= cfg.undeclared_cells.report:
        found.append(
            Flag(
                kind,
                cfg.undeclared_cells.score(content.cells),
                content.cells_box or obj,
                content.cells,
                f"lithium cells (about {content.cells:.1f}) but no declared line holds any",
            )
        )
    if goods.documents:
        dense = content.dense_cm2 + content.impenetrable_cm2
        if dense >= cfg.documents_dense_cm2.report:
            found.append(
                Flag(
                    kind,
                    cfg.documents_dense_cm2.score(dense),
                    obj,
                    dense,
                    f"declared documents, image holds {dense:.0f} cm² of dense matter",
                )
            )
    return max(found, key=lambda f: f.score) if found else None
