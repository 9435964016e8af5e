"""Which image regions a declaration explains: each goods line brings a budget of regions.

A goods line is put in a family by its HS code (4-digit heading, else chapter) or, failing
that, by name keywords. A family says how many regions of each kind one such item shows
and how large each may be (cm², and its longest and widest side in ``SIZES``: a region
that merged an item with something else is too big for the item); the quantity
multiplies the count (up to 5). A LIQUID region shaped as a slab on its edge is explained
only by books and footwear (``EDGE_ON``), never by drinks or food, and a book explains no
other region; a drink, a food or a tin explains no LIQUID region denser or wider than one
container of a drink (``DENSEST``, ``LIGHT_Z``, ``liquids.MOST_SPREAD``). Regions are matched
largest first; a region no remaining budget covers stays unexplained. Kinds that no goods
explain (impenetrable, high-Z, blades, guns) never appear in a budget, and no family can
remove a rule: a declaration can only fail to explain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inspection.model import Declaration, GoodsLine
from inspection.xray import liquids
from inspection.xray.signatures import Box, SigKind, Signature

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
    # Cells in a case read as a compact block (BATTERY) and their cans as thick metal; a
    # metal region too ragged to read as cells is cells and something else merged.
    "power_bank": ((K.BATTERY, 1, 250.0), (K.THICK_METAL, 1, 60.0)),
    "machine": (
        (K.METAL, 1, 400.0),
        (K.METAL, 3, 12.0),
        (K.THICK_METAL, 2, 20.0),
        (K.STRIP, 2, 40.0),
    ),
    # A hand tool is itself a bar of thick steel; a knife lying by it merges with it, so a
    # tool explains no THICK_METAL (docs/xray-prescreen-changes.md, the sixteenth change).
    "tool": ((K.METAL, 1, 150.0), (K.STRIP, 1, 40.0)),
    "coins": ((K.METAL, 6, 30.0), (K.THICK_METAL, 6, 20.0)),
    "toy": ((K.METAL, 1, 15.0), (K.THICK_METAL, 1, 5.0), (K.STRIP, 1, 20.0)),
    # A can's own thick metal is its 0.25 mm wall seen tangentially along its outline: 1.8 and
    # 2.7 cm² where a tin explained it on tuning seeds 0-299; a folding knife merged with a tin
    # made 6.7 cm² (tuning seed 115), which 10 cm² explained until 2026-12-07.
    "tin": ((K.METAL, 2, 150.0), (K.THICK_METAL, 1, 4.0), (K.LIQUID, 1, 150.0)),
    "drink": ((K.METAL, 1, 300.0), (K.LIQUID, 1, 250.0)),
    "food": ((K.LIQUID, 1, 300.0),),
    "footwear": ((K.STRIP, 2, 25.0), (K.METAL, 2, 4.0)),
    "umbrella": ((K.STRIP, 2, 100.0), (K.METAL, 1, 30.0)),
    "textiles": ((K.STRIP, 2, 25.0), (K.METAL, 2, 3.0)),
    "book": (),
}

#: Family → (most elongated: long over short side, longest side mm) BATTERY region one
#: item shows. A phone, a watch or a camera holds one flat pouch or prismatic cell, at most
#: about 2.5 times as long as wide (a phone's 75-100 x 50-62 mm, a camera pack's 70 x 38
#: mm); a 140 x 22 mm "cell" in a phone's place is a tilted knife or a row of cylindrical
#: cells, and a 139 x 64 mm one the cell with a utility knife lying along it (on tuning
#: seeds 0-299 a phone's block was at most 106 mm long in every parcel but two that did
#: not clear: 146 and 149 mm, the cell and something else).
BATTERY_SHAPE: dict[str, tuple[float, float]] = {"phone": (3.0, 125.0), "power_bank": (3.0, 150.0)}

#: Family → the most even BATTERY block (``Signature.flatness``: share of its pixels within
#: 25 % of its median steel-equivalent) one item shows. A power bank's block is cylindrical
#: cells side by side: each cell's chord, thickest along its axis and thin at its sides, is
#: within 25 % of the median over about 0.76 of its width (blur and the cans' walls seen
#: tangentially raise it), so cell blocks read 0.47-0.88 on tuning seeds 0-149 and 0.89 on
#: the second machine (tests/inspection/xray/peer.py). A steel plate or a lead sheet reads
#: even: a kitchen knife lying flat 0.95, a 1 mm lead sheet 1.0, and a declared power bank
#: explained either as its cells until 2026-12-06. A phone's pouch cell is even too
#: (0.96-0.98) and is not held to this.
FLAT_CELLS: dict[str, float] = {"power_bank": 0.92}

#: Family → the most steel-equivalent (median, mm) of a BATTERY block one item shows. A
#: phone's pouch cell is about 1 g/cm² of foils and oxide over its face and reads 1.2-2.2 mm
#: (tuning seeds 0-149, both tuning machines; one 56 x 27 mm block of 3.0-3.1 mm, seed 98, in
#: a parcel that is SUSPECT with and without this rule); 18650 cells lying down are 4 g/cm² and
#: read 3.2 mm on the second machine (tests/inspection/xray/peer.py), where a phone explained
#: four of them as its cell until 2026-12-06, and 6-12 mm on the simulator's machines.
CELL_STEEL_MM: dict[str, float] = {"phone": 2.6}

#: Family → (kind, least solidity: area over convex hull) of a region one item shows. A tin
#: is a convex can, seen from any side a rectangle or a disc (0.93-0.97 measured, blur and
#: noise included); a can merged with a knife or a blade lying by it is not (0.47-0.83). A
#: power bank's cells lie side by side in a box, so its cell block is a rectangle turned
#: and tilted (0.952-0.98 on tuning seeds 440-539); the block merged with lead foil, a
#: knife, a gun, cartridges or loose cells lying on it read 0.78-0.927.
CONVEX: dict[str, tuple[SigKind, float]] = {"tin": (K.METAL, 0.9), "power_bank": (K.BATTERY, 0.94)}

#: Family → the largest part (mm²) of a metal region that no disc of the smallest coin
#: lying in it reaches (``Signature.corner_mm2``). Coins are discs of 18 mm and more (a
#: 1 jiao 19 mm, a 1 yuan 22.25 mm, a tenth-ounce gold panda 18 mm; docs/xray-prescreen.md),
#: so a region of coins, loose, touching or piled, is a union of such discs and loses only
#: slivers where two meet (at most 27 mm² on tuning seeds 0-149); a blade loses its point
#: (a ceramic knife 99 mm² and more), and so does a region where coins lie on a tool.
ROUND: dict[str, float] = {"coins": 50.0}

#: Family → the longest straight stretch (mm) of the outline of a metal region one item
#: shows (``Signature.straight_mm``). Coins' outlines are arcs: on tuning seeds 0-199 of both
#: tuning machines no region of coins had a straight stretch over 26 mm (two coins overlapping
#: side by side). A blade with no point (a folding knife's is a rectangle, 85-120 mm) lying
#: by a coin merges with it into a region the discs cover all but its corners, and cleared
#: (the eighteenth change); where coins hid most of its sides they were still straight for
#: 38 mm and more (the probe of docs/xray-prescreen-changes.md).
STRAIGHT: dict[str, float] = {"coins": 32.0}

#: Family → the densest LIQUID region one item shows (``Signature.density``, PMMA-equivalent
#: mm per mm of path); and one denser than water (``liquids.LIGHT_DENSITY``) must not read
#: below ``LIGHT_Z`` in effective Z. No drink or food is denser than honey (1.36-1.45 g/cm³):
#: the simulator's solid sucrose (1.59) reads at most 1.39, in glass. An alcohol or an oil is
#: lighter than water (0.70-0.84 here) and reads Z 6.2-6.6, sugar 6.8-7.0, water 7.2: two
#: bottles one on the other read about the sum of theirs, and two side by side are wider
#: than one (``Signature.spread`` over ``liquids.MOST_SPREAD``; docs/xray-prescreen-changes.md).
DENSEST: dict[str, float] = dict.fromkeys(("drink", "food", "tin"), liquids.DENSEST)
LIGHT_Z = 6.75

#: Family → (least solidity, longest side mm; longest side mm of any other piece) of a
#: METAL region's core (``findings.core_shape``: the region less every part narrower than
#: 12 mm). A phone's metal is its cell, its board's shield and its frame's rails; a zip or
#: a rail crossing the cell comes off, and the core is the cell, a rectangle at most 100 mm
#: long in a 165 mm phone, and perhaps the shield apart (tuning seeds 0-299: solidity 0.85
#: and more, 120 mm at most, another piece 60 mm at most). A utility knife lying on the
#: cell stays in the core: 153 mm long, 0.76, on every machine (held-out seed 1,000,502,
#: which cleared before); one lying by the cell is a piece of 100 mm and more.
CORE: dict[str, tuple[float, float, float]] = {"phone": (0.8, 125.0, 70.0)}

#: Family → (regions per item, largest region cm², longest and widest side mm) of organic
#: slabs on their edge (LIQUID regions marked ``edge_on``) one item accounts for: a book
#: standing on its spine, the two soles of a pair of shoes on their side. No other family
#: explains such a region, and these explain no other LIQUID region.
EDGE_ON: dict[str, tuple[int, float, tuple[float, float]]] = {
    "book": (1, 130.0, (260.0, 50.0)),
    "footwear": (2, 100.0, (320.0, 30.0)),
}

_HEADINGS: dict[str, str] = {
    **dict.fromkeys(("8517", "8518", "8525", "9006", "9101", "9102"), "phone"),
    **dict.fromkeys(("8507", "8506"), "power_bank"),
    "8471": "computer",
    "7118": "coins",
    "6601": "umbrella",
}
_CHAPTERS: dict[int, str] = {
    **{c: "tool" for c in (*range(72, 84),)},
    **{c: "machine" for c in (84, 85, 90, 91, 94)},
    95: "toy",
    **dict.fromkeys((16, 20), "tin"),
    **dict.fromkeys((22, 33, 15, 21), "drink"),
    **{c: "food" for c in (*range(1, 15), 17, 18, 19, 23, 24)},
    **{c: "drink" for c in range(28, 39) if c != 33},
    64: "footwear",
    66: "umbrella",
    **dict.fromkeys((61, 62, 63, 42), "textiles"),
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


def measures(declaration: Declaration | None) -> tuple[bool, bool]:
    """(corners, cores): whether a line of ``declaration`` reads how round metal regions are
    (``ROUND``) and what their cores are (``CORE``); regions are measured only then."""
    families = {family(line) for line in (declaration.lines if declaration is not None else ())}
    return bool(families & ROUND.keys()), bool(families & CORE.keys())


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


#: Families whose item is one object: every region one item explains lies within the
#: first region it explained, give or take ``MARGIN_MM`` (a bottle's glass around its
#: liquid, a tin's contents in its can, a phone's battery in its frame, a folded umbrella's
#: ribs along its tube: a snap-off knife tilted 45° beside an umbrella read as a strip, which
#: the umbrella's second strip explained). Other families' items spread wider (a garment's
#: zip and buttons, a pair of shoes) but still lie within the item's longest side of that
#: region.
ONE_OBJECT = frozenset({"drink", "tin", "phone", "power_bank", "umbrella"})

#: The kind that places a one-object item: a tin is placed by its can, a drink by its
#: contents. Its other kinds (a tin's contents, a bottle's glass) are explained only within
#: the region of the placing kind that the same item explained.
PLACED_BY: dict[str, SigKind] = {"tin": K.METAL, "drink": K.LIQUID}

#: Kinds read from one metal region (``findings._metal`` gives them all that region's box,
#: which is how they are known to be one): whatever explains one of them explains them all
#: or none. A phone merged with a ceramic knife has more thick metal than
#: a phone shows; a declared pouch of coins must not explain that part while the phone
#: explains the rest.
ONE_REGION = frozenset({K.METAL, K.THICK_METAL, K.BATTERY, K.STRIP})

#: How far (mm) a one-object item's region may reach past its first region on any side: a
#: bottle's glass past its liquid (wall, shoulder), a can's rim past its contents.
MARGIN_MM = 10.0


@dataclass(slots=True)
class _Line:
    """One goods line: its family, how many items it still may start, where its items lie."""

    name: str
    family: str
    units: int
    anchors: list[Box] = field(default_factory=list)

    def holds(self, box: Box, px_mm: float) -> bool:
        """True when ``box`` can belong to an item of this line already placed."""
        if self.family in ONE_OBJECT:
            return any(within(box, a, MARGIN_MM / px_mm) for a in self.anchors)
        reach_px = SIZES[self.family][0] / px_mm
        return any(_near(box, a, reach_px) for a in self.anchors)


def _near(box: Box, anchor: Box, reach_px: float) -> bool:
    """True when the two regions' centres lie within an item's reach of each other."""
    (x, y, w, h), (ax, ay, aw, ah) = box, anchor
    return math.hypot((x + w / 2) - (ax + aw / 2), (y + h / 2) - (ay + ah / 2)) <= reach_px


def within(box: Box, anchor: Box, margin_px: float) -> bool:
    """True when ``box`` lies inside ``anchor`` grown by ``margin_px`` on every side."""
    (x, y, w, h), (ax, ay, aw, ah) = box, anchor
    return (
        x >= ax - margin_px
        and y >= ay - margin_px
        and x + w <= ax + aw + margin_px
        and y + h <= ay + ah + margin_px
    )


@dataclass(slots=True)
class _Slot:
    """What one goods line can still explain of one kind."""

    line: _Line
    kind: SigKind
    count: int
    cm2: float
    size_mm: tuple[float, float]
    edge_on: bool = False

    def takes(self, s: Signature) -> bool:
        """True when this slot can still explain ``s`` (wherever it lies)."""
        fits = s.size_mm[0] <= self.size_mm[0] and s.size_mm[1] <= self.size_mm[1]
        fam = self.line.family
        if s.kind is K.BATTERY and fam in BATTERY_SHAPE:
            elongation, longest = BATTERY_SHAPE[fam]
            fits &= s.size_mm[0] <= min(elongation * s.size_mm[1], longest)
        if s.kind is K.BATTERY and fam in FLAT_CELLS:
            fits &= s.flatness <= FLAT_CELLS[fam]
        if s.kind is K.BATTERY and fam in CELL_STEEL_MM:
            fits &= s.steel_mm <= CELL_STEEL_MM[fam]
        if fam in DENSEST and s.kind is K.LIQUID:
            light = s.density <= liquids.LIGHT_DENSITY or s.liquid_z >= LIGHT_Z
            fits &= s.density <= DENSEST[fam] and light and s.spread <= liquids.MOST_SPREAD
        if fam in CONVEX and s.kind is CONVEX[fam][0]:
            fits &= s.solidity >= CONVEX[fam][1]
        if fam in ROUND and s.kind in (K.METAL, K.THICK_METAL):
            fits &= s.corner_mm2 <= ROUND[fam] and s.straight_mm <= STRAIGHT[fam]
        if fam in CORE and s.kind is K.METAL:
            solid, longest, others = CORE[fam]
            fits &= s.core[0] >= solid and s.core[1] <= longest and s.core[2] <= others
        same = self.kind is s.kind and self.edge_on == s.edge_on
        return same and self.count > 0 and s.area_cm2 <= self.cm2 and fits


def units(line: GoodsLine) -> int:
    """Items one goods line may account for: its quantity, at least 1 and at most 5."""
    return int(min(max(line.qty or 1, 1), 5))


def _slots(declaration: Declaration | None) -> list[_Slot]:
    """Every goods line's budget, in declaration order."""
    left: list[_Slot] = []
    for line in declaration.lines if declaration is not None else ():
        fam = family(line)
        if fam is None:
            continue
        qty = units(line)
        owner = _Line(line.name or line.hs_code, fam, qty)
        for kind, count, cm2 in BUDGETS[fam]:
            left.append(_Slot(owner, kind, count * qty, cm2, SIZES[fam]))
        if fam in EDGE_ON:
            count, cm2, size = EDGE_ON[fam]
            left.append(_Slot(owner, K.LIQUID, count * qty, cm2, size, edge_on=True))
    return left


