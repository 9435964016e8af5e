"""The article catalogues scenarios draw goods from, and what the X-ray sees of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from simulators.scenario.context import Context
from simulators.scenario.model import ScenarioError
from simulators.xray.contents import ContentItem, ItemKind


@dataclass(frozen=True, slots=True)
class Good:
    """A catalogue article: HS code, name, model, unit weight (kg), X-ray kind, price (CNY)."""

    hs: str
    name: str
    model: str
    unit_kg: Decimal
    kind: ItemKind
    price: tuple[float, float]


#: Ordinary CBEC goods (Chinese names as filed on CEB messages).
CBEC_GOODS = (
    Good(
        "6109100021",
        "棉制针织T恤衫",
        "100%棉|男式|L码",
        Decimal("0.25"),
        ItemKind.TEXTILES,
        (39, 199),
    ),
    Good("3304990099", "保湿面霜", "50ml|护肤", Decimal("0.12"), ItemKind.LIQUID, (80, 600)),
    Good(
        "1901101000", "婴幼儿配方奶粉", "800g|1段", Decimal("0.95"), ItemKind.PLASTICS, (150, 400)
    ),
    Good("6403990090", "运动鞋", "皮革面|42码", Decimal("0.90"), ItemKind.SHOES, (199, 899)),
    Good(
        "8517130000",
        "智能手机",
        "128GB|含锂电池",
        Decimal("0.35"),
        ItemKind.ELECTRONICS,
        (900, 2999),
    ),
    Good("4202210090", "女式手提包", "牛皮", Decimal("0.70"), ItemKind.TEXTILES, (300, 1500)),
    Good("2106909090", "维生素软糖", "60粒/瓶", Decimal("0.20"), ItemKind.PLASTICS, (60, 240)),
    Good("9503008900", "积木玩具", "塑料|8岁以上", Decimal("0.60"), ItemKind.PLASTICS, (99, 699)),
    Good("4901990000", "英文原版图书", "平装", Decimal("0.45"), ItemKind.PAPER, (40, 180)),
    Good("2204210000", "红葡萄酒", "750ml|13.5%vol", Decimal("1.30"), ItemKind.LIQUID, (120, 900)),
    Good("7113119000", "银项链", "925银", Decimal("0.03"), ItemKind.METAL_TOOL, (200, 900)),
)

#: Ordinary postal contents (CN22/CN23 descriptions are often bilingual).
POSTAL_GOODS = (
    Good("610910", "Cotton T-shirt 棉T恤", "", Decimal("0.20"), ItemKind.TEXTILES, (8, 30)),
    Good("490199", "Books 图书", "", Decimal("0.50"), ItemKind.PAPER, (10, 40)),
    Good("330499", "Face cream 面霜", "", Decimal("0.15"), ItemKind.LIQUID, (10, 60)),
    Good("950300", "Toy bricks 积木", "", Decimal("0.40"), ItemKind.PLASTICS, (10, 50)),
    Good("640399", "Sneakers 运动鞋", "", Decimal("0.85"), ItemKind.SHOES, (30, 90)),
    Good(
        "851830",
        "Bluetooth earphones 蓝牙耳机",
        "",
        Decimal("0.10"),
        ItemKind.ELECTRONICS,
        (20, 80),
    ),
)
POSTAL_DOCUMENTS = Good(
    "490199", "Printed matter 印刷品", "", Decimal("0.20"), ItemKind.PAPER, (0, 5)
)
POSTAL_CURRENCIES = ("USD", "EUR", "JPY", "CNY")
#: Postal senders by origin country (the S10 id's country): name, address, posting operator.
SENDERS: dict[str, tuple[str, str, str]] = {
    "US": ("Gadget Store LLC", "1 Market St, San Francisco", "USPS"),
    "DE": ("Maria Schulz", "Hauptstr. 5, Berlin", "DPAG"),
    "JP": ("Sato Hanako", "1-2-3 Shibuya, Tokyo", "JPPOST"),
    "GB": ("Books & Co", "12 High St, London", "ROYALMAIL"),
    "FR": ("Léa Martin", "8 rue de Rivoli, Paris", "LAPOSTE"),
    "AU": ("Koala Gifts Pty Ltd", "20 George St, Sydney", "AUSPOST"),
    "HK": ("Chan Tai Man", "18 Nathan Road, Kowloon", "HKPOST"),
}


def clean_goods(ctx: Context, goods: Sequence[Good]) -> tuple[Good, ...]:
    """Return the goods that the rules do not flag (HS prefix or keyword)."""
    pattern, prefixes = ctx.rules.goods_pattern, ctx.rules.prohibited_prefixes
    keep = tuple(
        g
        for g in goods
        if not (prefixes and g.hs.startswith(prefixes))
        and not (pattern is not None and pattern.search(f"{g.name} {g.model}".lower()))
    )
    if not keep:
        raise ScenarioError("the rules flag every catalogue article; no clean parcel can be built")
    return keep


def content_items(picks: Sequence[tuple[Good, int]]) -> list[ContentItem]:
    return [
        ContentItem(
            kind=g.kind, count=min(qty, 20), cells=1 if g.kind is ItemKind.ELECTRONICS else None
        )
        for g, qty in picks
    ]
