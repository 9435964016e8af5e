"""Which image regions a declaration explains: each goods line brings a budget of regions.

A goods line is put in a family by its HS code (4-digit heading, else chapter) or, failing
that, by name keywords. A family says how many regions of each kind one such item shows
and how large each may be (cm², and its longest and widest side in ``SIZES``: a region
that merged an item with something else is too big for the item); the quantity gives
one such item per unit (up to 5), and all the regions one item explains lie together
within one item's outline (``EXTENT``). A LIQUID region shaped as a slab on its edge is
explained only by books and footwear (``EDGE_ON``), never by drinks or food, and a book
explains no other region. Regions are matched to items as a largest matching, blocking
regions first; a region no remaining budget covers stays unexplained, and so does a part
cut off a merged metal region. Kinds that no goods explain (impenetrable, high-Z,
blades, guns) never appear in a budget, and no family can remove a rule: a declaration
can only fail to explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

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
    "tool": ((K.METAL, 2, 150.0), (K.THICK_METAL, 2, 40.0), (K.STRIP, 1, 40.0)),
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


#: Longest and widest outline (mm) of one whole item of a family: every region one item
#: explains lies within it together (a phone's block and its frame, a pair of shoes' two
#: shanks), so an item never explains a region across the parcel from itself.
EXTENT: dict[str, tuple[float, float]] = {
    **SIZES,
    "footwear": (320.0, 240.0),
    "textiles": (400.0, 300.0),
    "book": (260.0, 200.0),
}


@dataclass(frozen=True, slots=True)
class _Slot:
    """What one item of a goods line can explain of one kind."""

    unit: int
    kind: SigKind
    count: int
    cm2: float
    size_mm: tuple[float, float]
    edge_on: bool = False

    def takes(self, s: Signature) -> bool:
        """True when this slot can explain ``s`` by its kind, area and size."""
        fits = s.size_mm[0] <= self.size_mm[0] and s.size_mm[1] <= self.size_mm[1]
        same = self.kind is s.kind and self.edge_on == s.edge_on
        return same and not s.cut and self.count > 0 and s.area_cm2 <= self.cm2 and fits


def _corners(s: Signature) -> list[tuple[float, float]]:
    """Corners (mm) of a region's rectangle; at the origin when its place is not known."""
    if s.outline:
        return list(s.outline)
    length, width = s.size_mm
    return [(0.0, 0.0), (length, 0.0), (length, width), (0.0, width)]


def _together(sigs: list[Signature], extent: tuple[float, float]) -> bool:
    """True when regions lie together within one item's outline (longest, widest side)."""
    pts = np.array([c for s in sigs for c in _corners(s)], np.float32)
    (_, _), (w, h), _ = cv2.minAreaRect(pts)
    return max(w, h) <= extent[0] and min(w, h) <= extent[1]


def explain(sigs: list[Signature], declaration: Declaration | None) -> tuple[Finding, ...]:
    """Pair signatures with the items of goods lines, within each item's budget and outline."""
    names: list[str] = []
    extents: list[tuple[float, float]] = []
    slots: list[_Slot] = []
    if declaration is not None:
        for line in declaration.lines:
            fam = family(line)
            if fam is None:
                continue
            for _ in range(int(min(max(line.qty or 1, 1), 5))):
                unit = len(names)
                names.append(line.name or line.hs_code)
                extents.append(EXTENT[fam])
                for kind, count, cm2 in BUDGETS[fam]:
                    slots.append(_Slot(unit, kind, count, cm2, SIZES[fam]))
                if fam in EDGE_ON:
                    count, cm2, size = EDGE_ON[fam]
                    slots.append(_Slot(unit, K.LIQUID, count, cm2, size, edge_on=True))
    of = _Match(sigs, slots, extents).run()
    return tuple(
        Finding(s, names[slots[k].unit] if k is not None else "")
        for s, k in zip(sigs, of, strict=True)
    )


class _Match:
    """Regions given to item slots: blocking regions first, then the largest.

    Each region in turn is given a slot that can take it. When no slot is free, regions
    already placed are moved to other slots (an augmenting path); when the region does not
    lie together with what that item already explains, those regions are moved to other
    items. A region once placed stays explained, so the order decides only which regions
    are left over when the budgets run out. Every region one item explains lies with the
    others it explains within one item's outline (``EXTENT``).
    """

    def __init__(
        self, sigs: list[Signature], slots: list[_Slot], extents: list[tuple[float, float]]
    ) -> None:
        """Candidate slots of every region."""
        self.sigs, self.slots, self.extents = sigs, slots, extents
        self.held: list[list[int]] = [[] for _ in slots]
        self.fits = [[k for k, slot in enumerate(slots) if slot.takes(s)] for s in sigs]

    def _unit(self, k: int) -> list[tuple[int, int]]:
        """(slot, region) pairs the item of slot ``k`` explains."""
        unit = self.slots[k].unit
        return [
            (q, j) for q, slot in enumerate(self.slots) if slot.unit == unit for j in self.held[q]
        ]

    def _with(self, k: int, i: int, members: list[tuple[int, int]]) -> bool:
        """True when region ``i`` and ``members`` lie within the outline of slot ``k``'s item."""
        group = [self.sigs[j] for _, j in members] + [self.sigs[i]]
        return _together(group, self.extents[self.slots[k].unit])

    def _place(self, i: int, seen: set[int], depth: int = 0) -> bool:
        """Find region ``i`` a slot, moving placed regions when that frees one."""
        for k in self.fits[i]:
            if k in seen:
                continue
            seen.add(k)
            members = self._unit(k)
            if len(self.held[k]) < self.slots[k].count and self._with(k, i, members):
                self.held[k].append(i)
                return True
            if depth >= 3:
                continue
            for j in list(self.held[k]):
                rest = [m for m in members if m[1] != j]
                if self._with(k, i, rest) and self._move(k, i, [(k, j)], seen, depth):
                    return True
            away = [m for m in members if not self._with(k, i, [m])]
            free = len(self.held[k]) < self.slots[k].count
            near = [m for m in members if m not in away]
            if free and away and self._with(k, i, near) and self._move(k, i, away, seen, depth):
                return True
        return False

    def _move(
        self, k: int, i: int, moving: list[tuple[int, int]], seen: set[int], depth: int
    ) -> bool:
        """Put region ``i`` in slot ``k`` and move ``moving`` elsewhere; undo when one can't."""
        saved = [list(h) for h in self.held]
        for q, j in moving:
            self.held[q].remove(j)
        self.held[k].append(i)
        for _, j in moving:
            if not self._place(j, set(seen), depth + 1):
                self.held = saved
                return False
        return True

    def run(self) -> list[int | None]:
        """The slot of every region (None: unexplained)."""
        order = sorted(
            range(len(self.sigs)),
            key=lambda i: (self.sigs[i].score < 0.5, -self.sigs[i].area_cm2),
        )
        for i in order:
            if self.fits[i]:
                self._place(i, set())
        of: list[int | None] = [None] * len(self.sigs)
        for k, regions in enumerate(self.held):
            for j in regions:
                of[j] = k
        return of
