"""Which image regions a declaration explains: each goods line brings a budget of regions.

A goods line is put in a family by its HS code (4-digit heading, else chapter) or, failing
that, by name keywords. A family says how many regions of each kind one such item shows
and how large each may be (cm², and its longest and widest side in ``SIZES``: a region
that merged an item with something else is too big for the item); the quantity
multiplies the count (up to 5). A LIQUID region shaped as a slab on its edge is explained
only by books and footwear (``EDGE_ON``), never by drinks or food, and a book explains no
other region. Regions are matched largest first; a region no remaining
budget covers stays unexplained. Kinds that no goods explain (impenetrable, high-Z,
blades, guns) never appear in a budget, and no family can remove a rule: a declaration
can only fail to explain.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspection.model import Declaration, GoodsLine
from inspection.xray.signatures import SigKind, Signature

K = SigKind

#: Longest and widest region (mm) an item of a family can account for, whatever its kind.
SIZES: dict[str, tuple[float, float]] = {
    "phone": (180.0, 95.0),
    "computer": (420.0, 300.0),
    "power_bank": (200.0, 120.0),
    "machine": (500.0, 400.0),
    "tool": (300.0, 70.0),
    "coins": (130.0, 130.0),
    "toy": (250.0, 150.0),
    "tin": (170.0, 120.0),
    "drink": (320.0, 110.0),
    "food": (300.0, 200.0),
    "footwear": (150.0, 20.0),
    "umbrella": (350.0, 40.0),
    "textiles": (400.0, 10.0),
    "book": (260.0, 50.0),
}

#: Family → (kind, regions per item, largest region cm²); a kind may come more than once
#: (a laptop shows one large chassis and a few small metal parts).
BUDGETS: dict[str, tuple[tuple[SigKind, int, float], ...]] = {
    "phone": ((K.BATTERY, 1, 150.0), (K.METAL, 1, 120.0), (K.THICK_METAL, 1, 5.0)),
    "computer": (
        (K.BATTERY, 5, 200.0),
        (K.METAL, 1, 900.0),
        (K.METAL, 3, 12.0),
        (K.THICK_METAL, 3, 30.0),
        (K.STRIP, 2, 40.0),
    ),
    "power_bank": ((K.BATTERY, 1, 250.0), (K.METAL, 1, 250.0), (K.THICK_METAL, 1, 60.0)),
    "machine": (
        (K.METAL, 1, 400.0),
        (K.METAL, 3, 12.0),
        (K.THICK_METAL, 2, 20.0),
        (K.STRIP, 2, 40.0),
    ),
    "tool": ((K.METAL, 1, 150.0), (K.THICK_METAL, 1, 40.0), (K.STRIP, 1, 40.0)),
    "coins": ((K.METAL, 6, 30.0), (K.THICK_METAL, 6, 20.0)),
    "toy": ((K.METAL, 1, 15.0), (K.THICK_METAL, 1, 5.0), (K.STRIP, 1, 20.0)),
    "tin": ((K.METAL, 2, 150.0), (K.THICK_METAL, 1, 10.0), (K.LIQUID, 1, 150.0)),
    "drink": ((K.METAL, 1, 300.0), (K.LIQUID, 1, 250.0)),
    "food": ((K.LIQUID, 1, 300.0),),
    "footwear": ((K.STRIP, 2, 25.0), (K.METAL, 2, 4.0)),
    "umbrella": ((K.STRIP, 2, 60.0), (K.METAL, 1, 30.0)),
    "textiles": ((K.STRIP, 2, 25.0), (K.METAL, 2, 3.0)),
    "book": (),
}

#: Family → (regions per item, largest region cm², longest and widest side mm) of organic
#: slabs on their edge (LIQUID regions marked ``edge_on``) one item accounts for: a book
#: standing on its spine, the two soles of a pair of shoes on their side. No other family
#: explains such a region, and these explain no other LIQUID region.
EDGE_ON: dict[str, tuple[int, float, tuple[float, float]]] = {
    "book": (1, 130.0, (260.0, 50.0)),
    "footwear": (2, 100.0, (320.0, 30.0)),
}

_HEADINGS: dict[str, str] = {
    "8517": "phone",
    "8518": "phone",
    "8525": "phone",
    "9006": "phone",
    "9101": "phone",
    "9102": "phone",
    "8471": "computer",
    "8507": "power_bank",
    "8506": "power_bank",
    "7118": "coins",
    "6601": "umbrella",
}
_CHAPTERS: dict[int, str] = {
    **{c: "tool" for c in (*range(72, 84),)},
    **{c: "machine" for c in (84, 85, 90, 91, 94)},
    95: "toy",
    16: "tin",
    20: "tin",
    22: "drink",
    33: "drink",
    15: "drink",
    21: "drink",
    **{c: "food" for c in (*range(1, 15), 17, 18, 19, 23, 24)},
    **{c: "drink" for c in range(28, 39) if c != 33},
    64: "footwear",
    66: "umbrella",
    61: "textiles",
    62: "textiles",
    63: "textiles",
    42: "textiles",
    49: "book",
}
_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("power_bank", ("power bank", "充电宝", "battery", "电池")),
    ("computer", ("laptop", "笔记本", "notebook computer", "电脑")),
    ("book", ("book", "图书")),
    ("phone", ("phone", "手机", "tablet", "平板", "watch", "手表", "camera", "相机")),
    ("toy", ("toy", "玩具")),
    ("footwear", ("shoe", "鞋")),
    ("textiles", ("shirt", "衣", "dress", "trousers", "裤")),
)


def family(line: GoodsLine) -> str | None:
    """The goods family of one line, or None when it explains nothing."""
    digits = "".join(c for c in line.hs_code if c.isdigit())
    if len(digits) >= 4 and digits[:4] in _HEADINGS:
        return _HEADINGS[digits[:4]]
    if len(digits) >= 2 and int(digits[:2]) in _CHAPTERS:
        return _CHAPTERS[int(digits[:2])]
    name = line.name.lower()
    return next((fam for fam, words in _WORDS if any(w in name for w in words)), None)


@dataclass(frozen=True, slots=True)
class Finding:
    """A signature and the goods line that explains it ("" when none does)."""

    signature: Signature
    explained_by: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {**self.signature.as_dict(), "explained_by": self.explained_by}


@dataclass(slots=True)
class _Slot:
    """What one goods line can still explain of one kind."""

    name: str
    kind: SigKind
    count: int
    cm2: float
    size_mm: tuple[float, float]
    edge_on: bool = False

    def takes(self, s: Signature) -> bool:
        """True when this slot can still explain ``s``."""
        fits = s.size_mm[0] <= self.size_mm[0] and s.size_mm[1] <= self.size_mm[1]
        same = self.kind is s.kind and self.edge_on == s.edge_on
        return same and self.count > 0 and s.area_cm2 <= self.cm2 and fits


def explain(sigs: list[Signature], declaration: Declaration | None) -> tuple[Finding, ...]:
    """Pair signatures with goods lines within each line's budget, largest regions first."""
    left: list[_Slot] = []
    if declaration is not None:
        for line in declaration.lines:
            fam = family(line)
            if fam is None:
                continue
            qty = int(min(max(line.qty or 1, 1), 5))
            name = line.name or line.hs_code
            for kind, count, cm2 in BUDGETS[fam]:
                left.append(_Slot(name, kind, count * qty, cm2, SIZES[fam]))
            if fam in EDGE_ON:
                count, cm2, size = EDGE_ON[fam]
                left.append(_Slot(name, K.LIQUID, count * qty, cm2, size, edge_on=True))
    by_sig: dict[int, str] = {}
    for i in sorted(range(len(sigs)), key=lambda i: -sigs[i].area_cm2):
        s = sigs[i]
        for slot in left:
            if slot.takes(s):
                slot.count -= 1
                by_sig[i] = slot.name
                break
    return tuple(Finding(s, by_sig.get(i, "")) for i, s in enumerate(sigs))