def explain(
    sigs: list[Signature], declaration: Declaration | None, pixel_mm: float = 0.6
) -> tuple[Finding, ...]:
    """Pair signatures with goods lines within each line's budget, largest regions first.

    A region goes first to a line with an item already placed where it lies, else to the
    first line that may still start an item (an item per unit of its quantity); a line's
    item explains only regions near the first one it explained (``ONE_OBJECT``, ``SIZES``).
    """
    left = _slots(declaration)
    by_sig: dict[int, str] = {}
    owner: dict[Box, _Line] = {}  # metal region (its box) → the line that explained it
    region: dict[Box, list[Signature]] = {}  # metal region (its box) → its signatures
    for s in sigs:
        if s.kind in ONE_REGION:
            region.setdefault(s.box, []).append(s)
    order = sorted(range(len(sigs)), key=lambda i: -sigs[i].area_cm2)
    # Twice: a tin's contents may be larger than its can, which must be placed first.
    for i in [*order, *order]:
        if i in by_sig:
            continue
        s = sigs[i]
        fits = [slot for slot in left if slot.takes(s)]
        if s.kind in ONE_REGION and s.box in owner:
            fits = [slot for slot in fits if slot.line is owner[s.box]]
        elif s.kind in ONE_REGION:
            fits = [slot for slot in fits if _takes_all(slot.line, region[s.box], left)]
        chosen = next((slot for slot in fits if slot.line.holds(s.box, pixel_mm)), None)
        if chosen is None:
            chosen = next((slot for slot in fits if _starts(slot, s)), None)
            if chosen is None:
                continue
            chosen.line.units -= 1
            chosen.line.anchors.append(s.box)
        chosen.count -= 1
        by_sig[i] = chosen.line.name
        if s.kind in ONE_REGION:
            owner[s.box] = chosen.line
    # A metal region some of whose signatures no line explains is explained by none.
    left_open = {s.box for i, s in enumerate(sigs) if s.kind in ONE_REGION and i not in by_sig}
    return tuple(
        Finding(s, "" if s.kind in ONE_REGION and s.box in left_open else by_sig.get(i, ""))
        for i, s in enumerate(sigs)
    )


def _takes_all(line: _Line, sigs: list[Signature], left: list[_Slot]) -> bool:
    """True when ``line`` still has a slot for each of ``sigs`` (one region's)."""
    return all(any(o.line is line and o.takes(t) for o in left) for t in sigs)


def _starts(slot: _Slot, s: Signature) -> bool:
    """True when ``s`` may place a new item of the slot's line."""
    placing = PLACED_BY.get(slot.line.family)
    return slot.line.units > 0 and (placing is None or placing is s.kind)
