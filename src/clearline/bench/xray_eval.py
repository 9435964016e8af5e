"""Drive the X-ray simulator to build seeded evaluation cases for the pre-screen.

Every parcel holds 1–5 random benign items (as a clean stream of commerce) and a declaration
that states them truthfully. Threat parcels add one undeclared threat: a blade, a gun, a
dense (lead) block, or a power bank of 5–8 lithium cells (``battery``). ``mismatch`` parcels
hold metal tools but are declared as clothing. The generator is built with its own
``machine_seed`` so the evaluation sees item templates the defaults were not tuned on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from devices.xray_image import encode_png
from inspection.model import Declaration, DocKind, GoodsLine
from inspection.xray.evaluate import CLEAN, Case
from inspection.xray.prescreen import PrescreenConfig, prescreen
from inspection.xray.regions import Box
from simulators.xray import ContentItem, GeneratorConfig, ItemKind, ParcelContents, XrayGenerator
from simulators.xray.contents import random_contents

#: Threat classes the evaluation builds, in table order.
THREAT_CLASSES = ("blade", "gun", "dense_block", "battery", "mismatch")

#: How a truthful declaration names each benign item: (HS code, name).
GOODS: dict[ItemKind, tuple[str, str]] = {
    ItemKind.TEXTILES: ("6109100021", "cotton T-shirt 棉质T恤"),
    ItemKind.PAPER: ("4901990000", "printed books 图书"),
    ItemKind.PLASTICS: ("3924100000", "plastic food boxes 塑料餐盒"),
    ItemKind.LIQUID: ("3304990029", "skin lotion 护肤乳液"),
    ItemKind.SHOES: ("6404110000", "sports shoes 运动鞋"),
    ItemKind.METAL_TOOL: ("8204110000", "hand spanner 扳手"),
}
PHONE = ("8517130000", "mobile phone 手机")
POWER_BANK = ("8507600090", "power bank 充电宝")


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated parcel: its class, PNG, declaration and true threat boxes (x, y, w, h)."""

    group: str
    png: bytes
    declaration: Declaration
    targets: tuple[Box, ...]


def declaration_for(items: tuple[ContentItem, ...], key: str) -> Declaration:
    """A postal declaration listing ``items`` truthfully (threat kinds are left out)."""
    lines: list[GoodsLine] = []
    for item in items:
        if item.kind is ItemKind.ELECTRONICS:
            hs, name = PHONE if (item.cells or 1) <= 1 else POWER_BANK
        elif item.kind in GOODS:
            hs, name = GOODS[item.kind]
        else:
            continue
        lines.append(GoodsLine(gnum=len(lines) + 1, hs_code=hs, name=name, qty=Decimal(item.count)))
    return Declaration(
        kind=DocKind.POSTAL,
        message_type="CN23",
        business_key=key,
        category="sale_of_goods",
        lines=tuple(lines),
    )


def _threat(group: str, rng: np.random.Generator) -> ContentItem:
    """The threat item of a class."""
    if group == "battery":
        return ContentItem(kind=ItemKind.ELECTRONICS, cells=int(rng.integers(5, 9)))
    return ContentItem(kind=ItemKind(group))


def make_sample(gen: XrayGenerator, group: str, seed: int, png_compression: int = 0) -> Sample:
    """Render one parcel of ``group`` (``clean`` or a threat class) from ``seed``."""
    rng = np.random.default_rng([seed, 11])
    benign = random_contents(rng, threat_rate=0.0).items
    if group == CLEAN:
        items, declared = benign, benign
    elif group == "mismatch":
        tools = ContentItem(kind=ItemKind.METAL_TOOL, count=int(rng.integers(1, 3)))
        clothes = ContentItem(kind=ItemKind.TEXTILES, count=int(rng.integers(1, 3)))
        items, declared = (clothes, tools), (clothes,)
    elif group in THREAT_CLASSES:
        items, declared = (*benign, _threat(group, rng)), benign
    else:
        raise ValueError(f"unknown class {group!r}; known: {[CLEAN, *THREAT_CLASSES]}")
    scan = gen.render(ParcelContents(items=items), seed)
    if group in ("clean", "mismatch"):
        targets: tuple[Box, ...] = ()
    else:
        targets = tuple(
            (o.bbox[0], o.bbox[1], o.bbox[2] - o.bbox[0], o.bbox[3] - o.bbox[1])
            for o in scan.objects
            if o.is_threat
        )
    return Sample(
        group=group,
        png=encode_png(scan.image, png_compression),
        declaration=declaration_for(declared, f"EVAL{seed:08d}"),
        targets=targets,
    )


def samples(
    n_per_class: int, seed: int = 1, machine_seed: int = 1, png_compression: int = 0
) -> Iterator[Sample]:
    """``n_per_class`` parcels of every threat class and as many clean ones, seeded."""
    gen = XrayGenerator(GeneratorConfig(machine_seed=machine_seed))
    for k, group in enumerate((*THREAT_CLASSES, CLEAN)):
        for i in range(n_per_class):
            yield make_sample(gen, group, seed * 1_000_003 + k * 100_000 + i, png_compression)


def cases(
    n_per_class: int,
    seed: int = 1,
    machine_seed: int = 1,
    config: PrescreenConfig | None = None,
) -> list[Case]:
    """Generate and pre-screen the evaluation parcels."""
    cfg = config or PrescreenConfig()
    return [
        Case(s.group, prescreen(s.png, s.declaration, cfg), s.targets)
        for s in samples(n_per_class, seed, machine_seed)
    ]


__all__ = ["THREAT_CLASSES", "Sample", "cases", "declaration_for", "make_sample"]
